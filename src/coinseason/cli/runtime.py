"""What a command takes from its caller rather than from the world: the clock and the server launchers (in
:class:`Runtime`, typer's context object), and the store named by ``--db``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import typer

from coinseason.clock import Clock, utc_now
from coinseason.settings import HANDOFF_ENV, Settings, default_db_path
from coinseason.store import Store, open_store

SERVER_FACTORY = "coinseason.server:create_app_from_handoff"
"""The app factory every server process calls; it reads the settings from :data:`~coinseason.settings.HANDOFF_ENV`."""
MCP_FACTORY = "coinseason.server:create_mcp_app_from_handoff"
"""The app factory of ``coinseason mcp --transport http`` (settings handed over the same way)."""
MCP_STDIO = "coinseason.server:run_mcp_stdio"
"""The coroutine function of ``coinseason mcp`` over stdio, named like the factories: the CLI does not import the
MCP server, the composition root does."""
McpTransport = Literal["stdio", "http"]


def launch_server(settings: Settings) -> None:
    """Hand ``settings`` to the server's processes through one variable and run uvicorn until it stops."""
    import uvicorn  # the ASGI server stack loads only when a command serves

    os.environ[HANDOFF_ENV] = settings.to_handoff()
    uvicorn.run(
        SERVER_FACTORY,
        factory=True,
        host=settings.api.host,
        port=settings.api.port,
        workers=settings.api.workers if settings.api.workers > 1 else None,
        access_log=False,
        log_config=None,
    )


def launch_mcp(settings: Settings, transport: McpTransport) -> None:
    """Run the MCP server until it stops: over stdio in this process, or over HTTP with uvicorn as ``serve`` runs
    the API (one process: MCP sessions live in its memory)."""
    import asyncio

    import uvicorn
    from uvicorn.importer import import_from_string

    os.environ[HANDOFF_ENV] = settings.to_handoff()
    if transport == "stdio":
        asyncio.run(import_from_string(MCP_STDIO)(settings))
        return
    uvicorn.run(
        MCP_FACTORY, factory=True, host=settings.api.host, port=settings.api.port, access_log=False, log_config=None
    )


@dataclass(frozen=True, slots=True)
class Runtime:
    """The context object of every command; a test passes its own, as ``CliRunner().invoke(app, args, obj=...)``."""

    clock: Clock = field(default=utc_now)
    run_server: Callable[[Settings], None] = field(default=launch_server)
    run_mcp: Callable[[Settings, McpTransport], None] = field(default=launch_mcp)


def runtime(ctx: typer.Context) -> Runtime:
    """The :class:`Runtime` of this invocation: the one given as ``obj``, else the real one."""
    return ctx.ensure_object(Runtime)


@contextmanager
def open_db(db: str | None) -> Iterator[Store]:
    """The store named by ``--db`` (typer reads ``COINSEASON_DB`` into it), else the default file; closed on exit."""
    store = open_store(db or default_db_path())
    try:
        yield store
    finally:
        store.close()
