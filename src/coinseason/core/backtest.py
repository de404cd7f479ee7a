"""Vectorised allocation backtests: many parameter sets at once, a loop over days only.

Each parameter set p holds :data:`N_ASSETS` assets — BTC, an altcoin basket and cash (a stablecoin) — taken
from the columns ``legs[p]`` of a day × leg return matrix, and allocates among them by a signal state series
(``states[:, series[p]]``) through its allocation table ``allocation[p, state + 1]``.

Timing: the state of day d (computed from data up to d) is traded on day d + 1 at that day's price; the
portfolio starts in cash on day 0. Day t's net return is ``(1 + gross_t) * (1 - cost_t) - 1`` where gross is the
return of the weights held after day t - 1's trades.

Rebalancing: on day t the portfolio trades to the target when the target changed since the last trade or when
an asset's drifted weight is more than ``threshold`` away from it; otherwise it lets the weights drift.

Costs, as a fraction of equity, for the non-cash legs (cash is the other side of every trade): with
``dw = |w_new - w_drifted|``, ``E`` the equity in USD and ``X = dw * E`` the USD traded in the leg, split over
its coins by their weights ``w_i``, ``dw * (fee + spread / 2) + dw * sum_i w_i * min(1, impact * sqrt(w_i * X /
volume_i))`` — a square-root impact against each coin's volume of the day, at most the whole amount traded in
that coin (see :class:`Liquidity`). The basket's own re-weighting (on its rebalance days) pays
``w_drifted * leg_turnover[t, leg] * (fee + spread / 2)`` plus a square-root impact on each coin re-weighted,
``w_drifted * min(leg_turnover, impact * sqrt(w_drifted * E) * leg_inner_impact[t, leg])`` (see
:attr:`coinseason.core.basket.Basket.inner_impact`): at most the amount re-weighted, a cap on the whole
re-weighting rather than coin by coin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

N_ASSETS = 3
ASSET_NAMES = ("btc", "alt", "cash")
BPS = 1e-4
TRADE_EPSILON = 1e-12
"""A day whose turnover is below this (rounding of drifted weights) is not counted as a trade."""

Floats = NDArray[np.float64]


LOG_BAND = 100.0
"""Half-width of each leg's band of ``log(volume_i / w_i)`` keys in :class:`Liquidity`."""


