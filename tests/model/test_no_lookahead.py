"""No look-ahead: changing any input after day d changes no feature up to d, no label used for training before
d - H, no out-of-sample prediction up to d and no choice made for a block up to d — k, model size, served model
(market prices, feature values, late revisions of old days)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from coinseason.core.labels import TARGETS
from coinseason.features.catalog import end_of_day
from coinseason.features.dataset import ExternalSeries, FeaturePanel, build_panel
from coinseason.model.config import TrainConfig
from coinseason.model.train import Labels, Walk, make_labels, walk_forward
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from coinseason.services.outlook import load_market_series
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock
from tests.model.synthetic import START, feature_rows, market_csv, market_prices

DAYS = 540
CONFIG = TrainConfig(
    horizon=10,
    dominance_points=5.0,
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
)


def pipeline(root: Path, prices: np.ndarray, rows: pl.DataFrame) -> tuple[FeaturePanel, Labels, Walk]:
    root.mkdir()
    store = DuckDBStore(root / "s.duckdb")
    try:
        ImportService(store, clock=fixed_clock).import_file(market_csv(root / "m.csv", prices), FileFormat.TIDY)
        store.write_features(rows)
        market = load_market_series(AnalyticsService(store), top=CONFIG.top, label_window=CONFIG.window)
        panel = build_panel(market, store.features())
        labels = make_labels(market, CONFIG)
        return panel, labels, walk_forward(panel, labels, CONFIG)
    finally:
        store.close()


def test_inputs_after_day_d_change_nothing_up_to_d(tmp_path: Path) -> None:
    prices = market_prices(DAYS)
    rows = feature_rows(DAYS)
    panel, labels, walk = pipeline(tmp_path / "a", prices, rows)
    # day d: two days into a test block, where a model trained without the purge would have seen labels that
    # reach past d
    cut = walk.blocks[-2].test_start + 2

    rng = np.random.default_rng(99)
    later = prices.copy()
    later[cut + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.05, (DAYS - cut - 1, prices.shape[1])), axis=0))
    # altcoins crash (or jump) at once: the season index flips and dominance moves by many points
    later[cut + 1 :, 1:] *= 0.2 if panel.column(f"asi_{CONFIG.window}")[cut] >= 50 else 5.0
    decided = end_of_day(START + dt.timedelta(days=cut))  # the moment the prediction for day cut is made
    revision = pl.DataFrame(  # day cut-1's values revised, published an hour after the decision
        {
            "series": ["fng.value", "yahoo.sp500_close"],
            "date": [START + dt.timedelta(days=cut - 1)] * 2,
            "known_at": [decided + dt.timedelta(hours=1)] * 2,
            "value": [1.0, 1.0],
        },
        schema=rows.schema,
    )
    changed = pl.concat(
        [
            rows.with_columns(
                pl.when(pl.col("known_at") > decided).then(pl.col("value") * 3 + 7).otherwise(pl.col("value"))
            ),
            revision,
        ]
    )
    panel2, labels2, walk2 = pipeline(tmp_path / "b", later, changed)

    # the perturbation is real: later features do change
    assert not np.array_equal(panel.values[cut + 1 :], panel2.values[cut + 1 :], equal_nan=True)
    np.testing.assert_array_equal(panel.values[: cut + 1], panel2.values[: cut + 1])
    assert panel.names == panel2.names
    # ... and so do labels of days whose horizon reaches past d, which the purge must keep out of training
    late = slice(cut - CONFIG.horizon + 1, cut + 1)
    assert any(
        not np.array_equal(labels.values[t][k][late], labels2.values[t][k][late])
        for t in TARGETS
        for k in labels.values[t]
    )
    known = cut - CONFIG.horizon + 1
    upto = [i for i, b in enumerate(walk.blocks) if b.test_start <= cut]
    for target in TARGETS:
        for k, y in labels.values[target].items():
            np.testing.assert_array_equal(y[:known], labels2.values[target][k][:known])
        run, run2 = walk.runs[target], walk2.runs[target]
        for model, p in run.preds.items():
            np.testing.assert_array_equal(p[: cut + 1], run2.preds[model][: cut + 1], model)
            if model in run.alerts:
                np.testing.assert_array_equal(run.alerts[model][: cut + 1], run2.alerts[model][: cut + 1], model)
        # every choice made for the blocks up to d: k, the served model, the model sizes, the training rows
        assert [run.gap[i] for i in upto] == [run2.gap[i] for i in upto]
        assert [run.served[i] for i in upto] == [run2.served[i] for i in upto]
        assert [run.trained_through[i] for i in upto] == [run2.trained_through[i] for i in upto]
        for name, sizes in run.sizes.items():
            assert [sizes[i] for i in upto] == [run2.sizes[name][i] for i in upto], name
    # the models were real learners on these days, not constant fallbacks, and the choices were not all defaults
    gbm = walk.runs["altcoin_season_entry"].preds["gbm_all"][: cut + 1]
    assert np.nanstd(gbm) > 0
    assert len({walk.runs[t].served[i] for t in TARGETS for i in upto}) > 1


def test_a_feature_value_is_used_only_once_published(tmp_path: Path) -> None:
    """The same pipeline sees a US close of a Friday first on Saturday (known at noon UTC the next day)."""
    prices = market_prices(200)
    rows = feature_rows(200)
    root = tmp_path / "c"
    root.mkdir()
    store = DuckDBStore(root / "s.duckdb")
    try:
        ImportService(store, clock=fixed_clock).import_file(market_csv(root / "m.csv", prices), FileFormat.TIDY)
        store.write_features(rows)
        market = load_market_series(AnalyticsService(store), top=10, label_window=30)
        panel = build_panel(market, store.features(), change_points=False)
    finally:
        store.close()
    ext = ExternalSeries(rows, START, 200)
    close, _ = ext.aligned("yahoo.sp500_close")
    friday = next(i for i in range(7, 14) if (START + dt.timedelta(days=i)).weekday() == 4)
    friday_close = rows.filter(
        (pl.col("series") == "yahoo.sp500_close") & (pl.col("date") == START + dt.timedelta(days=friday))
    )["value"][0]
    thursday_close = rows.filter(
        (pl.col("series") == "yahoo.sp500_close") & (pl.col("date") == START + dt.timedelta(days=friday - 1))
    )["value"][0]
    assert close[friday] == thursday_close  # Friday's own close is not known at the end of Friday
    assert close[friday + 1] == friday_close  # Saturday
    assert close[friday + 3] == friday_close  # Monday, before Monday's close is published
    assert panel.values.shape[0] == 200
