"""A user with a provider key and nothing else reaches today's season: a real ``coinseason serve`` on an empty
DuckDB file, its provider the local fake CoinGecko serving real recorded rows moved to end today (the real
clock's today, in the server and here alike), says what it will fetch and how long that takes, backfills in the
background with its progress in ``/readyz``, then serves today's season.

The waits are bounded polls of ``/readyz``; nothing is asserted on how long anything took."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from tests.api.serve_helpers import serve
from tests.conftest import COINGECKO_DAILY, shared_file
from tests.fakes.provider_server import ProviderData, fake_provider

pytestmark = pytest.mark.slow

COINS = 12
RECORDED_LAST_DAY = dt.date(2025, 7, 19)
READY_WITHIN = 120.0


def data_up_to(today: dt.date) -> ProviderData:
    """The 12 largest coins of the shared CoinGecko set over its last 400 days, dated so that the last is today."""
    frame = pl.read_parquet(shared_file(COINGECKO_DAILY)).filter(
        pl.col("date") > RECORDED_LAST_DAY - dt.timedelta(days=400)
    )
    largest = (frame.filter(pl.col("date") == RECORDED_LAST_DAY).sort("market_cap_usd", descending=True).head(COINS))[
        "coin_id"
    ]
    shift = today - RECORDED_LAST_DAY
    moved = frame.filter(pl.col("coin_id").is_in(largest.to_list())).with_columns(pl.col("date") + shift)
    return ProviderData.from_frames(moved, as_of=today)


def ready_and_backfilled(client: httpx.Client, seen: list[dict[str, Any]]) -> bool:
    body = client.get("/readyz").json()
    backfill = body["jobs"].get("backfill")
    if backfill:
        seen.append(backfill)
    return body["status"] == "ready" and backfill is not None and backfill["phase"] == "live"


def test_serve_with_a_provider_key_on_an_empty_store_reaches_todays_season(tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    db = tmp_path / "empty.duckdb"
    with fake_provider(data_up_to(today), stamp_now=True) as provider:
        env = {
            "COINSEASON_INGEST_PROVIDER": "coingecko",
            "COINSEASON_SEASON_MIN_ELIGIBLE": "0",  # a 12-coin market: the minimum universe is another test's
            "COINSEASON_COINGECKO_PLAN": "demo",
            "COINSEASON_COINGECKO_API_KEY": "my-demo-key",
            "COINSEASON_COINGECKO_URL": provider.coingecko_url,
            "COINSEASON_INGEST_TOP": str(COINS),
            "COINSEASON_LOG_JSON": "false",
        }
        with serve(["--db", str(db)], log=tmp_path / "serve.log", env=env) as server:
            seen: list[dict[str, Any]] = []
            with httpx.Client(base_url=server.url, timeout=10.0) as client:
                deadline = time.monotonic() + READY_WITHIN
                while not ready_and_backfilled(client, seen):
                    assert time.monotonic() < deadline, f"not ready within {READY_WITHIN:g} s:\n{server.output()}"
                    time.sleep(0.2)
                # the reload after the last batch runs on the app's own task, a moment after the status says live
                latest = client.get("/v1/season/latest", params={"top": 10, "window": 90})
                while latest.status_code == 404:
                    assert time.monotonic() < deadline, f"not served within {READY_WITHIN:g} s: {latest.text}"
                    time.sleep(0.2)
                    latest = client.get("/v1/season/latest", params={"top": 10, "window": 90})
                assert latest.status_code == 200, latest.text
                assert latest.json()["date"] == today.isoformat()
            log = server.output()
        calls = provider.paths()
    reach = today - dt.timedelta(days=364)
    # said before it started: what, how long on the plan, how far back: the day's snapshot (1 page, /global, 6
    # exclusion categories), then the backfill (1 page, 12 histories): 21 calls at 30 a minute
    assert (
        f"backfilling the top {COINS} coins of coingecko (demo plan: 30 calls a minute, history reaching 365 days,"
        f" from {reach}): 21 calls, about 42 s" in log
    ), log
    done = seen[-1]
    assert (done["coins_done"], done["coins_total"], done["days"]) == (COINS, COINS, 365)
    assert (done["from"], done["to"]) == (reach.isoformat(), today.isoformat())
    assert done["plan"]["name"] == "demo" and done["plan"]["reach_from"] == reach.isoformat()
    assert "backfill done: 12 coins" in done["message"]
    assert "first run: coingecko backfill: 12 of 12 coins" in log
    # one history call a coin, as the estimate counts them (the loop's later snapshots add listing calls only)
    assert len([c for c in calls if c.endswith("/market_chart/range")]) == COINS, calls
