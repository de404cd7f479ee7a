"""A DuckDB store holding the hand-made market of ``tests.conftest.small_market_csv``."""

from __future__ import annotations

from pathlib import Path

import pytest

from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock, small_market_csv


@pytest.fixture
def market_db(tmp_path: Path) -> str:
    path = tmp_path / "mcp.duckdb"
    store = DuckDBStore(path)
    ImportService(store, clock=fixed_clock).import_file(small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY)
    store.close()
    return str(path)
