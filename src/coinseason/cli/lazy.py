"""Commands loaded on demand, and usage errors as one line.

``coinseason --help`` lists every command from a table of ``name → "module:attribute"`` and a one-line help
(:class:`Lazy`), without importing any command's module: a command's module (and numpy, polars, DuckDB, the
services behind it) loads only when that command runs or prints its own help. Each command is one line of the
table in :mod:`coinseason.cli.root`; a test checks that every line's help is the first sentence of its command's
own help, so the two cannot drift apart.

Usage errors (an unknown option, a value out of range) print one line on stderr and exit with code 2, as the
README promises, instead of click's framed box.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click  # typer vendors click (its commands and errors are these classes, not click's)
from typer.core import TyperCommand, TyperGroup

__all__ = ["Lazy", "LazyGroup", "load", "lazy_group"]


@dataclass(frozen=True, slots=True)
class Lazy:
    """A command by where it lives (``"coinseason.cli.index:index_app"``: a typer app or a command function) and
    the one line ``coinseason --help`` shows for it."""

    target: str
    help: str


def load(name: str, entry: Lazy) -> click.Command:
    """The click command of ``entry``: its module imported, a typer app as a group, a function as a command."""
    module_name, _, attribute = entry.target.partition(":")
    found = getattr(importlib.import_module(module_name), attribute)
    if isinstance(found, typer.Typer):
        command: click.Command = typer.main.get_group(found)
        command.name = name
    else:
        info = typer.models.CommandInfo(name=name, callback=found)
        command = typer.main.get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode="rich")
    _escape_help(command)
    return command


def _escape_help(command: click.Command) -> None:
    """Hand-written ``[default: …]`` in an option's help shown as written: typer reads option help as Rich
    markup, in which ``[…]`` is a style tag and vanishes."""
    from rich.markup import escape

    for param in command.params:
        text = getattr(param, "help", None)
        if isinstance(text, str) and "[" in text:
            param.help = escape(text)  # type: ignore[attr-defined]  # click.Option and typer's Argument have help
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _escape_help(sub)


def _rich_help(command: click.Command) -> None:
    if isinstance(command, TyperCommand | TyperGroup):
        command.rich_markup_mode = "rich"
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _rich_help(sub)


class LazyGroup(TyperGroup):
    """A typer group whose commands of :attr:`table` are placeholders (name and help only) until one is run."""

    table: Mapping[str, Lazy] = {}

    def __init__(self, *, commands: dict[str, click.Command] | Sequence[click.Command] | None = None, **attrs: Any):
        super().__init__(commands=commands, **attrs)
        eager = dict(self.commands)
        self.commands.clear()
        for name, entry in self.table.items():  # the table's order first, then any command added directly
            self.commands[name] = TyperCommand(name, help=entry.help, short_help=entry.help)
        for name, command in eager.items():  # typer gave them the root's plain help: make them look like the rest
            _rich_help(command)
            _escape_help(command)
            self.commands[name] = command
        self._loaded: set[str] = set()

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name in self.table and name not in self._loaded:
            self.commands[name] = load(name, self.table[name])
            self._loaded.add(name)
        return super().resolve_command(ctx, args)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        with _one_line():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line():
            return super().invoke(ctx)


def lazy_group(table: Mapping[str, Lazy]) -> type[LazyGroup]:
    """A :class:`LazyGroup` class over ``table``, for ``typer.Typer(cls=...)``."""
    return type("CoinseasonGroup", (LazyGroup,), {"table": dict(table)})


@contextmanager
def _one_line() -> Iterator[None]:
    """A click usage error as one line on stderr, naming the command, and its exit code (2)."""
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # no arguments: the help is the answer
    except click.ClickException as exc:
        context = exc.ctx if isinstance(exc, click.exceptions.UsageError) else None
        where = context.command_path if context is not None else "coinseason"
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"error: {where}: {message} (see {where} --help)\n")
        raise typer.Exit(exc.exit_code) from None
