"""The ``coinseason live`` command reading a local replay server (the live feed inside ``coinseason serve`` is
tested in test_live_job.py and tests/test_server.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coinseason.cli import app as cli_app
from coinseason.cli.runtime import Runtime
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock, small_market_csv
from tests.fakes.ws_replay import replay_in_thread
from tests.live.test_live_job import DAY_AFTER, EXPECTED_BTC_DOMINANCE, EXPECTED_VALUE, small_frame


@pytest.fixture
def market_db(tmp_path: Path) -> Path:
    path = tmp_path / "live.duckdb"
    store = DuckDBStore(path)
    try:
        ImportService(store, clock=fixed_clock).import_file(small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY)
    finally:
        store.close()
    return path


def test_live_command_prints_json_lines(market_db: Path) -> None:
    with replay_in_thread([[small_frame()] * 100], interval=0.02) as server:
        args = ["live", "--url", server.url, "--top", "3", "--window", "3", "--every", "0.1", "--seconds", "1.0"]
        result = CliRunner().invoke(
            cli_app, [*args, "--format", "json", "--db", str(market_db)], obj=Runtime(clock=lambda: DAY_AFTER)
        )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines
    assert lines[-1]["value"] == pytest.approx(EXPECTED_VALUE)
    assert lines[-1]["btc_dominance"] == pytest.approx(EXPECTED_BTC_DOMINANCE)
    assert "4 coins mapped" in result.stderr  # bitcoin, fast, slow and tether (mapped, then excluded when counting)
    assert "frames" in result.stderr and "malformed 0" in result.stderr


def test_live_command_without_the_base_day_is_one_clear_error(market_db: Path) -> None:
    result = CliRunner().invoke(cli_app, ["live", "--url", "ws://127.0.0.1:1/ws", "--db", str(market_db)])
    assert result.exit_code == 2
    assert "needs daily prices of" in result.stderr
    assert "import newer data" in result.stderr
