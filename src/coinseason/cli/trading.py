"""``coinseason backtest``, ``risk`` and ``rebalance``: trading analytics over the store (analysis, not advice)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from coinseason.cli.options import (
    AltcoinAtOption,
    BitcoinAtOption,
    DbOption,
    ExcludeOption,
    FeeBpsOption,
    FormatOption,
    FromOption,
    ImpactOption,
    OutputFormat,
    SourceOption,
    SpreadBpsOption,
    ToOption,
    TopOption,
    WindowOption,
    day,
)
from coinseason.cli.output import emit, errors, json_text, out, steps
from coinseason.cli.reading import check_dates, reading
from coinseason.cli.report_html import render
from coinseason.cli.runtime import runtime
from coinseason.cli.tables import FRACTION, Column, print_table
from coinseason.services.rebalance import read_holdings
from coinseason.services.rebalance import rebalance as plan_rebalance
from coinseason.services.trading import DISCLAIMER, BacktestParams, BacktestReport, TradingService
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, NeutralRule, Strategy, Weighting


class ReportFormat(StrEnum):
    """How ``coinseason backtest`` prints its report."""

    TABLE = "table"
    JSON = "json"
    HTML = "html"


WeightingOption = Annotated[Weighting, typer.Option("--weighting", help="Alt basket weights")]


def backtest(
    ctx: typer.Context,
    strategy: Annotated[Strategy, typer.Option("--strategy", help="Strategy")] = Strategy.SEASON_ROTATION,
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    weighting: WeightingOption = Weighting.EQUAL,
    altcoin_at: AltcoinAtOption = 75.0,
    bitcoin_at: BitcoinAtOption = 25.0,
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
    fee_bps: FeeBpsOption = 10.0,
    spread_bps: SpreadBpsOption = 10.0,
    impact: ImpactOption = 0.1,
    capital: Annotated[float, typer.Option("--capital", help="Starting equity, USD")] = 100_000.0,
    start: FromOption = None,
    end: ToOption = None,
    source: SourceOption = None,
    exclude: ExcludeOption = "default",
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table, json or html")] = ReportFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Backtest an allocation strategy between BTC, the alt basket and cash (analysis, not advice)."""
    with errors(), reading(db, runtime(ctx).clock) as read:
        params = BacktestParams(
            strategy=strategy,
            top=top,
            window=window,
            weighting=weighting,
            exclude=exclude,
            altcoin_at=altcoin_at,
            bitcoin_at=bitcoin_at,
            neutral=neutral,
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
        first, last = check_dates(read.service, source, day(start), day(end))
        with steps("backtest"):
            report = TradingService(read.service).backtest(params, source=source, start=first, end=last)
        _emit_report(report, fmt)


def _report_json(report: BacktestReport) -> dict[str, object]:
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
        sys.stdout.write(json_text(_report_json(report)) + "\n")
        return
    if fmt is ReportFormat.HTML:
        sys.stdout.write(render(report))
        return
    names = list(report.metrics["strategy"])
    columns = [Column("metric", names, numeric=False)]
    for portfolio, values in report.metrics.items():
        columns.append(Column(portfolio, [metric_cell(k, values.get(k)) for k in names], numeric=True))
    first, last = report.daily["date"][0], report.daily["date"][-1]
    print_table(out, columns, f"{report.params.strategy}: {first} to {last}", every="--format json or html")
    for note in report.notes:
        out.print(note, style="dim", highlight=False)


_PERCENT_METRICS = frozenset(
    {"cagr", "volatility", "max_drawdown", "var_95", "cvar_95", "hit_rate", "exposure", "costs"}
)
_RATIOS = frozenset({"sharpe", "sortino", "calmar"})


RISK_UNITS: dict[str, str | None] = {
    **dict.fromkeys(
        ("total_return", "cagr", "volatility", "max_drawdown", "var_95", "cvar_95", "hit_rate", "kelly_capped"),
        FRACTION,
    ),
    "vol_target_50_exposure": FRACTION,
    "volume_turnover": FRACTION,
}
"""The risk table's fractions, shown as percentages (days, bps and the ratios by their names)."""


def metric_cell(name: str, value: float | None) -> str:
    """A backtest metric with its unit: the total return as a percentage and as the multiple of the starting
    equity, fractions as %, the annual turnover as × a year, trades as a count, days as days (ratios bare)."""
    if value is None or value != value:  # NaN: not defined for this series
        return "–"
    if name == "total_return":
        return f"{value * 100:+,.2f} % ({value + 1:,.2f}×)"
    if name in _PERCENT_METRICS:
        return f"{value * 100:,.2f} %"
    if name == "turnover":
        return f"{value:,.2f}× a year"
    if name == "trades":
        return f"{value:,.0f}"
    if name.endswith("_days"):
        return f"{value:,.0f} days"
    return f"{value:,.2f}" if name in _RATIOS else f"{value:,.4g}"


def risk(
    ctx: typer.Context,
    top: TopOption = DEFAULT_TOP,
    weighting: WeightingOption = Weighting.EQUAL,
    days: Annotated[int, typer.Option("--days", help="Days of history the figures cover")] = 365,
    order_usd: Annotated[float, typer.Option("--order-usd", help="Order size for the expected slippage")] = 100_000.0,
    spread_bps: SpreadBpsOption = 10.0,
    impact: ImpactOption = 0.1,
    coin: Annotated[list[str] | None, typer.Option("--coin", help="Also this coin (repeatable)")] = None,
    end: ToOption = None,
    source: SourceOption = None,
    exclude: ExcludeOption = "default",
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Risk and liquidity of BTC, the alt basket and chosen coins: volatility, VaR, drawdown, Kelly, slippage."""
    with errors(), reading(db, runtime(ctx).clock) as read:
        frame = TradingService(read.service).risk(
            source=source,
            exclude=exclude,
            top=top,
            weighting=weighting,
            days=days,
            order_usd=order_usd,
            spread_bps=spread_bps,
            impact=impact,
            coins=coin or (),
            end=day(end),
        )
        emit(frame, fmt, f"Risk over {days} days (analysis, not advice)", units=RISK_UNITS)


def rebalance(
    ctx: typer.Context,
    holdings: Annotated[Path, typer.Argument(help="Holdings CSV or JSON: coin_id and quantity or value_usd")],
    profile: Annotated[
        str, typer.Option("--profile", help="conservative, balanced, aggressive or a target volatility (0.4)")
    ] = "balanced",
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    fee_bps: FeeBpsOption = 10.0,
    spread_bps: SpreadBpsOption = 10.0,
    impact: ImpactOption = 0.1,
    source: SourceOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Target weights for the current season and risk profile, the trades, their cost and the risk before/after."""
    with errors(), reading(db, runtime(ctx).clock) as read:
        frame = read_holdings(holdings)
        plan = plan_rebalance(
            TradingService(read.service),
            frame,
            profile,
            source=source,
            top=top,
            window=window,
            fee_bps=fee_bps,
            spread_bps=spread_bps,
            impact=impact,
        )
        if fmt is OutputFormat.JSON:
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
            sys.stdout.write(json_text(payload) + "\n")
            return
        if fmt is OutputFormat.CSV:
            sys.stdout.write(plan.trades.write_csv())
            return
        out.print(
            f"[bold]{DISCLAIMER}[/] {plan.date}: {plan.season} season (index {plan.altcoin_season_index:.1f}), "
            f"profile {plan.profile}",
            highlight=False,
        )
        emit(plan.trades, fmt, "Trades")
        figures = pl.DataFrame([{"when": "before", **plan.before}, {"when": "after", **plan.after}])
        emit(figures, fmt, f"Risk before and after (expected cost {plan.total_cost:,.2f} USD)")
