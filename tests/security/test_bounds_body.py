"""Request bodies are bounded while they are read: chunked or length-delimited, a body passing
``COINSEASON_MAX_BODY_BYTES`` (64 KiB) is answered 413 problem+json as soon as the limit is passed, and no more of it
is read (issue reproduction 1: a 300 MB chunked body used to be read and parsed whole)."""

from __future__ import annotations

import select
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from tests.api.serve_helpers import Server, serve
from tests.conftest import small_market_csv
from tests.security.bounds_support import PROBLEM_JSON, app_for, assert_problem, market_db

LIMIT = 65_536
"""The default body limit."""
CHUNK = 16_384
OFFERED = 300 * 2**20
"""The reproduction's 300 MB."""
SMALL_SWEEP = {"params": {"top": 3, "window": 2, "min_volume_usd": 0.0}, "daily": False}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return app_for(market_db(tmp_path))


class Offered:
    """A body of ``total`` bytes offered ``chunk`` at a time, counting what the reader took."""

    def __init__(self, total: int, chunk: int = CHUNK) -> None:
        self.total = total
        self.chunk = chunk
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        piece = b" " * self.chunk
        while self.taken < self.total:
            self.taken += len(piece)
            yield piece


@pytest.mark.anyio
async def test_a_chunked_300_mb_body_is_refused_once_64_kib_are_read(app: FastAPI) -> None:
    """API4:2023 Unrestricted Resource Consumption: a chunked body never reaches past the limit in memory."""
    body = Offered(OFFERED)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/v1/backtests", content=body, headers={"Content-Type": "application/json"})
    problem = assert_problem(answer, 413)
    assert "65536 bytes" in problem["detail"]
    # the limit plus the one chunk that passed it, never more
    assert LIMIT < body.taken <= LIMIT + CHUNK


async def _raw_post(app: FastAPI, headers: list[tuple[bytes, bytes]], body: Offered) -> tuple[int, bytes]:
    """POST ``body`` to /v1/backtests through the bare ASGI interface (no framing header unless given)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "2",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/backtests",
        "raw_path": b"/v1/backtests",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    chunks = aiter(body)
    sent: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        try:
            piece = await anext(chunks)
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["body"] = sent.get("body", b"") + message.get("body", b"")

    await app(scope, receive, send)
    return sent["status"], sent["body"]


@pytest.mark.anyio
async def test_a_body_without_any_length_is_counted_as_it_arrives(app: FastAPI) -> None:
    """API4:2023 Unrestricted Resource Consumption: a body framed by neither Content-Length nor chunking (HTTP/2
    data frames) is bounded the same way."""
    body = Offered(OFFERED)
    status, raw = await _raw_post(app, [], body)
    assert status == 413 and orjson.loads(raw)["status"] == 413
    assert LIMIT < body.taken <= LIMIT + CHUNK


@pytest.mark.anyio
async def test_a_declared_length_over_the_limit_is_refused_before_reading(app: FastAPI) -> None:
    """API4:2023 Unrestricted Resource Consumption: Content-Length over the limit: 413 and not one byte read."""
    body = Offered(OFFERED)
    status, _ = await _raw_post(app, [(b"content-length", str(OFFERED).encode())], body)
    assert status == 413 and body.taken == 0


@pytest.mark.anyio
async def test_a_chunked_body_under_the_limit_is_served(app: FastAPI) -> None:
    """API4:2023 Unrestricted Resource Consumption: the bound does not refuse what it should let through."""

    async def small() -> AsyncIterator[bytes]:
        text = orjson.dumps(SMALL_SWEEP)
        yield text[:10]
        yield text[10:]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/v1/backtests", content=small(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["metrics"]["strategy"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("body")
    args = ["--db", str(root / "s.duckdb"), "--import", str(small_market_csv(root / "m.csv")), "--format", "tidy"]
    with serve(args, log=root / "server.log", env={"COINSEASON_INGEST": "false"}) as running:
        yield running


def test_a_real_server_answers_413_to_a_300_mb_chunked_upload(server: Server) -> None:
    """API4:2023 Unrestricted Resource Consumption: reproduction 1 against ``coinseason serve``: the answer comes
    while the client is still sending, long before 300 MB went out."""
    head = (
        f"POST /v1/backtests HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        while sent < OFFERED:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            if readable:
                answer = sock.recv(65_536)
                break
            assert writable, "the server neither read nor answered for 10 s"
            sock.sendall(piece)
            sent += len(piece)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert PROBLEM_JSON.encode() in answer
    # what went out before the answer: the limit plus what the kernel's socket buffers held, far below 300 MB
    assert sent < 32 * 2**20, sent
