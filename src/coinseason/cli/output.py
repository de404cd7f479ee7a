"""What the commands print with: the two consoles, a frame as a table, CSV or JSON (strict: a value that is not a
finite number is ``null``, never ``NaN`` or ``Infinity``), and any :class:`~coinseason.errors.CoinseasonError` as
one line on stderr and exit code 2."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import polars as pl
import typer
from rich.console import Console

from coinseason.cli.options import OutputFormat
from coinseason.cli.tables import columns_of, print_table
from coinseason.errors import CoinseasonError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@contextmanager
def steps(what: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time on stderr (only on a terminal) for work that takes more than a moment;
    the function given names the step under way."""
    if not err.is_terminal:  # nothing to animate: say nothing
        yield lambda _name: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task(what, total=None)
        yield lambda name: bar.update(task, description=f"{what}: {name}")


@contextmanager
def errors() -> Iterator[None]:
    """Any :class:`CoinseasonError` inside becomes one red line on stderr and exit code 2."""
    try:
        yield
    except CoinseasonError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None


def emit(
    frame: pl.DataFrame,
    fmt: OutputFormat,
    title: str | None = None,
    method: dict[str, object] | None = None,
    units: Mapping[str, str | None] | None = None,
) -> None:
    """CSV (columns as they are), JSON (``{"method": ..., "values": [...]}``) or a table with the method below: a
    table never cuts a value and shows each with its unit (``units`` by column, else by the column's name; see
    :mod:`coinseason.cli.tables`)."""
    if fmt is OutputFormat.CSV:
        sys.stdout.write(frame.write_csv())
    elif fmt is OutputFormat.JSON:
        payload: object = frame.to_dicts() if method is None else {"method": method, "values": frame.to_dicts()}
        sys.stdout.write(json_text(payload) + "\n")
    else:
        numeric = [frame[name].dtype.is_numeric() for name in frame.columns]
        print_table(out, columns_of(frame.columns, frame.rows(), numeric, units or {}), title)
        if method:
            out.print("method: " + ", ".join(f"{k}={v}" for k, v in method.items()), style="dim", highlight=False)


def json_text(payload: object) -> str:
    """``payload`` as strict JSON: NaN and infinities become ``null`` (JSON has no such numbers), anything else
    not JSON-native its ``str``."""
    return json.dumps(_finite(payload), default=str, allow_nan=False)


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
