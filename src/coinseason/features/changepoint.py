"""Change points in BTC dominance (``ruptures``' PELT search, least-squares cost), point in time.

Every ``step`` days the trailing ``lookback`` days are segmented into runs of constant mean; the penalty per
change point is ``penalty * lookback * sigma^2`` with sigma the robust (MAD) scale of the daily changes, so it
follows the series' own noise. From the last change point found on day d come three features, carried to the
next search day: days since it, the shift of the mean at it (points), and an alert when it is recent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ChangePoints:
    days_since: FloatArray
    shift: FloatArray
    alert: FloatArray
    """1.0 when the last change point is at most ``alert_days`` old, else 0.0 (NaN before the first search)."""


def dominance_change_points(
    x: FloatArray,
    *,
    lookback: int = 365,
    step: int = 7,
    min_size: int = 10,
    penalty: float = 1.0,
    alert_days: int = 30,
) -> ChangePoints:
    """Change-point features of ``x`` per day, each from data up to that day only."""
    import ruptures as rpt  # type: ignore[import-untyped]  # here: ruptures (and scipy) load only when used

    n = x.size
    days_since = np.full(n, np.nan)
    shift = np.full(n, np.nan)
    for d in range(lookback - 1, n, step):
        window = x[d - lookback + 1 : d + 1]
        if not np.isfinite(window).all():
            continue
        sigma = float(np.median(np.abs(np.diff(window)))) / 0.6745
        pen = max(sigma * sigma, 1e-12) * lookback * penalty
        ends = rpt.Pelt(model="l2", min_size=min_size, jump=5).fit(window).predict(pen=pen)
        cuts = [e for e in ends if e < lookback]
        if cuts:
            last = cuts[-1]
            before = cuts[-2] if len(cuts) > 1 else 0
            since, moved = lookback - last, float(window[last:].mean() - window[before:last].mean())
        else:
            since, moved = lookback, 0.0
        span = slice(d, min(d + step, n))
        days_since[span] = since + np.arange(span.stop - span.start)
        shift[span] = moved
    alert = np.where(np.isfinite(days_since), (days_since <= alert_days).astype(np.float64), np.nan)
    return ChangePoints(days_since=days_since, shift=shift, alert=alert)
