"""The whole real CoinGecko set through PostgreSQL gives the season index it gives through DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from coinseason.core.universe import NO_EXCLUSION
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.importing import ImportReport, ImportService
from coinseason.services.loaded_engine import load_engine
from coinseason.store import DuckDBStore, Store
from coinseason.store.postgres import PostgresStore
from tests.conftest import COINGECKO_DAILY, fixed_clock, shared_file
from tests.store.postgres_server import fresh_database

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_store() -> Iterator[PostgresStore]:
    with fresh_database() as url:
        store = PostgresStore(url)
        yield store
        store.close()


def import_coingecko(store: Store) -> ImportReport:
    return ImportService(store, clock=fixed_clock).import_file(shared_file(COINGECKO_DAILY), FileFormat.COINGECKO_DAILY)


def test_coingecko_season_index_matches_duckdb(pg_store: PostgresStore, tmp_path: Path) -> None:
    duck = DuckDBStore(tmp_path / "coingecko.duckdb")
    try:
        from_duck = import_coingecko(duck)
        from_pg = import_coingecko(pg_store)
        assert from_pg == from_duck
        assert from_pg.added > 2_000_000

        a, b = load_engine(pg_store, "coingecko"), load_engine(duck, "coingecko")
        assert list(a.engine.coin_ids) == list(b.engine.coin_ids)
        assert a.engine.start == b.engine.start and a.engine.end == b.engine.end
        np.testing.assert_array_equal(a.engine.price, b.engine.price)
        for excluded in (NO_EXCLUSION, AnalyticsService(duck).exclusion("coingecko", "default").exclusion):
            pg_index = a.engine.season_index(excluded, top=50, window=90)
            duck_index = b.engine.season_index(excluded, top=50, window=90)
            np.testing.assert_array_equal(pg_index.value, duck_index.value)
            np.testing.assert_array_equal(pg_index.n_eligible, duck_index.n_eligible)
        query = SeasonQuery(top=50, window=90)
        assert AnalyticsService(pg_store).season_history(query).equals(AnalyticsService(duck).season_history(query))

        again = import_coingecko(pg_store)  # idempotent: every row found as it was
        assert (again.added, again.updated, again.unchanged) == (0, 0, from_pg.added)
    finally:
        duck.close()
