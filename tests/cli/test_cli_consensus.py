"""``coinseason consensus`` and ``coinseason margin`` over the small hand-made market."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coinseason.cli import app
from tests.conftest import small_market_csv

runner = CliRunner()
HEADLINE = ("--top", "3", "--window", "2")


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.duckdb")
    invoke("import", str(small_market_csv(tmp_path / "market.csv")), "--format", "tidy", "--db", path)
    return path


def test_consensus_one_day_json(db: str) -> None:
    body = json.loads(invoke("consensus", *HEADLINE, "--format", "json", "--db", db))
    assert body["date"] == "2024-01-10" and body["value"] == 50.0 and body["n_valued"] == 0
    assert len(body["variants"]) == 64 and "64 variants" in body["method"]["grid"]
    assert body["cap_weighted_season"] == "altcoin"


def test_consensus_range_csv(db: str) -> None:
    text = invoke("consensus", *HEADLINE, "--from", "2024-01-03", "--to", "2024-01-05", "--format", "csv", "--db", db)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["date"] for r in rows] == ["2024-01-03", "2024-01-04", "2024-01-05"]
    assert rows[0]["value"] == "50.0" and rows[0]["n_valued"] == "0"


def test_margin_table_names_the_close_coins(db: str) -> None:
    text = invoke("margin", *HEADLINE, "--band", "25", "--db", db)
    assert "to_altcoin" in text and "next_season" in text and "altcoin" in text
    assert "slow" in text and "fast" in text and "within 25 percentage points" in text


def test_margin_json_and_history(db: str) -> None:
    body = json.loads(invoke("margin", *HEADLINE, "--format", "json", "--db", db))
    assert body["margin"] == 1 and body["close"] == [] and body["band_pct"] == 5.0
    rows = list(
        csv.DictReader(io.StringIO(invoke("margin", *HEADLINE, "--from", "2024-01-09", "--format", "csv", "--db", db)))
    )
    assert [(r["date"], r["margin"]) for r in rows] == [("2024-01-09", "1"), ("2024-01-10", "1")]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("margin", "--band", "0"), "--band"),
        (("consensus", "--date", "2024-01-05", "--from", "2024-01-02"), "not both"),
        (("consensus", "--from", "2024-01-05", "--to", "2024-01-02"), "after"),
        (("consensus", "--date", "2030-01-01"), "outside the data"),
    ],
)
def test_wrong_input_is_one_line_and_exit_2(db: str, args: tuple[str, ...], named: str) -> None:
    result = runner.invoke(app, [*args, *HEADLINE, "--db", db])
    assert result.exit_code == 2, result.output
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1
