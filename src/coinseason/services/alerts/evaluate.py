"""Evaluating the rules over the data as it is now, each time data lands.

For each rule the whole series is read again and its transitions found (:func:`~coinseason.core.alerts.
band_transitions`); those dated after the day the rule was armed are compared with the events already announced
(:func:`~coinseason.core.alerts.reconcile`). A transition not announced yet raises an event; an announced one the
data no longer shows (a revision took it away) raises an ``alert.revoked`` event naming it. Both are written to the
outbox in one transaction, so an evaluation lands whole or not at all; running it again changes nothing.

Consensus and margin rules read the day-by-day series of :class:`~coinseason.services.consensus.ConsensusService`
(the grid is computed once per engine) and go the same way. Outlook rules read only the latest day (and the day of
their standing event): see :mod:`coinseason.services.alerts.outlook_rule`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import polars as pl

from coinseason.clock import Clock
from coinseason.core.alerts import band_transitions, reconcile
from coinseason.errors import CoinseasonError
from coinseason.services.alerts.outlook_rule import OutlookReading, OutlookSource, read_outlook_rule
from coinseason.services.alerts.payloads import event_id, event_payload
from coinseason.services.alerts.rules import RuleSpec, rule_spec
from coinseason.services.analytics import AnalyticsService
from coinseason.services.consensus import GRID_METHOD, MARGIN_METHOD, ConsensusService, grid_description
from coinseason.store.alert_records import AlertEvent, AlertRule
from coinseason.store.protocols import AlertStore

__all__ = ["Evaluation", "Evaluator", "rule_view"]

log = logging.getLogger("coinseason.alerts")

REVOKED = "alert.revoked"


@dataclass
class Evaluation:
    """What one evaluation did."""

    rules: int = 0
    fired: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    armed: dict[str, dt.date] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    """Rule id -> why its series could not be read (no data for its source yet, …)."""


@dataclass(frozen=True, slots=True)
class _Series:
    dates: list[dt.date]
    values: np.ndarray
    method: dict[str, Any]


def rule_view(rule: AlertRule) -> dict[str, Any]:
    """The rule as events show it."""
    return {"id": rule.id, "name": rule.name, "kind": rule.kind, "params": rule.params}


class Evaluator:
    """Evaluates every live rule of ``store`` over an :class:`AnalyticsService`; ``clock`` dates the events;
    ``outlook`` answers outlook rules (without it they are reported as failed: not evaluated here)."""

    def __init__(self, store: AlertStore, *, clock: Clock, outlook: OutlookSource | None = None) -> None:
        self.store = store
        self.clock = clock
        self.outlook = outlook

    def evaluate(self, analytics: AnalyticsService) -> Evaluation:
        """One evaluation of every rule (blocking: run it off the event loop)."""
        report = Evaluation()
        rules = self.store.alert_rules()
        report.rules = len(rules)
        series: dict[tuple[Any, ...], _Series | str] = {}
        new: list[AlertEvent] = []
        revoked: list[str] = []
        now = self.clock()
        for rule in rules:
            spec = rule_spec(rule.kind, rule.params)
            announced = {
                (e.data_date, e.transition): e
                for e in self.store.alert_events(rule_id=rule.id, active=True, limit=100_000)
                if e.data_date is not None and e.transition is not None
            }
            found = self._reading(analytics, spec, rule, series, list(announced.values()))
            if isinstance(found, str):
                report.failed[rule.id] = found
                continue
            if rule.armed_after is None:
                report.armed[rule.id] = found.last_day
                continue
            fresh, withdrawn = reconcile(found.derived, list(announced))
            for day, transition in fresh:
                eid = event_id()
                kind = f"{rule.kind}.{transition}"
                payload = event_payload(
                    id=eid,
                    type=kind,
                    created_at=now,
                    rule=rule_view(rule),
                    value=found.derived[(day, transition)],
                    data_date=day,
                    method=found.method,
                    transition=transition,
                )
                new.append(_event(rule, eid, kind, day, transition, True, payload, now))
                report.fired.append(eid)
            for day, transition in withdrawn:
                gone = announced[(day, transition)]
                eid = event_id()
                payload = event_payload(
                    id=eid,
                    type=REVOKED,
                    created_at=now,
                    rule=rule_view(rule),
                    value=found.value_on(day),
                    data_date=day,
                    method=found.method,
                    transition=transition,
                    revokes={"id": gone.id, "type": gone.type, "data_date": day.isoformat()},
                )
                new.append(_event(rule, eid, REVOKED, day, None, False, payload, now))
                revoked.append(gone.id)
                report.revoked.append(eid)
        self.store.record_alert_events(new, revoked, report.armed)
        if new or report.armed:
            log.info(
                "alerts evaluated: %d rule(s), %d event(s) raised, %d revoked, %d rule(s) armed",
                report.rules,
                len(report.fired),
                len(report.revoked),
                len(report.armed),
            )
        return report

    def _reading(
        self,
        analytics: AnalyticsService,
        spec: RuleSpec,
        rule: AlertRule,
        series: dict[tuple[Any, ...], _Series | str],
        announced: list[AlertEvent],
    ) -> _Reading | str:
        """What the rule's data says now, or why it cannot be read."""
        if spec.kind == "outlook":
            if self.outlook is None:
                return "outlook rules are evaluated by a running `coinseason serve`"
            try:
                reading = read_outlook_rule(spec, rule.armed_after, announced, self.outlook(analytics))
            except CoinseasonError as exc:
                return str(exc)
            return _Reading.of_outlook(reading)
        key = spec.series_key
        if key not in series:
            series[key] = _read(analytics, spec)
        found = series[key]
        if isinstance(found, str):
            return found
        if not found.dates:
            return "the series has no day yet"
        rows, changes = band_transitions(found.values, spec.band)
        derived = {
            (found.dates[r], spec.transition(int(c))): float(found.values[r])
            for r, c in zip(rows.tolist(), changes.tolist(), strict=True)
            if rule.armed_after is not None and found.dates[r] > rule.armed_after
        }
        return _Reading(found.dates[-1], derived, found.method, lambda day: _value_on(found, day))


