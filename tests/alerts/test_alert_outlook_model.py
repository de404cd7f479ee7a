"""An outlook rule over a real model trained on a small synthetic market (as in tests/model): the rule is accepted
once a model is stored, raises nothing for the day it was armed on, and raises one ``outlook.above`` carrying the
probability the outlook itself gives when the next day lands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import polars as pl

from coinseason.providers.files import FileFormat
from coinseason.services.alerts.evaluate import Evaluator
from coinseason.services.alerts.outlook_rule import outlook_source
from coinseason.services.alerts.service import AlertService
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from coinseason.services.outlook import OutlookService
from coinseason.store import DuckDBStore
from tests.alerts.conftest import Clock, new_key
from tests.conftest import fixed_clock
from tests.model.synthetic import START, feature_rows, market_csv, market_prices
from tests.model.test_outlook_service import CONFIG, DAYS


def test_an_outlook_rule_over_a_trained_model(store: DuckDBStore, clock: Clock, tmp_path: Path) -> None:
    prices = market_prices(DAYS + 1)
    importer = ImportService(store, clock=fixed_clock)
    importer.import_file(market_csv(tmp_path / "m.csv", prices[:DAYS]), FileFormat.TIDY)
    store.write_features(feature_rows(DAYS + 1).filter(pl.col("series") == "fng.value"))
    OutlookService(store, clock=fixed_clock).train(CONFIG)

    key = new_key(store)
    # level 0 and no hysteresis: above as soon as a day after arming has a probability (a dominance move is
    # always possible), whatever the model says
    params = {"target": "dominance_move", "level": 0.0, "hysteresis": 0.0}
    rule = AlertService(store, clock=clock).add(
        key, name="any", kind="outlook", params=params, url="https://x.example/h"
    )
    last = START + dt.timedelta(days=DAYS - 1)
    assert rule.rule.armed_after == last

    evaluator = Evaluator(store, clock=clock, outlook=outlook_source(store))
    report = evaluator.evaluate(AnalyticsService(store))
    assert (report.fired, report.failed) == ([], {})  # the day it was armed on: old news

    importer.import_file(market_csv(tmp_path / "m.csv", prices), FileFormat.TIDY)  # the next day lands
    analytics = AnalyticsService(store)
    report = evaluator.evaluate(analytics)
    assert report.failed == {} and len(report.fired) == 1
    event = store.alert_event(report.fired[0])
    assert event is not None
    body = orjson.loads(event.payload)
    told = OutlookService(store, analytics).outlook()
    (move,) = [t for t in told["transitions"] if t["target"] == "dominance_move"]
    assert told["date"] == (last + dt.timedelta(days=1)).isoformat()
    assert (body["type"], body["data_date"], body["value"]) == ("outlook.above", told["date"], move["probability"])
    assert body["method"]["model_version"] == told["model_version"]
    assert evaluator.evaluate(analytics).fired == []  # nothing twice
