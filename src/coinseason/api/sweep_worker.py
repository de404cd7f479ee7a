"""Backtest sweeps in a bounded worker process: stopped at a wall-clock deadline or a memory bound, whatever it is
doing, with the rows it finished.

A sweep of many parameter sets can take long and grow large (each distinct ``top``/``window`` prepares its own
inputs), and a check between chunks in the serving process bounds neither: one chunk may run past the deadline,
and memory it grew is kept by the process afterwards. Here the sweep runs in a child process (started from a
fork server that has this module loaded, so starting one is a fork, not a new interpreter) that opens the store
itself and sends its rows back chunk by chunk. The parent waits for them until the deadline, reading the child's
resident memory between waits; at the deadline or over the memory bound it kills the child and answers with
what came back. Every byte the sweep used goes back to the operating system when the child ends.

Resident memory is read from ``/proc/<pid>/statm`` (Linux); elsewhere only the deadline bounds the sweep. A store
no other process can open (DuckDB ``:memory:``) is swept here instead (:func:`run_sweep_here`), bounded only by the
deadline, checked between chunks.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from pathlib import Path
from typing import Any, Literal

import polars as pl

from coinseason.errors import CoinseasonError, ConfigError, DataError, NoDataError, StoreUnavailable
from coinseason.services.analytics import AnalyticsService
from coinseason.services.trading import BacktestParams, TradingService
from coinseason.settings import PostgresSettings
from coinseason.store import open_store

__all__ = ["SweepBounds", "SweepJob", "SweepOutcome", "run_bounded_sweep", "run_sweep_here"]

POLL_SECONDS = 0.05
"""How often the parent reads the child's memory while it waits for rows."""
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

Stopped = Literal["time", "memory"]


@dataclass(frozen=True, slots=True)
class SweepBounds:
    """How long (seconds, wall clock from the start of the worker) and how large (resident bytes) a sweep may
    grow; ``chunk``: parameter sets simulated and sent back together."""

    seconds: float
    memory_bytes: int
    chunk: int = 16


@dataclass(frozen=True, slots=True)
class SweepJob:
    """What the worker needs to run a sweep on its own: the store's address and the request."""

    db: str
    pool: PostgresSettings
    params: tuple[BacktestParams, ...]
    source: str
    start: dt.date | None
    end: dt.date | None


@dataclass(slots=True)
class SweepOutcome:
    """The rows finished (in the order of the sets), and why the sweep stopped early, if it did."""

    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    stopped: Stopped | None = None
    worker: int | None = None
    """The worker's process id (ended by the time the outcome is returned)."""
    peak_bytes: int = 0
    """The most resident memory the worker was seen holding."""

    @property
    def done(self) -> int:
        return len(self.rows)


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts, NaN as ``None`` (JSON has no NaN)."""
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None)).to_dicts()


def _work(conn: Connection, job: SweepJob, chunk: int) -> None:
    """The child: open the store, simulate ``chunk`` sets at a time, send each chunk's rows; then ``("done",)``,
    or ``("error", class name, message)`` when it fails."""
    try:
        store = open_store(job.db, pool=job.pool)
        try:
            service = TradingService(AnalyticsService(store))
            for lo in range(0, len(job.params), chunk):
                part = list(job.params[lo : lo + chunk])
                frame = service.sweep(part, source=job.source, start=job.start, end=job.end)
                conn.send(("rows", _rows(frame)))
        finally:
            store.close()
        conn.send(("done",))
    except Exception as exc:  # reported to the parent, which answers the request
        kind = next((c.__name__ for c in type(exc).__mro__ if c.__module__ == "coinseason.errors"), "Exception")
        conn.send(("error", kind, str(exc)))
    finally:
        conn.close()


def resident_bytes(pid: int) -> int | None:
    """Resident memory of process ``pid`` (Linux), None when it cannot be read (gone, or another system)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_bytes().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _raise_failure(kind: str, message: str) -> None:
    """Raise what the worker failed with, as the class of the error tree it named (the message is coinseason's)."""
    known: dict[str, Callable[[str], CoinseasonError]] = {
        "NoDataError": NoDataError,
        "ConfigError": ConfigError,
        "DataError": DataError,
        "FormatError": DataError,
    }
    if kind in known:
        raise known[kind](message)
    if kind in {"StoreError", "StoreUnavailable", "StoreBusy", "LeaseHeld"}:
        raise StoreUnavailable(message, reason="the store could not answer the sweep")
    raise CoinseasonError(f"the sweep worker failed ({kind}): {message}")


def _context() -> ForkServerContext | SpawnContext:
    """A fork-server context whose server has this module loaded (forking a threaded server process directly is
    unsafe; a fresh interpreter per sweep costs a second or more)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx: ForkServerContext = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


def run_bounded_sweep(
    job: SweepJob, bounds: SweepBounds, *, clock: Callable[[], float] = time.monotonic
) -> SweepOutcome:
    """Run ``job`` in a worker process within ``bounds``; the worker is ended on return, whatever happened.
    Blocks the calling thread (call it from a worker thread). The worker's errors are raised here, as the same
    kind of :mod:`coinseason.errors` error."""
    outcome = SweepOutcome(total=len(job.params))
    deadline = clock() + bounds.seconds  # starting the worker counts too
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_work, args=(child, job, bounds.chunk), name="coinseason-sweep", daemon=True)
    process.start()
    outcome.worker = process.pid
    child.close()
    failure: tuple[str, str] | None = None
    try:
        while True:
            used = resident_bytes(process.pid) if process.pid is not None else None
            outcome.peak_bytes = max(outcome.peak_bytes, used or 0)
            if used is not None and used > bounds.memory_bytes:
                outcome.stopped = "memory"
                break
            left = deadline - clock()
            if left <= 0:
                outcome.stopped = "time"
                break
            if not parent.poll(min(left, POLL_SECONDS)):
                continue
            try:
                message = parent.recv()
            except EOFError:  # the worker died without a word (killed from outside, or out of memory)
                failure = ("Exception", f"the sweep worker ended with exit code {process.exitcode}")
                break
            if message[0] == "rows":
                outcome.rows += message[1]
            elif message[0] == "done":
                break
            else:
                failure = (message[1], message[2])
                break
    finally:
        parent.close()
        if process.is_alive():
            process.kill()
        process.join(5.0)
        if process.exitcode is not None:
            process.close()
    if failure is not None:
        _raise_failure(*failure)
    return outcome


def run_sweep_here(
    service: TradingService, job: SweepJob, bounds: SweepBounds, *, clock: Callable[[], float] = time.monotonic
) -> SweepOutcome:
    """Run ``job`` in this process, ``bounds.chunk`` sets at a time, starting no chunk after the deadline: for a
    store only this process can read (an in-memory one). Memory is not bounded here."""
    outcome = SweepOutcome(total=len(job.params))
    deadline = clock() + bounds.seconds
    for lo in range(0, len(job.params), bounds.chunk):
        if clock() >= deadline:
            outcome.stopped = "time"
            break
        part = list(job.params[lo : lo + bounds.chunk])
        outcome.rows += _rows(service.sweep(part, source=job.source, start=job.start, end=job.end))
    return outcome
