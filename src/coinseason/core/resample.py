"""Weekly and monthly averages of daily series."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

Interval = Literal["day", "week", "month"]

_MONDAY_1970 = np.datetime64("1970-01-05", "D")


def period_start(dates: NDArray[np.datetime64], interval: Interval) -> NDArray[np.datetime64]:
    """First day of each date's period: ISO week (Monday) or calendar month; days map to themselves."""
    days = dates.astype("datetime64[D]")
    if interval == "day":
        return days
    if interval == "week":
        offset = (days - _MONDAY_1970).astype(np.int64) // 7 * 7
        return _MONDAY_1970 + offset.astype("timedelta64[D]")
    if interval == "month":
        return days.astype("datetime64[M]").astype("datetime64[D]")
    raise ValueError(f"unknown interval {interval!r}: use day, week or month")


def period_mean(
    dates: NDArray[np.datetime64], values: NDArray[np.float64], interval: Interval
) -> tuple[NDArray[np.datetime64], NDArray[np.float64], NDArray[np.int64]]:
    """Mean of the finite values of each period, for sorted ``dates``.

    Returns the period starts, the means (NaN for a period with no finite value) and the number of finite
    values each mean is made of. ``values`` may be 1-D or ``(n_days, k)``.
    """
    starts = period_start(dates, interval)
    if starts.size == 0:
        return starts, values[:0].astype(np.float64), np.empty(0, dtype=np.int64)
    if np.any(starts[1:] < starts[:-1]):
        raise ValueError("dates must be sorted")
    first = np.flatnonzero(np.concatenate(([True], starts[1:] != starts[:-1])))
    finite = np.isfinite(values)
    sums = np.add.reduceat(np.where(finite, values, 0.0), first, axis=0)
    counts = np.add.reduceat(finite.astype(np.int64), first, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
    return starts[first], means, counts
