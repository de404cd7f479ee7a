"""Outlook rules: the stored model's probability of a transition at or above a level, evaluated on the latest day.

The other rules read a whole series each time and find its transitions again; an outlook series would need the
model run on every day at each evaluation. So an outlook rule reads one day, the latest, each time data lands, and
keeps its state in its own events: the active ``outlook.above`` / ``outlook.below`` events are what was announced,
the last of them is the state (none: below).

* **fires once** — ``above`` when the latest day's probability is at or above ``level`` while the state is below;
  ``below`` when it is under ``level - hysteresis`` while the state is above; between the two nothing happens;
* **point in time** — the day of the standing event is read again (one more outlook): when the data (or a new
  model) no longer puts it on that side, the event is revoked and the state is the one before it (read again in
  turn, so a revision that takes several away revokes them all). An outlook that cannot be answered for that day
  any more (a day before a new model's first test block) says nothing: the event stands;
* a day on which the transition is not possible (the index already in that season: the outlook gives no
  probability) changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coinseason.core.alerts import band_step, holds
from coinseason.errors import CoinseasonError
from coinseason.services.alerts.rules import RuleSpec
from coinseason.services.analytics import AnalyticsService
from coinseason.store.alert_records import AlertEvent

if TYPE_CHECKING:
    from coinseason.services.outlook import OutlookService, OutlookStore

__all__ = ["OutlookFn", "OutlookReading", "OutlookSource", "outlook_source", "read_outlook_rule"]

OutlookFn = Callable[[dt.date | None], dict[str, Any]]
"""The outlook of a day (None: the latest) as :meth:`~coinseason.services.outlook.OutlookService.outlook` says it."""
OutlookSource = Callable[[AnalyticsService], OutlookFn]
"""The outlook over the data an evaluation sees."""

METHOD_FIELDS = ("source", "model_version", "trained_at", "horizon_days", "training_window")


@dataclass(frozen=True, slots=True)
class OutlookReading:
    """What an outlook rule's data says now: the latest day, the transitions it supports (the announced ones that
    still hold, and a new one on the latest day), the probabilities read, and the method."""

    last_day: dt.date
    derived: dict[tuple[dt.date, str], float]
    values: dict[dt.date, float]
    method: dict[str, Any]


def probability(answer: dict[str, Any], target: str) -> float:
    """The probability of ``target`` in an outlook answer; NaN when the transition is not possible that day."""
    for transition in answer.get("transitions", []):
        if transition.get("target") == target:
            value = transition.get("probability")
            return float("nan") if value is None else float(value)
    raise CoinseasonError(f"the stored model gives no probability of {target}: train it again")


def read_outlook_rule(
    spec: RuleSpec, armed_after: dt.date | None, announced: list[AlertEvent], outlook: OutlookFn
) -> OutlookReading:
    """The rule's reading (see the module's docstring); a :class:`CoinseasonError` when the latest day has no
    outlook (no model, …)."""
    target, band = spec.params["target"], spec.band
    latest = outlook(None)
    last_day = dt.date.fromisoformat(latest["date"])
    values = {last_day: probability(latest, target)}
    kept = sorted(
        (e.data_date, e.created_at, e.transition)
        for e in announced
        if e.data_date is not None and e.transition is not None
    )
    while kept:
        day, _, transition = kept[-1]
        if day not in values:
            try:
                values[day] = probability(outlook(day), target)
            except CoinseasonError:
                break  # no answer for that day any more: it says nothing against the event
        if holds(spec.change(transition), values[day], band):
            break
        kept.pop()
    derived = {(day, transition): float("nan") for day, _, transition in kept}
    state = bool(kept) and spec.change(kept[-1][2]) > 0
    newest = kept[-1][0] if kept else None
    if armed_after is not None and last_day > armed_after and (newest is None or newest < last_day):
        change = band_step(state, values[last_day], band)
        if change:
            derived[(last_day, spec.transition(change))] = values[last_day]
    method = {k: latest.get(k) for k in METHOD_FIELDS}
    method["target"] = target
    return OutlookReading(last_day, derived, values, method)


def outlook_source(store: OutlookStore) -> OutlookSource:
    """Outlooks over ``store`` with its newest model: one :class:`OutlookService` per data the evaluation sees (its
    inputs are built once per data landing, only when an outlook rule asks)."""
    held: list[tuple[AnalyticsService, OutlookService]] = []

    def over(analytics: AnalyticsService) -> OutlookFn:
        from coinseason.services.outlook import OutlookService  # the model's libraries: only when a rule asks

        if not held or held[0][0] is not analytics:
            held[:] = [(analytics, OutlookService(store, analytics))]
        service = held[0][1]
        return lambda day: service.outlook(day=day)

    return over
