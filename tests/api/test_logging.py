"""JSON logs, request ids, and the access line and request metrics of the front layer (:class:`FrontDoor`), over a
tiny FastAPI app."""

from __future__ import annotations

import io
import logging
import re

import httpx
import orjson
import pytest
from fastapi import FastAPI, WebSocket
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coinseason.api.http.cache import ResponseCache
from coinseason.api.http.guard import FrontDoor
from coinseason.api.http.limits import MemoryRateLimiter
from coinseason.api.http.metrics import Metrics
from coinseason.errors import ConfigError
from coinseason.logs import JsonFormatter, configure_logging, new_request_id, request_id
from coinseason.settings import Settings
from tests.api.conftest import access_lines, log_lines

SECRET = "cs_abcd1234_s3cr3tS3cr3tS3cr3t"  # noqa: S105 (a made-up key that must never show in logs)


def front(app: ASGIApp, metrics: Metrics | None = None) -> FrontDoor:
    """The API's front layer before ``app``: anonymous reads, no key known, no cache entry."""
    return FrontDoor(
        app,
        settings=Settings(db="unused.duckdb"),
        metrics=metrics or Metrics(),
        limiter=MemoryRateLimiter(),
        cache=ResponseCache(),
        verify_key=lambda key: None,
    )


def make_app(metrics: Metrics | None = None) -> FrontDoor:
    app = FastAPI()
    log = logging.getLogger("coinseason.test")

    @app.get("/v1/items/{item_id}")
    async def item(item_id: str) -> dict[str, str | None]:
        log.info("serving item %s", item_id, extra={"item": item_id})
        return {"item": item_id, "request_id": request_id.get()}

    @app.get("/v1/sync")
    def sync_route() -> dict[str, str | None]:  # runs in a worker thread: the context must follow
        return {"request_id": request_id.get()}

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.websocket("/v1/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(request_id.get() or "")
        await websocket.close()

    return front(app, metrics)


def client_of(app: FrontDoor, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


# -- request ids ---------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_valid_incoming_request_id_is_used_and_echoed(log_stream: io.StringIO) -> None:
    async with client_of(make_app()) as client:
        response = await client.get("/v1/items/btc", headers={"X-Request-ID": "abc-DEF_123"})
    assert response.headers["x-request-id"] == "abc-DEF_123"
    assert response.json()["request_id"] == "abc-DEF_123"
    assert {line["request_id"] for line in log_lines(log_stream)} == {"abc-DEF_123"}
    assert request_id.get() is None  # reset once the request is done


@pytest.mark.anyio
async def test_a_request_id_is_made_when_none_comes(log_stream: io.StringIO) -> None:
    async with client_of(make_app()) as client:
        first = await client.get("/v1/items/btc")
        second = await client.get("/v1/sync")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids) and ids[0] != ids[1]
    assert first.json()["request_id"] == ids[0] and second.json()["request_id"] == ids[1]


@pytest.mark.anyio
@pytest.mark.parametrize("incoming", ["a" * 65, "has space", "semi;colon", "ünïcode", "", "a/b", "x\ty"])
async def test_an_invalid_incoming_request_id_is_replaced(log_stream: io.StringIO, incoming: str) -> None:
    async with client_of(make_app()) as client:
        response = await client.get("/v1/items/btc", headers={b"X-Request-ID": incoming.encode("utf-8")})
    made = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made) and response.json()["request_id"] == made
    assert {line["request_id"] for line in log_lines(log_stream)} == {made}


@pytest.mark.anyio
async def test_an_id_of_64_characters_is_kept(log_stream: io.StringIO) -> None:
    async with client_of(make_app()) as client:
        response = await client.get("/v1/items/btc", headers={"X-Request-ID": "a" * 64})
    assert response.headers["x-request-id"] == "a" * 64
    assert response.headers.get_list("x-request-id") == ["a" * 64]


def test_new_request_id_sets_the_context() -> None:
    rid = new_request_id()
    assert re.fullmatch(r"[0-9a-f]{32}", rid) and request_id.get() == rid
    request_id.set(None)


@pytest.mark.anyio
async def test_websocket_gets_a_request_id(log_stream: io.StringIO) -> None:
    incoming: list[Message] = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "http_version": "1.1",
        "path": "/v1/ws", "raw_path": b"/v1/ws", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"x-request-id", b"ws-1")], "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80), "subprotocols": [], "state": {},
    }  # fmt: skip
    await make_app()(scope, receive, send)
    accept, text = sent[0], sent[1]
    assert accept["type"] == "websocket.accept" and (b"x-request-id", b"ws-1") in accept["headers"]
    assert text == {"type": "websocket.send", "text": "ws-1"}
    assert access_lines(log_stream) == []  # no access line for a WebSocket


