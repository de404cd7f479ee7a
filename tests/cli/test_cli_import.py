"""``coinseason import``: every rejection and flag counted by reason, and a file none of whose rows passes refused
with exit code 2 and nothing written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coinseason.cli import app
from coinseason.cli.runtime import Runtime
from coinseason.data import reasons
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock

runner = CliRunner()
DAY0 = dt.date(2024, 1, 1)


def market(path: Path, rows: list[tuple[str, int, str, str]]) -> Path:
    """A tidy CSV of ``(coin, day, price, market cap)`` rows, the values as written."""
    lines = ["coin_id,date,price,market_cap"]
    lines += [f"{coin},{DAY0 + dt.timedelta(days=i)},{price},{cap}" for coin, i, price, cap in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), obj=Runtime(clock=fixed_clock))
    return result.exit_code, result.output


def test_the_report_counts_each_rejection_and_flag_by_reason(tmp_path: Path) -> None:
    rows = [("bitcoin", i, "100", "1e9") for i in range(5)] + [("alt", i, "1", "1e8") for i in range(5)]
    rows[7] = ("alt", 2, "1000", "1e11")  # a one-day spike
    rows += [("bad", 0, "inf", "1e6"), ("bad", 1, "1", "1e308"), ("old", 0, "1", "1e6")]
    rows[-1] = ("old", -10_000, "1", "1e6")  # 1996
    db = str(tmp_path / "x.duckdb")
    code, text = run("import", str(market(tmp_path / "m.csv", rows)), "--format", "tidy", "--db", db)
    assert code == 0, text
    # "bad" and "old" have no row left: they are not written as coins
    assert "13 rows read, 10 added, 0 updated, 0 unchanged, 3 rejected, 1 flagged, 2 coins" in text
    assert f"rejected 1: {reasons.REASON_BAD_PRICE}" in text
    assert f"rejected 1: {reasons.REASON_MCAP_RANGE}" in text
    assert f"rejected 1: {reasons.REASON_EARLY_DATE}" in text
    assert f"flagged 1 (stored, kept out of every index): {reasons.REASON_PRICE_SPIKE}" in text
    assert "gates: K = 10 (spikes), supply jump over 5×" in text


def test_the_gates_follow_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COINSEASON_INGEST_SPIKE_FACTOR", "2000")
    rows = [("alt", i, "1000" if i == 2 else "1", "1e11" if i == 2 else "1e8") for i in range(5)]
    db = str(tmp_path / "x.duckdb")
    code, text = run("import", str(market(tmp_path / "m.csv", rows)), "--format", "tidy", "--db", db)
    assert code == 0, text
    assert "0 flagged" in text  # 1000x is no spike at K = 2000


def test_a_file_whose_every_row_is_rejected_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "x.duckdb")
    good = market(tmp_path / "good.csv", [("bitcoin", 0, "100", "1e9")])
    assert run("import", str(good), "--format", "tidy", "--db", db)[0] == 0
    bad = market(tmp_path / "bad.csv", [("bitcoin", 1, "inf", "1e9"), ("bitcoin", 2, "-5", "1e9")])
    code, text = run("import", str(bad), "--format", "tidy", "--db", db)
    assert code == 2
    assert "2 rows read, all rejected" in text
    assert f"rejected 2: {reasons.REASON_BAD_PRICE}" in text
    assert "every one of its 2 rows was rejected; nothing was imported" in text
    store = DuckDBStore(db)
    try:
        assert store.imports().height == 1  # the good file's row only: nothing that looks like a landing
        assert store.observations("custom").height == 1
    finally:
        store.close()
