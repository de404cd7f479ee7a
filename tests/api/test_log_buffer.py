"""Buffered access lines (``COINSEASON_LOG_FLUSH_SECONDS``): written in batches, yet never lost and never late.

The handler's clock is injected: a line is due once ``flush_seconds`` have passed since the oldest one buffered,
and the tests move that clock by hand. A real ``coinseason serve`` stopped with SIGTERM must have written every
access line of the requests it answered, on either server.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from coinseason.api.http.access import AccessLog
from coinseason.logs import PIPE_BUF, JsonFormatter, TextFormatter, _Handler
from tests.api.serve_helpers import serve
from tests.api.test_app import market_csv
from tests.fakes.clock import FakeTime

LOGGER = "coinseason.test.buffered"


def scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "client": ("127.0.0.1", 5000)}


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime(start=100.0)


class Writes(io.StringIO):
    """A stream that remembers each ``write`` (a piece written at once) and says when one came."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []
        self.came = threading.Event()

    def write(self, text: str, /) -> int:
        self.pieces.append(text)
        self.came.set()
        return super().write(text)


@contextlib.contextmanager
def installed(handler: logging.Handler) -> Iterator[None]:
    """``handler`` the only one of the test logger (so the access line takes its fast way), closed afterwards.

    Entered in the test's body: pytest adds its capturing handlers to every non-propagating logger before it."""
    log = logging.getLogger(LOGGER)
    others, log.handlers = log.handlers, [handler]
    log.propagate, log.level = False, logging.INFO
    try:
        yield
    finally:
        log.handlers = others
        log.propagate, log.level = True, logging.NOTSET
        handler.close()


@pytest.fixture
def buffered(fake: FakeTime) -> tuple[_Handler, Writes]:
    """The handler ``configure_logging`` installs, buffering for 1 s of the fake clock, no background thread."""
    stream = Writes()
    handler = _Handler(stream, flush_seconds=1.0, clock=fake.monotonic, ticker=False)
    handler.setFormatter(JsonFormatter())
    return handler, stream


def paths(stream: io.StringIO) -> list[str]:
    return [orjson.loads(line)["path"] for line in stream.getvalue().splitlines()]


def test_access_lines_wait_until_the_oldest_is_due(buffered: tuple[_Handler, Writes], fake: FakeTime) -> None:
    handler, stream = buffered
    access = AccessLog(logger_name=LOGGER)
    with installed(handler):
        access(scope("/v1/a"), None, 200, 0.001)
        fake.now += 0.5
        access(scope("/v1/b"), None, 200, 0.001)
        fake.now += 0.49
        access(scope("/v1/c"), None, 200, 0.001)
        assert stream.getvalue() == ""  # 0.99 s after the oldest: still held
        fake.now += 0.01
        access(scope("/v1/d"), None, 200, 0.001)  # 1 s after the oldest: all four go out, in order
        assert paths(stream) == ["/v1/a", "/v1/b", "/v1/c", "/v1/d"]
        assert len(stream.pieces) == 1  # one write for the batch
        access(scope("/v1/e"), None, 200, 0.001)  # the next batch starts its own second
        assert paths(stream) == ["/v1/a", "/v1/b", "/v1/c", "/v1/d"]


def test_a_full_buffer_is_written_at_once(fake: FakeTime) -> None:
    stream = Writes()
    handler = _Handler(stream, flush_seconds=60.0, max_lines=3, clock=fake.monotonic, ticker=False)
    handler.setFormatter(TextFormatter())
    with installed(handler):
        access = AccessLog(logger_name=LOGGER)
        for name in ("a", "b"):
            access(scope(f"/v1/{name}"), None, 200, 0.001)
        assert stream.getvalue() == ""
        access(scope("/v1/c"), "/v1/{x}", 404, 0.001)
        lines = stream.getvalue().splitlines()
        assert [line.split()[3:6] for line in lines] == [
            ["GET", "/v1/a", "200"], ["GET", "/v1/b", "200"], ["GET", "/v1/{x}", "404"],
        ]  # fmt: skip


def test_a_warning_goes_out_at_once_after_the_lines_before_it(buffered: tuple[_Handler, Writes]) -> None:
    handler, stream = buffered
    with installed(handler):
        AccessLog(logger_name=LOGGER)(scope("/v1/a"), None, 200, 0.001)
        logging.getLogger(LOGGER).warning("store %s is slow", "x")
        entries = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["level"], e["msg"]) for e in entries] == [("INFO", "GET /v1/a 200"), ("WARNING", "store x is slow")]


