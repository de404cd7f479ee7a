"""``kill -9`` during a real ``coinseason ingest backfill`` (a subprocess, the real CoinGecko client, the local fake
CoinGecko HTTP server serving real rows), then a resume: the rows equal an uninterrupted run's, none lost, none
repeated."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from coinseason.store import DuckDBStore
from tests.conftest import COINGECKO_DAILY, shared_file
from tests.fakes.provider_server import Call, FakeProviderServer, Fault, ProviderData, fake_provider

LAST_DAY = dt.date(2025, 7, 19)
COINS, BATCH = 30, 5
SINCE = "2025-06-01"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    daily = pl.scan_parquet(shared_file(COINGECKO_DAILY)).filter(pl.col("date") >= LAST_DAY - dt.timedelta(days=59))
    frame = daily.collect()
    top = frame.filter(pl.col("date") == LAST_DAY).sort("market_cap_usd", descending=True)["coin_id"].head(40)
    data = ProviderData.from_frames(frame.filter(pl.col("coin_id").is_in(top.to_list())), as_of=LAST_DAY)
    # each history answer takes 0.1 s, so the backfill is still running when it is killed
    with fake_provider(data, faults=[Fault("slow", delay=0.1, path="market_chart", times=10**6)]) as fake:
        yield fake


def backfill(server: FakeProviderServer, db: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "COINSEASON_COINGECKO_URL": server.coingecko_url,
        "COINSEASON_COINGECKO_PLAN": "pro",  # the fake's data is older than a keyless plan's year of history
        "COINSEASON_COINGECKO_API_KEY": "test-key",
        "COINSEASON_COINGECKO_CALLS_PER_MINUTE": "6000",
    }
    command = [sys.executable, "-m", "coinseason", "ingest", "backfill", "--top", str(COINS), "--since", SINCE]
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [*command, "--batch", str(BATCH), "--db", str(db)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _history_calls(log: list[Call]) -> int:
    return sum("market_chart" in call.path for call in log)


def history_calls(server: FakeProviderServer) -> int:
    return sum("market_chart" in path for path in server.paths())


def rows(db: Path) -> pl.DataFrame:
    store = DuckDBStore(db)
    try:
        return store.observations("coingecko", columns=("coin_id", "date", "price", "market_cap", "volume", "flags"))
    finally:
        store.close()


def test_kill_9_mid_backfill_then_resume_loses_and_repeats_no_row(server: FakeProviderServer, tmp_path: Path) -> None:
    whole = backfill(server, tmp_path / "whole.duckdb")
    out, errors = whole.communicate(timeout=120)
    assert whole.returncode == 0, errors
    expected = rows(tmp_path / "whole.duckdb").sort("coin_id", "date")
    assert expected["coin_id"].n_unique() == COINS

    killed_db = tmp_path / "killed.duckdb"
    before = history_calls(server)
    proc = backfill(server, killed_db)
    # history of batch 3 starts only once batch 2 is committed: kill then, with 2 to 4 batches still to go
    started = server.wait_for(lambda log: _history_calls(log) - before >= 2 * BATCH + 2, timeout=60)
    assert started, "the backfill did not reach its third batch"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the backfill ended before it was killed: slow the fake down"

    store = DuckDBStore(killed_db)
    try:
        cursor = store.ingest_cursor("backfill:coingecko")
    finally:
        store.close()
    assert cursor is not None and '"complete": false' in cursor
    partial = rows(killed_db)
    assert 2 * BATCH <= partial["coin_id"].n_unique() < COINS

    resumed = backfill(server, killed_db)
    out, errors = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, errors
    assert "resumed after" in out
    got = rows(killed_db).sort("coin_id", "date")
    assert got.height == expected.height  # nothing lost, nothing twice
    assert got.select("coin_id", "date").is_unique().all()
    assert got.equals(expected)
