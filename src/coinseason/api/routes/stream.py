"""``WS /v1/stream``: subscribe to season and dominance updates."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from coinseason.api.http.stream import TOPICS, Subscription, SubscriptionClosed
from coinseason.api.state import ApiState

router = APIRouter(prefix="/v1", tags=["stream"])


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Send ``{"subscribe": ["season", "dominance", "intraday"]}`` (any of them); the server answers
    ``{"subscribed": [...]}`` and then pushes ``{"topic": ..., "sent_at": ..., "data": ...}``: season and dominance
    (the ``/latest`` answers of the standard variants) whenever new daily data lands, intraday updates as the live
    feed makes them. Messages over the size limit close the socket."""
    state: ApiState = websocket.app.state.api
    await websocket.accept()
    limit = state.settings.api.max_ws_message_bytes
    sub = None
    sender: asyncio.Task[None] | None = None
    try:
        while True:
            text = await websocket.receive_text()
            if len(text.encode()) > limit:
                await websocket.close(code=1009, reason=f"message over {limit} bytes")
                return
            topics = _topics(text)
            if topics is None:
                await websocket.send_text('{"error": "send {\\"subscribe\\": [\\"season\\", \\"dominance\\"]}"}')
                continue
            if sub is not None:
                state.hub.unsubscribe(sub)
            if sender is not None:
                sender.cancel()
            sub = state.hub.subscribe(topics)
            await websocket.send_text(orjson.dumps({"subscribed": sorted(topics)}).decode())
            sender = asyncio.create_task(_pump(websocket, sub))
    except WebSocketDisconnect:
        pass
    finally:
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        if sub is not None:
            state.hub.unsubscribe(sub)


def _topics(text: str) -> list[str] | None:
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    topics = message.get("subscribe") if isinstance(message, dict) else None
    if not isinstance(topics, list) or not topics or not all(t in TOPICS for t in topics):
        return None
    return list(dict.fromkeys(topics))


async def _pump(websocket: WebSocket, sub: Subscription) -> None:
    with contextlib.suppress(SubscriptionClosed):
        async for payload in sub:
            await websocket.send_text(payload.decode())
