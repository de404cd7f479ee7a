"""A day of data lands while the dashboard is open: the page shows it through ``WS /v1/stream``, without reloading.

The server runs over PostgreSQL with Redis (an embedded DuckDB file has one writer, the server), loaded with a real
CoinGecko subset that stops one day short; the test then imports that last day into the same database, as an
ingesting process does, and announces it on the Redis invalidation channel. Needs PostgreSQL and Redis: skipped
without them, failed under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import pytest
import redis.asyncio as aioredis
from playwright.sync_api import Browser

from coinseason.api.http.invalidation import RedisInvalidation
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store import open_store
from tests.api.serve_helpers import Server, serve
from tests.conftest import COINGECKO_DAILY, fixed_clock, shared_file
from tests.store.postgres_server import fresh_database
from tests.web.conftest import close_dashboard, half_up, open_dashboard

COINS = 120
FIRST_DAY = dt.date(2024, 6, 1)


@dataclass(frozen=True)
class Landing:
    server: Server
    db: str
    redis_url: str
    last_day: Path
    """The CoinGecko rows of the history's last day: not in the store until the test lands them."""
    last: dt.date


def split_subset(root: Path) -> tuple[Path, Path, dt.date]:
    """The top COINS coins by market cap from FIRST_DAY: every day but the last, and the last day alone."""
    frame = pl.read_parquet(shared_file(COINGECKO_DAILY))
    last: dt.date = frame["date"].max()  # type: ignore[assignment]
    top = (
        frame.filter(pl.col("date") == last)
        .sort("market_cap_usd", descending=True, nulls_last=True)
        .head(COINS)["coin_id"]
    )
    subset = frame.filter(pl.col("coin_id").is_in(top.implode()) & (pl.col("date") >= FIRST_DAY))
    before, day = root / "before.parquet", root / "last_day.parquet"
    subset.filter(pl.col("date") < last).write_parquet(before)
    subset.filter(pl.col("date") == last).write_parquet(day)
    return before, day, last


@pytest.fixture(scope="module")
def landing(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landing]:
    root = tmp_path_factory.mktemp("landing")
    before, day, last = split_subset(root)
    with ExitStack() as stack:
        db = stack.enter_context(fresh_database())
        store = open_store(db)
        try:
            ImportService(store, clock=fixed_clock).import_file(before, FileFormat.COINGECKO_DAILY)
        finally:
            store.close()
        env = {"COINSEASON_REDIS_URL": redis_url, "COINSEASON_ANONYMOUS_RATE_LIMIT_PER_MINUTE": "1000000"}
        server = stack.enter_context(serve(["--db", db], log=root / "server.log", env=env))
        yield Landing(server=server, db=db, redis_url=redis_url, last_day=day, last=last)


def land(landing: Landing) -> None:
    """Import the last day into the server's database and say so on the invalidation channel."""
    store = open_store(landing.db)
    try:
        report = ImportService(store, clock=fixed_clock).import_file(landing.last_day, FileFormat.COINGECKO_DAILY)
    finally:
        store.close()
    assert report.added == COINS

    async def announce() -> None:
        invalidation = RedisInvalidation(aioredis.Redis.from_url(landing.redis_url))
        try:
            await invalidation.publish()
        finally:
            await invalidation.close()

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
        thread.submit(asyncio.run, announce()).result(timeout=10)


def test_a_landed_day_shows_without_reloading(landing: Landing, browser: Browser) -> None:
    board = open_dashboard(browser, f"{landing.server.url}/", viewport={"width": 1280, "height": 1200})
    try:
        board.wait_loaded()
        page = board.page
        day_before = str(landing.last - dt.timedelta(days=1))
        assert page.get_attribute("#asof", "datetime") == f"{day_before}T00:00:00Z"
        page.wait_for_function("document.getElementById('live').textContent === 'on'")
        page.evaluate("window.notReloaded = true")
        loads = board.loads()

        land(landing)

        page.wait_for_function(f"document.getElementById('asof').dateTime === '{landing.last}T00:00:00Z'")
        board.wait_loaded(loads + 1)
        assert page.evaluate("window.notReloaded") is True, "the page updated in place"
        assert int(page.get_attribute("#live", "data-count") or 0) >= 1
        with httpx.Client(base_url=landing.server.url, timeout=10.0) as api:
            latest = api.get("/v1/season/latest").json()
            history = api.get("/v1/season/history").json()["values"]
        assert latest["date"] == str(landing.last)
        assert page.inner_text("#asi") == half_up(latest["altcoin_season_index"], 1)
        assert page.inner_text("#btcd") == f"{half_up(latest['btc_dominance'], 2)} %"
        line = board.chart("season-chart")["data"][0]
        assert line["x"][-1] == str(landing.last)
        assert line["y"] == [p["value"] for p in history]
    finally:
        close_dashboard(board)
