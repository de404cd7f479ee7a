"""The options several commands share, as ``Annotated`` types, and the conversions of their values."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import typer

from coinseason.core import resample
from coinseason.vocab import MAX_TOP, MAX_WINDOW, Interval


class OutputFormat(StrEnum):
    """How a command prints a frame (see :func:`coinseason.cli.output.emit`)."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


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
TopOption = Annotated[int, typer.Option("--top", min=1, max=MAX_TOP, help=f"Universe size N (1-{MAX_TOP})")]
WindowOption = Annotated[
    int, typer.Option("--window", min=1, max=MAX_WINDOW, help=f"Return window W in days (1-{MAX_WINDOW})")
]
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
IntervalOption = Annotated[Interval, typer.Option("--interval")]
AltcoinAtOption = Annotated[float, typer.Option("--altcoin-at", help="Altcoin season threshold")]
BitcoinAtOption = Annotated[float, typer.Option("--bitcoin-at", help="Bitcoin season threshold")]
FeeBpsOption = Annotated[float, typer.Option("--fee-bps", help="Fee per trade, basis points")]
SpreadBpsOption = Annotated[float, typer.Option("--spread-bps", help="Bid-ask spread, basis points")]
ImpactOption = Annotated[float, typer.Option("--impact", help="Square-root impact coefficient")]

_INTERVALS: dict[Interval, resample.Interval] = {Interval.DAY: "day", Interval.WEEK: "week", Interval.MONTH: "month"}


def day(value: dt.datetime | None) -> dt.date | None:
    """The day of a ``--from``/``--to``/``--date`` option (typer parses them as datetimes)."""
    return value.date() if value is not None else None


def resample_interval(value: Interval) -> resample.Interval:
    """The ``--interval`` as the services spell it."""
    return _INTERVALS[value]
