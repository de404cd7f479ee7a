"""Performance metrics of daily simple returns, after empyrical's ``stats.py`` conventions.

Every function takes returns along axis 0: a ``(T,)`` array gives a float, a ``(T, P)`` array one value per
column. Returns are simple (``p_t / p_{t-1} - 1``) and non-cumulative. NaN returns are dropped before every
statistic of the distribution (mean, standard deviation, downside risk, VaR, CVaR), so "T" in a formula below is
the count of non-NaN returns; the path metrics (total return, drawdown) count a NaN day as a flat day, as empyrical
does. An empty series gives NaN. Crypto trades every day, so the annualisation factor defaults to
:data:`DAYS_PER_YEAR` = 365 (empyrical's default of 252 assumes exchange trading days).

Zero volatility: a standard deviation within :data:`RESIDUE` of the series' own magnitude (``RESIDUE x max |r|``)
is the float residue of a constant series (thirty returns of 0.01 have a computed standard deviation of 1.8e-18,
not 0) and counts as exactly 0: the volatility is 0 and the Sharpe ratio NaN (empyrical gives +-inf or 1e17).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

DAYS_PER_YEAR = 365
RESIDUE = 1e-12
"""Relative size below which a standard deviation is float residue of a constant series (see the module doc): the
residue of n equal values is a few ulps, about 1e-15 of their magnitude; real returns never vary this little."""

Values = NDArray[np.float64]


def _returns(returns: ArrayLike) -> Values:
    return np.asarray(returns, dtype=np.float64)


def _out(value: Values) -> Values:
    return np.asarray(value, dtype=np.float64)


def _count(r: Values, axis: int = 0) -> NDArray[np.int64]:
    return np.asarray(np.count_nonzero(~np.isnan(r), axis=axis), dtype=np.int64)


def _magnitude(r: Values, axis: int = 0) -> Values:
    """Largest ``|r|`` along ``axis`` over the non-NaN values (0 when there is none)."""
    if r.shape[axis] == 0:
        return _out(np.zeros(np.delete(np.array(r.shape), axis)))
    return _out(np.max(np.where(np.isnan(r), 0.0, np.abs(r)), axis=axis))


def nan_mean(values: ArrayLike, *, axis: int = 0) -> Values:
    """Mean of the non-NaN values along ``axis``; NaN when there is none."""
    r = _returns(values)
    n = _count(r, axis)
    total = np.where(np.isnan(r), 0.0, r).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(np.where(n > 0, total / np.maximum(n, 1), np.nan))


def nan_std(values: ArrayLike, *, axis: int = 0, ddof: int = 1, scale: ArrayLike | None = None) -> Values:
    """Standard deviation of the non-NaN values along ``axis`` (NaN when no more than ``ddof`` of them); a result
    within :data:`RESIDUE` of ``scale`` (default: the largest ``|value|``) is float residue and returned as 0."""
    r = _returns(values)
    n = _count(r, axis)
    mean = np.expand_dims(nan_mean(r, axis=axis), axis)
    dev = np.where(np.isnan(r), 0.0, r - mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt((dev * dev).sum(axis=axis) / np.maximum(n - ddof, 1))
    size = _magnitude(r, axis) if scale is None else np.asarray(scale, dtype=np.float64)
    std = np.where(std > RESIDUE * size, std, 0.0)
    return _out(np.where(n > ddof, std, np.nan))


def cum_returns_final(returns: ArrayLike) -> Values:
    """Total compounded return ``prod(1 + r) - 1`` (NaN returns count as 0); NaN when empty."""
    r = _returns(returns)
    if r.shape[0] == 0:
        return _out(np.full(r.shape[1:], np.nan))
    return _out(np.prod(1.0 + np.nan_to_num(r, nan=0.0), axis=0) - 1.0)


def annual_return(returns: ArrayLike, *, annualization: int = DAYS_PER_YEAR) -> Values:
    """CAGR: ``(prod(1 + r)) ** (annualization / T) - 1`` (empyrical ``annual_return``); NaN when empty."""
    r = _returns(returns)
    if r.shape[0] == 0:
        return _out(np.full(r.shape[1:], np.nan))
    ending = 1.0 + cum_returns_final(r)
    with np.errstate(invalid="ignore"):
        return _out(ending ** (annualization / r.shape[0]) - 1.0)


def annual_volatility(returns: ArrayLike, *, annualization: int = DAYS_PER_YEAR) -> Values:
    """``std(r, ddof=1) * sqrt(annualization)`` over the non-NaN returns (empyrical ``annual_volatility``); NaN with
    fewer than 2 of them, 0 for a constant series (float residue included)."""
    return _out(nan_std(returns) * np.sqrt(annualization))


def sharpe_ratio(returns: ArrayLike, *, risk_free: float = 0.0, annualization: int = DAYS_PER_YEAR) -> Values:
    """``mean(r - rf) / std(r - rf, ddof=1) * sqrt(annualization)``, ``rf`` per day (empyrical ``sharpe_ratio``).

    NaN with fewer than 2 non-NaN returns or a zero standard deviation (float residue of a constant series
    included: the residue is measured against the larger of ``max |r|`` and ``|rf|``).
    """
    raw = _returns(returns)
    r = raw - risk_free
    scale = np.maximum(_magnitude(raw), abs(risk_free))
    std = nan_std(r, scale=scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = nan_mean(r) / np.where(std > 0, std, np.nan) * np.sqrt(annualization)
    return _out(out)


def downside_risk(returns: ArrayLike, *, required_return: float = 0.0, annualization: int = DAYS_PER_YEAR) -> Values:
    """``sqrt(mean(min(r - required, 0) ** 2)) * sqrt(annualization)`` over the non-NaN returns (empyrical
    ``downside_risk``); NaN when there is none."""
    r = _returns(returns)
    below = np.clip(r - required_return, -np.inf, 0.0)
    return _out(np.sqrt(nan_mean(below * below)) * np.sqrt(annualization))


def sortino_ratio(returns: ArrayLike, *, required_return: float = 0.0, annualization: int = DAYS_PER_YEAR) -> Values:
    """``mean(r - required) * annualization / downside_risk`` (empyrical ``sortino_ratio``).

    NaN with fewer than 2 non-NaN returns (as empyrical: one return is its own downside, so the ratio would be
    ``-sqrt(annualization)`` whatever it is) or when no day is below ``required_return`` (zero downside risk;
    empyrical gives inf).
    """
    r = _returns(returns)
    risk = downside_risk(r, required_return=required_return, annualization=annualization)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = nan_mean(r - required_return) * annualization / np.where(risk > 0, risk, np.nan)
    return _out(np.where(_count(r) >= 2, out, np.nan))


def wealth(returns: ArrayLike) -> Values:
    """Wealth after each day from 1.0: ``cumprod(1 + r)`` (NaN returns count as 0)."""
    return np.asarray(np.cumprod(1.0 + np.nan_to_num(_returns(returns), nan=0.0), axis=0), dtype=np.float64)


def drawdown(returns: ArrayLike) -> Values:
    """Each day's fall from the running peak of wealth, ``wealth / peak - 1`` (≤ 0), the start (1.0) a peak."""
    w = wealth(returns)
    peak = np.fmax.accumulate(np.maximum(w, 1.0), axis=0)
    return np.asarray(w / peak - 1.0, dtype=np.float64)


