"""``coinseason backtest``, ``risk`` and ``rebalance``: trading analytics over the store (analysis, not advice)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from coinseason import cli_support as support
from coinseason.services.analytics import AnalyticsService
from coinseason.services.trading import DISCLAIMER, BacktestParams, BacktestReport, TradingService
from coinseason.vocab import NeutralRule as Neutral
from coinseason.vocab import Strategy, Weighting


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    HTML = "html"


class StrategyName(StrEnum):
    SEASON_ROTATION = "season-rotation"
    MOMENTUM = "momentum"
    CONTRARIAN = "contrarian"


class NeutralRule(StrEnum):
    SPLIT = "split"
    BTC = "btc"
    CASH = "cash"
    HOLD = "hold"


class WeightingName(StrEnum):
    EQUAL = "equal"
    CAP = "cap"


WeightingOption = Annotated[WeightingName, typer.Option("--weighting", help="Alt basket weights")]


def backtest(
    strategy: Annotated[StrategyName, typer.Option("--strategy", help="Strategy")] = StrategyName.SEASON_ROTATION,
    top: support.TopOption = 50,
    window: support.WindowOption = 90,
    weighting: WeightingOption = WeightingName.EQUAL,
    altcoin_at: support.AltcoinAtOption = 75.0,
    bitcoin_at: support.BitcoinAtOption = 25.0,
    neutral: Annotated[
        NeutralRule, typer.Option("--neutral", help="Neutral season: split 50/50 BTC/alt, btc, cash, or hold")
    ] = NeutralRule.SPLIT,
    confirm_days: Annotated[int, typer.Option("--confirm-days", help="Days a new state must last")] = 1,
    lookback: Annotated[int, typer.Option("--lookback", help="Momentum: dominance change window, days")] = 30,
    band: Annotated[float, typer.Option("--band", help="Momentum: dominance change band, points")] = 1.0,
    threshold: Annotated[float, typer.Option("--threshold", help="Rebalance when a weight drifts this far")] = 0.05,
    rebalance_days: Annotated[
        int, typer.Option("--rebalance-days", help="Days between the alt basket's rebalances (1: daily)")
    ] = 30,
    basket_drift: Annotated[
        float, typer.Option("--basket-drift", help="Also rebalance the basket when a coin drifts this far (0: off)")
    ] = 0.0,
    min_volume: Annotated[
        float, typer.Option("--min-volume", help="Least volume of the day, USD, for a coin bought into the basket")
    ] = 100_000.0,
    fee_bps: support.FeeBpsOption = 10.0,
    spread_bps: support.SpreadBpsOption = 10.0,
    impact: support.ImpactOption = 0.1,
    capital: Annotated[float, typer.Option("--capital", help="Starting equity, USD")] = 100_000.0,
    start: support.FromOption = None,
    end: support.ToOption = None,
    source: support.SourceOption = None,
    exclude: support.ExcludeOption = "default",
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table, json or html")] = ReportFormat.TABLE,
    db: support.DbOption = None,
) -> None:
    """Backtest an allocation strategy between BTC, the alt basket and cash (analysis, not advice)."""
    with support.errors(), support.open_db(db) as store:
        params = BacktestParams(
            strategy=Strategy(strategy.value),
            top=top,
            window=window,
            weighting=_weighting(weighting),
            exclude=exclude,
            altcoin_at=altcoin_at,
            bitcoin_at=bitcoin_at,
            neutral=_neutral(neutral),
            confirm_days=confirm_days,
            lookback=lookback,
            band=band,
            threshold=threshold,
            rebalance_days=rebalance_days,
            basket_drift=basket_drift,
            min_volume_usd=min_volume,
            fee_bps=fee_bps,
            spread_bps=spread_bps,
            impact=impact,
            capital=capital,
        )
        report = TradingService(AnalyticsService(store)).backtest(
            params, source=source, start=support.day(start), end=support.day(end)
        )
        _emit_report(report, fmt)


def _weighting(value: WeightingName) -> Weighting:
    return Weighting.CAP if value is WeightingName.CAP else Weighting.EQUAL


def _neutral(value: NeutralRule) -> Neutral:
    choices: dict[NeutralRule, Neutral] = {
        NeutralRule.SPLIT: Neutral.SPLIT,
        NeutralRule.BTC: Neutral.BTC,
        NeutralRule.CASH: Neutral.CASH,
        NeutralRule.HOLD: Neutral.HOLD,
    }
    return choices[value]


def report_json(report: BacktestReport) -> dict[str, object]:
    from dataclasses import asdict

    return {
        "disclaimer": DISCLAIMER,
        "source": report.source,
        "params": asdict(report.params),
        "metrics": report.metrics,
        "notes": report.notes,
        "daily": report.daily.with_columns(pl.col(pl.Float64).fill_nan(None)).to_dicts(),
    }


def _emit_report(report: BacktestReport, fmt: ReportFormat) -> None:
    if fmt is ReportFormat.JSON:
        sys.stdout.write(json.dumps(report_json(report), default=str) + "\n")
        return
    if fmt is ReportFormat.HTML:
        from coinseason.trading_html import render

        sys.stdout.write(render(report))
        return
    names = list(report.metrics["strategy"])
    table = pl.DataFrame(
        {"metric": names, **{p: [v.get(k) for k in names] for p, v in report.metrics.items()}},
        schema_overrides=dict.fromkeys(report.metrics, pl.Float64),
    )
    first, last = report.daily["date"][0], report.daily["date"][-1]
    support.emit(table, support.OutputFormat.TABLE, f"{report.params.strategy}: {first} to {last}")
    for note in report.notes:
        support.out.print(note, style="dim", highlight=False)


def risk(
    top: support.TopOption = 50,
    weighting: WeightingOption = WeightingName.EQUAL,
    days: Annotated[int, typer.Option("--days", help="Days of history the figures cover")] = 365,
    order_usd: Annotated[float, typer.Option("--order-usd", help="Order size for the expected slippage")] = 100_000.0,
    spread_bps: support.SpreadBpsOption = 10.0,
    impact: support.ImpactOption = 0.1,
    coin: Annotated[list[str] | None, typer.Option("--coin", help="Also this coin (repeatable)")] = None,
    end: support.ToOption = None,
    source: support.SourceOption = None,
    exclude: support.ExcludeOption = "default",
    fmt: support.FormatOption = support.OutputFormat.TABLE,
    db: support.DbOption = None,
) -> None:
    """Risk and liquidity of BTC, the alt basket and chosen coins: volatility, VaR, drawdown, Kelly, slippage."""
    with support.errors(), support.open_db(db) as store:
        frame = TradingService(AnalyticsService(store)).risk(
            source=source,
            exclude=exclude,
            top=top,
            weighting=_weighting(weighting),
            days=days,
            order_usd=order_usd,
            spread_bps=spread_bps,
            impact=impact,
            coins=coin or (),
            end=support.day(end),
        )
        support.emit(frame, fmt, f"Risk over {days} days (analysis, not advice)")


def rebalance(
    holdings: Annotated[Path, typer.Argument(help="Holdings CSV or JSON: coin_id and quantity or value_usd")],
    profile: Annotated[
        str, typer.Option("--profile", help="conservative, balanced, aggressive or a target volatility (0.4)")
    ] = "balanced",
    top: support.TopOption = 50,
    window: support.WindowOption = 90,
    fee_bps: support.FeeBpsOption = 10.0,
    spread_bps: support.SpreadBpsOption = 10.0,
    impact: support.ImpactOption = 0.1,
    source: support.SourceOption = None,
    fmt: support.FormatOption = support.OutputFormat.TABLE,
    db: support.DbOption = None,
) -> None:
    """Target weights for the current season and risk profile, the trades, their cost and the risk before/after."""
    from coinseason.services.rebalance import read_holdings
    from coinseason.services.rebalance import rebalance as plan_rebalance

    with support.errors(), support.open_db(db) as store:
        frame = read_holdings(holdings)
        plan = plan_rebalance(
            TradingService(AnalyticsService(store)),
            frame,
            profile,
            source=source,
            top=top,
            window=window,
            fee_bps=fee_bps,
            spread_bps=spread_bps,
            impact=impact,
        )
        if fmt is support.OutputFormat.JSON:
            payload = {
                "disclaimer": DISCLAIMER,
                "date": plan.date,
                "season": plan.season,
                "altcoin_season_index": plan.altcoin_season_index,
                "profile": plan.profile,
                "allocation": plan.allocation,
                "trades": plan.trades.to_dicts(),
                "total_cost": plan.total_cost,
                "risk_before": plan.before,
                "risk_after": plan.after,
                "notes": plan.notes,
            }
            sys.stdout.write(json.dumps(payload) + "\n")
            return
        if fmt is support.OutputFormat.CSV:
            sys.stdout.write(plan.trades.write_csv())
            return
        support.out.print(
            f"[bold]{DISCLAIMER}[/] {plan.date}: {plan.season} season (index {plan.altcoin_season_index:.1f}), "
            f"profile {plan.profile}",
            highlight=False,
        )
        support.emit(plan.trades, fmt, "Trades")
        figures = pl.DataFrame([{"when": "before", **plan.before}, {"when": "after", **plan.after}])
        support.emit(figures, fmt, f"Risk before and after (expected cost {plan.total_cost:,.2f} USD)")
