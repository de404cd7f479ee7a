"""A bounded request loop on 127.0.0.1 that judges every answer: steady load for the fault suite.

Each of ``threads`` threads sends the probes in turn (a request a thread at a time, at most ``max_requests`` in all
and never past ``max_seconds``) to the given servers and keeps one :class:`Outcome` per request. An answer is

* right: a 200 whose body is the known-good body of its probe (fetched beforehand from a server that saw no fault);
* wrong: a 200 with any other body (must never happen);
* failed: any other status, or no answer at all (connection refused or reset). A failed answer that is not
  ``application/problem+json``, or whose text names the database server (``leaks``), is counted apart: both must
  be 0.

Store-reading probes carry a unique ``n`` query parameter that the API ignores, so each one misses the response
cache and reads the store, as a stream of distinct requests would; the known-good body is the one without it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import httpx

PROBLEM_JSON = "application/problem+json"
REFUSED_PAUSE = 0.02
"""A thread whose request got no answer waits this long before its next one."""


@dataclass(frozen=True)
class Probe:
    """One request the loop sends: ``path`` with ``params``, with an API key or anonymous."""

    path: str
    params: tuple[tuple[str, str], ...] = ()
    key: str | None = None
    uncached: bool = False
    """Add a unique ``n`` parameter, so that the answer is computed (and the store read) for every request."""

    def url_params(self, serial: int) -> list[tuple[str, str]]:
        return [*self.params, ("n", str(serial))] if self.uncached else list(self.params)


@dataclass(frozen=True)
class Outcome:
    sent: float
    """``time.monotonic()`` when the request was sent."""
    done: float
    status: int
    """HTTP status; 0 when no answer came (refused, reset, timed out)."""
    right: bool
    wrong: bool
    plain: bool
    """A failure answered without problem+json (and not a transport failure)."""
    leak: bool

    @property
    def failed(self) -> bool:
        return not self.right and not self.wrong


@dataclass
class Window:
    """The outcomes of requests sent between ``start`` and ``end`` (monotonic seconds)."""

    outcomes: list[Outcome]

    @property
    def sent(self) -> int:
        return len(self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.failed for o in self.outcomes)

    @property
    def wrong(self) -> int:
        return sum(o.wrong for o in self.outcomes)

    @property
    def plain(self) -> int:
        return sum(o.plain for o in self.outcomes)

    @property
    def leaks(self) -> int:
        return sum(o.leak for o in self.outcomes)

    @property
    def slowest(self) -> float:
        return max((o.done - o.sent for o in self.outcomes), default=0.0)

    def last_failure(self) -> float | None:
        """When the last failed request of the window was answered, or None without failures."""
        return max((o.done for o in self.outcomes if o.failed), default=None)

    def statuses(self) -> dict[int, int]:
        found: dict[int, int] = {}
        for o in self.outcomes:
            found[o.status] = found.get(o.status, 0) + 1
        return dict(sorted(found.items()))


@dataclass
class LoadLoop:
    """``threads`` threads sending ``probes`` round-robin to ``servers`` until :meth:`stop`, ``max_requests`` or
    ``max_seconds``. ``known[probe]`` is the right body of each probe; ``secrets`` are strings no answer may hold."""

    servers: Sequence[str]
    probes: Sequence[Probe]
    known: dict[Probe, bytes]
    secrets: Iterable[str] = ()
    threads: int = 4
    max_requests: int = 200_000
    max_seconds: float = 600.0
    timeout: float = 15.0
    """A request with no answer after this long counts as failed (and shows as the slowest latency)."""
    pause: float = 0.0
    """Seconds each thread waits between two requests (the tests keep the load light beside other tests)."""
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _serial: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> LoadLoop:
        self._deadline = time.monotonic() + self.max_seconds
        for index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(index,), daemon=True, name=f"load-{index}")
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(self.timeout + 5)

    def window(self, start: float, end: float | None = None) -> Window:
        with self._lock:
            found = [o for o in self.outcomes if o.sent >= start and (end is None or o.sent < end)]
        return Window(found)

    def wait_for_requests(self, count: int, *, timeout: float = 60.0) -> None:
        """Block until ``count`` more requests were answered (at most ``timeout`` s): the load is really on."""
        with self._lock:
            target = len(self.outcomes) + count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.outcomes) >= target:
                    return
            time.sleep(0.02)
        raise RuntimeError(f"the load loop did not reach {count} more requests in {timeout:g} s")

    def _run(self, index: int) -> None:
        secrets = [s for s in self.secrets if s]
        limits = httpx.Limits(max_keepalive_connections=1, max_connections=1)
        clients = [httpx.Client(base_url=s, timeout=self.timeout, limits=limits) for s in self.servers]
        try:
            for round_ in itertools.count(index):
                if self._stop.is_set() or time.monotonic() > self._deadline:
                    return
                serial = next(self._serial)
                if serial >= self.max_requests:
                    return
                probe = self.probes[serial % len(self.probes)]
                client = clients[round_ % len(clients)]
                headers = {"X-API-Key": probe.key} if probe.key else {}
                sent = time.monotonic()
                try:
                    answer = client.get(probe.path, params=probe.url_params(serial), headers=headers)
                except httpx.HTTPError:
                    outcome = Outcome(sent, time.monotonic(), 0, False, False, False, False)
                    time.sleep(REFUSED_PAUSE)  # a server that is gone refuses at once: no busy loop
                else:
                    outcome = _judge(sent, answer, self.known[probe], secrets)
                with self._lock:
                    self.outcomes.append(outcome)
                if self.pause:
                    time.sleep(self.pause)
        finally:
            for client in clients:
                client.close()


def _judge(sent: float, answer: httpx.Response, known: bytes, secrets: list[str]) -> Outcome:
    done = time.monotonic()
    if answer.status_code == 200:
        right = answer.content == known
        return Outcome(sent, done, 200, right, not right, False, False)
    plain = answer.headers.get("content-type", "") != PROBLEM_JSON
    leak = any(secret in answer.text for secret in secrets)
    return Outcome(sent, done, answer.status_code, False, False, plain, leak)
