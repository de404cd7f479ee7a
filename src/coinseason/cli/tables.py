"""Tables for the terminal that never cut a number or a date, with the unit of every figure.

Each column is as wide as its widest value (a long header wraps at its underscores instead). A table wider than
the terminal is turned on its side when it has few rows (one row per column, one column per row, in blocks that
fit), else it keeps the columns that fit, from the left, and says which it left out and how to see them. Values
carry their unit: ``%``, ``×``, ``USD`` (large sums as ``B``/``T``), ``days``.

Rows are laid out as plain aligned text (one styled line each), which prints a year of daily rows in a few
milliseconds where a boxed table measures and renders every cell.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

GAP = "  "
TRANSPOSE_MAX_ROWS = 12
"""A table of at most this many rows that does not fit is shown on its side rather than losing columns."""

PERCENT, MULTIPLE, USD, DAYS, COUNT, BPS = "%", "×", "USD", "days", "count", "bps"
FRACTION = "fraction"
"""Shown as a percentage: a value of 0.25 is ``25.00 %``."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    cells: list[str]
    numeric: bool


def column_unit(name: str) -> str | None:
    """The unit of a column, by the names coinseason gives its columns."""
    if name.endswith(("_pct", "_percent")) or "dominance" in name or name in ("share", "weight", "target_weight"):
        return PERCENT
    if name in ("total", "total2", "total3", "market_cap", "volume") or name.endswith(("_usd", "_cap")):
        return USD
    if name in ("days", "length") or name.endswith("_days"):
        return DAYS
    if name.endswith("_bps"):
        return BPS
    if name.startswith("n_") or name in ("rank", "trades", "coins", "rows"):
        return COUNT
    return None


def cell(value: object, unit: str | None = None) -> str:
    """One value as shown: ``–`` for nothing, thousands separators, and its unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, int | float) and unit == COUNT:
        return f"{value:,.0f}"
    if isinstance(value, int | float) and unit == DAYS:
        return f"{value:,.0f} day{'' if value == 1 else 's'}"
    if isinstance(value, int | float) and unit == FRACTION:
        return f"{value * 100:,.2f} %"
    if isinstance(value, int | float) and unit == BPS:
        return f"{value:,.2f} bps"
    if isinstance(value, int | float) and unit == USD:
        return _usd(float(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
        return f"{text} %" if unit == PERCENT else f"{text}×" if unit == MULTIPLE else text
    if isinstance(value, int):
        return f"{value:,}" + (" %" if unit == PERCENT else "")
    return str(value)


def _usd(value: float) -> str:
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(value) >= size:
            return f"{value / size:,.2f} {suffix} USD"
    return f"{value:,.2f} USD"


def columns_of(
    names: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[bool], units: Mapping[str, str | None]
) -> list[Column]:
    """The columns of ``rows`` as text, each value with its unit (``units`` first, else :func:`column_unit`)."""
    found = []
    for j, name in enumerate(names):
        unit = units[name] if name in units else column_unit(name)
        found.append(Column(name, [cell(row[j], unit) for row in rows], numeric[j]))
    return found


def print_table(
    console: Console, columns: list[Column], title: str | None = None, *, every: str = "--format csv or json"
) -> None:
    """``columns`` laid out to fit ``console.width`` without cutting a value (see the module's notes)."""
    width = console.width
    if title:
        console.print(Text(title, style="bold"), soft_wrap=True)
    if not columns:
        return
    n_rows = len(columns[0].cells)
    if _width(columns) <= width or n_rows == 0:
        _print_columns(console, columns)
        return
    if n_rows <= TRANSPOSE_MAX_ROWS:
        _print_sideways(console, columns, width)
        return
    kept = [columns[0]]
    for column in columns[1:]:
        if _width([*kept, column]) > width:
            break
        kept.append(column)
    left_out = [c.name for c in columns[len(kept) :]]
    _print_columns(console, kept)
    console.print(
        Text(
            f"({len(left_out)} column{'s' if len(left_out) > 1 else ''} left out to fit {width} characters:"
            f" {', '.join(left_out)}; {every} shows every column)",
            style="dim",
        ),
        soft_wrap=True,
    )


def _header_lines(name: str, width: int) -> list[str]:
    """``name`` wrapped at its underscores (each piece keeps its ``_``) to ``width``."""
    words = name.split("_")
    pieces = [w + "_" for w in words[:-1]] + [words[-1]]
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + len(piece) <= width:
            lines[-1] += piece
        else:
            lines.append(piece)
    return lines


def _col_width(column: Column) -> int:
    longest_piece = max(len(p) + 1 for p in column.name.split("_"))
    return max([min(len(column.name), longest_piece), *(len(c) for c in column.cells)])


def _width(columns: Sequence[Column]) -> int:
    return sum(_col_width(c) for c in columns) + len(GAP) * (len(columns) - 1)


def _print_columns(console: Console, columns: Sequence[Column]) -> None:
    widths = [_col_width(c) for c in columns]
    headers = [_header_lines(c.name, w) for c, w in zip(columns, widths, strict=True)]
    depth = max(len(h) for h in headers)
    text = Text()
    for line in range(depth):
        parts = []
        for column, head, w in zip(columns, headers, widths, strict=True):
            piece = head[line - (depth - len(head))] if line >= depth - len(head) else ""  # bottom-aligned
            parts.append(piece.rjust(w) if column.numeric else piece.ljust(w))
        text.append(GAP.join(parts).rstrip() + "\n", style="bold")
    text.append(GAP.join("─" * w for w in widths) + "\n", style="dim")
    for i in range(len(columns[0].cells)):
        parts = [
            c.cells[i].rjust(w) if c.numeric else c.cells[i].ljust(w) for c, w in zip(columns, widths, strict=True)
        ]
        text.append(GAP.join(parts).rstrip() + "\n")
    console.print(text, end="", soft_wrap=True, highlight=False)


def _print_sideways(console: Console, columns: Sequence[Column], width: int) -> None:
    """One line per column, one column per row headed by the row's first value (its date, its asset), in blocks
    of rows that fit ``width``."""
    first, rest = columns[0], columns[1:]
    names = Column(first.name, [c.name for c in rest], False)
    n_rows = len(first.cells)
    rows = [Column(first.cells[i], [c.cells[i] for c in rest], True) for i in range(n_rows)]
    start = 0
    while start < n_rows:
        block = [names, rows[start]]
        for row in rows[start + 1 :]:
            if _width([*block, row]) > width:
                break
            block.append(row)
        _print_columns(console, block)
        start += len(block) - 1
