"""The consensus, margin and outlook rules: checked parameters, and evaluation over a real store as data lands and is
revised, with every expected event worked out by hand from the market of :mod:`tests.alerts.market`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

from coinseason.core.alerts import ENTERED, LEFT, Band, band_step, band_transitions, holds
from coinseason.errors import ConfigError, NoDataError
from coinseason.services.alerts.evaluate import Evaluation, Evaluator
from coinseason.services.alerts.outlook_rule import OutlookFn
from coinseason.services.alerts.rules import rule_spec
from coinseason.services.alerts.service import AlertService
from coinseason.services.analytics import AnalyticsService
from coinseason.store import DuckDBStore
from coinseason.store.records import ModelArtifact
from tests.alerts.conftest import NOW, Clock, new_key
from tests.alerts.market import SEASON_PARAMS, START, import_market

URL = "https://example.com/hook"


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def evaluate(store: DuckDBStore, clock: Clock, outlook: OutlookFn | None = None) -> Evaluation:
    """One evaluation over the data as it is now; the market has four altcoins: the minimum universe is set aside."""
    evaluator = Evaluator(store, clock=clock, outlook=None if outlook is None else (lambda _analytics: outlook))
    return evaluator.evaluate(AnalyticsService(store, min_eligible=0))


def body(store: DuckDBStore, event_id: str) -> dict[str, Any]:
    event = store.alert_event(event_id)
    assert event is not None
    return dict(orjson.loads(event.payload))


def said(store: DuckDBStore, ids: list[str]) -> list[tuple[str, str, float | None]]:
    return [(b["type"], b["data_date"], b["value"]) for b in (body(store, i) for i in ids)]


# -- parameters ------------------------------------------------------------------------------------------------


def test_new_kinds_fill_their_defaults_and_watch_their_band() -> None:
    majority = rule_spec("consensus", {})
    assert majority.params == {"source": None, "watch": "majority", "season": "altcoin", "confirm_days": 3}
    assert majority.band == Band(enter=1.0, leave=1.0, above=True, confirm=3)
    agreement = rule_spec("consensus", {"watch": "agreement", "top": 20, "confirm_days": 2})
    assert agreement.params == {
        "source": None,
        "watch": "agreement",
        "confirm_days": 2,
        "top": 20,
        "window": 90,
        "exclude": "default",
    }
    assert (agreement.transition(ENTERED), agreement.transition(LEFT)) == ("disagrees", "agrees")
    margin = rule_spec("margin", {"level": 2})
    assert margin.band == Band(enter=2, leave=3, above=False, confirm=1)
    assert (margin.transition(ENTERED), margin.transition(LEFT)) == ("close", "clear")
    outlook = rule_spec("outlook", {"level": 0.6})
    assert outlook.params == {"target": "altcoin_season_entry", "level": 0.6, "hysteresis": 0.05}
    band = outlook.band
    assert (band.enter, band.leave, band.above, band.confirm) == (0.6, pytest.approx(0.55), True, 1)


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("consensus", {"watch": "mood"}, "watch must be majority or agreement, not 'mood'"),
        ("consensus", {"season": "summer"}, "season must be altcoin or neutral or bitcoin, not 'summer'"),
        ("consensus", {"top": 20}, "unknown parameter(s) for a rule of kind consensus: top"),
        (
            "consensus",
            {"watch": "agreement", "season": "altcoin"},
            "unknown parameter(s) for a rule of kind consensus: season",
        ),
        ("margin", {}, "a margin rule needs level"),
        ("margin", {"level": 2.5}, "level must be a whole number"),
        ("margin", {"level": 2, "hysteresis": -1}, "hysteresis must be a whole number"),
        ("outlook", {}, "a rule of this kind needs level (a number from 0 to 1)"),
        ("outlook", {"level": 60}, "level must be from 0 to 1, not 60"),
        ("outlook", {"level": 0.6, "target": "moon"}, "target must be altcoin_season_entry or bitcoin_season_entry"),
        ("outlook", {"level": 0.6, "source": "x"}, "unknown parameter(s) for a rule of kind outlook: source"),
        ("outlook", {"level": 0.05, "hysteresis": 0.1}, "hysteresis must not be more than level (0.05)"),
    ],
)
def test_bad_parameters_are_named(kind: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        rule_spec(kind, params)
    assert message in str(caught.value)


def test_one_value_steps_a_state_known_without_its_history() -> None:
    band = Band(enter=0.6, leave=0.5)
    assert [band_step(False, v, band) for v in (0.59, 0.6, float("nan"))] == [0, ENTERED, 0]
    assert [band_step(True, v, band) for v in (0.5, 0.49, float("nan"))] == [0, LEFT, 0]
    assert (holds(ENTERED, 0.6, band), holds(ENTERED, 0.59, band), holds(LEFT, 0.5, band)) == (True, False, False)
    assert holds(LEFT, float("nan"), band)


# -- consensus and margin over a real store --------------------------------------------------------------------

# Every altcoin wins each of days 1-40 (2 % against BTC's 1 %), none after. Over W days an alt that won k of them
# beats BTC when 1.02^k > 1.01^W, k > 0.5025 W: for W = 30, k >= 16. The 30 days up to day d hold 40 - (d - 30)
# wins after day 40, so every alt beats BTC through day 54 (16 wins) and none from day 55 (15). With four alts that
# all move together, every W = 30 variant of the grid (N = 20 to 200 hold all five coins; BTC inside or not, either
# exclusion) reads 100 on days 30-54 and 0 on days 55-59, and no longer window has a value before day 60: the
# majority is altcoin on days 30-54, bitcoin on 55-59, none before day 30.
WINS_THEN_LOSSES = [4] * 40 + [0] * 19


def test_consensus_majority_entered_and_left_with_confirmation(
    store: DuckDBStore, service: AlertService, clock: Clock, tmp_path: Path
) -> None:
    key = new_key(store)
    csv = tmp_path / "m.csv"
    import_market(store, csv, WINS_THEN_LOSSES[:29], now=NOW)  # through day 29: no variant has a value yet
    rule = service.add(key, name="grid", kind="consensus", params={"confirm_days": 3}, url=URL).rule
    assert rule.armed_after == day(29)

    import_market(store, csv, WINS_THEN_LOSSES[:40], now=NOW)  # altcoin on days 30, 31, 32 -> entered on day 32
    report = evaluate(store, clock)
    assert said(store, report.fired) == [("consensus.entered", day(32).isoformat(), 1.0)]
    method = body(store, report.fired[0])["method"]
    assert method["grid"]["window"] == [30, 60, 90, 180] and "64 variants" in method["consensus"]

    import_market(store, csv, WINS_THEN_LOSSES, now=NOW)  # bitcoin on days 55, 56, 57 -> left on day 57
    report = evaluate(store, clock)
    assert said(store, report.fired) == [("consensus.left", day(57).isoformat(), 0.0)]
    assert evaluate(store, clock).fired == []


def test_consensus_agreement_of_the_headline(
    store: DuckDBStore, service: AlertService, clock: Clock, tmp_path: Path
) -> None:
    # The headline (top 5, window 1) reads 100 (altcoin) on days 1-40 and 0 (bitcoin) from day 41: it agrees with
    # the majority on days 30-40, disagrees on 41-54 (disagrees confirmed on day 43) and agrees again from day 55
    # (confirmed on day 57).
    key = new_key(store)
    csv = tmp_path / "m.csv"
    import_market(store, csv, WINS_THEN_LOSSES[:29], now=NOW)
    params = {"watch": "agreement", **SEASON_PARAMS}
    service.add(key, name="split", kind="consensus", params=params, url=URL)
    import_market(store, csv, WINS_THEN_LOSSES, now=NOW)
    report = evaluate(store, clock)
    assert said(store, report.fired) == [
        ("consensus.disagrees", day(43).isoformat(), 1.0),
        ("consensus.agrees", day(57).isoformat(), 0.0),
    ]


def test_margin_close_call_with_and_without_hysteresis(
    store: DuckDBStore, service: AlertService, clock: Clock, tmp_path: Path
) -> None:
    # Four eligible alts, index 25 x the winners, altcoin at 75 or more, bitcoin at 25 or less. The margin (fewest
    # coins to change the season): 4 winners (100) -> 2 (to 50, neutral); 3 (75) -> 1 (to 50); 2 (50) -> 1 (to 75
    # or 25). Winners on days 4-9: 4, 3, 4, 4, 2, 4 -> margins 2, 1, 2, 2, 1, 2.
    key = new_key(store)
    csv = tmp_path / "m.csv"
    import_market(store, csv, [4, 4, 4], now=NOW)
    sticky = service.add(key, name="close", kind="margin", params={"level": 1, **SEASON_PARAMS}, url=URL).rule
    params = {"level": 1, "hysteresis": 0, **SEASON_PARAMS}
    twitchy = service.add(key, name="close, no hysteresis", kind="margin", params=params, url=URL).rule
    import_market(store, csv, [4, 4, 4, 4, 3, 4, 4, 2, 4], now=NOW)
    report = evaluate(store, clock)
    by_rule: dict[str, list[tuple[str, str, float | None]]] = {sticky.id: [], twitchy.id: []}
    for eid in report.fired:
        by_rule[body(store, eid)["rule"]["id"]] += said(store, [eid])
    # clear only above 1 + 1 coins: the margin never gets there after day 5
    assert by_rule[sticky.id] == [("margin.close", day(5).isoformat(), 1.0)]
    assert by_rule[twitchy.id] == [
        ("margin.close", day(5).isoformat(), 1.0),
        ("margin.clear", day(6).isoformat(), 2.0),
        ("margin.close", day(8).isoformat(), 1.0),
        ("margin.clear", day(9).isoformat(), 2.0),
    ]
    assert "fewest eligible altcoins" in body(store, report.fired[0])["method"]["margin"]


def test_band_of_a_margin_series_by_hand() -> None:
    import numpy as np

    rows, changes = band_transitions(
        np.array([2.0, 1.0, 2.0, 3.0, np.nan, 1.0]), rule_spec("margin", {"level": 1}).band
    )
    assert rows.tolist() == [1, 3, 5] and changes.tolist() == [ENTERED, LEFT, ENTERED]


# -- outlook ---------------------------------------------------------------------------------------------------


class FakeOutlook:
    """Outlooks from a table of probabilities by day (None: the transition is not possible that day); the last day
    of the table is the latest."""

    def __init__(self) -> None:
        self.days: dict[dt.date, float | None] = {}
        self.asked: list[dt.date | None] = []
        self.broken: str | None = None

    def __call__(self, when: dt.date | None) -> dict[str, Any]:
        self.asked.append(when)
        if self.broken:
            raise NoDataError(self.broken)
        when = when or max(self.days)
        return {
            "date": when.isoformat(),
            "source": "test",
            "model_version": "m1",
            "trained_at": NOW.isoformat(),
            "horizon_days": 30,
            "training_window": {"start": "2020-01-01"},
            "transitions": [
                {"target": "bitcoin_season_entry", "probability": 0.01},
                {"target": "altcoin_season_entry", "probability": self.days[when]},
            ],
        }


def store_a_model(store: DuckDBStore) -> None:
    """A model is in the store (the outlooks themselves come from :class:`FakeOutlook`)."""
    store.write_model(ModelArtifact("m1", NOW, {"config": {}}, b"not read"))


def test_an_outlook_rule_needs_a_trained_model(store: DuckDBStore, service: AlertService) -> None:
    key = new_key(store)
    with pytest.raises(ConfigError, match=r"an outlook rule needs a trained model: run `coinseason model train`"):
        service.add(key, name="early", kind="outlook", params={"level": 0.6}, url=URL)
    assert store.alert_rules(key) == []


def test_outlook_fires_once_above_the_level_with_hysteresis_and_is_revoked_by_a_revision(
    store: DuckDBStore, service: AlertService, clock: Clock
) -> None:
    key = new_key(store)
    store_a_model(store)
    params = {"level": 0.6, "hysteresis": 0.1}  # above at 0.6 or more; below under 0.5
    rule = service.add(key, name="early", kind="outlook", params=params, url=URL).rule
    assert rule.armed_after is None  # no market data: armed at the first look
    outlook = FakeOutlook()

    outlook.days = {day(4): 0.7}
    assert evaluate(store, clock, outlook).armed == {rule.id: day(4)}  # old news: nothing

    outlook.days[day(5)] = 0.65
    report = evaluate(store, clock, outlook)
    assert said(store, report.fired) == [("outlook.above", day(5).isoformat(), 0.65)]
    method = body(store, report.fired[0])["method"]
    assert (method["model_version"], method["target"], method["horizon_days"]) == ("m1", "altcoin_season_entry", 30)
    assert evaluate(store, clock, outlook).fired == []  # the same data: nothing twice

    outlook.days[day(6)] = 0.55  # between 0.5 and 0.6: still above
    report = evaluate(store, clock, outlook)
    assert (report.fired, report.revoked) == ([], [])

    outlook.days[day(5)] = 0.58  # a revision: day 5 was not at 0.6 after all -> revoked, and 0.55 fires nothing
    report = evaluate(store, clock, outlook)
    assert report.fired == [] and len(report.revoked) == 1
    revocation = body(store, report.revoked[0])
    assert (revocation["type"], revocation["data_date"], revocation["value"]) == (
        "alert.revoked",
        day(5).isoformat(),
        0.58,
    )
    assert revocation["revokes"]["type"] == "outlook.above"

    outlook.days[day(7)] = 0.62
    assert said(store, evaluate(store, clock, outlook).fired) == [("outlook.above", day(7).isoformat(), 0.62)]
    outlook.days[day(8)] = None  # the entry is not possible that day: nothing
    assert evaluate(store, clock, outlook).fired == []
    outlook.days[day(9)] = 0.49
    assert said(store, evaluate(store, clock, outlook).fired) == [("outlook.below", day(9).isoformat(), 0.49)]
    outlook.asked.clear()
    assert evaluate(store, clock, outlook).fired == []
    assert outlook.asked == [None]  # the latest day only: the standing event is of that day


def test_an_outlook_rule_without_an_outlook_says_why(store: DuckDBStore, service: AlertService, clock: Clock) -> None:
    key = new_key(store)
    store_a_model(store)
    rule = service.add(key, name="early", kind="outlook", params={"level": 0.6}, url=URL).rule
    outlook = FakeOutlook()
    outlook.broken = "the store holds no trained model: run `coinseason model train` first"
    assert evaluate(store, clock, outlook).failed == {rule.id: outlook.broken}
    assert "coinseason serve" in evaluate(store, clock).failed[rule.id]


def test_a_revision_moves_the_consensus_entry_revoking_the_announced_one(
    store: DuckDBStore, service: AlertService, clock: Clock, tmp_path: Path
) -> None:
    key = new_key(store)
    csv = tmp_path / "m.csv"
    import_market(store, csv, WINS_THEN_LOSSES[:29], now=NOW)
    service.add(key, name="grid", kind="consensus", params={}, url=URL)
    import_market(store, csv, WINS_THEN_LOSSES[:40], now=NOW)
    (entered,) = evaluate(store, clock).fired  # on day 32, as above

    # revised: the alts won only days 16-40. Day 30's 30 days hold 15 wins (1.02^15 = 1.3459 < 1.01^30 = 1.3478:
    # index 0, bitcoin); day 31's hold 16 (1.3728: index 100). Altcoin on days 31, 32, 33 -> entered on day 33.
    import_market(store, csv, [0] * 15 + [4] * 25, now=NOW)
    report = evaluate(store, clock)
    assert said(store, report.fired) == [("consensus.entered", day(33).isoformat(), 1.0)]
    (revoked,) = report.revoked
    assert body(store, revoked)["revokes"] == {"id": entered, "type": "consensus.entered", "data_date": "2026-02-02"}
