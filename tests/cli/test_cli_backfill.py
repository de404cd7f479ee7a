"""``coinseason ingest backfill`` says what it will fetch, refuses a start the plan cannot reach in one line before
asking for any coin, and exits non-zero saying why when it stored nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from coinseason.cli import app
from coinseason.cli.runtime import Runtime
from coinseason.store import DuckDBStore
from tests.fakes.provider_server import FakeProviderServer, ProviderData, fake_provider

runner = CliRunner()
LAST_DAY = dt.date(2025, 7, 19)
COINS = {"bitcoin": (60_000.0, 1.2e12), "ethereum": (3_000.0, 3.6e11), "solana": (150.0, 7e10)}


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProviderServer]:
    """The fake CoinGecko serving 3 coins over the 30 days to LAST_DAY (a flat, hand-made market)."""
    days = [LAST_DAY - dt.timedelta(days=i) for i in range(30)]
    frame = pl.DataFrame(
        [
            {
                "date": d,
                "coin_id": c,
                "symbol": c[:3],
                "name": c,
                "price_usd": p,
                "market_cap_usd": m,
                "volume_usd": 1e9,
            }
            for d in days
            for c, (p, m) in COINS.items()
        ]
    )
    with fake_provider(ProviderData.from_frames(frame, as_of=LAST_DAY)) as server:
        yield server


def backfill(server: FakeProviderServer, db: Path, today: dt.date, *args: str) -> tuple[int, str]:
    now = dt.datetime.combine(today, dt.time(12), dt.UTC)
    env = {"COINSEASON_COINGECKO_URL": server.coingecko_url, "COLUMNS": "250"}
    result = runner.invoke(
        app,
        ["ingest", "backfill", "--provider", "coingecko", "--top", "3", "--db", str(db), *args],
        obj=Runtime(clock=lambda: now),
        env=env,
    )
    return result.exit_code, result.output


def test_a_backfill_says_what_it_fetches_and_stores_the_plans_reach(
    provider: FakeProviderServer, tmp_path: Path
) -> None:
    code, output = backfill(provider, tmp_path / "a.duckdb", LAST_DAY)
    assert code == 0, output
    reach = LAST_DAY - dt.timedelta(days=364)
    flat = " ".join(output.split())
    assert (
        "backfilling the top 3 coins of coingecko (keyless plan: 10 calls a minute, history reaching 365 days,"
        f" from {reach}): 4 calls, about 24 s" in flat
    )
    assert DuckDBStore(tmp_path / "a.duckdb").sources()[0].rows == 90


def test_a_backfill_that_stores_nothing_exits_2_and_says_why(provider: FakeProviderServer, tmp_path: Path) -> None:
    today = LAST_DAY + dt.timedelta(days=400)  # the provider's data ends before the plan's 365 days begin
    code, output = backfill(provider, tmp_path / "b.duckdb", today)
    assert code == 2, output
    flat = " ".join(output.split())
    start = today - dt.timedelta(days=364)
    assert (
        f"error: the backfill stored nothing: coingecko sent no daily point from {start} to {today} for any of the 3"
        " coins" in flat
    )


def test_a_start_beyond_the_plans_reach_is_one_line_before_any_coin_is_asked(
    provider: FakeProviderServer, tmp_path: Path
) -> None:
    provider.reset()
    code, output = backfill(provider, tmp_path / "c.duckdb", LAST_DAY, "--since", "2020-01-01")
    assert code == 2, output
    flat = " ".join(output.split())
    reach = LAST_DAY - dt.timedelta(days=364)
    assert flat.count("error:") == 1 and flat.count("365 days back") == 1
    assert (
        f"the coingecko keyless plan serves history only 365 days back (from {reach}); 2020-01-01 is before it" in flat
    )
    assert "coinseason import PATH --format crypto2-listings|coingecko-csv" in flat
    assert not [p for p in provider.paths() if "market_chart" in p]


def test_ingest_plan_says_what_serve_would_fetch_without_a_call(tmp_path: Path) -> None:
    now = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
    env = {"COINSEASON_COINGECKO_PLAN": "demo", "COINSEASON_COINGECKO_API_KEY": "k", "COLUMNS": "250"}
    result = runner.invoke(app, ["ingest", "plan", "--top", "500"], obj=Runtime(clock=lambda: now), env=env)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    # the day's snapshot (2 pages, /global, 6 categories) then 2 pages and 500 histories: 511 calls at 30 a minute
    assert (
        "backfilling the top 500 coins of coingecko (demo plan: 30 calls a minute, history reaching 365 days,"
        " from 2025-01-11): 511 calls, about 17 min" in flat
    )
    assert "history before 2025-01-11: import a full-history file" in flat
