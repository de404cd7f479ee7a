"""Tables at 80 and 120 columns never cut a number or a date, and every figure carries its unit."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from rich.console import Console

from coinseason.cli import app
from coinseason.cli.tables import Column, cell, columns_of, print_table
from coinseason.cli.trading import metric_cell
from tests.cli.helpers import runner, small_store

DOMINANCE = ["date", "value", "eth_dominance", "stablecoin_dominance", "total", "total2", "total3", "n_coins"]


def dominance_rows(n: int) -> list[list[object]]:
    start = dt.date(2025, 7, 19) - dt.timedelta(days=n - 1)
    return [
        [start + dt.timedelta(days=i), 64.13 + i / 100, 11.69, 4.25, 3.66e12 + i * 1e9, 1.31e12, 885.28e9, 2578 + i]
        for i in range(n)
    ]


def render(columns: list[Column], width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    print_table(console, columns, "Dominance")
    text = console.file.getvalue()  # type: ignore[attr-defined]  # a StringIO, given above
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("n_rows", [1, 5, 40])
def test_no_value_is_cut_and_no_line_is_wider_than_the_terminal(width: int, n_rows: int) -> None:
    rows = dominance_rows(n_rows)
    columns = columns_of(DOMINANCE, rows, [False, *[True] * 7], {"value": "%"})
    text = render(columns, width)
    assert "…" not in text
    assert all(len(line) <= width for line in text.splitlines() if not line.startswith("("))
    lines = text.splitlines()
    note = lines[-1] if lines[-1].startswith("(") else ""
    for column in columns:
        if column.name in note:  # left out, and said so
            continue
        for value in column.cells:
            assert value in text, (column.name, value)
    left_out = note.split(": ", 1)[-1].split(";")[0].split(", ") if note else []
    assert "date" not in left_out and "value" not in left_out  # the first columns are always kept


def test_a_long_table_too_wide_keeps_the_columns_that_fit_and_names_the_others() -> None:
    rows = dominance_rows(40)
    text = render(columns_of(DOMINANCE, rows, [False, *[True] * 7], {"value": "%"}), 60)
    note = text.splitlines()[-1]
    assert note.startswith("(") and "left out to fit 60 characters" in note and "--format csv or json" in note
    assert "n_coins" in note and "2025-07-19" in text


def test_a_short_table_too_wide_is_shown_on_its_side() -> None:
    text = render(columns_of(DOMINANCE, dominance_rows(2), [False, *[True] * 7], {"value": "%"}), 50)
    lines = text.splitlines()
    assert lines[1].startswith("date") and lines[1].split()[1:] == ["2025-07-18", "2025-07-19"]  # rows head columns
    assert any(line.startswith("total3") and "885.28 B USD" in line for line in lines)
    assert "left out" not in text


def test_headers_wrap_at_underscores_rather_than_widen_columns() -> None:
    columns = [Column("n_outperforming", ["22"], True), Column("bitcoin_season_index", ["55.10"], True)]
    text = render(columns, 80)
    assert "outperforming" in text and "bitcoin_" in text and "season_" in text and "index" in text


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (64.125, "%", "64.12 %"),  # binary 64.125 is exact: round-half-even gives .12
        (3.66e12, "USD", "3.66 T USD"),
        (885.28e9, "USD", "885.28 B USD"),
        (12_500.0, "USD", "12,500.00 USD"),
        (246, "days", "246 days"),
        (2578, "count", "2,578"),
        (None, "%", "–"),
        (float("nan"), None, "–"),
        (dt.date(2025, 7, 19), None, "2025-07-19"),
        (True, None, "yes"),
    ],
)
def test_cells_carry_their_unit(value: object, unit: str | None, shown: str) -> None:
    assert cell(value, unit) == shown


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        # the figures: a total return of 802.61 is +80,261 % of the start, 803.61 times its equity
        ("total_return", 802.61, "+80,261.00 % (803.61×)"),
        ("costs", 3.18, "318.00 %"),
        ("trades", 345.0, "345"),
        ("max_drawdown", -0.4462, "-44.62 %"),
        ("max_drawdown_days", 246.0, "246 days"),
        ("turnover", 13.62, "13.62× a year"),
        ("sharpe", 1.114, "1.11"),
        ("cagr", float("nan"), "–"),
    ],
)
def test_backtest_metrics_carry_their_unit(name: str, value: float, shown: str) -> None:
    assert metric_cell(name, value) == shown


def test_backtest_table_through_the_command(tmp_path: Path) -> None:
    db = small_store(tmp_path)
    args = ["backtest", "--top", "3", "--window", "2", "--min-volume", "0", "--db", db]
    result = runner.invoke(app, args, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    total = next(line for line in result.stdout.splitlines() if line.startswith("total_return"))
    assert "%" in total and "×" in total
    trades = next(line for line in result.stdout.splitlines() if line.startswith("trades"))
    assert ".00" not in trades
