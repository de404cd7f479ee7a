"""What the commands print with: the two consoles, a frame as a table, CSV or JSON, and any
:class:`~coinseason.errors.CoinseasonError` as one line on stderr and exit code 2."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from coinseason.cli.options import OutputFormat
from coinseason.errors import CoinseasonError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


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
