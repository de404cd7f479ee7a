"""Evaluating the rules over the data as it is now, each time data lands.

For each rule the whole series is read again and its transitions found (:func:`~coinseason.core.alerts.
band_transitions`); those dated after the day the rule was armed are compared with the events already announced
(:func:`~coinseason.core.alerts.reconcile`). A transition not announced yet raises an event; an announced one the
data no longer shows (a revision took it away) raises an ``alert.revoked`` event naming it. Both are written to the
outbox in one transaction, so an evaluation lands whole or not at all; running it again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import polars as pl

from coinseason.clock import Clock
from coinseason.core.alerts import band_transitions, reconcile
from coinseason.errors import CoinseasonError
from coinseason.services.alerts.payloads import event_id, event_payload
from coinseason.services.alerts.rules import RuleSpec, rule_spec
from coinseason.services.analytics import AnalyticsService
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
    """Evaluates every live rule of ``store`` over an :class:`AnalyticsService`; ``clock`` dates the events."""

    def __init__(self, store: AlertStore, *, clock: Clock) -> None:
        self.store = store
        self.clock = clock

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
            key = spec.series_key
            if key not in series:
                series[key] = _read(analytics, spec)
            found = series[key]
            if isinstance(found, str):
                report.failed[rule.id] = found
                continue
            if not found.dates:
                report.failed[rule.id] = "the series has no day yet"
                continue
            if rule.armed_after is None:
                report.armed[rule.id] = found.dates[-1]
                continue
            rows, changes = band_transitions(found.values, spec.band)
            derived = {
                (found.dates[r], spec.transition(int(c))): float(found.values[r])
                for r, c in zip(rows.tolist(), changes.tolist(), strict=True)
                if found.dates[r] > rule.armed_after
            }
            announced = {
                (e.data_date, e.transition): e
                for e in self.store.alert_events(rule_id=rule.id, active=True, limit=100_000)
                if e.data_date is not None and e.transition is not None
            }
            fresh, withdrawn = reconcile(derived, list(announced))
            for day, transition in fresh:
                eid = event_id()
                kind = f"{rule.kind}.{transition}"
                payload = event_payload(
                    id=eid,
                    type=kind,
                    created_at=now,
                    rule=rule_view(rule),
                    value=derived[(day, transition)],
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
                    value=_value_on(found, day),
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
