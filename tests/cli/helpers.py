"""A small store for the command-line tests: the hand-made market of tests/conftest.py, imported through the CLI."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from coinseason.cli import app
from tests.conftest import small_market_csv

runner = CliRunner()


def small_store(tmp_path: Path) -> str:
    """A DuckDB store holding the small market (2024-01-01 to 2024-01-10, source ``custom``)."""
    path = str(tmp_path / "cli.duckdb")
    result = runner.invoke(
        app, ["import", str(small_market_csv(tmp_path / "market.csv")), "--format", "tidy", "--db", path]
    )
    assert result.exit_code == 0, result.output
    return path
