"""Past outlooks are as of their day: a forecast for day t comes from a model trained only on labels resolved by t.

Two stores hold the same history up to day t and different data after it (prices, and feature values published
after t); a model is trained on each. Every outlook of a day up to t must be the same from both, say it was not
in the training data, and name a model whose last label resolved by the day. The cut lies within the last H days,
where the outlook used to answer from the final model (whose labels reach past t)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from coinseason.errors import ConfigError
from coinseason.features.catalog import end_of_day
from coinseason.model.config import TrainConfig
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.services.outlook import OutlookService, TrainResult
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock
from tests.model.synthetic import START, feature_rows, market_csv, market_prices

DAYS = 480
CONFIG = TrainConfig(
    horizon=10,
    entry_gaps=(3, 5, 10),
    top=10,
    window=30,
    min_train_days=150,
    test_days=60,
    trees=(5, 10, 20),
    min_samples_leaf=10,
    importance_folds=1,
    importance_repeats=1,
    selection_bootstrap=200,
    bootstrap=200,
)
CUT = DAYS - 1 - 4
"""Day t: four days before the end, inside the last H days."""
SAME = (
    "date",
    "season",
    "altcoin_season_index",
    "horizon_days",
    "changepoint_alert",
    "in_sample",
    "predicted_by",
    "transitions",
    "missing_features",
)


def train(root: Path, prices: np.ndarray, rows: pl.DataFrame) -> tuple[DuckDBStore, TrainResult]:
    root.mkdir()
    store = DuckDBStore(root / "s.duckdb")
    ImportService(store, clock=fixed_clock).import_file(market_csv(root / "m.csv", prices), FileFormat.TIDY)
    store.write_features(rows)
    return store, OutlookService(store, clock=fixed_clock).train(CONFIG)


def test_past_outlooks_do_not_change_when_later_data_do(tmp_path: Path) -> None:
    prices = market_prices(DAYS)
    rows = feature_rows(DAYS)
    later = prices.copy()
    rng = np.random.default_rng(5)
    later[CUT + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.08, (DAYS - CUT - 1, prices.shape[1])), axis=0))
    later[CUT + 1 :, 1:] *= 4.0  # altcoins jump: the labels of the last H days before t change
    decided = end_of_day(START + dt.timedelta(days=CUT))
    changed = rows.with_columns(
        pl.when(pl.col("known_at") > decided).then(pl.col("value") * 2 + 3).otherwise(pl.col("value"))
    )
    store_a, a = train(tmp_path / "a", prices, rows)
    store_b, b = train(tmp_path / "b", later, changed)
    try:
        service_a, service_b = OutlookService(store_a), OutlookService(store_b)
        first = dt.date.fromisoformat(a.artifact.meta["validation"]["first_forecast_day"])
        assert first == dt.date.fromisoformat(b.artifact.meta["validation"]["first_forecast_day"])
        # the change is real: the labels of days before t whose horizon reaches past t differ, and so do the
        # models trained on everything
        assert a.artifact.payload != b.artifact.payload
        assert any(
            not np.array_equal(
                a.walk.labels.values[t][k][CUT - 9 : CUT + 1],
                b.walk.labels.values[t][k][CUT - 9 : CUT + 1],
                equal_nan=True,
            )
            for t in a.walk.labels.values
            for k in a.walk.labels.values[t]
        )
        horizon = dt.timedelta(days=CONFIG.horizon)
        day = first
        last_a = START + dt.timedelta(days=DAYS - 1)
        answered = 0
        while day <= START + dt.timedelta(days=CUT):
            got_a, got_b = service_a.outlook(day=day), service_b.outlook(day=day)
            for key in SAME:
                assert got_a[key] == got_b[key], (day, key)
            assert got_a["in_sample"] is False
            assert got_a["predicted_by"]["kind"] == "walk-forward fold"
            through = dt.date.fromisoformat(got_a["predicted_by"]["trained_through"])
            assert through + horizon <= day
            for t in got_a["transitions"]:
                assert t["trained_through"] is None or dt.date.fromisoformat(t["trained_through"]) + horizon <= day
                assert (t["probability"] is None) == (not t["possible"])
            day += dt.timedelta(days=1)
            answered += 1
        assert answered > 200
        # the last day is the final models' (trained on labels resolved by then), and there the stores differ
        final_a, final_b = service_a.outlook(), service_b.outlook()
        assert final_a["date"] == last_a.isoformat()
        assert final_a["predicted_by"]["kind"] == "final model" and final_a["in_sample"] is False
        assert dt.date.fromisoformat(final_a["predicted_by"]["trained_through"]) + horizon <= last_a
        assert final_a["transitions"] != final_b["transitions"]
        # and a day before the first test block has no as-of forecast
        with pytest.raises(ConfigError, match="no out-of-sample forecast"):
            service_a.outlook(day=first - dt.timedelta(days=1))
    finally:
        store_a.close()
        store_b.close()
