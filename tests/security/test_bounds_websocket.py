"""``WS /v1/stream`` takes only what its schema allows (issue reproduction 2): malformed or ill-typed messages are
answered with an error message and the socket goes on, binary frames close it with 1003, messages over 4 KiB with
1009; a client holds a bounded number of sockets and topics. Never a traceback, at most one short log line each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from coinseason.api.routes.stream import MAX_REFUSED_MESSAGES
from tests.api.serve_helpers import Server, serve
from tests.conftest import small_market_csv
from tests.security.bounds_support import app_for, market_db

MALFORMED = [
    '{"subscribe":[{}]}',
    '{"subscribe":[["season"]]}',
    "not json",
    '{"subscribe": "season"}',
    '{"subscribe": ["prices"]}',
    '{"subscribe": null}',
    "[]",
    "null",
    '{"subscribe": ["season"], "also": 1}',
    "{}",
]
"""The issue's two reproductions, then other shapes a client may send by mistake or on purpose."""


@pytest.fixture
def db(tmp_path: Path) -> str:
    return market_db(tmp_path)


def client_for(db: str, **api: object) -> TestClient:
    return TestClient(app_for(db, **api))


def _stream_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "coinseason.api.stream"]


@pytest.mark.parametrize("text", MALFORMED)
def test_a_malformed_message_is_answered_with_an_error_and_the_socket_goes_on(
    db: str, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    """API8:2023 Security Misconfiguration (unhandled input crashing a handler) and API4:2023 (log flood): the
    reproductions ``{"subscribe":[{}]}`` and ``{"subscribe":[["season"]]}`` among them."""
    caplog.set_level(logging.INFO)
    with client_for(db) as client, client.websocket_connect("/v1/stream") as ws:
        ws.send_text(text)
        error = ws.receive_json()
        assert set(error) == {"error"} and "subscribe" in error["error"], error
        ws.send_text('{"subscribe": ["season"]}')  # the same socket still serves
        assert ws.receive_json() == {"subscribed": ["season"]}
    records = _stream_records(caplog)
    assert len(records) <= 1, [r.getMessage() for r in records]
    assert all(r.exc_info is None and len(r.getMessage()) < 300 for r in records)


def test_a_flood_of_invalid_messages_logs_one_line_and_is_closed(db: str, caplog: pytest.LogCaptureFixture) -> None:
    """API4:2023 Unrestricted Resource Consumption (log flood, work per message): every invalid message is answered
    until the cap, one more closes the socket with 1008; the connection wrote one log line in all."""
    caplog.set_level(logging.INFO)
    with client_for(db) as client, client.websocket_connect("/v1/stream") as ws:
        for n in range(MAX_REFUSED_MESSAGES):
            ws.send_text(MALFORMED[n % len(MALFORMED)])
            assert "error" in ws.receive_json()
        ws.send_text('{"subscribe":[{}]}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1008
    records = _stream_records(caplog)
    assert len(records) == 1 and records[0].exc_info is None


def test_a_binary_frame_closes_with_1003(db: str, caplog: pytest.LogCaptureFixture) -> None:
    """API8:2023 Security Misconfiguration: a binary frame is unsupported data, closed cleanly, one log line."""
    caplog.set_level(logging.INFO)
    with client_for(db) as client, client.websocket_connect("/v1/stream") as ws:
        ws.send_bytes(b'{"subscribe": ["season"]}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1003
    records = _stream_records(caplog)
    assert len(records) == 1 and records[0].exc_info is None


def test_a_message_over_4_kib_closes_with_1009(db: str) -> None:
    """API4:2023 Unrestricted Resource Consumption: the message size is checked in the app."""
    with client_for(db) as client, client.websocket_connect("/v1/stream") as ws:
        ws.send_text('{"subscribe": ["season"]' + " " * 4_096 + "}")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1009


def test_a_client_holds_at_most_the_configured_connections(db: str) -> None:
    """API4:2023 Unrestricted Resource Consumption: one more socket than allowed is closed with 1008; closing one
    frees its place."""
    with client_for(db, max_ws_connections_per_client=2) as client:
        with client.websocket_connect("/v1/stream") as first, client.websocket_connect("/v1/stream") as second:
            for ws in (first, second):
                ws.send_text('{"subscribe": ["season"]}')
                assert ws.receive_json() == {"subscribed": ["season"]}
            with client.websocket_connect("/v1/stream") as third, pytest.raises(WebSocketDisconnect) as closed:
                third.receive_text()
            assert closed.value.code == 1008 and "2 connections" in (closed.value.reason or "")
        with client.websocket_connect("/v1/stream") as again:  # both closed: room again
            again.send_text('{"subscribe": ["dominance"]}')
            assert again.receive_json() == {"subscribed": ["dominance"]}


def test_a_connection_follows_at_most_the_configured_topics(db: str) -> None:
    """API4:2023 Unrestricted Resource Consumption: subscriptions per connection are capped; unsubscribing makes
    room."""
    with client_for(db, max_ws_subscriptions=1) as client, client.websocket_connect("/v1/stream") as ws:
        ws.send_text('{"subscribe": ["season", "dominance"]}')
        assert ws.receive_json() == {"error": "at most 1 topics on one connection"}
        ws.send_text('{"subscribe": ["season"]}')
        assert ws.receive_json() == {"subscribed": ["season"]}
        ws.send_text('{"subscribe": ["dominance"]}')
        assert "at most 1" in ws.receive_json()["error"]
        ws.send_text('{"unsubscribe": ["season"], "subscribe": ["dominance"]}')
        assert ws.receive_json() == {"subscribed": ["dominance"]}
        ws.send_text('{"unsubscribe": ["dominance"]}')
        assert ws.receive_json() == {"subscribed": []}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ws")
    args = ["--db", str(root / "s.duckdb"), "--import", str(small_market_csv(root / "m.csv")), "--format", "tidy"]
    with serve(args, log=root / "server.log", env={"COINSEASON_INGEST": "false"}) as running:
        yield running


def test_a_real_server_answers_the_reproductions_without_a_traceback(server: Server) -> None:
    """API8:2023 Security Misconfiguration: against ``coinseason serve``, the reproductions are answered (an
    error message, then a close frame with 1003 for a binary frame) and its log holds no traceback."""

    async def talk() -> tuple[list[object], int | None]:
        answers: list[object] = []
        async with asyncio.timeout(10), connect(f"{server.ws_url}/v1/stream") as ws:
            for text in ('{"subscribe":[{}]}', '{"subscribe":[["season"]]}'):
                await ws.send(text)
                answers.append(orjson.loads(await ws.recv()))
            await ws.send(b"\x00\x01binary")
            try:
                await ws.recv()
            except ConnectionClosed as closed:
                return answers, closed.rcvd.code if closed.rcvd else None
        return answers, None

    answers, code = asyncio.run(talk())
    assert all(isinstance(a, dict) and set(a) == {"error"} for a in answers), answers
    assert code == 1003
    log = server.output()
    assert "Traceback" not in log and "TypeError" not in log and "KeyError" not in log
