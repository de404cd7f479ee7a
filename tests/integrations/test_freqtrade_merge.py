"""The freqtrade helper's look-ahead rule on candles of 5m, 1h, 4h and 1d, with hand-worked expectations.

The series: day 2024-01-03 → 10, 01-04 → 20, 01-05 → 30, 01-06 → 40 (a value of day D is known at D+1 00:00 UTC).
A candle gets the last value known when it opens (``at="open"``) or, as freqtrade's own ``merge_informative_pair``
does, when it closes (``at="close"``). Candles are pandas frames dated by their open, UTC, as freqtrade's are.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from coinseason.client import Client
from coinseason.errors import ConfigError
from coinseason.integrations.freqtrade import (
    CoinseasonFeed,
    SeriesQuery,
    merge_coinseason,
    series_from_server,
    series_from_store,
    timeframe_delta,
)
from tests.api.serve_helpers import coinseason, serve
from tests.conftest import SMALL_MARKET_DAYS, small_market_csv

SERIES = pl.DataFrame(
    {
        "date": [dt.date(2024, 1, d) for d in (3, 4, 5, 6)],
        "altcoin_season_index": [10.0, 20.0, 30.0, 40.0],
        "season": ["bitcoin", "neutral", "neutral", "altcoin"],
    }
)


def candles(first: str, count: int, timeframe: str, unit: str = "ns") -> pd.DataFrame:
    opens = pd.date_range(first, periods=count, freq=pd.Timedelta(timeframe_delta(timeframe)), tz="UTC")
    return pd.DataFrame({"date": opens.astype(f"datetime64[{unit}, UTC]"), "close": range(count)})


def at(frame: pd.DataFrame, when: str) -> float:
    row = frame.loc[frame["date"] == pd.Timestamp(when, tz="UTC")]
    assert len(row) == 1, when
    value = float(row["cs_altcoin_season_index"].iloc[0])
    return -1.0 if math.isnan(value) else value  # -1: nothing known yet


@pytest.mark.parametrize("unit", ["ns", "ms"])
def test_daily_candles_see_a_day_from_the_next_day_on(unit: str) -> None:
    merged = merge_coinseason(candles("2024-01-03", 5, "1d", unit), SERIES, timeframe="1d")
    assert merged["cs_altcoin_season_index"].fillna(-1).tolist() == [-1, 10, 20, 30, 40]
    assert merged["cs_season"].isna().tolist() == [True, False, False, False, False]  # pandas: None or NaN
    assert merged["cs_season"].tolist()[1:] == ["bitcoin", "neutral", "neutral", "altcoin"]
    assert merged["cs_date"].tolist()[1:] == [dt.date(2024, 1, d) for d in (3, 4, 5, 6)]
    assert merged["close"].tolist() == [0, 1, 2, 3, 4]  # the candles themselves untouched, in order


def test_4h_candles() -> None:
    merged = merge_coinseason(candles("2024-01-04 00:00", 12, "4h"), SERIES, timeframe="4h")
    assert at(merged, "2024-01-04 00:00") == 10  # 01-03 known at 01-04 00:00: this candle opens then
    assert at(merged, "2024-01-04 20:00") == 10  # its close is 01-05 00:00, but it opened before 01-04 was known
    assert at(merged, "2024-01-05 00:00") == 20
    assert at(merged, "2024-01-05 20:00") == 20


def test_1h_candles() -> None:
    merged = merge_coinseason(candles("2024-01-03 22:00", 30, "1h"), SERIES, timeframe="1h")
    assert at(merged, "2024-01-03 23:00") == -1
    assert at(merged, "2024-01-04 00:00") == 10
    assert at(merged, "2024-01-04 23:00") == 10
    assert at(merged, "2024-01-05 00:00") == 20


def test_5m_candles() -> None:
    merged = merge_coinseason(candles("2024-01-05 23:50", 4, "5m"), SERIES, timeframe="5m")
    assert [at(merged, f"2024-01-05 23:{m}") for m in ("50", "55")] == [20, 20]
    assert [at(merged, f"2024-01-06 00:{m}") for m in ("00", "05")] == [30, 30]


def test_at_close_is_one_candle_earlier_as_in_freqtrade() -> None:
    hourly = merge_coinseason(candles("2024-01-04 22:00", 3, "1h"), SERIES, timeframe="1h", at="close")
    assert [at(hourly, w) for w in ("2024-01-04 22:00", "2024-01-04 23:00", "2024-01-05 00:00")] == [10, 20, 20]
    daily = merge_coinseason(candles("2024-01-03", 4, "1d"), SERIES, timeframe="1d", at="close")
    assert daily["cs_altcoin_season_index"].tolist() == [10, 20, 30, 40]  # the 1d candle of D closes as D is known


def test_a_missing_day_keeps_the_last_known_value_and_a_late_series_stays_out() -> None:
    gappy = SERIES.filter(pl.col("date") != dt.date(2024, 1, 5))
    merged = merge_coinseason(candles("2024-01-05", 3, "1d"), gappy, timeframe="1d")
    assert merged["cs_altcoin_season_index"].tolist() == [20, 20, 40]  # 01-06 sees 01-04: 01-05 never came
    early = merge_coinseason(candles("2023-12-30", 2, "1d"), SERIES, timeframe="1d")
    assert early["cs_altcoin_season_index"].isna().all()


def test_bad_timeframes_are_named() -> None:
    with pytest.raises(ConfigError, match="1M"):
        merge_coinseason(candles("2024-01-03", 2, "1d"), SERIES, timeframe="1M")
    assert timeframe_delta("15m") == dt.timedelta(minutes=15)
    assert timeframe_delta("1w") == dt.timedelta(days=7)


def test_the_store_and_the_server_give_the_same_series(tmp_path: Path) -> None:
    """The small market (top=3, window=2: index 50 from 01-03 on) from the file, and from a real server."""
    db = str(tmp_path / "ft.duckdb")
    imported = coinseason("import", str(small_market_csv(tmp_path / "m.csv")), "--format", "tidy", "--db", db)
    assert imported.returncode == 0, imported.stderr
    query = SeriesQuery(top=3, window=2)
    local = series_from_store(db, query)
    assert local["date"].to_list() == SMALL_MARKET_DAYS
    assert local["altcoin_season_index"].to_list() == [None, None, *[50.0] * 8]
    btc, fast, slow = 1e9 * 1.1**9, 1e8 * 1.2**9, 5e7
    assert local["btc_dominance"][-1] == pytest.approx(100 * btc / (btc + fast + slow))
    with serve(["--db", db], log=tmp_path / "server.log") as server, Client(server.url) as client:
        remote = series_from_server(client, query)
    assert remote.columns == local.columns
    for name in local.columns:
        if local[name].dtype.is_float():
            assert remote[name].to_list() == pytest.approx(local[name].to_list(), nan_ok=True), name
        else:
            assert remote[name].to_list() == local[name].to_list(), name


def test_the_feed_fetches_again_only_after_its_refresh(tmp_path: Path) -> None:
    db = str(tmp_path / "feed.duckdb")
    made = coinseason("import", str(small_market_csv(tmp_path / "m.csv")), "--format", "tidy", "--db", db)
    assert made.returncode == 0, made.stderr
    now = [dt.datetime(2024, 1, 11, 1, tzinfo=dt.UTC)]
    feed = CoinseasonFeed(db=db, query=SeriesQuery(top=3, window=2), clock=lambda: now[0])
    first = feed.series()
    assert feed.series() is first
    now[0] += dt.timedelta(minutes=31)
    assert feed.series() is not first
    merged = feed.merge(candles("2024-01-10", 2, "1d"), "1d")
    assert merged["cs_altcoin_season_index"].tolist() == [50.0, 50.0]  # 01-09's and 01-10's values
    assert merged["cs_date"].tolist() == [dt.date(2024, 1, 9), dt.date(2024, 1, 10)]
    with pytest.raises(ConfigError, match="not both"):
        CoinseasonFeed(db=db, url="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="COINSEASON_URL"):
        CoinseasonFeed.from_env(environ={})
