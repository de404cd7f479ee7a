"""What a command takes from its caller rather than from the world: the clock and the server launcher (in
:class:`Runtime`, typer's context object), and the store named by ``--db``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import typer

from coinseason.clock import Clock, utc_now
from coinseason.settings import HANDOFF_ENV, Settings, default_db_path
from coinseason.store import Store, open_store

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Where the workers of one server keep their metrics (prometheus-client's multiprocess mode)."""


def launch_server(settings: Settings) -> None:
    """Hand ``settings`` to the server's processes through one variable and run the server they name
    (``settings.server.kind``: granian or uvicorn, :mod:`coinseason.cli.servers`) until it stops."""
    from coinseason.cli import servers  # the ASGI server stack loads only when a command serves

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


@dataclass(frozen=True, slots=True)
class Runtime:
    """The context object of every command; a test passes its own, as ``CliRunner().invoke(app, args, obj=...)``."""

    clock: Clock = field(default=utc_now)
    run_server: Callable[[Settings], None] = field(default=launch_server)


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
