"""The outlook service over a small synthetic market: correlations aligned on the asset's close, past days served
from the stored walk-forward out-of-sample predictions (or refused), and a newly trained model picked up."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from coinseason.api.app import create_app
from coinseason.errors import ConfigError
from coinseason.features.catalog import FEATURE_SCHEMA, next_day_noon
from coinseason.model.config import TrainConfig
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.services.outlook import OutlookService, TrainResult
from coinseason.settings import Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock
from tests.model.synthetic import START, feature_rows, market_csv, market_prices

DAYS = 420
CONFIG = TrainConfig(
    horizon=10,
    entry_gaps=(5,),
    top=10,
    window=30,
    min_train_days=150,
    test_days=60,
    trees=(10,),
    min_samples_leaf=10,
    importance_folds=1,
    bootstrap=200,
    selection_bootstrap=200,
)


def tracking_close(prices: np.ndarray) -> pl.DataFrame:
    """A weekday 'S&P 500' close dated D equal to BTC's price at 00:00 UTC of D+1 (times a constant): the close
    (~21:00 UTC of D) and the next 00:00 UTC snapshot move together, the snapshot of D does not."""
    dates = [START + dt.timedelta(days=d) for d in range(DAYS - 1)]
    weekdays = [i for i, d in enumerate(dates) if d.weekday() < 5]
    return pl.DataFrame(
        {
            "series": ["yahoo.sp500_close"] * len(weekdays),
            "date": [dates[i] for i in weekdays],
            "known_at": [next_day_noon(dates[i]) for i in weekdays],
            "value": [0.2 * float(prices[i + 1, 0]) for i in weekdays],
        },
        schema=FEATURE_SCHEMA,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDBStore, TrainResult]]:
    root = tmp_path_factory.mktemp("outlook")
    store = DuckDBStore(root / "s.duckdb")
    prices = market_prices(DAYS)
    ImportService(store, clock=fixed_clock).import_file(market_csv(root / "m.csv", prices), FileFormat.TIDY)
    # the Fear & Greed series stops 30 days before the end: missing on the last day
    fng = feature_rows(DAYS).filter(pl.col("series") == "fng.value", pl.col("date") < START + dt.timedelta(DAYS - 30))
    store.write_features(fng)
    store.write_features(tracking_close(prices))
    result = OutlookService(store, clock=fixed_clock).train(CONFIG)
    yield store, result
    store.close()


def test_correlations_pair_a_close_with_the_next_snapshot(trained: tuple[DuckDBStore, TrainResult]) -> None:
    store, _ = trained
    frame = OutlookService(store).correlations("sp500", window=30)
    values = frame["value"].drop_nulls().to_numpy()
    assert values.size > 200
    # BTC's change up to 00:00 UTC of D+1 is the asset's change up to D: correlation 1 (up to rounding)
    assert values.min() > 0.999


def test_past_days_come_from_walk_forward_predictions(trained: tuple[DuckDBStore, TrainResult]) -> None:
    store, result = trained
    service = OutlookService(store)
    meta = result.artifact.meta
    end = dt.date.fromisoformat(meta["training_window"]["end"])
    first_test = dt.date.fromisoformat(meta["validation"]["first_test_day"])
    warm = meta["validation"]["warmup_folds"]
    day = first_test + dt.timedelta(days=70)  # in the second reported test block
    assert day <= end
    got = service.outlook(day=day)
    assert got["in_sample"] is False
    assert got["predicted_by"]["kind"] == "walk-forward fold" and got["predicted_by"]["fold"] == warm + 1
    assert got["predicted_by"]["test_start"] == str(first_test + dt.timedelta(days=60))
    row = (day - START).days
    run = result.walk.runs
    for t in got["transitions"]:
        stored = run[t["target"]].preds["served"][row]
        if t["possible"]:
            assert t["probability"] == pytest.approx(stored, abs=1e-6)
        assert t["model"] == run[t["target"]].served[warm + 1]
        assert t["logistic_probability"] == pytest.approx(run[t["target"]].preds["logistic"][row], abs=1e-6)
        assert t["top_features"] == []
    # the last day of the data is the final models' (their labels resolved by then)
    last = service.outlook()
    assert last["predicted_by"]["kind"] == "final model"
    assert dt.date.fromisoformat(last["date"]) > end
    first_forecast = dt.date.fromisoformat(meta["validation"]["first_forecast_day"])
    with pytest.raises(ConfigError, match="date .* no out-of-sample forecast"):
        service.outlook(day=first_forecast - dt.timedelta(days=1))
    with pytest.raises(ConfigError, match="date .* outside the data"):
        service.outlook(day=START - dt.timedelta(days=1))


def test_a_newer_model_is_picked_up(
    trained: tuple[DuckDBStore, TrainResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the newer artifacts carry the same models: the other tests of this module give the same answers with them
    store, result = trained
    ticks = [0.0]
    service = OutlookService(store, monotonic=lambda: ticks[0], newest_ttl=5.0)
    old = result.artifact
    assert service.outlook()["model_version"] == old.version
    newer = dataclasses.replace(
        old, version="zz-newer", created_at=old.created_at + dt.timedelta(hours=1), meta={**old.meta}
    )
    store.write_model(newer)
    ticks[0] = 1.0
    assert service.outlook()["model_version"] == old.version  # within the TTL
    ticks[0] = 6.0
    assert service.outlook()["model_version"] == "zz-newer"
    app = create_app(Settings(db=str(tmp_path / "unused.duckdb")), store=store, clock=fixed_clock)
    with TestClient(app) as client:
        first = client.get("/v1/outlook")
        assert first.status_code == 200, first.text
        assert first.json()["model_version"] == "zz-newer"
        refused = client.get("/v1/outlook", params={"date": str(START + dt.timedelta(days=5))})
        assert refused.status_code == 422
        assert "date" in refused.json()["detail"]
        newest = dataclasses.replace(
            old, version="zz-newest", created_at=old.created_at + dt.timedelta(hours=2), meta={**old.meta}
        )
        store.write_model(newest)
        monkeypatch.setattr("coinseason.services.outlook.NEWEST_TTL_SECONDS", 0.0)
        again = client.get("/v1/outlook")
        assert again.status_code == 200
        assert again.json()["model_version"] == "zz-newest"  # not the cached answer of zz-newer


def test_missing_features_are_listed_not_ranked(trained: tuple[DuckDBStore, TrainResult]) -> None:
    store, _ = trained
    service = OutlookService(store)
    got = service.outlook()
    _, final = service.model()
    _, panel = service.inputs(source=None, top=CONFIG.top, window=CONFIG.window)
    last = panel.values[-1]
    used = {n for t in final.targets.values() for n in t.features}
    # the served models' features without a value today (Fear & Greed stopped 30 days ago), and only those
    assert set(got["missing_features"]) == {n for j, n in enumerate(panel.names) if np.isnan(last[j]) and n in used}
    for t in got["transitions"]:
        served = final.targets[t["target"]]
        assert t["model"] == served.served
        assert len(t["top_features"]) == min(5, len(set(served.features) - set(got["missing_features"])))
        assert {f["feature"] for f in t["top_features"]} <= set(served.features)
        assert not {f["feature"] for f in t["top_features"]} & set(got["missing_features"])
        assert all(f["value"] is not None for f in t["top_features"])
    alert = got["changepoint_alert"]
    assert set(alert) == {"on", "days_since", "shift"}
    assert alert["on"] == (alert["days_since"] is not None and alert["days_since"] <= 30)


def test_series_are_bounded_by_default(trained: tuple[DuckDBStore, TrainResult]) -> None:
    store, _ = trained
    service = OutlookService(store)
    last_fng = START + dt.timedelta(DAYS - 31)
    recent = service.series(("fng.value",))
    assert recent["date"].min() == last_fng - dt.timedelta(days=364) and recent["date"].max() == last_fng
    assert service.series(("fng.value",), start=START)["date"].min() == START
    upto = service.series(("fng.value",), end=START + dt.timedelta(days=99))
    assert upto.height == 100