def max_drawdown(returns: ArrayLike) -> Values:
    """Deepest drawdown, a negative fraction (empyrical ``max_drawdown``: the start is a peak); NaN when empty."""
    r = _returns(returns)
    if r.shape[0] == 0:
        return _out(np.full(r.shape[1:], np.nan))
    return _out(np.minimum(drawdown(r).min(axis=0), 0.0))


def max_drawdown_duration(returns: ArrayLike) -> NDArray[np.int64]:
    """Longest run of consecutive days spent below the previous peak of wealth (0 when never below)."""
    r = _returns(returns)
    under = drawdown(r) < 0
    if r.shape[0] == 0:
        return np.zeros(r.shape[1:], dtype=np.int64)
    # run length of `under`: days since the last day at a peak, reset to 0 there
    steps = np.arange(1, r.shape[0] + 1).reshape((-1,) + (1,) * (r.ndim - 1))
    last_peak = np.maximum.accumulate(np.where(under, 0, steps), axis=0)
    return np.asarray((np.where(under, steps - last_peak, 0)).max(axis=0), dtype=np.int64)


def calmar_ratio(returns: ArrayLike, *, annualization: int = DAYS_PER_YEAR) -> Values:
    """``annual_return / |max_drawdown|`` (empyrical ``calmar_ratio``); NaN when there is no drawdown."""
    dd = max_drawdown(returns)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = annual_return(returns, annualization=annualization) / np.where(dd < 0, -dd, np.nan)
    return _out(out)