# -- the access line -----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_access_line_is_json_with_the_fields(log_stream: io.StringIO) -> None:
    async with client_of(make_app()) as client:
        await client.get("/v1/items/eth", headers={"X-Request-ID": "req-1"})
    [line] = access_lines(log_stream)
    assert set(line) == {
        "ts", "level", "logger", "msg", "request_id", "method", "route", "path", "status", "duration_ms", "client",
    }  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["ts"])
    assert line["level"] == "INFO" and line["request_id"] == "req-1"
    assert line["msg"] == "GET /v1/items/{item_id} 200"
    assert (line["method"], line["route"], line["path"], line["status"]) == ("GET", "/v1/items/{item_id}",
                                                                              "/v1/items/eth", 200)  # fmt: skip
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["client"] == "127.0.0.1"
    [app_line] = [entry for entry in log_lines(log_stream) if entry["logger"] == "coinseason.test"]
    assert app_line["msg"] == "serving item eth" and app_line["item"] == "eth" and app_line["request_id"] == "req-1"


@pytest.mark.anyio
async def test_an_unmatched_path_is_logged_as_the_path(log_stream: io.StringIO) -> None:
    async with client_of(make_app()) as client:
        response = await client.get("/nowhere/at/all")
    assert response.status_code == 404
    [line] = access_lines(log_stream)
    assert line["route"] == "/nowhere/at/all" and line["status"] == 404


@pytest.mark.anyio
async def test_an_unhandled_error_is_logged_as_500(log_stream: io.StringIO) -> None:
    metrics = Metrics()
    async with client_of(make_app(metrics), raise_app_exceptions=False) as client:
        response = await client.get("/v1/boom")
    assert response.status_code == 500
    [line] = access_lines(log_stream)
    assert (line["route"], line["status"]) == ("/v1/boom", 500)
    assert requests_total(metrics)[("/v1/boom", "GET", "500")] == 1
    assert request_id.get() is None


@pytest.mark.anyio
async def test_the_api_key_never_reaches_the_logs(log_stream: io.StringIO) -> None:
    async with client_of(make_app()) as client:
        await client.get(
            "/v1/items/btc",
            params={"api_key": SECRET, "key": SECRET, "top": "50"},
            headers={"X-API-Key": SECRET, "Authorization": f"Bearer {SECRET}"},
        )
    # a careless log call elsewhere (uvicorn's own access line has the query string) is blanked too
    logging.getLogger("uvicorn.access").warning(
        '127.0.0.1 - "GET /v1/items/btc?top=50&api_key=%s HTTP/1.1" 200', SECRET
    )
    logging.getLogger("coinseason.test").warning("key used", extra={"api_key": SECRET, "x_api_key": SECRET})
    text = log_stream.getvalue()
    assert len(access_lines(log_stream)) == 1
    assert SECRET not in text
    assert "api_key=[redacted]" in text and '"x_api_key":"[redacted]"' in text


# -- metrics -------------------------------------------------------------------------------------------------------


def requests_total(metrics: Metrics) -> dict[tuple[str, str, str], float]:
    body, _ = metrics.render()
    return {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == "coinseason_http_requests_total"
    }


@pytest.mark.anyio
async def test_metrics_are_observed_with_the_route_template(log_stream: io.StringIO) -> None:
    metrics = Metrics()
    async with client_of(make_app(metrics)) as client:
        for coin in ("btc", "eth", "sol"):
            await client.get(f"/v1/items/{coin}")
        for n in range(3):
            await client.get(f"/random/{n}")
    assert requests_total(metrics) == {("/v1/items/{item_id}", "GET", "200"): 3, ("<unmatched>", "GET", "404"): 3}


@pytest.mark.anyio
async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    await front(inner)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]


# -- configure_logging and the formatters --------------------------------------------------------------------------


def test_configure_logging_replaces_its_own_handler_and_keeps_others() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        configure_logging("debug", json=False, stream=io.StringIO())
        configure_logging("WARNING", json=False, stream=stream)
        ours = [h for h in root.handlers if h not in handlers]
        assert len(ours) == 1 and root.level == logging.WARNING
        assert all(h in root.handlers for h in handlers)
        token = request_id.set("rid-7")
        logging.getLogger("coinseason.test").warning("plain %s", "text", extra={"n": 3})
        logging.getLogger("coinseason.test").info("hidden")
        request_id.reset(token)
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
    [line] = stream.getvalue().splitlines()
    assert re.fullmatch(r"\S+ WARNING coinseason\.test \[rid-7\] plain text n=3", line)


def test_configure_logging_refuses_an_unknown_level() -> None:
    with pytest.raises(ConfigError, match="log level 'LOUD'"):
        configure_logging("LOUD")


def test_json_formatter_keeps_exceptions_and_odd_extras() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed %d", (3,), exc_info=__import__("sys").exc_info(),
            extra={"when": object(), "numbers": {1: "one"}},
        )  # fmt: skip
    entry = orjson.loads(JsonFormatter().format(record))
    assert entry["msg"] == "failed 3" and entry["level"] == "ERROR" and entry["request_id"] is None
    assert "ValueError: bad value" in entry["exc"]
    assert entry["when"].startswith("<object object") and entry["numbers"] == {"1": "one"}
