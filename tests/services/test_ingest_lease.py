"""The ingestion lease on its own, over an in-memory store that has leases and nothing else (the narrow
:class:`~coinseason.store.protocols.LeaseStore` the lease needs), in fake time."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import subprocess
import sys

import pytest

from coinseason.errors import LeaseHeld
from coinseason.services.ingestion.lease import Lease, died_here
from coinseason.store.protocols import LeaseStore
from tests.conftest import FIXED_NOW

TTL = dt.timedelta(seconds=90)


class MemoryLeases:
    """Leases in a dict: the rules of the store contract (tests/store/test_ingest_state.py), one process only."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[str, dt.datetime]] = {}

    def acquire_lease(
        self, name: str, owner: str, now: dt.datetime, ttl: dt.timedelta, *, dead: str | None = None
    ) -> bool:
        holder = self.held.get(name)
        if holder is None or holder[0] in (owner, dead) or holder[1] <= now:
            self.held[name] = (owner, now + ttl)
            return True
        return False

    def lease_holder(self, name: str) -> str | None:
        holder = self.held.get(name)
        return None if holder is None else holder[0]

    def release_lease(self, name: str, owner: str) -> None:
        if self.lease_holder(name) == owner:
            del self.held[name]


class Clock:
    """Fake time: moved only by :meth:`sleep`; :meth:`reached` waits until it shows a given time."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self._waiting: list[tuple[dt.datetime, asyncio.Event]] = []

    def __call__(self) -> dt.datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        for when, reached in self._waiting:
            if self.now >= when:
                reached.set()

    async def reached(self, when: dt.datetime) -> None:
        reached = asyncio.Event()
        self._waiting.append((when, reached))
        if self.now >= when:
            reached.set()
        await reached.wait()


def lease(store: LeaseStore, clock: Clock, owner: str = "me") -> Lease:
    return Lease(store, "ingest:test", owner, ttl=TTL, clock=clock, doing="ingesting test into memory")


def exited_pid() -> int:
    """The id of a process of this host that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603 - this interpreter
    child.wait()
    return child.pid


def test_one_holder_until_it_releases_and_the_refusal_says_who_does_what() -> None:
    store, clock = MemoryLeases(), Clock(FIXED_NOW)
    mine, theirs = lease(store, clock), lease(store, clock, "them")
    mine.hold()
    assert not theirs.take()
    refused = r"another coinseason process is ingesting test into memory \(lease ingest:test\)"
    with pytest.raises(LeaseHeld, match=refused):
        theirs.hold()
    mine.release()
    assert theirs.take()
    assert store.lease_holder("ingest:test") == "them"


def test_a_holder_of_this_host_that_died_is_taken_over_at_once() -> None:
    store, clock = MemoryLeases(), Clock(FIXED_NOW)
    dead = f"{socket.gethostname()}:{exited_pid()}:0000"
    assert died_here(dead)
    assert store.acquire_lease("ingest:test", dead, FIXED_NOW, TTL)
    assert lease(store, clock).take()  # long before the dead holder's time to live ran out
    assert store.lease_holder("ingest:test") == "me"


def test_a_holder_of_another_host_or_alive_here_is_waited_for() -> None:
    store, clock = MemoryLeases(), Clock(FIXED_NOW)
    for holder in (f"elsewhere-{socket.gethostname()}:{exited_pid()}:0000", f"{socket.gethostname()}:1:0000"):
        assert not died_here(holder)  # another host's process, or one that runs here (pid 1)
        store.held.clear()
        assert store.acquire_lease("ingest:test", holder, FIXED_NOW, TTL)
        assert not lease(store, clock).take()
        clock.now += TTL
        assert lease(store, clock).take()  # its time ran out
        clock.now = FIXED_NOW


def test_slow_work_keeps_the_lease_by_renewing_it_every_third_of_its_time() -> None:
    store, clock = MemoryLeases(), Clock(FIXED_NOW)
    mine = lease(store, clock)
    mine.hold()  # until FIXED_NOW + 90 s

    async def work() -> str:  # done 200 s later, past the lease's first time to live
        await clock.reached(FIXED_NOW + dt.timedelta(seconds=200))
        return "fetched"

    assert asyncio.run(mine.kept_during(work(), clock.sleep)) == "fetched"
    owner, expires = store.held["ingest:test"]
    assert owner == "me"
    assert expires > FIXED_NOW + dt.timedelta(seconds=200)  # renewed every 30 s meanwhile


def test_work_during_which_another_took_the_lease_stops_with_lease_held() -> None:
    store, clock = MemoryLeases(), Clock(FIXED_NOW)
    mine = lease(store, clock)
    mine.hold()
    cancelled = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.Event().wait()  # never done by itself
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def stolen_sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        store.held["ingest:test"] = ("thief", clock.now + TTL)

    async def main() -> None:
        with pytest.raises(LeaseHeld):
            await mine.kept_during(work(), stolen_sleep)

    asyncio.run(main())
    assert cancelled.is_set()  # the work was stopped, not left running
