"""``coinseason keys``: create, list and revoke the API keys of the REST API."""

from __future__ import annotations

import sys
from typing import Annotated

import polars as pl
import typer
from rich.markup import escape

from coinseason.cli.options import DbOption, OutputFormat
from coinseason.cli.output import emit, err, errors, out
from coinseason.cli.runtime import open_db, runtime
from coinseason.errors import ConfigError
from coinseason.services.keys import KEY_PREFIX, PREFIX_LENGTH, KeyService, parse_key

keys_app = typer.Typer(help="API keys of the REST API: create (shown once), list, revoke.", no_args_is_help=True)


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key (1-100 characters)")],
    db: DbOption = None,
) -> None:
    """Create an API key and print it once: only its hash is stored, it cannot be shown again."""
    with errors(), open_db(db) as store:
        record, key = KeyService(store, clock=runtime(ctx).clock).create(name)
    err.print(f"Created API key [bold]{record.prefix}[/] for {escape(record.name)}:", highlight=False)
    sys.stdout.write(key + "\n")  # alone on stdout, so that scripts can capture it
    err.print(
        "[yellow]warning:[/] copy this key now; it cannot be shown again (the store keeps only its hash).",
        highlight=False,
    )


@keys_app.command("list")
def list_(ctx: typer.Context, db: DbOption = None) -> None:
    """Every API key with its prefix, name, and when it was created and revoked (never its secret or hash)."""
    with errors(), open_db(db) as store:
        records = KeyService(store, clock=runtime(ctx).clock).list()
    if not records:
        out.print("no API keys yet: create one with `coinseason keys create --name NAME`", highlight=False)
        return
    frame = pl.DataFrame(
        {
            "prefix": [r.prefix for r in records],
            "name": [r.name for r in records],
            "created": [f"{r.created_at:%Y-%m-%d %H:%M:%S} UTC" for r in records],
            "revoked": [f"{r.revoked_at:%Y-%m-%d %H:%M:%S} UTC" if r.revoked_at else None for r in records],
        },
        schema={"prefix": pl.String, "name": pl.String, "created": pl.String, "revoked": pl.String},
    )
    emit(frame, OutputFormat.TABLE, "API keys")


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help=f"The key's prefix: the {PREFIX_LENGTH} characters after cs_")],
    db: DbOption = None,
) -> None:
    """Revoke an API key: requests with it are refused from now on. Exit code 2 when no key has the prefix."""
    with errors(), open_db(db) as store:
        prefix = _bare_prefix(prefix)
        service = KeyService(store, clock=runtime(ctx).clock)
        record = service.get(prefix)
        if record is None:
            raise ConfigError(f"no API key has the prefix {prefix!r} (see `coinseason keys list`)")
        if service.revoke(prefix):
            out.print(f"Revoked API key [bold]{prefix}[/] ({escape(record.name)}).", highlight=False)
        else:
            out.print(
                f"API key [bold]{prefix}[/] ({escape(record.name)}) was revoked already, "
                f"at {record.revoked_at:%Y-%m-%d %H:%M:%S} UTC.",
                highlight=False,
            )


def _bare_prefix(text: str) -> str:
    """The prefix alone, also when given as ``cs_<prefix>`` or as a whole key."""
    parts = parse_key(text)
    if parts is not None:
        return parts[0]
    if text.startswith(KEY_PREFIX) and len(text) == len(KEY_PREFIX) + PREFIX_LENGTH:
        return text.removeprefix(KEY_PREFIX)
    return text
