"""The two full-history files a user can get without a paid plan: CoinMarketCap's historical listings as the R
package crypto2 exports them, and CoinGecko's per-coin CSV download. Fixtures in tests/fixtures/free_history are
written in each documented shape (crypto2's ``crypto_listings(which = "historical", quote = TRUE)`` columns, CoinGecko's
``snapped_at, price, market_cap, total_volume``)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from coinseason.data import quality
from coinseason.errors import DataError, FormatError
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock

ALL = ("coin_id", "date", "price", "market_cap", "volume", "rank", "circulating_supply", "flags")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "free_history"
CRYPTO2 = FIXTURES / "crypto2_listings_2017-01-01_03.csv"


def importer(store: DuckDBStore) -> ImportService:
    return ImportService(store, clock=fixed_clock)


def test_crypto2_listings_keep_cmc_ids_and_the_ranking_of_each_day(store: DuckDBStore) -> None:
    report = importer(store).import_file(CRYPTO2, FileFormat.CRYPTO2_LISTINGS)
    assert (report.source, report.rows_read, report.added, report.rejected) == ("cmc", 11, 11, 0)
    coins = store.coins("cmc").sort("coin_id")
    assert coins["coin_id"].to_list() == ["cmc:1", "cmc:1027", "cmc:1106", "cmc:2000"]
    # two coins share the ticker BCC on the same days: their ids keep them apart, no symbol is matched
    assert coins.filter(pl.col("symbol") == "BCC")["coin_id"].sort().to_list() == ["cmc:1106", "cmc:2000"]
    rows = store.observations("cmc", columns=ALL).sort("coin_id", "date")
    btc = rows.filter(pl.col("coin_id") == "cmc:1")
    assert btc["date"].to_list() == [dt.date(2017, 1, 1), dt.date(2017, 1, 2), dt.date(2017, 1, 3)]
    assert btc["price"].to_list() == [995.44, 1021.75, 1043.84]
    assert btc["market_cap"].to_list() == [15976809000.0, 16400680000.0, 16757807000.0]
    assert btc["circulating_supply"].to_list() == [16050000.0, 16052000.0, 16054000.0]
    assert rows.filter(pl.col("date") == dt.date(2017, 1, 2)).sort("rank")["coin_id"].to_list() == [
        "cmc:1",
        "cmc:1027",
        "cmc:1106",
        "cmc:2000",
    ]
    # a dead coin is there while it was listed, and a volume of 0 is "unknown"
    dead = rows.filter(pl.col("coin_id") == "cmc:2000")
    assert dead["date"].to_list() == [dt.date(2017, 1, 1), dt.date(2017, 1, 2)]
    assert dead["volume"].to_list() == [100.0, None]


def test_crypto2_listings_import_again_changes_nothing(store: DuckDBStore) -> None:
    importer(store).import_file(CRYPTO2, FileFormat.CRYPTO2_LISTINGS)
    again = importer(store).import_file(CRYPTO2, FileFormat.CRYPTO2_LISTINGS)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 11)


def test_crypto2_listings_pass_the_gates(tmp_path: Path, store: DuckDBStore) -> None:
    text = CRYPTO2.read_text().splitlines()
    bad = text[1].replace(",995.44,", ",-995.44,")  # a negative price
    future = text[2].replace("2017-01-01", "2030-01-01")
    path = tmp_path / "listings.csv"
    path.write_text("\n".join([text[0], bad, future, *text[3:]]) + "\n")
    report = importer(store).import_file(path, FileFormat.CRYPTO2_LISTINGS)
    assert report.rejections == {quality.REASON_BAD_PRICE: 1, quality.REASON_FUTURE_DATE: 1}
    assert report.added == 9


def test_crypto2_listings_read_the_usd_rows_of_several_currencies(tmp_path: Path, store: DuckDBStore) -> None:
    frame = pl.read_csv(CRYPTO2, infer_schema_length=0)
    in_btc = frame.with_columns(pl.lit("BTC").alias("ref_cur_name"), pl.lit("0.5").alias("price"))
    path = tmp_path / "two.csv"
    pl.concat([frame.with_columns(pl.lit("USD").alias("ref_cur_name")), in_btc]).write_csv(path)
    report = importer(store).import_file(path, FileFormat.CRYPTO2_LISTINGS)
    assert report.rows_read == 11
    assert store.observations("cmc").filter(pl.col("coin_id") == "cmc:1")["price"].max() == 1043.84


def test_a_file_without_cmc_ids_is_not_crypto2_listings(tmp_path: Path, store: DuckDBStore) -> None:
    path = tmp_path / "noid.csv"
    pl.read_csv(CRYPTO2, infer_schema_length=0).drop("id").write_csv(path)
    with pytest.raises(FormatError, match="missing column\\(s\\) id"):
        importer(store).import_file(path, FileFormat.CRYPTO2_LISTINGS)


def test_crypto2_listings_are_refused_where_cmc_coins_are_named_by_symbol(tmp_path: Path, store: DuckDBStore) -> None:
    snapshots = tmp_path / "snap.csv"
    snapshots.write_text("date,rank,symbol,market_cap_usd,price_usd\n2016-12-31,1,BTC,15000000000,960.0\n")
    importer(store).import_file(snapshots, FileFormat.CMC_SNAPSHOTS)
    before = store.observations("cmc").height
    with pytest.raises(DataError, match="--source cmc-listings"):
        importer(store).import_file(CRYPTO2, FileFormat.CRYPTO2_LISTINGS)
    assert store.observations("cmc").height == before
    importer(store).import_file(CRYPTO2, FileFormat.CRYPTO2_LISTINGS, source="cmc-listings")
    assert store.coins("cmc-listings").height == 4


def test_coingecko_csv_reads_the_coin_id_from_the_file_name(store: DuckDBStore) -> None:
    report = importer(store).import_file(FIXTURES / "bitcoin.csv", FileFormat.COINGECKO_CSV)
    assert (report.source, report.rows_read, report.added, report.rejected) == ("coingecko", 4, 4, 0)
    rows = store.observations("coingecko", columns=ALL).sort("date")
    assert rows["coin_id"].unique().to_list() == ["bitcoin"]
    assert rows["date"].to_list() == [dt.date(2013, 4, 28) + dt.timedelta(days=i) for i in range(4)]
    assert rows["price"].to_list() == [135.3, 141.96, 135.3, 117.0]
    assert rows["market_cap"].to_list() == [1500517590.0, 1575032004.0, 1501657493.0, 1298670000.0]
    assert rows["volume"].null_count() == 4  # CoinGecko's 0 is "unknown"


def test_coingecko_csv_named_by_ticker_needs_the_coin_id(tmp_path: Path, store: DuckDBStore) -> None:
    download = FIXTURES / "btc-usd-max.csv"
    with pytest.raises(FormatError, match="--coin ID"):
        importer(store).import_file(download, FileFormat.COINGECKO_CSV)
    assert store.observations("coingecko").height == 0
    report = importer(store).import_file(download, FileFormat.COINGECKO_CSV, coin_id="bitcoin")
    assert report.added == 4 and store.coins("coingecko")["coin_id"].to_list() == ["bitcoin"]


def test_coingecko_csv_and_the_daily_table_are_one_coin(tmp_path: Path, store: DuckDBStore) -> None:
    """The same coin id from two CoinGecko files: the overlap is the same rows, not a second coin."""
    shutil.copy(FIXTURES / "bitcoin.csv", tmp_path / "bitcoin.csv")
    daily = tmp_path / "daily.csv"
    daily.write_text(
        "date,coin_id,price_usd,market_cap_usd,volume_usd\n"
        "2013-04-30,bitcoin,135.3,1501657493.0,0\n2013-05-01,bitcoin,117.0,1298670000.0,0\n"
    )
    importer(store).import_file(daily, FileFormat.COINGECKO_DAILY)
    report = importer(store).import_file(tmp_path / "bitcoin.csv", FileFormat.COINGECKO_CSV)
    assert (report.added, report.unchanged) == (2, 2)
    assert store.coins("coingecko").height == 1
