"""``coinseason mcp``: the season, dominance and outlook tools for AI assistants (Model Context Protocol), over
stdio for a local assistant or streamable HTTP (``/mcp``) with the API's keys and rate limits."""

from __future__ import annotations

from typing import Annotated

import typer

from coinseason.cli.options import DbOption
from coinseason.cli.output import err, errors
from coinseason.cli.runtime import McpTransport, runtime
from coinseason.errors import ConfigError
from coinseason.logs import configure_logging
from coinseason.settings import Settings


def mcp(
    ctx: typer.Context,
    transport: Annotated[
        str,
        typer.Option(
            "--transport",
            help="stdio: one local assistant starts this command; http: streamable HTTP at /mcp, keys as the API",
        ),
    ] = "stdio",
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on, http [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port, http [default: 8000]")] = None,
    db: DbOption = None,
) -> None:
    """The MCP server: current season, history, breakdown, season periods, dominance, methodology, outlook and a
    bounded backtest as tools, each answer with its method and data time."""
    run = runtime(ctx)
    with errors():
        chosen = _transport(transport)
        api = {name: value for name, value in {"host": host, "port": port}.items() if value is not None}
        settings = Settings.from_env(db=db, api=api)
        configure_logging(settings.log.level, json=settings.log.json_lines)  # to stderr: stdout is the protocol's
        if chosen == "http":
            err.print(
                f"coinseason MCP at http://{settings.api.host}:{settings.api.port}/mcp · store {settings.db}",
                highlight=False,
            )
    run.run_mcp(settings, chosen)


def _transport(text: str) -> McpTransport:
    if text == "stdio":
        return "stdio"
    if text == "http":
        return "http"
    raise ConfigError(f"--transport must be stdio or http, not {text!r}")
