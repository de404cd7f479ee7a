"""CMC snapshot imports: identities stay the same however the history arrives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import CMC_SNAPSHOTS, fixed_clock, shared_file

pytestmark = pytest.mark.slow


def part(tmp_path: Path, name: str, start: dt.date, end: dt.date) -> Path:
    frame = pl.read_parquet(shared_file(CMC_SNAPSHOTS)).filter(pl.col("date").is_between(start, end))
    path = tmp_path / name
    frame.write_parquet(path)
    return path


def ids(store: DuckDBStore) -> pl.DataFrame:
    return store.observations("cmc", columns=("coin_id", "date", "price")).sort("date", "coin_id")


def test_history_in_overlapping_parts_gets_the_ids_of_one_import(tmp_path: Path) -> None:
    whole = part(tmp_path, "whole.parquet", dt.date(2017, 1, 1), dt.date(2018, 6, 30))
    first = part(tmp_path, "first.parquet", dt.date(2017, 1, 1), dt.date(2017, 12, 31))
    second = part(tmp_path, "second.parquet", dt.date(2017, 12, 20), dt.date(2018, 6, 30))
    once = DuckDBStore(tmp_path / "once.duckdb")
    ImportService(once, clock=fixed_clock).import_file(whole, FileFormat.CMC_SNAPSHOTS)
    twice = DuckDBStore(tmp_path / "twice.duckdb")
    importer = ImportService(twice, clock=fixed_clock)
    importer.import_file(first, FileFormat.CMC_SNAPSHOTS)
    report = importer.import_file(second, FileFormat.CMC_SNAPSHOTS)
    assert report.unchanged > 0 and report.updated == 0  # the 12 overlapping days resolve to the stored ids
    assert ids(twice).equals(ids(once))
