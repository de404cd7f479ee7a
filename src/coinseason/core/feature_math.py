"""Trailing-window feature math on daily series: every value on day d uses days <= d only.

Pure numpy. Series are float arrays over consecutive UTC days, NaN where unknown. A window that is not full of
finite values gives NaN (no partial windows), so a feature never silently changes meaning near a gap.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def _check_window(window: int) -> None:
    if window < 1:
        raise ValueError(f"window must be at least 1 day, not {window}")


def lagged(x: FloatArray, lag: int) -> FloatArray:
    """``x[d - lag]`` on day d (NaN for the first ``lag`` days)."""
    out = np.full(x.size, np.nan)
    if lag < x.size:
        out[lag:] = x[: x.size - lag]
    return out


def change(x: FloatArray, lag: int) -> FloatArray:
    """``x[d] - x[d - lag]``."""
    _check_window(lag)
    return x - lagged(x, lag)


def pct_change(x: FloatArray, lag: int) -> FloatArray:
    """``x[d] / x[d - lag] - 1`` (NaN where the older value is not positive)."""
    _check_window(lag)
    old = lagged(x, lag)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(old > 0, x / old - 1.0, np.nan)


def log_returns(x: FloatArray) -> FloatArray:
    """Daily log return ``ln(x[d] / x[d-1])`` (NaN where either price is missing or not positive)."""
    prev = lagged(x, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((prev > 0) & (x > 0), np.log(x / prev), np.nan)


def _windows(x: FloatArray, window: int) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Rolling sums of x and x² over the trailing window, and whether the window holds ``window`` finite values."""
    finite = np.isfinite(x)
    values = np.where(finite, x, 0.0)
    csum = np.concatenate([[0.0], np.cumsum(values)])
    ccount = np.concatenate([[0], np.cumsum(finite)])
    end = np.arange(1, x.size + 1)
    start = np.maximum(end - window, 0)
    total = csum[end] - csum[start]
    full = (ccount[end] - ccount[start]) == window
    return total, full


def rolling_mean(x: FloatArray, window: int) -> FloatArray:
    """Mean of the trailing ``window`` days (NaN unless all are finite)."""
    _check_window(window)
    total, full = _windows(x, window)
    return np.where(full, total / window, np.nan)


def rolling_std(x: FloatArray, window: int) -> FloatArray:
    """Sample standard deviation (ddof 1) of the trailing ``window`` days, computed around the window mean."""
    _check_window(window)
    if window < 2:
        return np.full(x.size, np.nan)
    out = np.full(x.size, np.nan)
    _, full = _windows(x, window)
    rows = np.flatnonzero(full)
    if rows.size:
        idx = rows[:, None] - np.arange(window)[None, :]
        block = x[idx]
        out[rows] = block.std(axis=1, ddof=1)
    return out


def rolling_slope(x: FloatArray, window: int) -> FloatArray:
    """Least-squares slope per day of x over the trailing ``window`` days (NaN unless all are finite)."""
    if window < 2:
        raise ValueError(f"a slope needs a window of at least 2 days, not {window}")
    out = np.full(x.size, np.nan)
    _, full = _windows(x, window)
    rows = np.flatnonzero(full)
    if rows.size:
        t = np.arange(window, dtype=np.float64) - (window - 1) / 2.0
        idx = rows[:, None] - np.arange(window - 1, -1, -1)[None, :]
        block = x[idx]
        out[rows] = (block - block.mean(axis=1, keepdims=True)) @ t / float(t @ t)
    return out


def rolling_corr(a: FloatArray, b: FloatArray, window: int) -> FloatArray:
    """Pearson correlation of a and b over the trailing ``window`` days where both are finite; NaN when fewer
    than ``window // 2`` (at least 3) paired days exist or either is constant."""
    _check_window(window)
    if a.shape != b.shape:
        raise ValueError("both series must cover the same days")
    both = np.isfinite(a) & np.isfinite(b)
    av, bv = np.where(both, a, 0.0), np.where(both, b, 0.0)

    def csum(v: FloatArray | NDArray[np.bool_]) -> FloatArray:
        return np.concatenate([[0.0], np.cumsum(v, dtype=np.float64)])

    end = np.arange(1, a.size + 1)
    start = np.maximum(end - window, 0)
    n = (csum(both)[end] - csum(both)[start]).round()
    sa, sb = csum(av)[end] - csum(av)[start], csum(bv)[end] - csum(bv)[start]
    saa, sbb = csum(av * av)[end] - csum(av * av)[start], csum(bv * bv)[end] - csum(bv * bv)[start]
    sab = csum(av * bv)[end] - csum(av * bv)[start]
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sab - sa * sb / n
        va = saa - sa * sa / n
        vb = sbb - sb * sb / n
        r = cov / np.sqrt(va * vb)
    enough = n >= max(window // 2, 3)
    ok = enough & (va > 1e-12 * np.maximum(saa, 1e-300)) & (vb > 1e-12 * np.maximum(sbb, 1e-300))
    return np.where(ok, np.clip(r, -1.0, 1.0), np.nan)


def share_above_average(price: FloatArray, members: NDArray[np.bool_], window: int = 200) -> FloatArray:
    """Breadth: the share (0-1) of each day's member coins whose price is above their own trailing ``window``-day
    mean. ``price`` is days x coins, ``members`` the same shape (the day's universe). Coins without a full
    window that day do not count; NaN on days where none counts."""
    if price.shape != members.shape:
        raise ValueError("price and members must have the same shape")
    above = np.zeros(price.shape[0])
    counted = np.zeros(price.shape[0])
    for col in np.flatnonzero(members.any(axis=0)):
        mean = rolling_mean(price[:, col], window)
        valid = members[:, col] & np.isfinite(mean) & np.isfinite(price[:, col])
        counted += valid
        above += valid & (price[:, col] > mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counted > 0, above / counted, np.nan)


def asof_values(
    days: NDArray[np.int64],
    usable_from: NDArray[np.int64],
    values: FloatArray,
    *,
    n_days: int,
    max_age: int | None = None,
) -> FloatArray:
    """Point-in-time alignment: on each day 0..n_days-1, the value of the observation with the latest date among
    those usable by then (``usable_from <= day``); NaN before the first, and NaN when that observation is about a
    day more than ``max_age`` days back (a series that stopped is not carried on for ever). ``days`` is the date
    each observation is about, ``usable_from`` the first day it may be used (after its publication lag)."""
    if not days.size == usable_from.size == values.size:
        raise ValueError("days, usable_from and values must have the same length")
    out = np.full(n_days, np.nan)
    keep = np.isfinite(values) & (usable_from < n_days)
    if not keep.any():
        return out
    days, usable_from, values = days[keep], np.maximum(usable_from[keep], 0), values[keep]
    # walk days in order of usability; the newest observation (largest ``days``) known so far wins
    order = np.lexsort((days, usable_from))
    best_day = np.full(n_days, np.iinfo(np.int64).min)
    best_val = np.full(n_days, np.nan)
    np.maximum.at(best_day, usable_from[order], days[order])
    # the value belonging to the maximum observation day of each usability day
    match = days[order] == best_day[usable_from[order]]
    best_val[usable_from[order][match]] = values[order][match]
    # carry forward: the best observation up to each day
    running = np.maximum.accumulate(best_day)
    has = running > np.iinfo(np.int64).min
    source = np.where(best_day == running, np.arange(n_days), -1)
    source = np.maximum.accumulate(source)
    out[has] = best_val[source[has]]
    if max_age is not None:
        out[np.arange(n_days) - running > max_age] = np.nan
    return out
