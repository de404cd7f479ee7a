"""Risk and liquidity tools: position sizing, concentration, portfolio volatility, liquidity.

Pure functions over numpy arrays; volatilities are annualised with :data:`coinseason.core.performance.DAYS_PER_YEAR`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from coinseason.core.performance import DAYS_PER_YEAR, nan_mean, nan_std

Floats = NDArray[np.float64]


def _floats(values: ArrayLike) -> Floats:
    return np.asarray(values, dtype=np.float64)


# -- position sizing ----------------------------------------------------------------------------------------------


def trailing_volatility(returns: ArrayLike, *, window: int, annualization: int = DAYS_PER_YEAR) -> Floats:
    """Annualised standard deviation (ddof=1) of the ``window`` daily returns ending on each day, over the non-NaN
    ones as :func:`~coinseason.core.performance.annual_volatility` does (a missing day is skipped, not a blank
    window); NaN before ``window`` days and where fewer than 2 returns of the window are known, 0 for a constant
    window. Day d uses days d - window + 1 … d only."""
    r = _floats(returns)
    if window < 2:
        raise ValueError("a volatility window needs at least 2 days")
    out = np.full(r.shape, np.nan)
    if r.shape[0] >= window:
        view = np.lib.stride_tricks.sliding_window_view(r, window, axis=0)
        out[window - 1 :] = nan_std(view, axis=-1) * np.sqrt(annualization)
    return out


def volatility_target(
    returns: ArrayLike,
    *,
    target: float,
    window: int = 30,
    cap: float = 1.0,
    annualization: int = DAYS_PER_YEAR,
) -> Floats:
    """Exposure ``min(cap, target / trailing volatility)`` per day (0 where the volatility is unknown or 0)."""
    vol = trailing_volatility(returns, window=window, annualization=annualization)
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.where(np.isfinite(vol) & (vol > 0), target / vol, 0.0)
    return np.minimum(size, cap)


def kelly_fraction(returns: ArrayLike, *, cap: float = 0.5, risk_free: float = 0.0) -> Floats:
    """Capped Kelly fraction ``clip((mean(r) - rf) / var(r), 0, cap)`` (the continuous-return approximation,
    variance with ddof=1); NaN with fewer than 2 returns."""
    r = _floats(returns)
    if r.shape[0] < 2:
        return np.full(r.shape[1:], np.nan)
    std = nan_std(r)  # a constant series has no variance (float residue included): no Kelly bet
    var = std * std
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(var > 0, (nan_mean(r) - risk_free) / var, 0.0)
    return np.asarray(np.clip(raw, 0.0, cap), dtype=np.float64)


# -- concentration and portfolio volatility -----------------------------------------------------------------------


def _normalised(weights: ArrayLike) -> Floats:
    w = np.abs(_floats(weights))
    total = w.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, w / total, 0.0)


def herfindahl(weights: ArrayLike) -> Floats:
    """Herfindahl-Hirschman index ``sum w_i ** 2`` of the (absolute, normalised) weights: 1/n for n equal
    holdings, 1 for a single one."""
    w = _normalised(weights)
    return np.asarray((w * w).sum(axis=-1), dtype=np.float64)


def portfolio_volatility(returns: ArrayLike, weights: ArrayLike, *, annualization: int = DAYS_PER_YEAR) -> float:
    """Annualised volatility ``sqrt(w' Σ w * annualization)`` of fixed weights, Σ the sample covariance (ddof=1)
    of the ``(T, K)`` returns over the days on which every column has a value."""
    r = _floats(returns)
    w = _floats(weights)
    full = r[np.isfinite(r).all(axis=1)]
    if full.shape[0] < 2:
        return float("nan")
    cov = np.atleast_2d(np.cov(full, rowvar=False))
    return float(np.sqrt(max(float(w @ cov @ w), 0.0) * annualization))


# -- liquidity ----------------------------------------------------------------------------------------------------


def volume_turnover(volume: ArrayLike, market_cap: ArrayLike) -> Floats:
    """Turnover ratio ``volume / market cap`` (NaN where the market cap is not positive or volume unknown)."""
    v, m = _floats(volume), _floats(market_cap)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((m > 0) & (v > 0), v / m, np.nan)


def amihud_illiquidity(returns: ArrayLike, volume: ArrayLike, *, per_usd: float = 1e6) -> Floats:
    """Amihud (2002) illiquidity: ``mean(|r_t| / volume_t)`` over days with a positive volume, scaled to the
    price move per ``per_usd`` traded (default: per million USD). NaN when no day has a volume."""
    r, v = _floats(returns), _floats(volume)
    ok = np.isfinite(r) & (v > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(ok, np.abs(r) / np.where(ok, v, 1.0), 0.0)
        n = ok.sum(axis=0)
        return np.asarray(np.where(n > 0, ratio.sum(axis=0) / np.maximum(n, 1) * per_usd, np.nan), dtype=np.float64)


def expected_slippage(order_usd: ArrayLike, volume_usd: ArrayLike, *, spread_bps: float, impact: float) -> Floats:
    """Expected slippage of a market order as a fraction of its value: half the spread plus a square-root
    impact, ``spread / 2 + impact * sqrt(order / volume)`` (NaN when the volume is not positive)."""
    order, vol = np.abs(_floats(order_usd)), _floats(volume_usd)
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.where(vol > 0, order / vol, np.nan))
    return spread_bps * 1e-4 / 2.0 + impact * root
