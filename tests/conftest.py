"""Shared fixtures: paths to the real data in ../shared/data and small stores."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from coinseason.logs import configure_logging
from coinseason.store import DuckDBStore, Store, open_store
from tests.support.requirements import DATA_DIR, shared_file

__all__ = ["DATA_DIR", "shared_file"]

COINGECKO_DAILY = DATA_DIR / "coingecko" / "coingecko_daily_2013-04-28_2025-07-19.parquet"
CMC_SNAPSHOTS = DATA_DIR / "cmc" / "cmc_daily_top200_2013-04-28_2024-12-11.parquet"
FIXED_NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


SMALL_MARKET_DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(10)]


def small_market_csv(path: Path) -> Path:
    """A hand-computable market in the tidy format: BTC +10 %/day, "fast" +20 %/day, "slow" flat, "tether" pegged
    (a stablecoin by the curated list)."""
    lines = ["coin_id,symbol,name,date,price,market_cap"]
    for i, day in enumerate(SMALL_MARKET_DAYS):
        lines.append(f"bitcoin,btc,Bitcoin,{day},{100 * 1.1**i},{1e9 * 1.1**i}")
        lines.append(f"fast,fst,Fast,{day},{10 * 1.2**i},{1e8 * 1.2**i}")
        lines.append(f"slow,slw,Slow,{day},5.0,5e7")
        lines.append(f"tether,usdt,Tether,{day},1.0,9e8")
    path.write_text("\n".join(lines) + "\n")
    return path


def fixed_clock() -> dt.datetime:
    return FIXED_NOW


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    s = DuckDBStore(tmp_path / "test.duckdb")
    yield s
    s.close()


@pytest.fixture(params=["duckdb", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each store in turn: a DuckDB file, then a fresh PostgreSQL database (skipped without a server, unless
    CI=true: see tests/store/postgres_server.py)."""
    if request.param == "duckdb":
        s = open_store(f"duckdb:///{tmp_path / 'store.duckdb'}")
        yield s
        s.close()
        return
    from tests.store.postgres_server import fresh_database  # psycopg loads only for the PostgreSQL runs

    with fresh_database() as url:
        s = open_store(url)
        yield s
        s.close()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Logging configured (JSON lines) into a buffer; the root logger restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