@dataclass(frozen=True, slots=True)
class Liquidity:
    """Each day's coins of every leg, arranged to price a square-root impact capped coin by coin, for many trade
    sizes at once.

    A trade of ``X`` USD in a leg buys ``w_i * X`` of coin i, slipping ``min(1, k * sqrt(w_i * X / v_i))``; coin
    i is capped when ``k² X ≥ v_i / w_i = u_i``. With each leg's coins sorted by ``u``, the leg's slippage is
    ``(sum of w over capped coins) + k * sqrt(X) * (sum of w ** 1.5 / sqrt(v) over the others)``: one binary
    search per trade. Keys are ``log u + 2 * LOG_BAND * leg``, so one sorted row per day holds every leg.
    """

    keys: Floats
    """``(T, K)`` sorted keys of each day."""
    cum_weight: Floats
    """``(T, K + 1)`` prefix sums of ``w`` in key order."""
    cum_root: Floats
    """``(T, K + 1)`` prefix sums of ``w ** 1.5 / sqrt(v)`` in key order."""
    start: NDArray[np.intp]
    """``(L,)`` first column of each leg's band."""
    stop: NDArray[np.intp]
    """``(L,)`` end of each leg's band."""

    @classmethod
    def of(cls, legs: list[tuple[Floats, Floats]]) -> Liquidity:
        """From each leg's ``(T, n)`` coin weights and volumes in USD (``n = 0`` for cash). A weight ≤ 0 is no
        coin; a volume ≤ 0 or NaN must have been replaced by the caller (a coin with no volume cannot be priced)."""
        n_days = legs[0][0].shape[0]
        keys, weights, roots, start, stop = [], [], [], [], []
        at = 0
        for leg, (w, v) in enumerate(legs):
            if w.shape != v.shape or w.shape[0] != n_days:
                raise ValueError("each leg needs (T, n) weights and volumes")
            held = w > 0
            if np.any(held & ~(v > 0)):
                raise ValueError("every held coin needs a positive volume")
            centre = 2.0 * LOG_BAND * leg
            with np.errstate(divide="ignore", invalid="ignore"):
                u = np.log(np.where(held, v, 1.0)) - np.log(np.where(held, w, 1.0))
                root = np.where(held, np.where(held, w, 0.0) ** 1.5 / np.sqrt(np.where(held, v, 1.0)), 0.0)
            keys.append(np.where(held, np.clip(u, 1.0 - LOG_BAND, LOG_BAND - 2.0), LOG_BAND - 1.0) + centre)
            weights.append(np.where(held, w, 0.0))
            roots.append(root)
            start.append(at)
            at += w.shape[1]
            stop.append(at)
        key = np.concatenate(keys, axis=1)
        order = np.argsort(key, axis=1, kind="stable")  # bands are disjoint: each leg stays in its columns

        def prefix(values: list[Floats]) -> Floats:
            sorted_values = np.take_along_axis(np.concatenate(values, axis=1), order, axis=1)
            return np.concatenate([np.zeros((n_days, 1)), np.cumsum(sorted_values, axis=1)], axis=1)

        return cls(
            np.take_along_axis(key, order, axis=1),
            prefix(weights),
            prefix(roots),
            np.array(start, dtype=np.intp),
            np.array(stop, dtype=np.intp),
        )

    def slippage(self, t: int, leg: NDArray[np.intp], traded_usd: Floats, impact: Floats) -> Floats:
        """Impact slippage of trading ``traded_usd`` in each ``leg`` on day ``t``, a fraction of the amount."""
        with np.errstate(divide="ignore"):
            q = np.log(impact * impact * traded_usd)
        q = np.clip(q, 0.5 - LOG_BAND, LOG_BAND - 1.5) + 2.0 * LOG_BAND * leg
        at = np.searchsorted(self.keys[t], q, side="right")
        capped = self.cum_weight[t, at] - self.cum_weight[t, self.start[leg]]
        open_root = self.cum_root[t, self.stop[leg]] - self.cum_root[t, at]
        return np.asarray(capped + impact * np.sqrt(traded_usd) * open_root, dtype=np.float64)

    def slice(self, days: slice) -> Liquidity:
        return Liquidity(self.keys[days], self.cum_weight[days], self.cum_root[days], self.start, self.stop)


@dataclass(frozen=True, slots=True)
class Market:
    """The legs a backtest can hold: ``(T, L)`` returns and re-weighting, and their coins' liquidity."""

    returns: Floats
    """Simple return of each leg from day t - 1 to day t (NaN counts as 0)."""
    liquidity: Liquidity
    turnover: Floats
    """The leg's own re-weighting on day t (``sum |Δw|`` over its coins; 0 for a single coin or cash)."""
    is_cash: NDArray[np.bool_]
    """``(L,)`` True for cash legs (no cost)."""
    inner_impact: Floats | None = None
    """``(T, L)`` ``sum |Δw_i| ** 1.5 / sqrt(volume_i)`` of the leg's own re-weighting on day t (None: no impact
    on re-weighting)."""

    def __post_init__(self) -> None:
        shape = self.returns.shape
        if self.turnover.shape != shape or self.is_cash.shape != shape[1:]:
            raise ValueError("market returns, turnover and cash flags disagree in shape")
        if self.inner_impact is not None and self.inner_impact.shape != shape:
            raise ValueError("market returns and inner impact disagree in shape")
        if self.liquidity.keys.shape[0] != shape[0] or self.liquidity.start.shape != shape[1:]:
            raise ValueError("the liquidity table does not have the market's days and legs")


