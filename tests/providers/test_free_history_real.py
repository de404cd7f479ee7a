"""The two free full-history formats agree with the shared real sets where they overlap: a crypto2-shaped listings
file built from CoinMarketCap's rows of ``../shared/data/cmc`` and CoinGecko per-coin CSVs built from
``../shared/data/coingecko`` import to the same days and values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import CMC_SNAPSHOTS, COINGECKO_DAILY, fixed_clock, shared_file

pytestmark = pytest.mark.slow

START, END = dt.date(2021, 1, 1), dt.date(2021, 3, 31)
CMC_IDS = {"BTC": 1, "LTC": 2, "XRP": 52, "DOGE": 74, "ETH": 1027}
"""CoinMarketCap's own numeric ids of a few coins whose ticker no other coin of the top 200 used in the window."""
VALUES = ("date", "price", "market_cap")


def crypto2_file(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    """The CMC rows of the window for :data:`CMC_IDS` written as crypto2's historical listings, and those rows."""
    rows = pl.read_parquet(shared_file(CMC_SNAPSHOTS)).filter(
        pl.col("date").is_between(START, END), pl.col("symbol").is_in(list(CMC_IDS))
    )
    assert rows.group_by("date", "symbol").len()["len"].max() == 1  # one coin per ticker and day in the window
    listings = rows.select(
        "date",
        pl.col("symbol").replace_strict(CMC_IDS, return_dtype=pl.Int64).alias("id"),
        pl.col("symbol").alias("name"),
        "symbol",
        pl.col("symbol").str.to_lowercase().alias("slug"),
        "circulating_supply",
        pl.col("rank").alias("cmc_rank"),
        pl.col("price_usd").alias("price"),
        pl.col("volume_24h_usd").alias("volume_24h"),
        pl.col("percent_change_24h") if "percent_change_24h" in rows.columns else pl.col("pct_change_24h"),
        pl.col("market_cap_usd").alias("market_cap"),
    )
    path = tmp_path / "crypto2_listings.csv"
    listings.write_csv(path)
    return path, rows


def test_crypto2_listings_agree_with_the_shared_cmc_set(tmp_path: Path) -> None:
    path, rows = crypto2_file(tmp_path)
    store = DuckDBStore(tmp_path / "s.duckdb")
    report = ImportService(store, clock=fixed_clock).import_file(path, FileFormat.CRYPTO2_LISTINGS)
    assert report.rejected == 0 and report.added == rows.height
    stored = store.observations("cmc", columns=("coin_id", *VALUES, "rank")).sort("coin_id", "date")
    for symbol, cmc_id in CMC_IDS.items():
        expected = rows.filter(pl.col("symbol") == symbol).sort("date")
        got = stored.filter(pl.col("coin_id") == f"cmc:{cmc_id}")
        assert got["date"].to_list() == expected["date"].to_list()
        assert got["price"].to_list() == expected["price_usd"].to_list()
        assert got["market_cap"].to_list() == expected["market_cap_usd"].to_list()
        assert got["rank"].to_list() == expected["rank"].to_list()
    store.close()


def test_coingecko_csvs_agree_with_the_shared_coingecko_set(tmp_path: Path) -> None:
    daily = pl.read_parquet(shared_file(COINGECKO_DAILY)).filter(pl.col("date").is_between(START, END))
    store = DuckDBStore(tmp_path / "s.duckdb")
    importer = ImportService(store, clock=fixed_clock)
    coins = ("bitcoin", "ethereum", "cardano")
    for coin in coins:
        rows = daily.filter(pl.col("coin_id") == coin).sort("date")
        path = tmp_path / f"{coin}.csv"
        rows.select(
            pl.col("date").dt.strftime("%Y-%m-%d 00:00:00 UTC").alias("snapped_at"),
            pl.col("price_usd").alias("price"),
            pl.col("market_cap_usd").alias("market_cap"),
            pl.col("volume_usd").alias("total_volume"),
        ).write_csv(path)
        report = importer.import_file(path, FileFormat.COINGECKO_CSV)
        assert report.rejected == 0 and report.added == rows.height
        got = store.observations("coingecko", columns=("coin_id", *VALUES)).filter(pl.col("coin_id") == coin)
        got = got.sort("date")
        assert got["date"].to_list() == rows["date"].to_list()
        # the shared set holds float32 values; the CSV carries them to 7 significant digits
        assert got["price"].to_list() == pytest.approx(rows["price_usd"].to_list(), rel=1e-6)
        assert got["market_cap"].to_list() == pytest.approx(rows["market_cap_usd"].to_list(), rel=1e-6)
    assert sorted(store.coins("coingecko")["coin_id"].to_list()) == sorted(coins)
    store.close()
