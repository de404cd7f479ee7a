"""``coinseason index altseason|dominance``, ``seasons``, ``breakdown`` and ``coins``: the indices over the store."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from coinseason.cli.options import (
    AltcoinAtOption,
    BitcoinAtOption,
    BtcOutsideOption,
    DbOption,
    ExcludeOption,
    FormatOption,
    FromOption,
    IntervalOption,
    OutputFormat,
    SourceOption,
    StrictOption,
    ToOption,
    TopOption,
    WindowOption,
    day,
    resample_interval,
)
from coinseason.cli.output import emit, errors
from coinseason.cli.reading import check_dates, reading
from coinseason.cli.runtime import runtime
from coinseason.services.analytics import SeasonQuery
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, Interval

index_app = typer.Typer(help="Season index and dominance series.", no_args_is_help=True)


@index_app.command("altseason")
def altseason(
    ctx: typer.Context,
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    start: FromOption = None,
    end: ToOption = None,
    source: SourceOption = None,
    exclude: ExcludeOption = "default",
    interval: IntervalOption = Interval.DAY,
    btc_outside: BtcOutsideOption = False,
    strict: StrictOption = False,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Altcoin Season Index (and Bitcoin Season Index) per day: share of the top N that beat BTC over W days."""
    with errors(), reading(db, runtime(ctx).clock) as read:
        query = SeasonQuery(top=top, window=window, exclude=exclude, btc_inside=not btc_outside, fill=not strict)
        service = read.service
        first, last = check_dates(service, source, day(start), day(end))
        frame = service.season_history(
            query, source=source, start=first, end=last, interval=resample_interval(interval)
        )
        method = service.method(source, exclude, **query.parameters(), interval=interval.value)
        emit(frame, fmt, f"Altcoin Season Index (0-100), top {top}, {window} days", method)


@index_app.command("dominance")
def dominance(
    ctx: typer.Context,
    universe: Annotated[str, typer.Option("--universe", help="all or top:N")] = "all",
    exclude: ExcludeOption = "default",
    start: FromOption = None,
    end: ToOption = None,
    source: SourceOption = None,
    interval: IntervalOption = Interval.DAY,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """BTC dominance (value), ETH and stablecoin dominance, TOTAL, TOTAL2, TOTAL3 per day."""
    with errors(), reading(db, runtime(ctx).clock) as read:
        service = read.service
        first, last = check_dates(service, source, day(start), day(end))
        frame = service.dominance_history(
            universe=universe,
            exclude=exclude,
            source=source,
            start=first,
            end=last,
            interval=resample_interval(interval),
        )
        method = service.method(source, exclude, universe=universe, interval=interval.value)
        emit(frame, fmt, f"Dominance (%) of {method['dominance']}", method, units={"value": "%"})  # BTC dominance


def seasons(
    ctx: typer.Context,
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    min_days: Annotated[int, typer.Option("--min-days", help="Shortest run that counts as a season")] = 1,
    neutral: Annotated[bool, typer.Option("--neutral", help="List neutral periods too")] = False,
    altcoin_at: AltcoinAtOption = 75.0,
    bitcoin_at: BitcoinAtOption = 25.0,
    start: FromOption = None,
    end: ToOption = None,
    source: SourceOption = None,
    exclude: ExcludeOption = "default",
    btc_outside: BtcOutsideOption = False,
    strict: StrictOption = False,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Season periods: start, end, length and peak of each altcoin and Bitcoin season."""
    with errors(), reading(db, runtime(ctx).clock) as read:
        query = SeasonQuery(
            top=top,
            window=window,
            exclude=exclude,
            btc_inside=not btc_outside,
            fill=not strict,
            altcoin_at=altcoin_at,
            bitcoin_at=bitcoin_at,
        )
        service = read.service
        first, last = check_dates(service, source, day(start), day(end))
        frame = service.season_periods(
            query, source=source, min_days=min_days, include_neutral=neutral, start=first, end=last
        )
        method = service.method(source, exclude, **query.parameters(), min_days=min_days)
        emit(frame, fmt, f"Seasons, top {top}, {window} days", method)


def breakdown(
    ctx: typer.Context,
    date: Annotated[
        dt.datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="Day [default: last]")
    ] = None,
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    source: SourceOption = None,
    exclude: ExcludeOption = "default",
    btc_outside: BtcOutsideOption = False,
    strict: StrictOption = False,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Every coin of the universe on a day: its W-day return, BTC's, and whether it beat BTC."""
    with errors(), reading(db, runtime(ctx).clock) as read:
        query = SeasonQuery(top=top, window=window, exclude=exclude, btc_inside=not btc_outside, fill=not strict)
        service = read.service
        frame = service.breakdown(query, day(date), source=source)
        emit(frame, fmt, f"Breakdown, top {top}, {window} days", service.method(source, exclude, **query.parameters()))


def coins(
    ctx: typer.Context,
    source: SourceOption = None,
    kind: Annotated[
        str | None, typer.Option("--class", help="excluded, stablecoin, wrapped, liquid_staking or tokenized_asset")
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Coins of a source with their token class and the basis of that decision."""
    with errors(), reading(db, runtime(ctx).clock) as read:
        emit(read.service.coins(source, kind=kind), fmt, "Coins")