@dataclass(frozen=True, slots=True)
class Strategy:
    """``P`` parameter sets (arrays of length ``P``, or ``(P, ...)``)."""

    legs: NDArray[np.intp]
    """``(P, 3)`` leg columns of BTC, the alt basket and cash."""
    series: NDArray[np.intp]
    """``(P,)`` column of ``states`` each set follows."""
    allocation: Floats
    """``(P, 4, 3)`` target weights by state + 1 (NO_SIGNAL, BTC, ALT, NEUTRAL); rows sum to 1."""
    threshold: Floats
    fee_bps: Floats
    spread_bps: Floats
    impact: Floats
    """Square-root impact coefficient (dimensionless; 1.0 is a common rule of thumb times daily volatility)."""
    capital: Floats
    """Starting equity in USD (the impact term depends on the trade's size)."""

    @property
    def size(self) -> int:
        return int(self.series.size)

    def take(self, which: slice | NDArray[np.intp]) -> Strategy:
        return Strategy(
            self.legs[which],
            self.series[which],
            self.allocation[which],
            self.threshold[which],
            self.fee_bps[which],
            self.spread_bps[which],
            self.impact[which],
            self.capital[which],
        )

    def check(self, n_legs: int, n_series: int) -> None:
        p = self.size
        arrays = (self.threshold, self.fee_bps, self.spread_bps, self.impact, self.capital)
        if self.legs.shape != (p, N_ASSETS) or self.allocation.shape != (p, 4, N_ASSETS):
            raise ValueError("legs must be (P, 3) and allocation (P, 4, 3)")
        if any(a.shape != (p,) for a in arrays):
            raise ValueError("every cost and threshold parameter needs one value per parameter set")
        if p and (self.legs.min() < 0 or self.legs.max() >= n_legs):
            raise ValueError("a leg column is out of range")
        if p and (self.series.min() < 0 or self.series.max() >= n_series):
            raise ValueError("a signal column is out of range")
        if p and not np.allclose(self.allocation.sum(axis=2), 1.0):
            raise ValueError("each allocation must sum to 1")
        if p and (self.allocation.min() < 0 or min(a.min() for a in arrays) < 0):
            raise ValueError("weights, thresholds and costs cannot be negative")


@dataclass(frozen=True, slots=True)
class BacktestResult:
    returns: Floats
    """``(T, P)`` daily net returns."""
    turnover: Floats | None
    """``(T, P)`` one-way turnover, ``sum |Δw| / 2`` over the three assets (None unless ``daily``)."""
    cost: Floats | None
    """``(T, P)`` costs as a fraction of equity (None unless ``daily``)."""
    weights: NDArray[np.float32] | None
    """``(T, P, 3)`` weights after each day's trades, when asked for."""
    trades: NDArray[np.int64]
    """``(P,)`` days on which the portfolio traded."""
    mean_turnover: Floats
    """``(P,)`` mean daily turnover over days 1 … T - 1."""
    mean_exposure: Floats
    """``(P,)`` mean share outside cash over days 1 … T - 1."""
    total_cost: Floats
    """``(P,)`` sum of the daily costs."""


