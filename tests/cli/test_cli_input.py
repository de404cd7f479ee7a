"""Wrong input gets one clear line and exit code 2; a path that holds no store is refused, not created; stale data
is named on stderr with its age and how to refresh; an outlook for a past day says so."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from coinseason.cli import Runtime, app
from coinseason.cli.model import past_note
from coinseason.cli.reading import DEFAULT_STALE_HOURS, stale_warning
from coinseason.settings import ApiSettings
from tests.cli.helpers import runner, small_store

LAST_DAY = dt.date(2024, 1, 10)  # the small market's last day


@pytest.fixture
def db(tmp_path: Path) -> str:
    return small_store(tmp_path)


def fresh() -> dt.datetime:
    """Noon of the day after the last day: the data is 12 hours old."""
    return dt.datetime(2024, 1, 11, 12, tzinfo=dt.UTC)


def one_line(result_stderr: str) -> str:
    lines = result_stderr.splitlines()
    assert len(lines) == 1, result_stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["index", "altseason", "--from", "2026-01-01"],
            "--from 2026-01-01 is after the data, which runs from 2024-01-01 to 2024-01-10",
        ),
        (
            ["index", "dominance", "--to", "2023-12-31"],
            "--to 2023-12-31 is before the data, which runs from 2024-01-01",
        ),
        (["seasons", "--from", "2024-01-05", "--to", "2024-01-02"], "--from (2024-01-05) is after --to (2024-01-02)"),
        (["index", "altseason", "--from", "2024-01-05", "--to", "2024-01-02"], "--from (2024-01-05) is after --to"),
        (["backtest", "--from", "2030-01-01"], "--from 2030-01-01 is after the data"),
        (["index", "altseason", "--top", "1"], "top 1 with BTC taking one of the places leaves no altcoin"),
        (["index", "altseason", "--top", "0"], "Invalid value for '--top'"),
        (["index", "altseason", "--top", "501"], "Invalid value for '--top'"),
        (["breakdown", "--date", "2026-01-01"], "2026-01-01 is outside the data (2024-01-01 to 2024-01-10)"),
    ],
)
def test_wrong_input_is_one_line_and_exit_2(db: str, args: list[str], says: str) -> None:
    result = runner.invoke(app, [*args, "--db", db], obj=Runtime(clock=fresh))
    assert result.exit_code == 2
    assert says in one_line(result.stderr)
    assert result.stdout == ""


def test_top_1_is_fine_with_btc_outside(db: str) -> None:
    result = runner.invoke(
        app, ["index", "altseason", "--top", "1", "--btc-outside", "--window", "2", "--format", "csv", "--db", db],
        obj=Runtime(clock=fresh),
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["index", "altseason"],
        ["index", "dominance"],
        ["seasons"],
        ["breakdown"],
        ["coins"],
        ["backtest"],
        ["risk"],
        ["outlook"],
        ["model", "train"],
        ["run"],
    ],
)
def test_a_path_that_holds_no_store_is_refused_not_created(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "typo.duckdb"
    result = runner.invoke(app, [*args, "--db", str(missing)])
    assert result.exit_code == 2
    assert f"no store at {missing}" in one_line(result.stderr)
    assert not missing.exists() and not list(tmp_path.iterdir())


def test_stale_data_is_named_on_stderr_once(db: str) -> None:
    late = dt.datetime(2025, 7, 1, 8, tzinfo=dt.UTC)  # 538 days after 2024-01-10
    result = runner.invoke(app, ["index", "altseason", "--format", "csv", "--db", db], obj=Runtime(clock=lambda: late))
    assert result.exit_code == 0
    line = one_line(result.stderr)
    assert line.startswith("warning: the data of custom ends on 2024-01-10, 538 days ago (stale after 36 h)")
    assert "coinseason import" in line and "coinseason ingest backfill" in line
    assert result.stdout.startswith("date,value")  # the answer itself is unchanged


@pytest.mark.parametrize("args", [["breakdown"], ["seasons"], ["index", "dominance"]])
def test_fresh_data_gets_no_warning(db: str, args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--format", "csv", "--db", db], obj=Runtime(clock=fresh))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_the_stale_limit_is_the_setting(db: str) -> None:
    late = dt.datetime(2024, 1, 14, tzinfo=dt.UTC)  # 72 hours after the last day ended, 4 days after it
    args = ["seasons", "--format", "csv", "--db", db]
    warned = runner.invoke(app, args, obj=Runtime(clock=lambda: late))
    assert "4 days ago (stale after 36 h)" in warned.stderr
    allowed = runner.invoke(app, args, obj=Runtime(clock=lambda: late), env={"COINSEASON_STALE_AFTER_HOURS": "72"})
    assert allowed.exit_code == 0 and allowed.stderr == ""


def test_the_cli_default_stale_limit_is_the_settings_default() -> None:
    assert DEFAULT_STALE_HOURS == ApiSettings.model_fields["stale_after_hours"].default


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (dt.datetime(2024, 1, 11, 11, 59, tzinfo=dt.UTC), None),  # 11:59 after the day ended
        (dt.datetime(2024, 1, 12, 12, 0, tzinfo=dt.UTC), None),  # exactly 36 h
        (dt.datetime(2024, 1, 12, 12, 1, tzinfo=dt.UTC), "2 days ago"),
        (dt.datetime(2025, 7, 1, tzinfo=dt.UTC), "538 days ago"),
    ],
)
def test_stale_warning_counts_from_the_end_of_the_last_day(now: dt.datetime, expected: str | None) -> None:
    line = stale_warning("custom", LAST_DAY, now, 36.0)
    assert (line is None) if expected is None else (line is not None and expected in line)


@pytest.mark.parametrize(
    ("as_of", "today", "expected"),
    [
        ("2025-07-19", dt.date(2026, 12, 7), "as of 2025-07-19, 506 days ago: probabilities are for the 30 days"
         " after that date, not now"),
        ("2025-07-19", dt.date(2025, 7, 20), None),  # yesterday: the latest complete day
        (dt.date(2025, 7, 19), dt.date(2025, 7, 21), "as of 2025-07-19, 2 days ago"),
    ],
)  # fmt: skip
def test_outlook_marks_a_past_day(as_of: object, today: dt.date, expected: str | None) -> None:
    note = past_note(as_of, today, 30)
    assert (note is None) if expected is None else (note is not None and note.startswith(expected))
