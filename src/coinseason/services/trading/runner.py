"""The vectorised backtest's inputs for many parameter sets at once (:func:`prepare`): the legs each set holds
(BTC, its alt basket, cash), their costs, and the confirmed signal states, as :mod:`coinseason.core.backtest`
takes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.core.backtest import Liquidity, Market, Strategy, allocation_table
from coinseason.core.basket import MISSING_VOLUME_USD
from coinseason.core.panel import FloatMatrix
from coinseason.core.signals import confirmed
from coinseason.errors import ConfigError
from coinseason.services.analytics import Loaded
from coinseason.services.trading.inputs import StrategyInputs
from coinseason.services.trading.params import NEUTRAL_WEIGHTS, BacktestParams, BasketKey
from coinseason.vocab import NeutralRule


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything :func:`coinseason.core.backtest.run_backtest` needs, over the days ``days`` of ``loaded``."""

    loaded: Loaded
    days: slice
    market: Market
    states: NDArray[np.int8]
    """``(T, Q)`` confirmed states of the Q distinct signal series."""
    strategy: Strategy
    """One set per parameter set, in order."""


def prepare(
    inputs: StrategyInputs,
    params: Sequence[BacktestParams],
    *,
    source: str | None,
    start: dt.date | None,
    end: dt.date | None,
) -> Prepared:
    """The backtest of ``params`` over the days from ``start`` to ``end``: sets sharing a basket or a signal
    series share its column."""
    if not params:
        raise ConfigError("no parameter set to backtest")
    loaded = inputs.loaded(source)
    days = inputs.rows(loaded, start, end)
    n = loaded.engine.n_days
    leg_of: dict[BasketKey, int] = {}
    returns = [inputs.btc_returns(loaded), np.zeros(n)]
    vol_btc = inputs.volume(loaded)[:, loaded.engine.btc]
    vol_btc = np.where(vol_btc > 0, vol_btc, MISSING_VOLUME_USD)
    coins: list[tuple[FloatMatrix, FloatMatrix]] = [
        (np.ones((n, 1)), vol_btc[:, None]),
        (np.zeros((n, 0)), np.zeros((n, 0))),
    ]
    turnover = [np.zeros(n), np.zeros(n)]
    inner = [np.zeros(n), np.zeros(n)]
    series_of: dict[tuple[object, ...], int] = {}
    raw: list[NDArray[np.int8]] = []
    confirm: list[int] = []
    hold: list[bool] = []
    legs = np.zeros((len(params), 3), dtype=np.intp)
    series = np.zeros(len(params), dtype=np.intp)
    neutral = np.zeros((len(params), 3))
    for i, p in enumerate(params):
        bkey = p.basket_key()
        if bkey not in leg_of:
            b = inputs.basket(
                loaded,
                p.exclude,
                p.top,
                p.weighting,
                rebalance_days=p.rebalance_days,
                drift=p.basket_drift,
                min_volume=p.min_volume_usd,
            )
            leg_of[bkey] = len(returns)
            returns.append(b.returns)
            coins.append((b.weights, b.volume))
            turnover.append(b.turnover)
            inner.append(b.inner_impact)
        skey = p.signal_key()
        if skey not in series_of:
            series_of[skey] = len(raw)
            raw.append(inputs.raw_state(loaded, p))
            confirm.append(p.confirm_days)
            hold.append(p.neutral is NeutralRule.HOLD)
        legs[i] = (0, leg_of[bkey], 1)
        series[i] = series_of[skey]
        neutral[i] = NEUTRAL_WEIGHTS[p.neutral]
    states = confirmed(np.column_stack(raw), days=np.array(confirm), hold_neutral=np.array(hold))
    is_cash = np.zeros(len(returns), dtype=bool)
    is_cash[1] = True
    market = Market(
        np.column_stack(returns)[days].copy(),
        Liquidity.of([(w[days], v[days]) for w, v in coins]),
        np.column_stack(turnover)[days].copy(),
        is_cash,
        np.column_stack(inner)[days].copy(),
    )
    market.returns[0] = 0.0

    def column(name: str) -> NDArray[np.float64]:
        return np.array([getattr(p, name) for p in params], dtype=np.float64)

    strategy = Strategy(
        legs=legs,
        series=series,
        allocation=allocation_table([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], neutral),
        threshold=column("threshold"),
        fee_bps=column("fee_bps"),
        spread_bps=column("spread_bps"),
        impact=column("impact"),
        capital=column("capital"),
    )
    return Prepared(loaded, days, market, np.ascontiguousarray(states[days]), strategy)


def with_buy_and_hold(strategy: Strategy) -> Strategy:
    """``strategy`` (one set) followed by buy-and-hold BTC and buy-and-hold alt basket with its legs and costs:
    both hold their asset in every state, so they buy on day 1 and never trade again."""
    one = strategy.take(np.array([0, 0, 0], dtype=np.intp))
    allocation = one.allocation.copy()
    allocation[1] = np.array([1.0, 0.0, 0.0])
    allocation[2] = np.array([0.0, 1.0, 0.0])
    return Strategy(
        one.legs, one.series, allocation, one.threshold, one.fee_bps, one.spread_bps, one.impact, one.capital
    )
