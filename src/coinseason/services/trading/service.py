"""The trading service: signals, backtests, parameter sweeps and risk figures for one store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from coinseason.services.analytics import AnalyticsService
from coinseason.services.trading.inputs import StrategyInputs
from coinseason.services.trading.params import BacktestParams
from coinseason.services.trading.reports import BacktestReport, backtest_report, sweep_frame
from coinseason.services.trading.risk_table import risk_frame
from coinseason.services.trading.runner import Prepared, prepare
from coinseason.services.trading.signal_table import signals_frame
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, Weighting


class TradingService:
    """Signals, backtests and risk figures for one store (engines shared with the :class:`AnalyticsService`)."""

    def __init__(self, analytics: AnalyticsService) -> None:
        self.analytics = analytics
        self.inputs = StrategyInputs(analytics)

    def prepare(
        self, params: Sequence[BacktestParams], *, source: str | None, start: dt.date | None, end: dt.date | None
    ) -> Prepared:
        """The simulation's inputs for ``params`` over the days from ``start`` to ``end``."""
        return prepare(self.inputs, params, source=source, start=start, end=end)

    def backtest(
        self,
        params: BacktestParams,
        *,
        source: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> BacktestReport:
        """One strategy with its daily weights and equity, against buy-and-hold BTC and the alt basket."""
        return backtest_report(self.inputs, params, self.prepare([params], source=source, start=start, end=end))

    def sweep(
        self,
        params: Sequence[BacktestParams],
        *,
        source: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        chunk: int = 1000,
    ) -> pl.DataFrame:
        """Metrics of many parameter sets, simulated together ``chunk`` at a time: one row per set."""
        return sweep_frame(params, self.prepare(params, source=source, start=start, end=end), chunk=chunk)

    def signals(
        self,
        *,
        source: str | None = None,
        exclude: str = "default",
        top: int = DEFAULT_TOP,
        window: int = DEFAULT_WINDOW,
        start: dt.date | None = None,
        end: dt.date | None = None,
        confirm_days: int = 3,
    ) -> pl.DataFrame:
        """Each day's season, momentum and contrarian states (default parameters) and the confirmed season."""
        return signals_frame(
            self.inputs,
            source=source,
            exclude=exclude,
            top=top,
            window=window,
            start=start,
            end=end,
            confirm_days=confirm_days,
        )

    def risk(
        self,
        *,
        source: str | None = None,
        exclude: str = "default",
        top: int = DEFAULT_TOP,
        weighting: str = Weighting.EQUAL,
        days: int = 365,
        order_usd: float = 100_000.0,
        spread_bps: float = 10.0,
        impact: float = 0.1,
        coins: Sequence[str] = (),
        end: dt.date | None = None,
    ) -> pl.DataFrame:
        """Risk and liquidity figures of BTC, the alt basket and ``coins`` over the ``days`` days to ``end``;
        ``weighting`` is a :class:`~coinseason.vocab.Weighting` or its name."""
        return risk_frame(
            self.inputs,
            source=source,
            exclude=exclude,
            top=top,
            weighting=weighting,
            days=days,
            order_usd=order_usd,
            spread_bps=spread_bps,
            impact=impact,
            coins=coins,
            end=end,
        )