def run_backtest(
    market: Market,
    states: NDArray[np.int8],
    strategy: Strategy,
    *,
    keep_weights: bool = False,
    daily: bool = True,
) -> BacktestResult:
    """Simulate every parameter set of ``strategy`` over ``market`` following ``states`` (``(T, Q)``).

    A loop over days; each step works on whole ``(P,)`` vectors, one per asset. ``daily=False`` keeps only the
    daily returns and the per-set means (memory for sweeps of thousands of sets).
    """
    n_days = market.returns.shape[0]
    if states.ndim != 2 or states.shape[0] != n_days:
        raise ValueError("states must be (T, Q) with the market's T days")
    strategy.check(market.returns.shape[1], states.shape[1])
    p = strategy.size
    rets = np.nan_to_num(market.returns, nan=0.0)
    liquidity, inner_turn = market.liquidity, market.turnover
    inner_impact = market.inner_impact
    legs = [np.ascontiguousarray(strategy.legs[:, i]) for i in range(N_ASSETS)]
    risky = [~market.is_cash[leg] for leg in legs]
    costly = [i for i in range(N_ASSETS) if risky[i].any()]
    risky_f = [risky[i].astype(np.float64) for i in range(N_ASSETS)]
    linear = (strategy.fee_bps + strategy.spread_bps / 2.0) * BPS
    alloc = [np.ascontiguousarray(strategy.allocation[:, :, i]).ravel() for i in range(N_ASSETS)]
    base = np.arange(p) * 4
    codes = states.astype(np.int64) + 1
    out_ret = np.zeros((n_days, p))
    out_turn, out_cost = (np.zeros((n_days, p)) if daily else None for _ in range(2))
    weights = np.zeros((n_days, p, N_ASSETS), dtype=np.float32) if keep_weights else None
    trades = np.zeros(p, dtype=np.int64)
    sum_turn, sum_cost, sum_market = np.zeros(p), np.zeros(p), np.zeros(p)
    w = [np.zeros(p), np.zeros(p), np.ones(p)]
    if weights is not None and n_days:
        weights[0, :, 2] = 1.0
    last = np.full(p, -1, dtype=np.int64)
    equity = strategy.capital.astype(np.float64).copy()
    impact = strategy.impact
    for t in range(1, n_days):
        row = rets[t]
        r = [row[legs[i]] for i in range(N_ASSETS)]
        gross = w[0] * r[0] + w[1] * r[1] + w[2] * r[2]
        grown = 1.0 + gross
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = 1.0 / grown
        drift = [w[i] * (1.0 + r[i]) * scale for i in range(N_ASSETS)]
        if not np.isfinite(scale).all():  # a total loss: nothing left to drift
            drift = [np.where(np.isfinite(d), d, w[i]) for i, d in enumerate(drift)]
        code = codes[t - 1][strategy.series]
        at = base + code
        target = [alloc[i][at] for i in range(N_ASSETS)]
        dev = [np.abs(target[i] - drift[i]) for i in range(N_ASSETS)]
        move = (code != last) | (np.maximum(np.maximum(dev[0], dev[1]), dev[2]) > strategy.threshold)
        moved = move.astype(np.float64)
        new = [np.where(move, target[i], drift[i]) for i in range(N_ASSETS)]
        dw = [dev[i] * moved for i in range(N_ASSETS)]
        np.copyto(last, code, where=move)
        turn = (dw[0] + dw[1] + dw[2]) * 0.5
        trades += turn > TRADE_EPSILON
        size = equity * grown
        cost = np.zeros(p)
        for i in costly:
            traded = dw[i] * risky_f[i]
            slip = liquidity.slippage(t, legs[i], traded * size, impact)
            held = drift[i] * risky_f[i]
            turned = inner_turn[t][legs[i]]
            cost += traded * (linear + slip) + held * turned * linear
            if inner_impact is not None:  # at most all that was re-weighted
                cost += held * np.minimum(turned, impact * np.sqrt(held * size) * inner_impact[t][legs[i]])
        np.minimum(cost, 1.0, out=cost)
        net = grown * (1.0 - cost) - 1.0
        equity *= 1.0 + net
        w = new
        out_ret[t] = net
        sum_turn += turn
        sum_cost += cost
        sum_market += 1.0 - w[2]
        if out_turn is not None and out_cost is not None:
            out_turn[t], out_cost[t] = turn, cost
        if weights is not None:
            weights[t] = np.column_stack(w)
    steps = max(n_days - 1, 1)
    return BacktestResult(out_ret, out_turn, out_cost, weights, trades, sum_turn / steps, sum_market / steps, sum_cost)


def allocation_table(btc: ArrayLike, alt: ArrayLike, neutral: ArrayLike) -> Floats:
    """``(P, 4, 3)`` allocations from the weights (``(P, 3)`` or ``(3,)`` each) held in BTC, altcoin and neutral
    states; NO_SIGNAL (before the signal has data) holds cash."""
    b, a, n = np.broadcast_arrays(
        np.atleast_2d(np.asarray(btc, dtype=np.float64)),
        np.atleast_2d(np.asarray(alt, dtype=np.float64)),
        np.atleast_2d(np.asarray(neutral, dtype=np.float64)),
    )
    cash = np.zeros_like(b)
    cash[:, 2] = 1.0
    return np.stack([cash, b, a, n], axis=1)