def test_flush_and_close_write_what_is_buffered(buffered: tuple[_Handler, Writes]) -> None:
    handler, stream = buffered
    access = AccessLog(logger_name=LOGGER)
    with installed(handler):
        access(scope("/v1/a"), None, 200, 0.001)
        assert stream.getvalue() == ""
        handler.flush()  # what logging.shutdown calls at exit, before close
        assert paths(stream) == ["/v1/a"]
        access(scope("/v1/b"), None, 200, 0.001)
        handler.close()
        assert paths(stream) == ["/v1/a", "/v1/b"]


def test_batches_go_out_in_pieces_a_pipe_keeps_whole(fake: FakeTime) -> None:
    """Workers share stderr: a write of at most PIPE_BUF bytes is never mixed with another's, so no line is
    split; a batch longer than that is cut between lines."""
    stream = Writes()
    handler = _Handler(stream, flush_seconds=60.0, max_lines=100, clock=fake.monotonic, ticker=False)
    handler.setFormatter(JsonFormatter())
    with installed(handler):
        access = AccessLog(logger_name=LOGGER)
        for i in range(100):
            access(scope(f"/v1/{'é' * 40}/{i}"), None, 200, 0.001)  # non-ASCII: bytes, not characters, count
    assert len(stream.pieces) > 1
    assert all(len(piece.encode()) <= PIPE_BUF and piece.endswith("\n") for piece in stream.pieces)
    assert [p.rsplit("/", 1)[1] for p in paths(stream)] == [str(i) for i in range(100)]


def test_a_path_that_looks_like_a_query_is_redacted_in_the_buffered_line(buffered: tuple[_Handler, Writes]) -> None:
    handler, stream = buffered
    with installed(handler):
        AccessLog(logger_name=LOGGER)(scope("/v1/x&api_key=s3cr3t"), None, 404, 0.001)
        handler.flush()
    assert "s3cr3t" not in stream.getvalue()
    assert paths(stream) == ["/v1/x&api_key=[redacted]"]


def test_the_background_thread_writes_a_line_no_other_follows() -> None:
    """No further request, no flush: the handler's own thread writes the line once it is due (real clock)."""
    stream = Writes()
    handler = _Handler(stream, flush_seconds=0.01)
    handler.setFormatter(JsonFormatter())
    with installed(handler):
        AccessLog(logger_name=LOGGER)(scope("/v1/alone"), None, 200, 0.001)
        assert stream.came.wait(timeout=30)
        assert paths(stream) == ["/v1/alone"]


def test_unbuffered_handler_writes_each_line_at_once(fake: FakeTime) -> None:
    stream = Writes()
    handler = _Handler(stream, clock=fake.monotonic)
    handler.setFormatter(JsonFormatter())
    with installed(handler):
        AccessLog(logger_name=LOGGER)(scope("/v1/a"), None, 200, 0.001)
        assert paths(stream) == ["/v1/a"]


@pytest.mark.parametrize("kind", ["granian", "uvicorn"])
def test_serve_writes_every_access_line_when_stopped(kind: str, tmp_path: Path) -> None:
    """A minute of buffering, so only the stop can write them: N answered requests, SIGTERM, N access lines."""
    requests = 40
    args = ["--db", str(tmp_path / "s.duckdb"), "--import", str(market_csv(tmp_path / "m.csv")), "--format", "tidy"]
    env = {"COINSEASON_SERVER": kind, "COINSEASON_LOG_FLUSH_SECONDS": "60", "COINSEASON_INGEST": "false"}
    with serve(args, log=tmp_path / "server.log", env=env) as server:
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            for i in range(requests):
                answer = client.get(
                    "/v1/season/latest", params={"top": 3, "window": 2}, headers={"X-Request-ID": f"r{i}"}
                )
                assert answer.status_code == 200
        held = server.output()
    written = server.output()  # after the stop

    def ours(text: str) -> list[str]:
        entries = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
        return [
            e["request_id"] for e in entries if e.get("logger") == "coinseason.access" and e["request_id"][0] == "r"
        ]

    assert ours(held) == []  # buffered while it served (nothing else was logged to flush them)
    assert ours(written) == [f"r{i}" for i in range(requests)]
