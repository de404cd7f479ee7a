"""``coinseason --help`` without loading any command, every command reachable from its line of the table, help
text that shows its defaults, and usage errors as one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from coinseason.cli import app
from coinseason.cli.lazy import lazy_group, load
from coinseason.cli.root import COMMANDS

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def test_help_loads_no_command_module_nor_the_data_stack() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from coinseason.cli import app;"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'polars', 'duckdb', 'pydantic', 'rich')"
        " or m.startswith(('coinseason.cli.index', 'coinseason.services', 'coinseason.store'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert done.stdout.strip() == "[]"


def test_help_lists_every_command_of_the_table_in_order() -> None:
    result = runner.invoke(app, ["--help"], env=WIDE)
    assert result.exit_code == 0
    lines = [line.split() for line in result.stdout.splitlines() if line.startswith("  ")]
    listed = [words[0] for words in lines if words and words[0] in COMMANDS]
    assert listed == list(COMMANDS)
    for name, entry in COMMANDS.items():
        assert entry.help in result.stdout, name


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_line_of_the_table_loads_its_command(name: str) -> None:
    command = load(name, COMMANDS[name])
    assert command.name == name
    assert command.help  # its own docstring: `coinseason NAME --help` has more to say than the table's line


def test_a_command_runs_and_shows_its_help_after_loading() -> None:
    result = runner.invoke(app, ["index", "altseason", "--help"], env=WIDE)
    assert result.exit_code == 0 and "Altcoin Season Index" in result.stdout


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["serve", "--help"], "[default: 8000]"),
        (["serve", "--help"], "[default: 127.0.0.1]"),
        (["index", "altseason", "--help"], "[default: user data dir]"),
        (["breakdown", "--help"], "[default: last]"),
        (["index", "altseason", "--help"], "[default: 50]"),
    ],
)
def test_help_shows_the_defaults_written_in_it(args: list[str], shown: str) -> None:
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0
    assert shown in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["index", "altseason", "--frm", "2025-01-01"], "No such option: --frm"),
        (["indx"], "No such command 'indx'. Did you mean 'index'?"),
        (["index", "altseason", "--from", "2025-13-01"], "'2025-13-01' does not match the formats '%Y-%m-%d'"),
        (["index", "altseason", "--top", "501"], "Invalid value for '--top'"),
        (["import"], "Missing argument 'path'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], says: str) -> None:
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert says in lines[0]


def test_no_arguments_prints_the_help() -> None:
    result = runner.invoke(app, [])
    assert "Commands:" in result.output and "index" in result.output


def test_a_command_registered_directly_sits_beside_the_table() -> None:
    other = typer.Typer(cls=lazy_group({"index": COMMANDS["index"]}), rich_markup_mode=None)
    extra = typer.Typer(help="Extra things.")

    @extra.command("hello")
    def hello(name: Annotated[str, typer.Option(help="Who [default: the world]")] = "x") -> None:
        """Say hello."""
        typer.echo(f"hello {name}")

    other.add_typer(extra, name="extra")
    listed = runner.invoke(other, ["--help"], env=WIDE)
    assert "index" in listed.stdout and "Extra things." in listed.stdout
    assert runner.invoke(other, ["extra", "hello", "--name", "bob"]).stdout == "hello bob\n"
    shown = runner.invoke(other, ["extra", "hello", "--help"], env=WIDE)
    assert "Who [default: the world]" in shown.stdout and "\\[" not in shown.stdout
