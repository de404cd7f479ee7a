"""Several ``coinseason serve`` replicas sharing one PostgreSQL store send the alerts of many rules to a receiver
that fails a share of the requests, while the replica holding the alerts lease is killed (-9) half-way: the
delivery figures (events, attempts, retries, duplicates the receiver saw, lost). Used by the replica test and by
``bench/alerts.py``."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from coinseason.clock import utc_now
from coinseason.services.alerts.service import AlertService
from coinseason.store import open_store
from tests.alerts.market import market_csv
from tests.alerts.receiver import Answer, Received, Receiver, signature_ok
from tests.api.serve_helpers import Server, coinseason, serve

BASE = [0, 0, 0]
CYCLE = [4, 4, 4, 0, 0, 0]
"""Altcoin season entered and left again: each cycle raises 2 events per season rule."""
ENV = {
    "COINSEASON_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "COINSEASON_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "COINSEASON_WEBHOOK_RETRY_MAX_SECONDS": "4",
    "COINSEASON_ALERTS_TICK_SECONDS": "0.2",
    "COINSEASON_ALERTS_LEASE_SECONDS": "3",
    "COINSEASON_INGEST": "false",
    "COINSEASON_LOG_JSON": "false",
}


@dataclass(frozen=True)
class Figures:
    rules: int
    events: int
    """Events the rules raised (rows of the outbox)."""
    attempts: int
    """Delivery attempts recorded in the outbox."""
    retries: int
    """Attempts after the first of an event."""
    requests: int
    """Requests the receiver got (failed ones included)."""
    unique: int
    """Distinct event ids the receiver took (answered 2xx)."""
    duplicates: int
    """Requests for an event the receiver had taken already: dropped by its id."""
    failed_answers: int
    """Requests the receiver answered 503 on purpose."""
    bad_signatures: int
    dead: int
    lost: int
    """Events in the outbox that never reached the receiver."""
    killed: str
    seconds: float


def _run(*args: str) -> str:
    done = coinseason(*args)
    if done.returncode != 0:
        raise RuntimeError(f"coinseason {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def run_replicas(
    url: str, root: Path, *, replicas: int = 2, cycles: int = 3, fail_share: float = 0.3, seed: int = 7,
    wait: float = 120.0,
) -> Figures:  # fmt: skip
    """The scenario on the PostgreSQL database ``url`` (empty); files under ``root``."""
    started = time.monotonic()
    _run("import", str(market_csv(root / "base.csv", BASE)), "--format", "tidy", "--db", url)
    key = _run("keys", "create", "--name", "replicas", "--db", url).strip()
    prefix = key.split("_")[1]
    rng = random.Random(seed)
    taken: set[str] = set()
    failed = duplicates = 0

    def choose(got: Received) -> Answer:
        nonlocal failed, duplicates
        if rng.random() < fail_share:
            failed += 1
            return Answer(status=503)
        event = got.headers.get("x-coinseason-event-id", "")
        if event in taken:
            duplicates += 1  # a receiver drops it by its id
        taken.add(event)
        return Answer(status=200)

    secrets: list[str] = []
    with Receiver(choose=choose) as receiver, ExitStack() as stack:
        store = open_store(url)
        stack.callback(store.close)
        service = AlertService(store, clock=utc_now)
        rules = 0
        for season, levels in (("altcoin", (50, 60, 75, 90)), ("bitcoin", (10, 25, 40))):
            for level in levels:
                for confirm in (1, 2, 3):
                    params = {"season": season, "level": level, "confirm_days": confirm, "top": 5, "window": 1}
                    made = service.add(prefix, name=f"{season} {level} x{confirm}", kind="season", params=params,
                                       url=receiver.url)  # fmt: skip
                    if made.new_secret:
                        secrets.append(made.new_secret)
                    rules += 1
        servers = [
            stack.enter_context(serve(["--db", url], log=root / f"replica{i}.log", env=ENV)) for i in range(replicas)
        ]
        _until(lambda: all(r.armed_after for r in store.alert_rules()), wait, servers, "the rules armed")
        _run("import", str(market_csv(root / "change.csv", BASE + CYCLE * cycles)), "--format", "tidy", "--db", url)
        _until(lambda: len(store.alert_events()) > 0 and len(taken) >= len(store.alert_events()) // 3, wait,
               servers, "a third of the events delivered")  # fmt: skip
        holder = store.lease_holder("alerts") or ""
        pid = int(holder.split(":")[1]) if holder.count(":") >= 2 else servers[0].process.pid
        victim = next((s for s in servers if s.process.pid == pid), servers[0])
        os.killpg(victim.process.pid, signal.SIGKILL)
        victim.process.wait(10)
        killed = f"replica {servers.index(victim)} (pid {victim.process.pid}) held the lease: killed -9"
        survivors = [s for s in servers if s is not victim]

        def settled() -> bool:
            events = store.alert_events(limit=100_000)
            return bool(events) and all(e.status != "pending" for e in events)

        _until(settled, wait, survivors, "every event delivered or dead")
        events = store.alert_events(limit=100_000)
        received = list(receiver.received)
    ids = {e.id for e in events}
    attempts = sum(e.attempts for e in events)
    return Figures(
        rules=rules,
        events=len(events),
        attempts=attempts,
        retries=attempts - len(events),
        requests=len(received),
        unique=len(taken & ids),
        duplicates=duplicates,
        failed_answers=failed,
        bad_signatures=sum(1 for r in received if not any(signature_ok(s, r) for s in secrets)),
        dead=sum(1 for e in events if e.status == "dead"),
        lost=len(ids - taken),
        killed=killed,
        seconds=time.monotonic() - started,
    )


def _until(check: object, wait: float, servers: list[Server], what: str) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    logs = "\n".join(s.output()[-3000:] for s in servers)
    raise AssertionError(f"{what}: not within {wait:g} s\n{logs}")


def lines(figures: Figures) -> Iterator[str]:
    for name, value in vars(figures).items():
        yield f"{name:>15}: {value:.1f}" if isinstance(value, float) else f"{name:>15}: {value}"
