"""CoinMarketCap rows: one coin reported twice on one day is one coin, and a one-day glitch belongs to its coin;
neither ever makes a coin of its own (rules 0 and 5 of :mod:`coinseason.data.cmc_identity`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from coinseason.data import reasons
from coinseason.data.cmc_identity import (
    TrackSeed,
    attach_glitch_days,
    drop_duplicate_coins,
    resolve_cmc_identities,
)
from coinseason.data.tidy import FLAG_MCAP_SPIKE
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock

DAY0 = dt.date(2024, 12, 8)

Row = tuple[int, int, str, float, float, float]
"""(day offset, rank, symbol, price, market cap, circulating supply)"""


def rows(*data: Row) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [DAY0 + dt.timedelta(days=r[0]) for r in data],
            "rank": [r[1] for r in data],
            "symbol": [r[2] for r in data],
            "price": [r[3] for r in data],
            "market_cap": [r[4] for r in data],
            "circulating_supply": [r[5] for r in data],
        },
        schema={
            "date": pl.Date,
            "rank": pl.Int32,
            "symbol": pl.String,
            "price": pl.Float64,
            "market_cap": pl.Float64,
            "circulating_supply": pl.Float64,
        },
    )


def btc(day: int, price: float = 96_000.0) -> Row:
    return (day, 1, "BTC", price, 1.9e12, 19_790_000.0)


def eth(day: int) -> Row:
    return (day, 2, "ETH", 3_700.0, 4.45e11, 120_300_000.0)


def test_identical_copies_are_kept_once() -> None:
    out = drop_duplicate_coins(rows(btc(0), btc(1), btc(1), eth(1)))
    assert (out.good.height, out.merged, out.rejections) == (3, 1, {})


def test_a_copy_with_another_price_is_rejected_and_the_continuing_row_kept() -> None:
    # the case: BTC twice on one day with one market cap, at 96,000 and at 1.0
    out = drop_duplicate_coins(rows(btc(0), btc(1), btc(1, price=1.0), btc(2), eth(1)))
    assert out.rejections == {reasons.REASON_SAME_COIN_TWICE: 1}
    assert sorted(out.good.filter(pl.col("symbol") == "BTC")["price"].to_list()) == [96_000.0] * 3
    # the same when the copy has its own rank but the same market cap, and without neighbours: the copy's price
    # does not agree with its own market cap and supply
    alone = drop_duplicate_coins(rows(btc(1), (1, 7, "btc", 1.0, 1.9e12, 19_790_000.0)))
    assert alone.rejections == {reasons.REASON_SAME_COIN_TWICE: 1}
    assert alone.good["price"].to_list() == [96_000.0]


def test_two_real_coins_sharing_a_ticker_are_both_kept() -> None:
    # BITS on 2017-03-03: two coins, caps 0.5 % apart, their own ranks, prices 4.7x apart
    two = rows(
        (0, 150, "BITS", 0.30, 1.005e6, 3.35e6),
        (0, 151, "BITS", 0.064, 1.0e6, 15.6e6),
        (1, 150, "BITS", 0.30, 1.0e6, 3.35e6),
        (1, 152, "BITS", 0.065, 1.01e6, 15.6e6),
    )
    out = drop_duplicate_coins(two)
    assert (out.good.height, out.rejections) == (4, {})
    assert resolve_cmc_identities(out.good)["coin_id"].n_unique() == 2


def test_copies_nothing_tells_apart_are_all_rejected() -> None:
    # one day, no neighbour, no supply: a row at 96,000 and one at 97,000 of one rank
    out = drop_duplicate_coins(
        rows((1, 1, "BTC", 96_000.0, 1.9e12, float("nan")), (1, 1, "BTC", 97_000.0, 1.9e12, float("nan")))
    )
    assert out.good.height == 0
    assert out.rejections == {reasons.REASON_SAME_COIN_UNDECIDED: 2}


def test_a_stored_coin_is_the_neighbour_of_a_files_first_day() -> None:
    seed = TrackSeed("btc@2013-04-28", "BTC", DAY0, 96_500.0, 1.9e12, None)
    out = drop_duplicate_coins(
        rows((1, 1, "BTC", 96_000.0, 1.9e12, float("nan")), (1, 1, "BTC", 9_600.0, 1.9e12, float("nan"))), [seed]
    )
    assert out.good["price"].to_list() == [96_000.0]


def test_a_one_day_glitch_gets_its_coins_id() -> None:
    glitch = (2, 1, "BTC", 96_000_000.0, 1.9e15, 19_790_000.0)
    resolved = resolve_cmc_identities(rows(btc(0), btc(1), glitch, btc(3), eth(2)))
    assert resolved.filter(pl.col("symbol") == "BTC")["coin_id"].n_unique() == 2  # the track of one row
    attached, n = attach_glitch_days(resolved, factor=10.0)
    assert n == 1
    assert attached.filter(pl.col("symbol") == "BTC")["coin_id"].unique().to_list() == ["btc@2024-12-08"]
    # on the coin's last day, or its first, one side is enough; a row not 10x off both sides is no glitch
    last = resolve_cmc_identities(rows(btc(0), btc(1), glitch))
    assert attach_glitch_days(last, factor=10.0)[1] == 1
    first = resolve_cmc_identities(rows((2, 1, "BTC", 1.0, 2e7, 19_790_000.0), btc(3), btc(4)))
    assert attach_glitch_days(first, factor=10.0)[1] == 1
    assert attach_glitch_days(resolved, factor=10_000.0)[1] == 0  # 1,000x is not over 10,000x


def test_a_glitch_is_not_attached_to_a_coin_present_that_day_or_far_away() -> None:
    glitch = (2, 9, "BTC", 96_000_000.0, 1.9e15, 19_790_000.0)
    present = resolve_cmc_identities(rows(btc(1), btc(2), glitch, btc(3)))
    assert attach_glitch_days(present, factor=10.0)[1] == 0
    far = resolve_cmc_identities(rows(btc(-30), (2, 1, "BTC", 96_000_000.0, 1.9e15, 19_790_000.0)))
    assert attach_glitch_days(far, factor=10.0)[1] == 0


@pytest.fixture
def importer(store: DuckDBStore) -> ImportService:
    return ImportService(store, clock=fixed_clock)


def cmc_csv(tmp_path: Path, data: list[Row]) -> Path:
    path = tmp_path / "cmc.parquet"
    rows(*data).rename({"price": "price_usd", "market_cap": "market_cap_usd"}).write_parquet(path)
    return path


def test_a_duplicated_row_imports_as_one_coin(tmp_path: Path, store: DuckDBStore, importer: ImportService) -> None:
    data = [r for d in range(4) for r in (btc(d), eth(d))]
    report = importer.import_file(cmc_csv(tmp_path, [*data, btc(2, price=1.0)]), FileFormat.CMC_SNAPSHOTS)
    assert report.rejections == {reasons.REASON_SAME_COIN_TWICE: 1}
    assert store.coins("cmc")["coin_id"].to_list() == ["btc@2024-12-08", "eth@2024-12-08"]
    dominance = AnalyticsService(store).dominance_history(source="cmc", exclude="none")
    assert dominance["value"].to_list() == pytest.approx([100 * 1.9e12 / (1.9e12 + 4.45e11)] * 4, rel=1e-12)


def test_a_glitch_day_imports_as_its_coins_flagged_day(
    tmp_path: Path, store: DuckDBStore, importer: ImportService
) -> None:
    data = [r for d in range(4) for r in (btc(d), eth(d))]
    data[4] = (2, 1, "BTC", 4_800_000.0, 9.5e13, 19_790_000.0)  # BTC x50 on day 2
    report = importer.import_file(cmc_csv(tmp_path, data), FileFormat.CMC_SNAPSHOTS)
    assert (report.rejections, report.flagged) == ({}, {reasons.REASON_PRICE_SPIKE: 1})
    obs = store.observations("cmc", columns=("coin_id", "date", "flags")).filter(pl.col("flags") != 0)
    assert obs.rows() == [("btc@2024-12-08", DAY0 + dt.timedelta(days=2), FLAG_MCAP_SPIKE)]
    dominance = AnalyticsService(store).dominance_history(source="cmc", exclude="none")
    assert dominance["value"].to_list() == pytest.approx([100 * 1.9e12 / (1.9e12 + 4.45e11)] * 4, rel=1e-12)


def test_a_file_continues_a_coin_from_its_last_day_that_was_not_a_glitch(
    tmp_path: Path, store: DuckDBStore, importer: ImportService
) -> None:
    first = [r for d in range(3) for r in (btc(d), eth(d))]
    first[4] = (2, 1, "BTC", 4_800_000.0, 9.5e13, 19_790_000.0)  # the newest stored day: BTC x50
    importer.import_file(cmc_csv(tmp_path, first), FileFormat.CMC_SNAPSHOTS)
    stored = store.observations("cmc", columns=("coin_id", "date", "flags")).sort("date")
    assert stored.filter(pl.col("flags") != 0)["coin_id"].to_list() == ["btc@2024-12-08"]  # pending, kept out
    # the next file starts the day after the glitch: BTC continues from day 1, the last day it was itself
    report = importer.import_file(
        cmc_csv(tmp_path, [r for d in range(3, 5) for r in (btc(d), eth(d))]), FileFormat.CMC_SNAPSHOTS
    )
    assert store.coins("cmc")["coin_id"].to_list() == ["btc@2024-12-08", "eth@2024-12-08"]
    assert report.updated == 1  # day 2 judged again with day 3 beside it: a one-day spike, no longer pending
    flags = store.observations("cmc", columns=("coin_id", "date", "flags")).filter(pl.col("flags") != 0)
    assert flags.rows() == [("btc@2024-12-08", DAY0 + dt.timedelta(days=2), FLAG_MCAP_SPIKE)]


def test_two_one_day_tracks_are_not_each_others_coin() -> None:
    # QDOS on 2015-11-18 and 19: one row each, 25x apart; neither is a coin the other could be a glitch of
    resolved = resolve_cmc_identities(
        rows((0, 180, "QDOS", 0.003346, 3e5, 9e7), (1, 181, "QDOS", 0.0001304, 1.2e4, 9e7))
    )
    assert resolved["coin_id"].n_unique() == 2
    assert attach_glitch_days(resolved, factor=10.0)[1] == 0