@dataclass(frozen=True, slots=True)
class _Reading:
    """A rule's data now: its last day, the transitions it shows after the rule was armed (with their values),
    the method, and the value of a day."""

    last_day: dt.date
    derived: dict[tuple[dt.date, str], float]
    method: dict[str, Any]
    value_on: Callable[[dt.date], float | None]

    @classmethod
    def of_outlook(cls, reading: OutlookReading) -> _Reading:
        def value_on(day: dt.date) -> float | None:
            value = reading.values.get(day)
            return None if value is None or np.isnan(value) else value

        return cls(reading.last_day, reading.derived, reading.method, value_on)


def _event(
    rule: AlertRule,
    eid: str,
    kind: str,
    day: dt.date,
    transition: str | None,
    active: bool,
    payload: str,
    now: dt.datetime,
) -> AlertEvent:
    return AlertEvent(
        id=eid,
        rule_id=rule.id,
        key_prefix=rule.key_prefix,
        endpoint_id=rule.endpoint_id,
        type=kind,
        data_date=day,
        transition=transition,
        active=active,
        payload=payload,
        created_at=now,
        next_attempt_at=now,
        due_since=now,
    )


def _value_on(series: _Series, day: dt.date) -> float | None:
    try:
        value = float(series.values[series.dates.index(day)])
    except ValueError:
        return None
    return None if np.isnan(value) else value


def _read(analytics: AnalyticsService, spec: RuleSpec) -> _Series | str:
    """The rule's series (dates, values with NaN where missing, method), or why it cannot be read."""
    p = spec.params
    try:
        if spec.kind == "season":
            query = spec.season_query()
            frame = analytics.season_history(query, source=p["source"])
            method = analytics.method(p["source"], p["exclude"], **query.parameters())
        elif spec.kind == "consensus":
            query = spec.season_query()
            history = ConsensusService(analytics).history(query, source=p["source"])
            frame = history.select("date", value=_consensus_state(history, p))
            if p["watch"] == "majority":
                method = {**analytics.method(p["source"], "default"), "grid": grid_description()}
            else:
                method = {
                    **analytics.method(p["source"], p["exclude"], **query.parameters()),
                    "grid": grid_description(),
                }
            method["consensus"] = GRID_METHOD
        elif spec.kind == "margin":
            query = spec.season_query()
            frame = ConsensusService(analytics).margin_history(query, source=p["source"]).select("date", value="margin")
            method = analytics.method(p["source"], p["exclude"], **query.parameters())
            method["margin"] = MARGIN_METHOD
        else:
            frame = analytics.dominance_history(universe=p["universe"], exclude=p["exclude"], source=p["source"])
            method = analytics.method(p["source"], p["exclude"], universe=p["universe"])
    except CoinseasonError as exc:
        return str(exc)
    values = frame["value"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return _Series(
        frame["date"].to_list(),
        values,
        orjson.loads(orjson.dumps(method, default=str, option=orjson.OPT_SERIALIZE_NUMPY)),
    )


def _consensus_state(history: pl.DataFrame, params: dict[str, Any]) -> pl.Expr:
    """1 on the days in the watched state, 0 on the others, null on the days that say nothing: for ``majority``,
    the majority holds ``season`` (null when no variant has a value); for ``agreement``, the headline disagrees
    with the majority (null when either has no value)."""
    if params["watch"] == "majority":
        return pl.when(pl.col("majority") == "none").then(None).otherwise(pl.col("majority") == params["season"])
    return pl.when(pl.col("agreement").is_null()).then(None).otherwise(~pl.col("agrees"))