def _lerp(a: Values, b: Values, t: Values) -> Values:
    """numpy's linear interpolation of percentiles (the form ``np.percentile`` uses)."""
    diff = b - a
    return _out(np.where(t >= 0.5, b - diff * (1.0 - t), a + diff * t))


def _tail_of(r: Values, cutoff: float) -> tuple[Values, Values]:
    """VaR and CVaR at ``cutoff`` of each column of ``r`` (days along axis 0) over its non-NaN returns, from one
    sort: with T of them, VaR interpolates the sorted returns at ``(T - 1) * cutoff`` (``np.percentile``) and CVaR
    is the mean of the ``int((T - 1) * cutoff) + 1`` worst. That mean is at most the k-th worst return, which is at
    most VaR: CVaR <= VaR holds exactly (a last-ulp rounding of the mean is clipped). NaN without returns."""
    if not 0.0 <= cutoff <= 1.0:
        raise ValueError(f"the VaR cutoff must be in [0, 1], not {cutoff}")
    shape = r.shape[1:]
    if r.shape[0] == 0:
        return _out(np.full(shape, np.nan)), _out(np.full(shape, np.nan))
    flat = r.reshape(r.shape[0], int(np.prod(shape)))
    s = np.sort(flat, axis=0)  # NaN sort last
    n = _count(flat)
    last = np.maximum(n - 1, 0)
    pos = last * cutoff
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, last)
    cols = np.arange(flat.shape[1])
    var = _lerp(s[lo, cols], s[hi, cols], pos - lo)
    k = (last * cutoff).astype(np.int64)  # int() of a non-negative number: its floor
    worst = np.cumsum(np.where(np.isnan(s), 0.0, s), axis=0)[k, cols] / (k + 1)
    cvar = np.minimum(np.minimum(worst, s[k, cols]), var)
    none = n == 0
    return _out(np.where(none, np.nan, var).reshape(shape)), _out(np.where(none, np.nan, cvar).reshape(shape))


def value_at_risk(returns: ArrayLike, *, cutoff: float = 0.05) -> Values:
    """Historical VaR: the ``cutoff`` quantile of the non-NaN daily returns, linear interpolation (empyrical
    ``value_at_risk``: ``np.percentile(r, 100 * cutoff)``). A loss is negative; NaN without returns."""
    return _tail_of(_returns(returns), cutoff)[0]


def conditional_value_at_risk(returns: ArrayLike, *, cutoff: float = 0.05) -> Values:
    """Historical CVaR (expected shortfall): the mean of the ``int((T - 1) * cutoff) + 1`` worst of the T non-NaN
    daily returns (empyrical ``conditional_value_at_risk``, with NaNs dropped first as for VaR, so CVaR <= VaR
    always: a loss is negative). NaN without returns."""
    return _tail_of(_returns(returns), cutoff)[1]


def hit_rate(returns: ArrayLike) -> Values:
    """Share of the days with a non-zero return on which the return was positive; NaN when there is none."""
    r = _returns(returns)
    moved = np.count_nonzero(np.nan_to_num(r) != 0, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(np.count_nonzero(r > 0, axis=0) / np.where(moved > 0, moved, np.nan))


METRIC_NAMES = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_days",
    "calmar",
    "var_95",
    "cvar_95",
    "hit_rate",
)


