"""What the commands take from their caller: the clock, through typer's context object, never a module attribute."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from coinseason.cli import Runtime, app
from coinseason.clock import utc_now
from coinseason.services.keys import KeyService
from coinseason.store import DuckDBStore

runner = CliRunner()
CREATED = dt.datetime(2024, 3, 1, 9, 30, 15, tzinfo=dt.UTC)
REVOKED = dt.datetime(2024, 3, 2, 18, 0, 5, tzinfo=dt.UTC)


def test_a_command_group_reads_the_clock_it_is_given(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.duckdb")
    made = runner.invoke(app, ["keys", "create", "--name", "ci", "--db", db], obj=Runtime(clock=lambda: CREATED))
    assert made.exit_code == 0, made.output
    prefix = made.stdout.strip()[3:11]
    revoked = runner.invoke(app, ["keys", "revoke", prefix, "--db", db], obj=Runtime(clock=lambda: REVOKED))
    assert revoked.exit_code == 0, revoked.output
    listed = runner.invoke(app, ["keys", "list", "--db", db], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "2024-03-01 09:30:15 UTC" in listed.stdout and "2024-03-02 18:00:05 UTC" in listed.stdout


def test_without_a_runtime_the_commands_read_the_real_clock(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.duckdb")
    before = utc_now()
    made = runner.invoke(app, ["keys", "create", "--name", "real", "--db", db])
    after = utc_now()
    assert made.exit_code == 0, made.output
    store = DuckDBStore(db)
    try:
        (record,) = KeyService(store, clock=utc_now).list()
    finally:
        store.close()
    assert before <= record.created_at <= after


def test_the_default_runtime_is_the_real_clock() -> None:
    assert Runtime().clock is utc_now
