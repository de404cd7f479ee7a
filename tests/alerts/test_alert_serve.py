"""Done when: a season change imported into a running ``coinseason serve`` (a real process, a DuckDB file) reaches a
local receiver as exactly one correctly signed webhook — also when the server is killed (-9) between the change and
the send, and started again: the outbox in the store delivers it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.alerts.market import market_csv
from tests.alerts.receiver import Receiver, signature_ok
from tests.api.serve_helpers import Server, coinseason, free_port, serve

WAIT = 60.0
"""Seconds any awaited state may take (a loaded machine); the loops end as soon as it is reached."""
BASE = [0, 0, 0]
"""Index 0 on Jan 2-4: no season."""
CHANGE = [0, 0, 0, 3, 4, 4]
"""Then 75, 100, 100 on Jan 5-7: altcoin season entered on Jan 6 (confirmed on its second day)."""
ENV = {
    "COINSEASON_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "COINSEASON_WEBHOOK_RETRY_BASE_SECONDS": "1",
    "COINSEASON_ALERTS_TICK_SECONDS": "0.2",
    "COINSEASON_INGEST": "false",
    "COINSEASON_LOG_JSON": "false",
}


def until(what: str, check: Callable[[], Any], *, server: Server | None = None) -> Any:
    """Poll ``check`` until it returns something truthy (at most WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {WAIT:g} s" + (f":\n{server.output()}" if server else ""))


class Setup:
    """A DuckDB store with the base market, an API key and one season rule sending to ``url``."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.db = str(root / "store.duckdb")
        self.load(BASE)
        made = coinseason("keys", "create", "--name", "alerts", "--db", self.db)
        assert made.returncode == 0, made.stderr
        self.key = made.stdout.strip()
        prefix = self.key.split("_")[1]
        added = coinseason(
            "alerts", "add", "--key", prefix, "--name", "alt season", "--url", url, "--top", "5", "--window", "1",
            "--confirm-days", "2", "--db", self.db,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        self.secret = added.stdout.strip()
        assert self.secret.startswith("whsec_")

    def load(self, winners: list[int]) -> None:
        done = coinseason("import", str(market_csv(self.root / "m.csv", winners)), "--format", "tidy", "--db", self.db)
        assert done.returncode == 0, done.stderr

    def api(self, server: Server, path: str) -> Any:
        with httpx.Client(timeout=5.0) as client:
            answer = client.get(f"{server.url}/v1/alerts{path}", headers={"X-API-Key": self.key})
        assert answer.status_code == 200, answer.text
        return answer.json()

    @contextmanager
    def serve(self, name: str) -> Iterator[Server]:
        with serve(["--db", self.db], log=self.root / f"{name}.log", env=ENV) as server:
            yield server

    def armed(self, server: Server) -> bool:
        return all(rule["armed_after"] == "2026-01-04" for rule in self.api(server, ""))

    def events(self, server: Server) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api(server, "/events")
        return found

    def delivered(self, server: Server) -> list[dict[str, Any]]:
        return [e for e in self.events(server) if e["status"] == "delivered"]


def check_the_one_event(receiver: Receiver, setup: Setup) -> None:
    (got,) = receiver.received
    assert signature_ok(setup.secret, got)
    body = got.json()
    assert (body["type"], body["data_date"], body["value"], body["transition"]) == (
        "season.entered",
        "2026-01-06",
        100.0,
        "entered",
    )
    assert got.headers["x-coinseason-event-id"] == body["id"]
    assert body["rule"]["name"] == "alt season" and body["method"]["window"] == 1


def test_a_season_change_reaches_the_receiver_as_one_signed_webhook(tmp_path: Path) -> None:
    with Receiver() as receiver:
        setup = Setup(tmp_path, receiver.url)
        with setup.serve("serve") as server:
            until("the rule armed", lambda: setup.armed(server), server=server)
            assert receiver.received == []
            setup.load(CHANGE)  # a CLI import beside the running server
            (event,) = until("the event delivered", lambda: setup.delivered(server), server=server)
            assert event["attempts"] == 1 and event["type"] == "season.entered"
            check_the_one_event(receiver, setup)


def test_the_event_survives_a_kill_between_the_change_and_the_send(tmp_path: Path) -> None:
    port = free_port()  # the receiver is down at first: every attempt is refused and retried
    setup = Setup(tmp_path, f"http://127.0.0.1:{port}/hook")
    with setup.serve("first") as first:
        until("the rule armed", lambda: setup.armed(first), server=first)
        setup.load(CHANGE)
        (pending,) = until("an attempt failed", lambda: [e for e in setup.events(first) if e["attempts"]], server=first)
        assert pending["status"] == "pending" and pending["last_error"]
        os.killpg(first.process.pid, signal.SIGKILL)  # no shutdown, no lease release
        first.process.wait(10)
    with Receiver(port=port) as receiver, setup.serve("second") as second:
        (event,) = until("the event delivered after the restart", lambda: setup.delivered(second), server=second)
        assert event["id"] == pending["id"] and event["attempts"] > pending["attempts"]
        check_the_one_event(receiver, setup)
        assert len(setup.events(second)) == 1  # the restarted server raised nothing new