def _tail(r: Values, cutoff: float) -> tuple[Values, Values]:
    """VaR and CVaR at ``cutoff`` of NaN-free returns from one sort (the same order statistics as
    :func:`value_at_risk` and :func:`conditional_value_at_risk`)."""
    n = r.shape[0]
    k = int((n - 1) * cutoff)
    pos = (n - 1) * cutoff
    lo, hi = math.floor(pos), min(math.floor(pos) + 1, n - 1)
    part = np.sort(np.ascontiguousarray(np.moveaxis(r, 0, -1)), axis=-1)  # contiguous: faster than along axis 0
    var = _lerp(part[..., lo], part[..., hi], np.asarray(pos - lo))
    cvar = np.minimum(np.minimum(np.mean(part[..., : k + 1], axis=-1), part[..., k]), var)
    return _out(var), _out(cvar)


def _path(r: Values) -> tuple[Values, Values, NDArray[np.int64]]:
    """Ending wealth, deepest drawdown and longest run under the peak, one day at a time over every column
    (``ufunc.accumulate`` along the day axis of a wide matrix is several times slower)."""
    wealth = np.ones(r.shape[1:])
    peak = np.ones(r.shape[1:])
    deepest = np.zeros(r.shape[1:])
    run = np.zeros(r.shape[1:], dtype=np.int64)
    longest = np.zeros(r.shape[1:], dtype=np.int64)
    for row in r:
        wealth *= 1.0 + row
        np.maximum(peak, wealth, out=peak)
        np.minimum(deepest, wealth / peak - 1.0, out=deepest)
        under = wealth < peak
        run += 1
        run *= under
        np.maximum(longest, run, out=longest)
    return wealth, deepest, longest


def summary(returns: ArrayLike, *, annualization: int = DAYS_PER_YEAR, cutoff: float = 0.05) -> dict[str, Values]:
    """Every return-based metric above, by name (:data:`METRIC_NAMES`); each intermediate series (wealth,
    drawdown, order statistics) is computed once, which matters for thousands of columns."""
    r = _returns(returns)
    if r.shape[0] < 2 or np.isnan(r).any():
        return {
            "total_return": cum_returns_final(r),
            "cagr": annual_return(r, annualization=annualization),
            "volatility": annual_volatility(r, annualization=annualization),
            "sharpe": sharpe_ratio(r, annualization=annualization),
            "sortino": sortino_ratio(r, annualization=annualization),
            "max_drawdown": max_drawdown(r),
            "max_drawdown_days": max_drawdown_duration(r).astype(np.float64),
            "calmar": calmar_ratio(r, annualization=annualization),
            "var_95": value_at_risk(r, cutoff=cutoff),
            "cvar_95": conditional_value_at_risk(r, cutoff=cutoff),
            "hit_rate": hit_rate(r),
        }
    n = r.shape[0]
    ending, deepest, duration = _path(r)
    with np.errstate(invalid="ignore", divide="ignore"):
        cagr = ending ** (annualization / n) - 1.0
        mean = r.mean(axis=0)
        std = nan_std(r)
        below = np.minimum(r, 0.0)
        downside = np.sqrt((below * below).mean(axis=0)) * np.sqrt(annualization)
        moved = np.count_nonzero(r, axis=0)
        var, cvar = _tail(r, cutoff)
        return {
            "total_return": _out(ending - 1.0),
            "cagr": _out(cagr),
            "volatility": _out(std * np.sqrt(annualization)),
            "sharpe": _out(mean / np.where(std > 0, std, np.nan) * np.sqrt(annualization)),
            "sortino": _out(mean * annualization / np.where(downside > 0, downside, np.nan)),
            "max_drawdown": _out(deepest),
            "max_drawdown_days": _out(duration.astype(np.float64)),
            "calmar": _out(cagr / np.where(deepest < 0, -deepest, np.nan)),
            "var_95": var,
            "cvar_95": cvar,
            "hit_rate": _out(np.count_nonzero(r > 0, axis=0) / np.where(moved > 0, moved, np.nan)),
        }
