"""Invariants on a slice of the real CoinGecko set, through import, store and engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import COINGECKO_DAILY, fixed_clock, shared_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tidy_slice() -> pl.DataFrame:
    frame = pl.read_parquet(shared_file(COINGECKO_DAILY)).filter(
        pl.col("date").is_between(dt.date(2020, 6, 1), dt.date(2022, 6, 30))
    )
    big = frame.group_by("coin_id").agg(pl.col("market_cap_usd").max()).sort("market_cap_usd", descending=True)
    keep = big.head(300)["coin_id"]
    return (
        frame.filter(pl.col("coin_id").is_in(keep.implode()))
        .select(
            "coin_id",
            "symbol",
            "name",
            "date",
            pl.col("price_usd").cast(pl.Float64).alias("price"),
            pl.col("market_cap_usd").cast(pl.Float64).alias("market_cap"),
        )
        .filter(pl.col("price") > 0)
    )


def series(tmp_path: Path, name: str, frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    path = tmp_path / f"{name}.parquet"
    frame.write_parquet(path)
    store = DuckDBStore(tmp_path / f"{name}.duckdb")
    ImportService(store, clock=fixed_clock).import_file(path, FileFormat.TIDY, source="slice")
    service = AnalyticsService(store)
    out = {
        f"asi-{top}-{window}": service.season_history(SeasonQuery(top=top, window=window))
        for top, window in ((50, 90), (100, 30), (20, 365))
    }
    out["dominance-all"] = service.dominance_history(universe="all")
    out["dominance-top"] = service.dominance_history(universe="top:50")
    store.close()
    return out


def test_row_order_changes_nothing(tmp_path: Path, tidy_slice: pl.DataFrame) -> None:
    ordered = series(tmp_path, "ordered", tidy_slice.sort("coin_id", "date"))
    shuffled = series(tmp_path, "shuffled", tidy_slice.sample(fraction=1.0, shuffle=True, seed=11))
    for key, frame in ordered.items():
        assert frame.equals(shuffled[key]), key


def test_a_new_coin_of_an_excluded_class_changes_nothing(tmp_path: Path, tidy_slice: pl.DataFrame) -> None:
    base = series(tmp_path, "base", tidy_slice)
    days = tidy_slice["date"].unique().sort()
    stable = pl.DataFrame(
        {
            "coin_id": "tether",
            "symbol": "usdt",
            "name": "Tether",
            "date": days,
            "price": 1.0,
            "market_cap": 5e11,  # bigger than any coin: it would top every ranking
        }
    )
    with_stable = series(tmp_path, "stable", pl.concat([tidy_slice, stable], how="diagonal_relaxed"))
    for key, frame in base.items():
        if key.startswith("asi"):
            assert frame.equals(with_stable[key]), key
        else:  # default exclusions drop it from dominance too
            assert frame.drop("stablecoin_dominance").equals(with_stable[key].drop("stablecoin_dominance")), key


def test_scaling_every_price_changes_no_season_index(tmp_path: Path, tidy_slice: pl.DataFrame) -> None:
    base = series(tmp_path, "base", tidy_slice)
    scaled = series(tmp_path, "scaled", tidy_slice.with_columns(pl.col("price") * 3.7))
    for key, frame in base.items():
        if key.startswith("asi"):
            assert frame.equals(scaled[key]), key
