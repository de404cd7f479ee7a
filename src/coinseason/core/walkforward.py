"""Walk-forward splits with purging and an embargo, and the forecast scores the model card reports.

Pure numpy. A fold trains on days strictly before its test block, minus a purge of H days (a label dated d is
only known after day d+H, so labels whose horizon reaches into the test block are dropped) and an embargo of E
further days (features overlap in time; E >= H is enforced). Each test block is scored by a model that never
saw a day of it, nor a label resolved during it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Fold:
    """Row positions: train on ``train_end`` (exclusive) and before, test on ``test_start`` .. ``test_end``-1."""

    train_start: int
    train_end: int
    test_start: int
    test_end: int


def walk_forward_folds(
    n_days: int, *, horizon: int, embargo: int, min_train: int, test_size: int, first: int = 0
) -> list[Fold]:
    """Expanding-window folds over rows ``first`` .. ``n_days``-1: test blocks of ``test_size`` days, each trained
    on rows ``first`` .. ``test_start - horizon - embargo - 1`` (purge, then embargo)."""
    if embargo < horizon:
        raise ValueError(f"the embargo ({embargo} days) must be at least the horizon ({horizon} days)")
    if min_train < 1 or test_size < 1:
        raise ValueError("min_train and test_size must be positive")
    folds = []
    start = first + min_train + horizon + embargo
    while start < n_days:
        end = min(start + test_size, n_days)
        folds.append(Fold(first, start - horizon - embargo, start, end))
        start = end
    return folds


def brier_score(y: FloatArray, p: FloatArray) -> float:
    """Mean squared error of probability forecasts ``p`` against outcomes ``y`` in {0, 1}."""
    return float(np.mean((p - y) ** 2)) if y.size else float("nan")


def brier_skill(score: float, reference: float) -> float:
    """``1 - BS / BS_ref``: above 0 beats the reference, 1 is perfect; NaN when the reference is perfect."""
    return 1.0 - score / reference if reference > 0 else float("nan")


def precision_at_rate(y: FloatArray, p: FloatArray, rate: float) -> tuple[float, float]:
    """Precision when alerting on the ``rate`` share of days with the highest ``p``; also the threshold used.
    NaN for a constant forecast, which cannot choose days."""
    if not 0 < rate <= 1:
        raise ValueError(f"the alert rate must be in (0, 1], not {rate}")
    if y.size == 0 or p.min() == p.max():
        return float("nan"), float(p[0]) if p.size else float("nan")
    k = max(int(round(rate * y.size)), 1)
    order = np.argsort(-p, kind="stable")
    threshold = float(p[order[k - 1]])
    return float(y[order[:k]].mean()), threshold


def lead_times(events: NDArray[np.bool_], alert: NDArray[np.bool_], horizon: int) -> NDArray[np.int64]:
    """For each event day t, ``t - s`` where s is the earliest day of t-H .. t-1 from which the alert stays on
    every day up to t-1; events without an alert on day t-1 get -1 (missed). Both arrays cover the same days."""
    out = []
    for t in np.flatnonzero(events).tolist():
        s = t
        while s - 1 >= max(t - horizon, 0) and alert[s - 1]:
            s -= 1
        out.append(t - s if s < t else -1)
    return np.asarray(out, dtype=np.int64)


def reliability_curve(y: FloatArray, p: FloatArray, bins: int = 10) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean forecast, observed frequency and count per equal-width probability bin (empty bins dropped)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    count = np.bincount(which, minlength=bins).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_p = np.bincount(which, weights=p, minlength=bins) / count
        freq = np.bincount(which, weights=y, minlength=bins) / count
    keep = count > 0
    return mean_p[keep], freq[keep], count[keep]
