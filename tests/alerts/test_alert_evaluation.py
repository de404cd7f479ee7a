"""Rules evaluated over a real store as data lands and is revised: one event per confirmed transition, none for
old news, a revocation when a revision takes an announced transition away, nothing twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from coinseason.services.alerts.evaluate import Evaluator
from coinseason.services.alerts.service import AlertService
from coinseason.services.analytics import AnalyticsService
from coinseason.store import DuckDBStore
from tests.alerts.conftest import NOW, Clock, new_key
from tests.alerts.market import SEASON_PARAMS, import_market


def evaluate(store: DuckDBStore, clock: Clock) -> tuple[list[str], list[str], dict[str, dt.date]]:
    report = Evaluator(store, clock=clock).evaluate(AnalyticsService(store))  # fresh: the data just changed
    return report.fired, report.revoked, report.armed


def test_season_rule_fires_once_is_revoked_by_a_revision_and_fires_again(
    store: DuckDBStore, service: AlertService, clock: Clock, tmp_path: Path
) -> None:
    key = new_key(store)
    params = {**SEASON_PARAMS, "season": "altcoin", "level": 75, "hysteresis": 5, "confirm_days": 2}
    rule = service.add(key, name="alt season", kind="season", params=params, url="https://example.com/hook").rule
    csv = tmp_path / "m.csv"

    # index 0, 0, 0 on Jan 2-4: the first look arms the rule at Jan 4 and raises nothing
    import_market(store, csv, [0, 0, 0], now=NOW)
    assert evaluate(store, clock) == ([], [], {rule.id: dt.date(2026, 1, 4)})

    # then 75, 100, 100 on Jan 5-7: two days in a row at or above 75 -> entered on Jan 6 (value 100)
    import_market(store, csv, [0, 0, 0, 3, 4, 4], now=NOW)
    fired, revoked, _ = evaluate(store, clock)
    assert len(fired) == 1 and revoked == []
    event = store.alert_event(fired[0])
    assert event is not None
    body = orjson.loads(event.payload)
    assert (body["type"], body["data_date"], body["value"], body["transition"]) == (
        "season.entered",
        "2026-01-06",
        100.0,
        "entered",
    )
    assert body["id"] == event.id and body["rule"]["id"] == rule.id
    assert body["method"]["top"] == 5 and body["method"]["window"] == 1
    assert evaluate(store, clock) == ([], [], {})  # the same data again: nothing new

    # a revision: Jan 6 becomes 25 -> no two days in a row any more (75, 25, 100): the entry is revoked
    import_market(store, csv, [0, 0, 0, 3, 1, 4], now=NOW)
    fired, revoked, _ = evaluate(store, clock)
    assert fired == [] and len(revoked) == 1
    revocation = store.alert_event(revoked[0])
    assert revocation is not None
    said = orjson.loads(revocation.payload)
    assert said["type"] == "alert.revoked"
    assert said["revokes"] == {"id": event.id, "type": "season.entered", "data_date": "2026-01-06"}
    withdrawn = store.alert_event(event.id)
    assert withdrawn is not None and not withdrawn.active

    # Jan 8 is 100 again: two days (Jan 7, 8) at or above 75 -> entered on Jan 8, a new event
    import_market(store, csv, [0, 0, 0, 3, 1, 4, 4], now=NOW)
    fired, revoked, _ = evaluate(store, clock)
    assert revoked == [] and len(fired) == 1
    again = store.alert_event(fired[0])
    assert again is not None and again.data_date == dt.date(2026, 1, 8) and again.type == "season.entered"


def test_old_transitions_before_the_rule_was_armed_raise_nothing(
    store: DuckDBStore, service: AlertService, clock: Clock, tmp_path: Path
) -> None:
    key = new_key(store)
    import_market(store, tmp_path / "m.csv", [4, 4, 4, 0, 0, 0], now=NOW)  # entered and left long ago
    params = {**SEASON_PARAMS, "confirm_days": 1}
    made = service.add(key, name="old news", kind="season", params=params, url="https://example.com/hook")
    assert made.rule.armed_after == dt.date(2026, 1, 7)  # armed at the last day of data when it was added
    assert evaluate(store, clock) == ([], [], {})
    assert store.alert_events() == []


def test_a_rule_for_a_source_without_data_waits(store: DuckDBStore, service: AlertService, clock: Clock) -> None:
    key = new_key(store)
    service.add(key, name="nothing yet", kind="dominance", params={"level": 50}, url="https://example.com/h")
    report = Evaluator(store, clock=clock).evaluate(AnalyticsService(store))
    assert report.fired == [] and len(report.failed) == 1


def test_a_change_that_lands_before_the_first_evaluation_still_fires(
    store: DuckDBStore, service: AlertService, clock: Clock, tmp_path: Path
) -> None:
    """A rule added while no server runs is armed at the data it was added on, not at the first evaluation's."""
    key = new_key(store)
    import_market(store, tmp_path / "m.csv", [0, 0, 0], now=NOW)
    params = {**SEASON_PARAMS, "confirm_days": 2}
    service.add(key, name="added offline", kind="season", params=params, url="https://example.com/hook")
    import_market(store, tmp_path / "m.csv", [0, 0, 0, 3, 4, 4], now=NOW)
    fired, revoked, armed = evaluate(store, clock)
    assert len(fired) == 1 and revoked == [] and armed == {}
    event = store.alert_event(fired[0])
    assert event is not None and event.data_date == dt.date(2026, 1, 6)
