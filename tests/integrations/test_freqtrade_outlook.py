"""The outlook's probabilities in the freqtrade series: one column per transition, each day's as the outlook
answers as of that day, and null for days outside the asked span; merged like every other column (a day's value
from the next day on). A small model is trained on the synthetic market of ``tests.model.synthetic``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest

from coinseason.integrations.freqtrade import SeriesQuery, merge_coinseason, series_from_store
from coinseason.services.outlook import OutlookService
from coinseason.store import DuckDBStore
from tests.model.synthetic import feature_rows, market_prices
from tests.model.test_as_of import DAYS, train

TARGETS = {
    "altcoin_season_entry": "outlook_altcoin_season_entry",
    "bitcoin_season_entry": "outlook_bitcoin_season_entry",
    "dominance_move": "outlook_dominance_move",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("outlook") / "store"
    store, _ = train(root, market_prices(DAYS), feature_rows(DAYS))
    store.close()
    yield str(root / "s.duckdb")


def test_the_outlook_columns_are_each_days_answer_as_of_that_day(trained: str) -> None:
    series = series_from_store(trained, SeriesQuery(top=10, window=30, outlook_days=3))
    assert set(TARGETS.values()) <= set(series.columns)
    days = series["date"].to_list()
    store = DuckDBStore(trained)
    try:
        outlook = OutlookService(store)
        for day in days[-3:]:
            answer = {t["target"]: t["probability"] for t in outlook.outlook(day=day)["transitions"]}
            row = series.filter(series["date"] == day).row(0, named=True)
            for target, column in TARGETS.items():
                assert row[column] == answer[target], (day, target)
    finally:
        store.close()
    probabilities = series.tail(3)["outlook_dominance_move"].to_list()
    assert all(isinstance(p, float) and 0 <= p <= 1 for p in probabilities)  # a model answered each day
    earlier = series.filter(series["date"] < days[-3])
    assert earlier[list(TARGETS.values())].null_count().row(0) == (earlier.height,) * 3

    last = days[-1]
    opens = pd.date_range(pd.Timestamp(last, tz="UTC"), periods=2, freq="1D")
    merged = merge_coinseason(pd.DataFrame({"date": opens}), series, timeframe="1d")
    assert merged["cs_date"].tolist() == [last - dt.timedelta(days=1), last]
    final = series.filter(series["date"] == last).row(0, named=True)
    assert merged["cs_outlook_dominance_move"].iloc[1] == final["outlook_dominance_move"]  # from the next day on
