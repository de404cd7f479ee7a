"""Slices of the real data sets, imported as a user would, and every standard series computed from them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.importing import ImportReport, ImportService
from coinseason.store import DuckDBStore
from tests.conftest import CMC_SNAPSHOTS, COINGECKO_DAILY, fixed_clock, shared_file

Series = dict[str, pl.DataFrame]

SEASONS = ((50, 90), (100, 90))
"""The standard season indices: ASI and BSI of the top 50 and the top 100 over 90 days."""
DOMINANCES = ("default", "none")
"""BTC, ETH and stablecoin dominance, TOTAL, TOTAL2 and TOTAL3 of every coin, with and without exclusions."""
TOLERANCE = 1e-9


def coingecko_slice(start: dt.date, end: dt.date, coins: int) -> pl.DataFrame:
    """The CoinGecko daily file's rows from ``start`` to ``end`` of the ``coins`` largest coins on ``start`` that
    have a row on every day of it (as the file has them: ``date, coin_id, symbol, name, price_usd, ...``)."""
    frame = pl.read_parquet(shared_file(COINGECKO_DAILY)).filter(pl.col("date").is_between(start, end))
    days = (end - start).days + 1
    full = frame.group_by("coin_id").agg(pl.len().alias("n")).filter(pl.col("n") == days)["coin_id"]
    first = (
        frame.filter((pl.col("date") == start) & pl.col("coin_id").is_in(full.implode()))
        .sort("market_cap_usd", descending=True, nulls_last=True)
        .head(coins)["coin_id"]
    )
    return frame.filter(pl.col("coin_id").is_in(first.implode())).sort("coin_id", "date")


def cmc_slice(start: dt.date, end: dt.date) -> pl.DataFrame:
    """The CoinMarketCap snapshots from ``start`` to ``end``: every coin of each day's top 200."""
    frame = pl.read_parquet(shared_file(CMC_SNAPSHOTS)).filter(pl.col("date").is_between(start, end))
    return frame.sort("date", "rank")


@dataclass(frozen=True)
class Imported:
    report: ImportReport
    series: Series


def import_frame(tmp_path: Path, frame: pl.DataFrame, fmt: FileFormat) -> Imported:
    """Write ``frame`` as a parquet file, import it into a fresh store and compute every standard series."""
    path = tmp_path / "market.parquet"
    frame.write_parquet(path)
    store = DuckDBStore(":memory:")
    try:
        report = ImportService(store, clock=fixed_clock).import_file(path, fmt)
        return Imported(report, standard_series(AnalyticsService(store), report.source))
    finally:
        store.close()


def standard_series(service: AnalyticsService, source: str) -> Series:
    out: Series = {}
    for top, window in SEASONS:
        frame = service.season_history(SeasonQuery(top=top, window=window), source=source)
        out[f"season top {top} / {window} d"] = frame.select("date", "value", "bitcoin_season_index", "n_eligible")
    for exclude in DOMINANCES:
        frame = service.dominance_history(universe="all", exclude=exclude, source=source)
        out[f"dominance (exclusions: {exclude})"] = frame.drop("n_coins")
    return out


def differences(got: Series, expected: Series) -> list[str]:
    """Where ``got`` differs from ``expected`` by more than :data:`TOLERANCE` (relative, or absolute near 0):
    one line per series and column, empty when they agree on every day."""
    found = []
    for name, want in expected.items():
        have = got[name]
        if have["date"].to_list() != want["date"].to_list():
            found.append(f"{name}: days differ ({have.height} vs {want.height})")
            continue
        for column in want.columns[1:]:
            a = have[column].cast(pl.Float64).to_numpy()
            b = want[column].cast(pl.Float64).to_numpy()
            same = np.isclose(a, b, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True)
            if not same.all():
                day = want["date"][int(np.flatnonzero(~same)[0])]
                found.append(f"{name} {column}: {int((~same).sum())} day(s) differ, first {day}")
    return found


def reported(report: ImportReport) -> int:
    """Rows the report counts as rejected or flagged."""
    return report.rejected + sum(report.flagged.values())
