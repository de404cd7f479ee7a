"""Performance metrics of daily simple returns, after empyrical's ``stats.py`` conventions.

Every function takes returns along axis 0: a ``(T,)`` array gives a float, a ``(T, P)`` array one value per
column. Returns are simple (``p_t / p_{t-1} - 1``) and non-cumulative. NaN returns are ignored where empyrical
ignores them (``nanmean``/``nanstd``); an empty series gives NaN. Crypto trades every day, so the annualisation
factor defaults to :data:`DAYS_PER_YEAR` = 365 (empyrical's default of 252 assumes exchange trading days).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

DAYS_PER_YEAR = 365

Values = NDArray[np.float64]


def _returns(returns: ArrayLike) -> Values:
    return np.asarray(returns, dtype=np.float64)


def _out(value: Values) -> Values:
    return np.asarray(value, dtype=np.float64)


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
    """``std(r, ddof=1) * sqrt(annualization)`` (empyrical ``annual_volatility``); NaN with fewer than 2 days."""
    r = _returns(returns)
    if r.shape[0] < 2:
        return _out(np.full(r.shape[1:], np.nan))
    return _out(np.nanstd(r, axis=0, ddof=1) * np.sqrt(annualization))


def sharpe_ratio(returns: ArrayLike, *, risk_free: float = 0.0, annualization: int = DAYS_PER_YEAR) -> Values:
    """``mean(r - rf) / std(r - rf, ddof=1) * sqrt(annualization)``, ``rf`` per day (empyrical ``sharpe_ratio``).

    NaN with fewer than 2 days or a zero standard deviation.
    """
    r = _returns(returns) - risk_free
    if r.shape[0] < 2:
        return _out(np.full(r.shape[1:], np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.nanstd(r, axis=0, ddof=1)
        out = np.nanmean(r, axis=0) / np.where(std > 0, std, np.nan) * np.sqrt(annualization)
    return _out(out)


def downside_risk(returns: ArrayLike, *, required_return: float = 0.0, annualization: int = DAYS_PER_YEAR) -> Values:
    """``sqrt(mean(min(r - required, 0) ** 2)) * sqrt(annualization)`` (empyrical ``downside_risk``)."""
    r = _returns(returns)
    if r.shape[0] == 0:
        return _out(np.full(r.shape[1:], np.nan))
    below = np.clip(r - required_return, -np.inf, 0.0)
    return _out(np.sqrt(np.nanmean(below * below, axis=0)) * np.sqrt(annualization))


def sortino_ratio(returns: ArrayLike, *, required_return: float = 0.0, annualization: int = DAYS_PER_YEAR) -> Values:
    """``mean(r - required) * annualization / downside_risk`` (empyrical ``sortino_ratio``).

    NaN when empty or when no day is below ``required_return`` (zero downside risk).
    """
    r = _returns(returns)
    if r.shape[0] == 0:
        return _out(np.full(r.shape[1:], np.nan))
    risk = downside_risk(r, required_return=required_return, annualization=annualization)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.nanmean(r - required_return, axis=0) * annualization / np.where(risk > 0, risk, np.nan)
    return _out(out)


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


def value_at_risk(returns: ArrayLike, *, cutoff: float = 0.05) -> Values:
    """Historical VaR: the ``cutoff`` quantile of daily returns, linear interpolation (empyrical
    ``value_at_risk``: ``np.percentile(r, 100 * cutoff)``). A loss is negative. NaN returns are ignored."""
    r = _returns(returns)
    if r.shape[0] == 0:
        return _out(np.full(r.shape[1:], np.nan))
    with np.errstate(invalid="ignore"):
        return _out(np.nanpercentile(r, 100.0 * cutoff, axis=0))


def conditional_value_at_risk(returns: ArrayLike, *, cutoff: float = 0.05) -> Values:
    """Historical CVaR (expected shortfall): the mean of the ``int((T - 1) * cutoff) + 1`` worst daily returns
    (empyrical ``conditional_value_at_risk``). NaN when empty."""
    r = _returns(returns)
    if r.shape[0] == 0:
        return _out(np.full(r.shape[1:], np.nan))
    k = int((r.shape[0] - 1) * cutoff)
    worst = np.partition(r, k, axis=0)[: k + 1]
    return _out(np.mean(worst, axis=0))


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
    var = part[..., lo] + (pos - lo) * (part[..., hi] - part[..., lo])
    return _out(var), _out(np.mean(part[..., : k + 1], axis=-1))


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
        std = r.std(axis=0, ddof=1)
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
