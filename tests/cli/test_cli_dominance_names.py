"""``coinseason index dominance`` names what its shares are of, in the table's title and in the method."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coinseason.cli import app
from tests.conftest import small_market_csv

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.duckdb")
    invoke("import", str(small_market_csv(tmp_path / "market.csv")), "--format", "tidy", "--db", path)
    return path


def test_the_table_and_the_method_name_the_universe(db: str) -> None:
    table = invoke("index", "dominance", "--exclude", "none", "--db", db)
    assert "Dominance (%) of whole market: every coin of the source, nothing excluded" in table
    default = json.loads(invoke("index", "dominance", "--universe", "top:2", "--format", "json", "--db", db))
    assert default["method"]["dominance"] == (
        "the top 2 coins by market cap each day except stablecoins, wrapped and bridged tokens, liquid staking "
        "tokens and tokenized assets"
    )
