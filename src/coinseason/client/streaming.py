"""``WS /v1/stream`` for :class:`~coinseason.client.asynchronous.AsyncClient`: subscribe, then read the season,
dominance and intraday updates the server pushes, as :class:`StreamMessage` s."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus, WebSocketException

from coinseason.client.errors import ApiError, InvalidRequest, Unauthorized, Unavailable, Unreachable

__all__ = ["StreamMessage", "Topic", "messages", "ws_url"]

Topic = Literal["season", "dominance", "intraday"]
_POLICY = 1008
_TRY_AGAIN = 1013


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One pushed update: ``data`` is the ``/latest`` answer of the topic's standard variant (or an intraday
    update), ``sent_at`` when the server sent it."""

    topic: str
    sent_at: dt.datetime
    data: dict[str, Any]


def ws_url(base_url: str) -> str:
    """The stream's address under an ``http(s)://`` base URL."""
    if base_url.startswith("https://"):
        return "wss://" + base_url.removeprefix("https://").rstrip("/") + "/v1/stream"
    return "ws://" + base_url.removeprefix("http://").rstrip("/") + "/v1/stream"


async def messages(
    base_url: str, topics: Sequence[Topic], *, api_key: str | None, open_timeout: float
) -> AsyncGenerator[StreamMessage, None]:
    """Subscribe to ``topics`` and yield what the server pushes, until it closes the stream."""
    headers = {"X-API-Key": api_key} if api_key is not None else None
    url = ws_url(base_url)
    try:
        async with connect(url, additional_headers=headers, open_timeout=open_timeout) as socket:
            await socket.send(orjson.dumps({"subscribe": list(topics)}).decode())
            answer = orjson.loads(await socket.recv())
            if not isinstance(answer, dict) or "subscribed" not in answer:
                raise InvalidRequest(str(answer.get("error") if isinstance(answer, dict) else answer), instance=url)
            async for raw in socket:
                message = orjson.loads(raw)
                yield StreamMessage(
                    topic=message["topic"], sent_at=dt.datetime.fromisoformat(message["sent_at"]), data=message["data"]
                )
    except InvalidStatus as exc:
        status = exc.response.status_code
        kind: type[ApiError] = Unauthorized if status in (401, 403) else Unavailable
        raise kind(f"the stream refused the connection ({status})", status=status, instance=url) from exc
    except ConnectionClosedError as exc:
        code = exc.rcvd.code if exc.rcvd is not None else None
        reason = exc.rcvd.reason if exc.rcvd is not None else str(exc)
        if code == _POLICY:
            raise Unauthorized(reason, instance=url) from exc
        if code == _TRY_AGAIN:
            raise Unavailable(reason, instance=url) from exc
        raise Unreachable(f"the stream closed: {reason}", instance=url) from exc
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise Unreachable(f"{type(exc).__name__}: {exc}", instance=url) from exc
