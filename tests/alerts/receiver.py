"""A webhook receiver for tests: an HTTP server on 127.0.0.1 (a free port) that records every request, checks its
signature the way the README tells users to, and answers what the test scripts (a status, a big body, a redirect,
or nothing for a while)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def signature_ok(secret: str, received: Received, *, tolerance: int = 300, now: float | None = None) -> bool:
    """The README's check, written out independently of coinseason's code: HMAC-SHA256 over ``timestamp.body``."""
    timestamp = received.headers.get("x-coinseason-timestamp", "")
    signature = received.headers.get("x-coinseason-signature", "")
    if not timestamp.isdigit() or abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v1=" + expected, signature)


class Receiver:
    """``answers``: what to answer, one per request in order; afterwards ``default``. ``port`` 0: a free one."""

    def __init__(
        self, *, default: Answer | None = None, port: int = 0, choose: Callable[[Received], Answer] | None = None
    ) -> None:
        self.received: list[Received] = []
        self.choose = choose
        """Picks the answer of each request (after ``answers`` ran out), instead of ``default``."""
        self.answers: deque[Answer] = deque()
        self.default = default or Answer()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    got = receiver.received[-1]
                    if receiver.answers:
                        answer = receiver.answers.popleft()
                    else:
                        answer = receiver.choose(got) if receiver.choose else receiver.default
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server signature
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def event_ids(self) -> list[str]:
        with self._lock:
            return [r.headers.get("x-coinseason-event-id", "") for r in self.received]

    def unique_events(self) -> int:
        return len(set(self.event_ids()))

    def duplicates(self) -> int:
        ids = self.event_ids()
        return len(ids) - len(set(ids))
