"""What a command takes from its caller rather than from the world: the clock and the server launchers (in
:class:`Runtime`, typer's context object), and the store named by ``--db``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import typer

from coinseason.clock import Clock, utc_now
from coinseason.errors import ConfigError

if TYPE_CHECKING:  # the settings (pydantic) and the stores (DuckDB, polars) load when a command uses them
    from coinseason.settings import Settings
    from coinseason.store import Store

MCP_FACTORY = "coinseason.server:create_mcp_app_from_handoff"
"""The app factory of ``coinseason mcp --transport http`` (settings handed over the same way)."""
MCP_STDIO = "coinseason.server:run_mcp_stdio"
"""The coroutine function of ``coinseason mcp`` over stdio, named like the factories: the CLI does not import the
MCP server, the composition root does."""
McpTransport = Literal["stdio", "http"]
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Where the workers of one server keep their metrics (prometheus-client's multiprocess mode)."""


def launch_server(settings: Settings) -> None:
    """Hand ``settings`` to the server's processes through one variable and run the server they name
    (``settings.server.kind``: granian or uvicorn, :mod:`coinseason.cli.servers`) until it stops."""
    from coinseason.cli import servers  # the ASGI server stack loads only when a command serves
    from coinseason.settings import HANDOFF_ENV

    os.environ[HANDOFF_ENV] = settings.to_handoff()
    run = servers.run_granian if settings.server.kind == "granian" else servers.run_uvicorn
    if settings.api.workers == 1:
        os.environ.pop(METRICS_DIR_ENV, None)
        run(settings)
        return
    # several workers: their metrics meet in a folder of their own (one scrape sums them), removed at the end
    with tempfile.TemporaryDirectory(prefix="coinseason-metrics-") as shared:
        os.environ[METRICS_DIR_ENV] = shared
        try:
            run(settings)
        finally:
            os.environ.pop(METRICS_DIR_ENV, None)


def launch_mcp(settings: Settings, transport: McpTransport) -> None:
    """Run the MCP server until it stops: over stdio in this process, or over HTTP with uvicorn as ``serve`` runs
    the API (one process: MCP sessions live in its memory)."""
    import asyncio

    import uvicorn
    from uvicorn.importer import import_from_string

    from coinseason.settings import HANDOFF_ENV

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


def store_url(db: str | None) -> str:
    """The store named by ``--db`` (typer reads ``COINSEASON_DB`` into it), else the default file."""
    if db:
        return db
    from coinseason.settings import default_db_path

    return str(default_db_path())


def duckdb_path(url: str) -> Path | None:
    """The file of a DuckDB store URL or path; None for PostgreSQL and ``:memory:``."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    text = url.removeprefix("duckdb://").partition("?")[0] if url.startswith("duckdb://") else url
    return None if text in ("", ":memory:") else Path(text).expanduser()


@contextmanager
def open_db(db: str | None, *, create: bool = True, lazy: bool = False) -> Iterator[Store]:
    """The store named by ``--db`` (typer reads ``COINSEASON_DB`` into it), else the default file; closed on exit.
    ``create=False`` (commands that only read) refuses a DuckDB path that holds no store rather than making an
    empty one: a mistyped path is named, not silently started afresh. ``lazy``: opened on first use (a command
    answered from kept engines never opens it)."""
    from coinseason.store import open_store

    url = store_url(db)
    path = duckdb_path(url)
    if not create and path is not None and not path.is_file():
        raise ConfigError(
            f"no store at {path}: check --db (or COINSEASON_DB), or create one with"
            " `coinseason import PATH --format F --db PATH`"
        )
    if lazy:
        later = LazyStore(url, lambda: open_store(url))
        try:
            yield cast("Store", later)
        finally:
            later.close()
        return
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


class LazyStore:
    """A store opened on first use: every attribute but ``url`` and ``close`` is the opened store's."""

    def __init__(self, url: str, opener: Callable[[], Store]) -> None:
        self.url = url
        self._opener = opener
        self._store: Store | None = None

    def __getattr__(self, name: str) -> Any:
        if self._store is None:
            self._store = self._opener()
        return getattr(self._store, name)

    @property
    def opened(self) -> bool:
        return self._store is not None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
