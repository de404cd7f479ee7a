"""Feature file imports: the shared real data with figures from its README, publication times, bad files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from coinseason.errors import FormatError
from coinseason.features.catalog import weekly_monday_release
from coinseason.features.files import read_feature_file
from tests.conftest import DATA_DIR, shared_file

FEATURES = DATA_DIR / "features"


def value(rows: pl.DataFrame, series: str, day: str) -> tuple[float, dt.datetime]:
    hit = rows.filter((pl.col("series") == series) & (pl.col("date") == dt.date.fromisoformat(day)))
    assert hit.height == 1, (series, day)
    return hit["value"][0], hit["known_at"][0]


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_fear_and_greed() -> None:
    rows = read_feature_file(shared_file(FEATURES / "fear_greed_index.csv"), "fear-greed")
    # README checks: 14 on 2020-03-12, 6 on 2022-06-18; published during the day, known at its end
    assert value(rows, "fng.value", "2020-03-12") == (14.0, utc("2020-03-13T00:00"))
    assert value(rows, "fng.value", "2022-06-18")[0] == 6.0
    assert rows["value"].min() == 5.0 and rows["value"].max() == 95.0
    # the provider's own gaps stay gaps
    assert rows.filter(pl.col("date") == dt.date(2024, 10, 26)).height == 0


def test_macro_closes_are_known_the_next_day() -> None:
    rows = read_feature_file(shared_file(FEATURES / "macro_yahoo_daily.csv"), "yahoo-macro")
    close, known = value(rows, "yahoo.sp500_close", "2020-03-23")
    assert close == pytest.approx(2237.40, abs=0.005) and known == utc("2020-03-24T12:00")
    assert value(rows, "yahoo.vix_close", "2020-03-16")[0] == pytest.approx(82.69, abs=0.005)
    assert value(rows, "yahoo.dxy_close", "2022-10-12")[0] == pytest.approx(113.32, abs=0.005)


def test_fred_yields_next_weekday_and_the_weekly_dollar_index_on_monday() -> None:
    rows = read_feature_file(shared_file(FEATURES / "macro_fred_daily.csv"), "fred")
    # 10y 0.54 % on Monday 2020-03-09, published Tuesday; 2y 4.28 % on 2022-10-12
    assert value(rows, "fred.dgs10_pct", "2020-03-09") == (0.54, utc("2020-03-10T21:15"))
    assert value(rows, "fred.dgs2_pct", "2022-10-12")[0] == 4.28
    # a Friday's yield is published on Monday
    assert value(rows, "fred.dgs2_pct", "2022-10-14")[1] == utc("2022-10-17T21:15")
    # H.10 of Wednesday 2022-10-12 comes out on Monday 2022-10-17
    assert value(rows, "fred.dtwexbgs_index", "2022-10-12")[1] == utc("2022-10-17T21:15")


def test_weekly_release_day() -> None:
    assert weekly_monday_release(dt.date(2024, 1, 1)) == utc("2024-01-08T21:15")  # a Monday: the next Monday
    assert weekly_monday_release(dt.date(2024, 1, 7)) == utc("2024-01-08T21:15")  # Sunday: the next day


def test_coin_metrics_known_the_morning_after() -> None:
    rows = read_feature_file(shared_file(FEATURES / "btc_onchain_coinmetrics.csv"), "coinmetrics-btc")
    mvrv, known = value(rows, "btc_cm.cap_mvrv_cur", "2018-12-15")
    assert mvrv == pytest.approx(0.69, abs=0.005) and known == utc("2018-12-16T06:00")
    assert value(rows, "btc_cm.cap_mvrv_cur", "2020-03-12")[0] == pytest.approx(0.88, abs=0.005)


def test_every_shared_file_reads(tmp_path: Path) -> None:
    files = {
        "coinmetrics-eth": "eth_onchain_coinmetrics.csv",
        "blockchaincom": "btc_onchain_blockchaincom.csv",
        "gld": "gold_gld_etf_stooq.csv",
        "gold-spot": "gold_spot_usd.csv",
        "stablecoins": "stablecoin_mcap_rwaxyz.csv",
        "funding": "btc_funding_rate_binance.csv",
    }
    for fmt, name in files.items():
        rows = read_feature_file(shared_file(FEATURES / name), fmt)
        assert rows.height > 1000, fmt
        assert (rows["known_at"].dt.date() > rows["date"]).all(), fmt  # nothing is known on its own day's start
    gld = read_feature_file(shared_file(FEATURES / "gold_gld_etf_stooq.csv"), "gld")
    assert value(gld, "gld.close_usd", "2024-12-31")[0] == 242.13


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.csv"
    path.write_text(text)
    return path


def test_bad_files_are_refused_naming_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="lacks the column"):
        read_feature_file(write(tmp_path, "date,other\n2024-01-01,3\n"), "fear-greed")
    with pytest.raises(FormatError, match="not a YYYY-MM-DD day"):
        read_feature_file(write(tmp_path, "date,fng_value\n2024-13-01,3\n"), "fear-greed")
    with pytest.raises(FormatError, match="not numeric"):
        read_feature_file(write(tmp_path, "date,fng_value\n2024-01-01,high\n"), "fear-greed")
    with pytest.raises(FormatError, match="more than once"):
        read_feature_file(write(tmp_path, "date,fng_value\n2024-01-01,3\n2024-01-01,4\n"), "fear-greed")
    with pytest.raises(FormatError, match="unknown feature format"):
        read_feature_file(write(tmp_path, "date,fng_value\n2024-01-01,3\n"), "tarot")
    with pytest.raises(FormatError, match="no such file"):
        read_feature_file(tmp_path / "missing.csv", "fred")


def test_out_of_range_and_infinite_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"day 2024-01-02 \(row 2\): fng_value = -5.0 is outside 0 to 100"):
        read_feature_file(write(tmp_path, "date,fng_value\n2024-01-01,3\n2024-01-02,-5\n"), "fear-greed")
    with pytest.raises(FormatError, match="fng_value = 101.0 is outside"):
        read_feature_file(write(tmp_path, "date,fng_value\n2024-01-01,101\n"), "fear-greed")
    with pytest.raises(FormatError, match="day 2024-01-01 .*dgs2_pct = inf is not a finite number"):
        read_feature_file(write(tmp_path, "date,dgs2_pct,dgs10_pct,dtwexbgs_index\n2024-01-01,inf,,\n"), "fred")
    # the bounds themselves are fine
    assert (
        read_feature_file(write(tmp_path, "date,fng_value\n2024-01-01,0\n2024-01-02,100\n"), "fear-greed").height == 2
    )


def test_empty_cells_are_no_observation(tmp_path: Path) -> None:
    rows = read_feature_file(
        write(tmp_path, "date,dgs2_pct,dgs10_pct,dtwexbgs_index\n2024-01-01,,,\n2024-01-02,4.3,,\n"), "fred"
    )
    assert rows.rows() == [("fred.dgs2_pct", dt.date(2024, 1, 2), utc("2024-01-03T21:15"), 4.3)]
