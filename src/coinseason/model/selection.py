"""Choices made inside each training window, from its *record*: the out-of-sample forecasts of the earlier
walk-forward blocks on the days whose labels were known before the window ends (an inner walk-forward over the
training window). Nothing here sees a reported test day before it is predicted.

* the debounce k: the grid value whose label the logistic baseline forecasts with the best Brier skill against
  climatology on the record;
* the gradient-boosting size: the grid value with the lowest Brier score on the record;
* the served model: the simplest candidate that no richer one beats — a richer candidate replaces the current
  choice only when its Brier score is lower with the whole event-bootstrap 95 % interval of the difference
  below 0 (:func:`simplest_adequate`);
* the alert threshold: the (1 - rate) quantile of the model's own record.
A record with fewer than ``min_events`` transitions chooses nothing: the defaults hold (the default k, the fewest
trees, the logistic baseline, no alert).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.core.bootstrap import EventBootstrap, episodes, percentile_interval
from coinseason.core.walkforward import brier_score, brier_skill

FloatArray = NDArray[np.float64]
MIN_RECORD_DAYS = 90
"""Record days an alert threshold needs (fewer: no alert in that block)."""
LEVEL = 0.95


def n_events(y: FloatArray) -> int:
    """Transitions in a scored series: runs of days labelled 1."""
    if y.size == 0:
        return 0
    return int(np.unique(episodes(y)[y == 1]).size)


def choose_gap(records: dict[int, tuple[FloatArray, FloatArray, FloatArray]], *, default: int, min_events: int) -> int:
    """The k whose record ``(labels, logistic forecast, climatology forecast)`` has the best Brier skill; the
    default unless every k's record holds ``min_events`` transitions."""
    if len(records) == 1:
        return next(iter(records))
    if any(n_events(y) < min_events for y, _, _ in records.values()):
        return default
    skill = {k: brier_skill(brier_score(y, p), brier_score(y, ref)) for k, (y, p, ref) in records.items()}
    finite = {k: v for k, v in skill.items() if np.isfinite(v)}
    return max(sorted(finite), key=lambda k: finite[k]) if finite else default


def choose_size(y: FloatArray, staged: dict[int, FloatArray], *, min_events: int) -> int:
    """The number of trees with the lowest Brier score on the record (the fewest on a tie or a thin record)."""
    sizes = sorted(staged)
    if n_events(y) < min_events:
        return sizes[0]
    scores = {s: brier_score(y, staged[s]) for s in sizes}
    return min(sizes, key=lambda s: (scores[s], s))


@dataclass(frozen=True, slots=True)
class Comparison:
    """One step of :func:`simplest_adequate`: the challenger's Brier score minus the incumbent's, with its
    event-bootstrap 95 % interval; adopted when the whole interval is below 0."""

    challenger: str
    incumbent: str
    delta_brier: float
    low: float
    high: float
    adopted: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "challenger": self.challenger,
            "incumbent": self.incumbent,
            "delta_brier": self.delta_brier,
            "ci95": [self.low, self.high],
            "adopted": self.adopted,
        }


def simplest_adequate(
    y: FloatArray,
    forecasts: dict[str, FloatArray],
    *,
    n_boot: int,
    seed: int,
    min_events: int,
    default: str,
) -> tuple[str, list[Comparison]]:
    """The served model: walk the candidates from the simplest (``forecasts`` in order of complexity), adopting a
    richer one only when it beats the current choice with the event-bootstrap 95 % interval of the Brier
    difference entirely below 0. ``default`` (and no comparison) on a record with too few transitions."""
    names = list(forecasts)
    if n_events(y) < min_events:
        return default, []
    boot = EventBootstrap(y, n_boot=n_boot, seed=seed)
    current = names[0]
    log = []
    for name in names[1:]:
        delta = boot.brier(forecasts[name]) - boot.brier(forecasts[current])
        low, high = percentile_interval(delta, LEVEL)
        point = brier_score(y, forecasts[name]) - brier_score(y, forecasts[current])
        adopted = bool(high < 0)
        log.append(Comparison(name, current, point, low, high, adopted))
        if adopted:
            current = name
    return current, log


def alert_threshold(record: FloatArray, rate: float) -> float:
    """The (1 - ``rate``) quantile of a model's record of forecasts; +inf (never alert) on a short record."""
    record = record[np.isfinite(record)]
    if record.size < MIN_RECORD_DAYS:
        return float("inf")
    return float(np.quantile(record, 1.0 - rate))
