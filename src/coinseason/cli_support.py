"""What every ``coinseason`` command module shares: the consoles, the option types, opening the store, turning
errors into one line and exit code 2, and printing a frame as a table, CSV or JSON.

It imports no command module, so ``cli.py`` and the ``cli_*.py`` modules all import it at the top.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from coinseason.clock import utc_now as utc_now
from coinseason.core.resample import Interval
from coinseason.errors import CoinseasonError
from coinseason.settings import Settings
from coinseason.store import Store, open_store

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class IntervalOption(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="COINSEASON_DB", help="Store path or URL [default: user data dir]"),
]
SourceOption = Annotated[str | None, typer.Option("--source", help="Data source in the store (e.g. coingecko, cmc)")]
ExcludeOption = Annotated[
    str, typer.Option("--exclude", help="Exclusion set: default (every token class), none, or a TOML file")
]
FromOption = Annotated[dt.datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (UTC)")]
ToOption = Annotated[dt.datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (UTC)")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format")]
TopOption = Annotated[int, typer.Option("--top", help="Universe size N (1-500)")]
WindowOption = Annotated[int, typer.Option("--window", help="Return window W in days (1-730)")]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Leave the places of coins with less than W days of history empty"
        " (default: the next-ranked coins take them, as blockchaincenter's index does)",
    ),
]
BtcOutsideOption = Annotated[
    bool, typer.Option("--btc-outside", help="BTC does not take one of the N places (default: it does)")
]
IntervalFlag = Annotated[IntervalOption, typer.Option("--interval")]
AltcoinAtOption = Annotated[float, typer.Option("--altcoin-at", help="Altcoin season threshold")]
BitcoinAtOption = Annotated[float, typer.Option("--bitcoin-at", help="Bitcoin season threshold")]
FeeBpsOption = Annotated[float, typer.Option("--fee-bps", help="Fee per trade, basis points")]
SpreadBpsOption = Annotated[float, typer.Option("--spread-bps", help="Bid-ask spread, basis points")]
ImpactOption = Annotated[float, typer.Option("--impact", help="Square-root impact coefficient")]


def day(value: dt.datetime | None) -> dt.date | None:
    """The day of a ``--from``/``--to``/``--date`` option (typer parses them as datetimes)."""
    return value.date() if value is not None else None


def interval(value: IntervalOption) -> Interval:
    intervals: dict[IntervalOption, Interval] = {
        IntervalOption.DAY: "day",
        IntervalOption.WEEK: "week",
        IntervalOption.MONTH: "month",
    }
    return intervals[value]


@contextmanager
def open_db(db: str | None) -> Iterator[Store]:
    """The store named by ``--db`` (else the settings' default), closed on exit."""
    store = open_store(db or Settings().db)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def errors() -> Iterator[None]:
    """Any :class:`CoinseasonError` inside becomes one red line on stderr and exit code 2."""
    try:
        yield
    except CoinseasonError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None


def emit(
    frame: pl.DataFrame, fmt: OutputFormat, title: str | None = None, method: dict[str, object] | None = None
) -> None:
    """CSV (columns as they are), JSON (``{"method": ..., "values": [...]}``) or a table with the method below."""
    if fmt is OutputFormat.CSV:
        sys.stdout.write(frame.write_csv())
    elif fmt is OutputFormat.JSON:
        payload: object = frame.to_dicts() if method is None else {"method": method, "values": frame.to_dicts()}
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    else:
        table = Table(title=title, show_lines=False)
        for name in frame.columns:
            table.add_column(name, justify="right" if frame[name].dtype.is_numeric() else "left")
        for row in frame.iter_rows():
            table.add_row(*[_cell(v) for v in row])
        out.print(table)
        if method:
            out.print("method: " + ", ".join(f"{k}={v}" for k, v in method.items()), style="dim", highlight=False)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)
