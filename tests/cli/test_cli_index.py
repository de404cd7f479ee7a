"""The command line over a small hand-made market (import, index, seasons, breakdown, coins), and the main job on
real data."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coinseason.cli import app
from tests.conftest import COINGECKO_DAILY, shared_file, small_market_csv

runner = CliRunner()


def market_csv(tmp_path: Path) -> Path:
    return small_market_csv(tmp_path / "market.csv")


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.duckdb")
    invoke("import", str(market_csv(tmp_path)), "--format", "tidy", "--db", path)
    return path


def test_import_prints_counts(tmp_path: Path) -> None:
    path = str(tmp_path / "x.duckdb")
    text = invoke("import", str(market_csv(tmp_path)), "--format", "tidy", "--db", path)
    assert "40 rows read" in text and "40 added" in text and "0 rejected" in text
    again = invoke("import", str(market_csv(tmp_path)), "--format", "tidy", "--db", path)
    assert "0 added" in again and "40 unchanged" in again


def test_altseason_csv(db: str) -> None:
    text = invoke("index", "altseason", "--top", "3", "--window", "2", "--format", "csv", "--db", db)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[:2] == ["date", "value"]
    # top 3 with BTC inside and tether excluded = BTC, fast, slow; fast beats BTC, slow does not -> 50
    assert [r["value"] for r in rows[2:]] == ["50.0"] * 8
    assert rows[0]["value"] == "" and rows[2]["n_eligible"] == "2" and rows[2]["season"] == "neutral"


def test_altseason_without_exclusions_and_json(db: str) -> None:
    text = invoke(
        "index",
        "altseason",
        "--top",
        "3",
        "--window",
        "2",
        "--exclude",
        "none",
        "--format",
        "json",
        "--from",
        "2024-01-05",
        "--to",
        "2024-01-06",
        "--db",
        db,
    )
    payload = json.loads(text)
    # top 3 now BTC, tether, fast: fast beats, tether does not -> 50; dates limited to the range
    assert [(r["date"], r["value"]) for r in payload["values"]] == [("2024-01-05", 50.0), ("2024-01-06", 50.0)]
    method = payload["method"]
    assert (method["top"], method["window"], method["exclusion"], method["n_excluded"]) == (3, 2, "none", 0)
    assert method["source"] == "custom" and method["gap_days"] == 3


def test_dominance_csv(db: str) -> None:
    text = invoke("index", "dominance", "--exclude", "none", "--format", "csv", "--db", db)
    first = next(csv.DictReader(io.StringIO(text)))
    assert list(first)[:2] == ["date", "value"]
    total = 1e9 + 1e8 + 5e7 + 9e8
    assert float(first["value"]) == pytest.approx(100 * 1e9 / total)
    assert float(first["stablecoin_dominance"]) == pytest.approx(100 * 9e8 / total)
    top2 = next(
        csv.DictReader(
            io.StringIO(
                invoke("index", "dominance", "--universe", "top:2", "--exclude", "none", "--format", "csv", "--db", db)
            )
        )
    )
    assert float(top2["value"]) == pytest.approx(100 * 1e9 / 1.9e9)


def test_breakdown_and_seasons(db: str) -> None:
    rows = json.loads(
        invoke("breakdown", "--date", "2024-01-10", "--top", "3", "--window", "2", "--format", "json", "--db", db)
    )["values"]
    assert [(r["coin_id"], r["beats_btc"]) for r in rows] == [("bitcoin", False), ("fast", True), ("slow", False)]
    assert rows[1]["coin_return_pct"] == pytest.approx(44.0)
    assert rows[1]["btc_return_pct"] == pytest.approx(21.0)
    periods = json.loads(invoke("seasons", "--top", "2", "--window", "2", "--format", "json", "--db", db))["values"]
    assert [(p["season"], p["start"], p["end"], p["days"]) for p in periods] == [
        ("altcoin", "2024-01-03", "2024-01-10", 8)
    ]


def test_exclusion_file_adds_and_removes_coins(tmp_path: Path, db: str) -> None:
    rules = tmp_path / "mine.toml"
    # keep tether in (remove it from the exclusions) and exclude "fast" as if it were a stablecoin
    rules.write_text('classes = ["stablecoin"]\n[add]\n"fast" = "stablecoin"\n[remove]\nids = ["tether"]\n')
    payload = json.loads(
        invoke(
            "index",
            "altseason",
            "--top",
            "3",
            "--window",
            "2",
            "--exclude",
            str(rules),
            "--format",
            "json",
            "--from",
            "2024-01-05",
            "--to",
            "2024-01-05",
            "--db",
            db,
        )
    )
    # universe: BTC, tether, slow; neither beats BTC -> 0
    assert payload["values"][0]["value"] == 0.0
    assert payload["method"]["exclusion"] == str(rules) and payload["method"]["n_excluded"] == 1
    bad = tmp_path / "bad.toml"
    bad.write_text('classes = ["stable"]\n')
    result = runner.invoke(app, ["index", "altseason", "--exclude", str(bad), "--db", db])
    assert result.exit_code == 2 and "bad.toml" in result.output and "stable" in result.output


def test_coins_lists_classes_with_their_basis(db: str) -> None:
    rows = json.loads(invoke("coins", "--class", "excluded", "--format", "json", "--db", db))
    assert [(r["coin_id"], r["token_class"], r["class_source"]) for r in rows] == [("tether", "stablecoin", "curated")]
    assert "curated" in rows[0]["class_basis"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "altseason", "--top", "0"], "top must be between 1 and 500"),
        (["index", "altseason", "--window", "1000"], "window must be between 1 and 730"),
        (["index", "dominance", "--universe", "top125"], "--universe takes all or top:N"),
        (["index", "altseason", "--source", "nope"], "no source 'nope'"),
        (["index", "altseason", "--exclude", "missing.toml"], "--exclude takes default, none or an exclusion file"),
        (["breakdown", "--date", "2023-01-01"], "outside the data"),
    ],
)
def test_errors_are_one_clear_line(db: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--db", db])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_empty_store_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["index", "altseason", "--db", str(tmp_path / "empty.duckdb")])
    assert result.exit_code == 2 and "the store is empty" in result.output


def test_db_from_environment(tmp_path: Path, db: str) -> None:
    result = runner.invoke(app, ["index", "dominance", "--format", "csv"], env={"COINSEASON_DB": db})
    assert result.exit_code == 0 and result.stdout.startswith("date,value")


@pytest.mark.slow
def test_main_job_on_real_data(tmp_path: Path) -> None:
    data = shared_file(COINGECKO_DAILY)
    env = {**os.environ, "COINSEASON_DB": str(tmp_path / "main.duckdb")}
    done = subprocess.run(
        [sys.executable, "-m", "coinseason", "run", str(data), "--format", "coingecko-daily"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "2,498,723 rows read" in done.stdout
    assert "On 2025-07-19: Altcoin Season Index (top 50, 90 d)" in done.stdout
    assert "By year" in done.stdout


def test_help_states_the_limits_of_top_and_window() -> None:
    text = runner.invoke(app, ["index", "altseason", "--help"], env={"COLUMNS": "200"}).stdout
    assert "Universe size N (1-500)" in text and "Return window W in days (1-730)" in text
