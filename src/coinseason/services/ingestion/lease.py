"""One ingestor per source at a time, across processes, hosts and replicas: a lease in the store, taken or renewed
by its holder at a third of its time-to-live, taken over at once from a holder of this host that died."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

from coinseason.errors import LeaseHeld
from coinseason.store.protocols import LeaseStore

log = logging.getLogger("coinseason.ingest")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


def default_owner() -> str:
    """``host:pid:random``: unique per service, and tells whether a holder was a process of this host."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def died_here(owner: str) -> bool:
    """True when ``owner`` (from :func:`default_owner`) was a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, run by another user
        return False
    return False


class Lease:
    """The lease ``name`` held by ``owner`` in ``store``; ``doing`` says what the holder does, for the error a
    refused holder raises (e.g. ``ingesting coingecko into /data/coinseason.duckdb``)."""

    def __init__(
        self,
        store: LeaseStore,
        name: str,
        owner: str,
        *,
        ttl: dt.timedelta,
        clock: Callable[[], dt.datetime],
        doing: str,
    ) -> None:
        self._store = store
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self._clock = clock
        self._doing = doing

    @property
    def renew_every(self) -> float:
        """Seconds between renewals: a third of the time-to-live."""
        return self.ttl.total_seconds() / 3

    def take(self) -> bool:
        """Take or renew the lease; False when another holds it. A holder that was a process of this host and is
        gone (killed) is taken over at once instead of after its time-to-live."""
        now = self._clock()
        if self._store.acquire_lease(self.name, self.owner, now, self.ttl):
            return True
        holder = self._store.lease_holder(self.name)
        if holder is None or not died_here(holder):
            return False
        log.warning("lease %s was held by %s, a process of this host that is gone: taking it over", self.name, holder)
        return self._store.acquire_lease(self.name, self.owner, now, self.ttl, dead=holder)

    def hold(self) -> None:
        """Take or renew the lease; :class:`LeaseHeld` when another holds it."""
        if not self.take():
            raise LeaseHeld(
                f"another coinseason process is {self._doing} (lease {self.name}); try again when it stops, or"
                f" within {self.ttl.total_seconds():.0f} s if it died"
            )

    def release(self) -> None:
        self._store.release_lease(self.name, self.owner)

    async def kept_during(self, work: Awaitable[T], sleep: Sleep) -> T:
        """Await ``work`` (provider calls only: no store use), renewing the lease every :attr:`renew_every`
        seconds of ``sleep`` meanwhile, so work slower than the lease (a keyless plan's few calls a minute) keeps
        it; :class:`LeaseHeld` when another holder took it."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                tick = asyncio.ensure_future(sleep(self.renew_every))
                try:
                    await asyncio.wait({task, tick}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    tick.cancel()  # not awaited: a cancel of this task meanwhile must not be swallowed
                if task.done():
                    return task.result()
                self.hold()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
