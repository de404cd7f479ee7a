"""``coinseason serve`` up to the hand-over: one validated Settings, the import, the banner, the refusals. The server
itself is replaced through the Runtime; real ``coinseason serve`` processes are tested in tests/api."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coinseason.cli import Runtime, app
from coinseason.settings import Settings
from tests.conftest import fixed_clock, small_market_csv

runner = CliRunner()


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """``serve`` configures logging onto the runner's stderr: put the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def serve(args: list[str], launched: list[Settings], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(
        app, ["serve", *args], obj=Runtime(clock=fixed_clock, run_server=launched.append), env=env or {}
    )
    return result.exit_code, result.stdout, result.stderr


def test_serve_imports_then_hands_one_validated_settings_to_the_server(tmp_path: Path) -> None:
    db = str(tmp_path / "served.duckdb")
    csv = str(small_market_csv(tmp_path / "m.csv"))
    launched: list[Settings] = []
    args = ["--host", "127.0.0.2", "--port", "9001", "--db", db, "--import", csv, "--format", "tidy", "--no-ingest"]
    code, stdout, stderr = serve(args, launched, env={"COINSEASON_INGEST_PROVIDER": "cmc", "COLUMNS": "200"})
    assert code == 0, stderr
    assert "40 rows read" in stdout and "40 added" in stdout
    assert f"coinseason serving http://127.0.0.2:9001 (docs at /docs) · store {db} · custom to 2024-01-10" in stderr
    (settings,) = launched
    assert (settings.api.host, settings.api.port, settings.db, settings.api.workers) == ("127.0.0.2", 9001, db, 1)
    assert settings.ingest.run is False and settings.live.run is False
    assert settings.ingest.provider == "cmc"  # the environment and the flags make one Settings


def test_serve_on_an_empty_store_says_so(tmp_path: Path) -> None:
    launched: list[Settings] = []
    code, _, stderr = serve(["--db", str(tmp_path / "empty.duckdb")], launched, env={"COLUMNS": "200"})
    assert code == 0, stderr
    assert "the store is empty, no data yet: import a file: `coinseason import PATH --format F`" in stderr
    assert "or configure a provider: `COINSEASON_INGEST_PROVIDER=coingecko`" in stderr and len(launched) == 1


def test_serve_on_an_empty_store_with_a_provider_says_it_backfills(tmp_path: Path) -> None:
    launched: list[Settings] = []
    env = {"COLUMNS": "400", "COINSEASON_INGEST_PROVIDER": "coingecko"}
    code, _, stderr = serve(["--db", str(tmp_path / "empty.duckdb")], launched, env=env)
    assert code == 0, stderr
    assert "no data yet: backfilling from coingecko in the background (progress in /readyz" in stderr
    assert "the store is empty" not in stderr and len(launched) == 1


def test_several_workers_on_duckdb_are_refused_before_anything_starts(tmp_path: Path) -> None:
    db = tmp_path / "one-writer.duckdb"
    launched: list[Settings] = []
    code, _, stderr = serve(["--workers", "2", "--db", str(db)], launched)
    assert code == 2
    assert " ".join(stderr.split()).startswith("error: several workers need a PostgreSQL store")
    assert launched == [] and not db.exists()


def test_an_unknown_log_level_is_one_line_and_nothing_starts(tmp_path: Path) -> None:
    launched: list[Settings] = []
    code, _, stderr = serve(["--db", str(tmp_path / "x.duckdb")], launched, env={"COINSEASON_LOG_LEVEL": "LOUD"})
    assert code == 2
    assert "error:" in stderr and "log level 'LOUD'" in stderr and "Traceback" not in stderr
    assert launched == []
