"""The two free full-history formats agree with the shared real sets where they overlap: a crypto2-shaped listings
file built from CoinMarketCap's rows of ``../shared/data/cmc`` and CoinGecko per-coin CSVs built from
``../shared/data/coingecko`` import to the same days and values."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from coinseason.providers.coinmarketcap import CoinMarketCapProvider
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.services.ingestion import IngestConfig, IngestionService, IngestReport
from coinseason.store import DuckDBStore
from tests.conftest import CMC_SNAPSHOTS, COINGECKO_DAILY, fixed_clock, shared_file
from tests.fakes.provider_server import ProviderData, in_process_provider

pytestmark = pytest.mark.slow

START, END = dt.date(2021, 1, 1), dt.date(2021, 3, 31)
CMC_IDS = {"BTC": 1, "LTC": 2, "XRP": 52, "DOGE": 74, "ETH": 1027}
"""CoinMarketCap's own numeric ids of a few coins whose ticker no other coin of the top 200 used in the window."""
VALUES = ("date", "price", "market_cap")
CRYPTO2_FIXTURE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "free_history" / "crypto2_listings_2017-01-01_03.csv"
)


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


def test_crypto2_listings_then_the_live_cmc_provider_continue_the_same_coins(tmp_path: Path) -> None:
    """Listings imported, then a backfill from the CoinMarketCap provider (the local fake serving the shared CMC set
    as of 2024-12-11): Bitcoin is one coin, ``cmc:1``, its 2017 days from the file and December 2024 from the
    provider, in the one source ``cmc``."""
    shared_file(CMC_SNAPSHOTS)
    now = dt.datetime(2024, 12, 11, 12, tzinfo=dt.UTC)
    store = DuckDBStore(tmp_path / "s.duckdb")
    ImportService(store, clock=fixed_clock).import_file(CRYPTO2_FIXTURE, FileFormat.CRYPTO2_LISTINGS)
    server = in_process_provider(ProviderData.shared(), cmc_history=True, now=lambda: now)
    provider = CoinMarketCapProvider(
        "key", "hobbyist", base_url=server.cmc_url, client=server.client(), clock=lambda: now
    )
    service = IngestionService(store, provider, clock=lambda: now, config=IngestConfig(top=3))

    async def backfill() -> IngestReport:
        try:
            return await service.backfill(top=3, since=dt.date(2024, 12, 1))
        finally:
            await provider.aclose()

    report = asyncio.run(backfill())
    assert report.rows == 3 * 11 and not report.skipped
    btc = store.observations("cmc", columns=("coin_id", "date")).filter(pl.col("coin_id") == "cmc:1").sort("date")
    expected = [dt.date(2017, 1, d) for d in (1, 2, 3)] + [dt.date(2024, 12, d) for d in range(1, 12)]
    assert btc["date"].to_list() == expected
    coins = store.coins("cmc")["coin_id"].to_list()
    assert coins.count("cmc:1") == 1 and coins.count("cmc:1027") == 1
    assert [s.source for s in store.sources()] == ["cmc"]
    store.close()
