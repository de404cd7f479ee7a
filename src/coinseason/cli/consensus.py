"""``coinseason consensus`` and ``coinseason margin``: how sure the season call is, for one day or per day."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coinseason.cli.options import (
    DbOption,
    ExcludeOption,
    FormatOption,
    FromOption,
    OutputFormat,
    SourceOption,
    ToOption,
    TopOption,
    WindowOption,
    day,
)
from coinseason.cli.output import emit, errors
from coinseason.cli.runtime import open_db
from coinseason.errors import ConfigError
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW

if TYPE_CHECKING:
    import polars as pl

DateOption = Annotated[
    dt.datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="One day (UTC) [default: the last day]")
]
HeadlineBtcOutside = Annotated[
    bool, typer.Option("--btc-outside", help="The headline variant leaves BTC outside the N places")
]
BandOption = Annotated[
    float,
    typer.Option("--band", help="Close coins: W-day return within this many percentage points of BTC's [default: 5]"),
]
VariantsOption = Annotated[bool, typer.Option("--variants", help="List every variant of the grid (one day only)")]


def _one_day(date: dt.datetime | None, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    """One day unless a range is asked for; both is a mistake."""
    if date is not None and (start is not None or end is not None):
        raise ConfigError("give --date for one day or --from/--to for a range, not both")
    if start is not None and end is not None and start > end:
        raise ConfigError(f"--from ({start.date()}) is after --to ({end.date()})")
    return start is None and end is None


def _fields(row: dict[str, Any]) -> pl.DataFrame:
    """A one-day answer as a two-column table (every field readable without truncation)."""
    import polars as pl

    return pl.DataFrame({"field": list(row), "value": [_text(v) for v in row.values()]})


def _text(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


def consensus(
    date: DateOption = None,
    start: FromOption = None,
    end: ToOption = None,
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    exclude: ExcludeOption = "default",
    btc_outside: HeadlineBtcOutside = False,
    variants: VariantsOption = False,
    source: SourceOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Consensus across 64 definitions (N 20/50/100/200 × W 30/60/90/180 days × BTC inside or not × default or no
    exclusions): the share in each season, the median and 10–90 % band, whether the headline variant (--top,
    --window) agrees with the majority, and the cap-weighted index. One day, or per day with --from/--to."""
    from coinseason.services.analytics import AnalyticsService, SeasonQuery
    from coinseason.services.consensus import GRID_METHOD, ConsensusService

    with errors(), open_db(db) as store:
        one = _one_day(date, start, end)
        query = SeasonQuery(top=top, window=window, exclude=exclude, btc_inside=not btc_outside)
        analytics = AnalyticsService(store)
        service = ConsensusService(analytics)
        method = {**analytics.method(source, exclude, **query.parameters()), "grid": GRID_METHOD}
        title = f"Consensus, headline top {top}, {window} days"
        if not one:
            emit(service.history(query, source=source, start=day(start), end=day(end)), fmt, title, method)
            return
        found = service.day(query, day(date), source=source)
        grid = found.pop("variants")
        if fmt is OutputFormat.JSON:
            emit_json({**found, "variants": grid, "method": method})
            return
        if variants:
            import polars as pl

            emit(pl.DataFrame(grid), fmt, f"Variants on {found['date']}", method)
            return
        emit(_fields(found), fmt, f"{title}, {found['date']}", method)


def margin(
    date: DateOption = None,
    start: FromOption = None,
    end: ToOption = None,
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    exclude: ExcludeOption = "default",
    btc_outside: HeadlineBtcOutside = False,
    band: BandOption = 5.0,
    source: SourceOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """How many coins would have to change sides for the season to change, and the coins whose W-day return is
    within --band percentage points of BTC's (they decide close calls). One day, or per day with --from/--to."""
    from coinseason.services.analytics import AnalyticsService, SeasonQuery
    from coinseason.services.consensus import MARGIN_METHOD, ConsensusService

    with errors(), open_db(db) as store:
        one = _one_day(date, start, end)
        query = SeasonQuery(top=top, window=window, exclude=exclude, btc_inside=not btc_outside)
        analytics = AnalyticsService(store)
        service = ConsensusService(analytics)
        method = {**analytics.method(source, exclude, **query.parameters()), "band_pct": band, "margin": MARGIN_METHOD}
        title = f"Margin, top {top}, {window} days"
        if not one:
            frame = service.margin_history(query, band_pct=band, source=source, start=day(start), end=day(end))
            emit(frame, fmt, title, method)
            return
        row, close = service.margin_day(query, day(date), band_pct=band, source=source)
        if fmt is OutputFormat.JSON:
            emit_json({**row, "band_pct": band, "close": close.to_dicts(), "method": method})
            return
        if fmt is OutputFormat.CSV:
            emit(close, fmt)
            return
        emit(_fields(row), fmt, f"{title}, {row['date']}")
        emit(close, fmt, f"Coins within {band:g} percentage points of BTC's return", method)


def emit_json(payload: dict[str, Any]) -> None:
    import sys

    from coinseason.cli.output import json_text

    sys.stdout.write(json_text(payload) + "\n")


def register(app: typer.Typer) -> None:
    """Add ``consensus`` and ``margin`` to the root command."""
    app.command("consensus")(consensus)
    app.command("margin")(margin)
