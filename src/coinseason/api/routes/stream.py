"""``WS /v1/stream``: subscribe to season and dominance updates.

Whatever a client sends is bounded and checked before anything acts on it: a text message over
``COINSEASON_MAX_WS_MESSAGE_BYTES`` closes the socket (1009), a binary frame closes it (1003, unsupported data), a
message that is not a valid :class:`StreamCommand` is answered ``{"error": ...}`` naming what was wrong, and the
connection goes on (up to ``MAX_REFUSED_MESSAGES`` of them; one more closes it with 1008). A client holds at most
``COINSEASON_MAX_WS_CONNECTIONS_PER_CLIENT`` sockets at once (one more is closed with 1008) and one socket follows
at most ``COINSEASON_MAX_WS_SUBSCRIPTIONS`` topics. A connection's first refusal is logged in one short line (later
ones are not: no log flood), never with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.websockets import WebSocketState

from coinseason.api.http.stream import ClientConnections, Subscription, SubscriptionClosed
from coinseason.api.state import ApiState

router = APIRouter(prefix="/v1", tags=["stream"])
log = logging.getLogger("coinseason.api.stream")

WS_UNSUPPORTED = 1003
WS_POLICY = 1008
WS_TOO_BIG = 1009
MAX_REFUSED_MESSAGES = 10
"""Invalid messages one connection may send; the next closes it (1008): answering errors is work too."""
Topic = Literal["season", "dominance", "intraday"]
USAGE = '{"subscribe": ["season", "dominance", "intraday"]} or {"unsubscribe": [...]}'


class StreamCommand(BaseModel):
    """One client message: ``{"subscribe": [topics]}`` adds topics, ``{"unsubscribe": [topics]}`` removes them
    (both may come in one message; unsubscribing is applied first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subscribe: list[Topic] = Field(default_factory=list, max_length=16)
    unsubscribe: list[Topic] = Field(default_factory=list, max_length=16)

    @model_validator(mode="after")
    def _says_something(self) -> StreamCommand:
        if not self.subscribe and not self.unsubscribe:
            raise ValueError("no topic named")
        return self


def parse_command(text: str) -> StreamCommand | str:
    """The command in ``text``, or a short sentence saying what is wrong with it (for the client)."""
    try:
        return StreamCommand.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "message"
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        return f"{where}: {message[:120]}; send {USAGE}"


def _connections(websocket: WebSocket) -> ClientConnections:
    """The app's count of open sockets per client address, made on first use."""
    counted = getattr(websocket.app.state, "ws_connections", None)
    if not isinstance(counted, ClientConnections):
        counted = ClientConnections()
        websocket.app.state.ws_connections = counted
    return counted


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Send ``{"subscribe": ["season", "dominance", "intraday"]}`` (any of them; ``{"unsubscribe": [...]}`` to stop
    one); the server answers ``{"subscribed": [...]}`` (every topic now followed) and then pushes ``{"topic": ...,
    "sent_at": ..., "data": ...}``: season and dominance (the ``/latest`` answers of the standard variants) whenever
    new daily data lands, intraday updates as the live feed makes them. An invalid message is answered
    ``{"error": ...}``; one over the size limit closes the socket (1009), a binary one too (1003)."""
    state: ApiState = websocket.app.state.api
    api = state.settings.api
    address = websocket.client.host if websocket.client else "unknown"
    connections = _connections(websocket)
    await websocket.accept()
    if not connections.open(address, api.max_ws_connections_per_client):
        log.info("stream refused: client over %d connections", api.max_ws_connections_per_client)
        await websocket.close(code=WS_POLICY, reason=f"over {api.max_ws_connections_per_client} connections")
        return
    limit = api.max_ws_message_bytes
    topics: frozenset[str] = frozenset()
    sub: Subscription | None = None
    sender: asyncio.Task[None] | None = None
    refused = 0
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                log.info("stream closed: binary frame")
                await websocket.close(code=WS_UNSUPPORTED, reason="binary frames are not accepted; send JSON text")
                return
            if len(text) > limit or len(text.encode()) > limit:
                log.info("stream closed: message over %d bytes", limit)
                await websocket.close(code=WS_TOO_BIG, reason=f"message over {limit} bytes")
                return
            command = parse_command(text)
            refusal = command if isinstance(command, str) else None
            if not isinstance(command, str):
                wanted = (topics - set(command.unsubscribe)) | set(command.subscribe)
                if len(wanted) > api.max_ws_subscriptions:
                    refusal = f"at most {api.max_ws_subscriptions} topics on one connection"
            if refusal is not None:
                refused += 1
                if refused == 1:
                    log.info("stream message refused: %s", refusal)
                if refused > MAX_REFUSED_MESSAGES:
                    await websocket.close(code=WS_POLICY, reason=f"over {MAX_REFUSED_MESSAGES} invalid messages")
                    return
                await websocket.send_text(orjson.dumps({"error": refusal}).decode())
                continue
            if sender is not None:
                sender.cancel()
                sender = None
            if sub is not None:
                state.hub.unsubscribe(sub)
                sub = None
            topics = frozenset(wanted)
            if topics:
                sub = state.hub.subscribe(topics)
            await websocket.send_text(orjson.dumps({"subscribed": sorted(topics)}).decode())
            if sub is not None:
                sender = asyncio.create_task(_pump(websocket, sub))
    except WebSocketDisconnect:
        pass
    finally:
        connections.close(address)
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        if sub is not None:
            state.hub.unsubscribe(sub)
        if websocket.application_state == WebSocketState.CONNECTED and websocket.client_state not in (
            WebSocketState.DISCONNECTED,
        ):
            with contextlib.suppress(Exception):
                await websocket.close()


async def _pump(websocket: WebSocket, sub: Subscription) -> None:
    with contextlib.suppress(SubscriptionClosed):
        async for payload in sub:
            await websocket.send_text(payload.decode())
