"""Backtest results as reports: one strategy's daily weights, equity and metrics against buy-and-hold BTC and the
alt basket (:func:`backtest_report`), or one row of metrics per parameter set (:func:`sweep_frame`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core import performance as m
from coinseason.core.backtest import ASSET_NAMES, BacktestResult, run_backtest
from coinseason.core.basket import MISSING_VOLUME_USD, PEG_DAYS
from coinseason.core.signals import STATE_NAMES
from coinseason.services.trading.inputs import StrategyInputs
from coinseason.services.trading.params import BacktestParams
from coinseason.services.trading.runner import Prepared, with_buy_and_hold

DISCLAIMER = "Analysis of past data, not investment advice."


@dataclass(frozen=True, slots=True)
class BacktestReport:
    params: BacktestParams
    source: str
    daily: pl.DataFrame
    """date, state, weight_btc, weight_alt, weight_cash, return, equity, drawdown, turnover, cost, btc_equity,
    alt_equity."""
    metrics: dict[str, dict[str, float]]
    """Per portfolio (strategy, buy_hold_btc, buy_hold_alt): :data:`coinseason.core.performance.METRIC_NAMES` and,
    for the strategy, turnover (annual), exposure and trades."""
    notes: list[str] = field(default_factory=list)


def backtest_report(inputs: StrategyInputs, params: BacktestParams, prepared: Prepared) -> BacktestReport:
    """Run ``prepared`` (one set: ``params``) with buy-and-hold BTC and alt basket beside it, and report."""
    loaded, days, market, states = prepared.loaded, prepared.days, prepared.market, prepared.states
    result = run_backtest(market, states, with_buy_and_hold(prepared.strategy), keep_weights=True)
    assert result.weights is not None and result.turnover is not None and result.cost is not None  # noqa: S101
    r = result.returns[:, 0]
    btc, alt = result.returns[:, 1], result.returns[:, 2]  # after the same costs as the strategy
    weights = result.weights[:, 0, :].astype(np.float64)
    daily = pl.DataFrame(
        {
            "date": loaded.engine.dates[days],
            "state": [STATE_NAMES[int(s)] for s in states[:, 0]],
            **{f"weight_{a}": weights[:, i] for i, a in enumerate(ASSET_NAMES)},
            "return": r,
            "equity": m.wealth(r),
            "drawdown": m.drawdown(r),
            "turnover": result.turnover[:, 0],
            "cost": result.cost[:, 0],
            "btc_equity": m.wealth(btc),
            "alt_equity": m.wealth(alt),
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    table = {
        "strategy": _scalars(m.summary(r)) | _extras(result, 0),
        "buy_hold_btc": _scalars(m.summary(btc)) | _extras(result, 1),
        "buy_hold_alt": _scalars(m.summary(alt)) | _extras(result, 2),
        "buy_hold_alt_before_costs": _scalars(m.summary(market.returns[:, 2])),
    }
    drift = f" or when a weight drifts {params.basket_drift:g} from its target" if params.basket_drift else ""
    notes = [
        DISCLAIMER,
        "A signal of day d trades on day d + 1 at that day's price (00:00 UTC); the portfolio starts in cash.",
        "Buy-and-hold BTC and alt basket buy on day 1 and pay the same fees, spread and impact as the strategy "
        "(the basket's own rebalancing included); buy_hold_alt_before_costs is the basket's gross return.",
        f"The alt basket is formed from the day's ranking every {params.rebalance_days} days{drift}, holding "
        f"coins with at least {params.min_volume_usd:,.0f} USD of volume that day and not trading as a USD "
        f"stablecoin over the previous {PEG_DAYS} days; it drifts with prices in between. A held coin "
        "without a price is worth 0 (a coin that dies while held takes its loss).",
        "Exclusions (stablecoins, wrapped, staking, tokenized) are point in time: a coin leaves the ranking from "
        "the first day it holds its class (a price peg from the first day its trailing 180 days show one), so no "
        "day's weights depend on later data. The basket's own USD-peg filter over the previous days adds to them.",
    ]
    basket = inputs.basket(loaded, params.exclude, params.top, params.weighting,
                           rebalance_days=params.rebalance_days, drift=params.basket_drift,
                           min_volume=params.min_volume_usd)  # fmt: skip
    if not inputs.has_volume(loaded):
        notes.append("The source has no traded volumes: the basket's volume filter is off and every impact "
                     f"assumes {MISSING_VOLUME_USD:,.0f} USD a day.")  # fmt: skip
    empty = int((basket.weights[days].sum(axis=1) <= 0).sum())
    if empty:
        notes.append(f"The alt basket held nothing on {empty:,} of {daily.height:,} days (no coin passed its "
                     "filters, or before it was first formed): the alt leg was cash on those days.")  # fmt: skip
    return BacktestReport(params, loaded.source, daily, table, notes)


def sweep_frame(params: Sequence[BacktestParams], prepared: Prepared, *, chunk: int) -> pl.DataFrame:
    """Metrics of every set of ``prepared`` (``params``, in order), simulated ``chunk`` at a time: one row per
    set, its parameters first."""
    market, states, strategy = prepared.market, prepared.states, prepared.strategy
    rows: list[dict[str, float]] = []
    for lo in range(0, strategy.size, chunk):
        part = strategy.take(slice(lo, lo + chunk))
        result = run_backtest(market, states, part, daily=False)
        stats = m.summary(result.returns)
        extra = {
            "turnover": result.mean_turnover * m.DAYS_PER_YEAR,
            "exposure": result.mean_exposure,
            "trades": result.trades.astype(np.float64),
        }
        for j in range(part.size):
            rows.append({k: float(v[j]) for k, v in (stats | extra).items()})
    frame = pl.DataFrame([asdict(p) for p in params])
    return pl.concat([frame, pl.DataFrame(rows)], how="horizontal")


def _scalars(values: dict[str, NDArray[np.float64]]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()}


def _extras(result: BacktestResult, j: int) -> dict[str, float]:
    return {
        "turnover": float(result.mean_turnover[j] * m.DAYS_PER_YEAR),
        "exposure": float(result.mean_exposure[j]),
        "trades": float(result.trades[j]),
        "costs": float(result.total_cost[j]),
    }
