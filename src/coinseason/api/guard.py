"""The pure-ASGI front of /v1: key in URL refused, body size, API keys, rate limits, and the hot cache.

Cached GET responses are answered here, before FastAPI routing, so the hot paths cost little more than a bare
ASGI app; everything else passes through to the routes, which fill the cache.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from coinseason.api.cache import etag_matches
from coinseason.api.deps import CACHE_CONTROL
from coinseason.api.limits import LimiterUnavailable
from coinseason.api.problems import PROBLEM_JSON, problem_bytes
from coinseason.api.state import ApiState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KEY_PARAMS = frozenset({"api_key", "apikey", "key", "x-api-key", "token", "access_token"})
KEY_CACHE_SECONDS = 5.0
"""A verified key is trusted this long without a store lookup: revocation takes effect within this time."""


class GuardMiddleware:
    def __init__(self, app: ASGIApp, *, state: ApiState, prefix: str = "/v1") -> None:
        self.app = app
        self.state = state
        self.prefix = prefix
        self._verified: dict[bytes, tuple[str, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if query and any(k.lower() in KEY_PARAMS for k, _ in parse_qsl(query.decode("latin-1"))):
            await self._refuse(scope, send, 400, "API keys go in the X-API-Key header, never in the URL")
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.state.settings.max_body_bytes):
            await self._refuse(scope, send, 413, f"request body over {self.state.settings.max_body_bytes} bytes")
            return
        identity, limit = self._identity(scope, headers.get(b"x-api-key"))
        if identity is None:
            detail = "a valid API key is required in the X-API-Key header" if limit else "invalid or revoked API key"
            await self._refuse(scope, send, 401, detail, {"www-authenticate": "ApiKey"})
            return
        try:
            decision = await self.state.limiter.hit(identity, limit=limit)
        except LimiterUnavailable as exc:
            await self._refuse(scope, send, 503, f"{exc}; requests are refused until it is back", {"retry-after": "5"})
            return
        rate_headers = [
            (b"x-ratelimit-limit", str(decision.limit).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        ]
        if not decision.allowed:
            retry = max(1, int(decision.retry_after + 0.999))
            await self._refuse(
                scope,
                send,
                429,
                f"rate limit of {decision.limit} requests a minute reached",
                {"retry-after": str(retry)},
                rate_headers,
            )
            return
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and await self._from_cache(scope, headers, send, rate_headers)
        ):
            return
        await self.app(scope, receive, _with_headers(send, rate_headers))

    def _identity(self, scope: Scope, key: bytes | None) -> tuple[str | None, int]:
        """(identity, its per-minute limit); identity None = refuse (limit 1: key missing, 0: key invalid)."""
        settings = self.state.settings
        if key is None:
            if not settings.allow_anonymous:
                return None, 1
            client = scope.get("client") or ("unknown", 0)
            return f"anon:{client[0]}", settings.anonymous_rate_limit_per_minute
        digest = hashlib.sha256(key).digest()
        now = time.monotonic()
        known = self._verified.get(digest)
        if known is not None and now - known[1] < KEY_CACHE_SECONDS:
            return known[0], settings.rate_limit_per_minute
        record = self.state.keys.verify(key.decode("latin-1"))
        if record is None:
            self._verified.pop(digest, None)
            return None, 0
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[digest] = (f"key:{record.prefix}", now)
        return f"key:{record.prefix}", settings.rate_limit_per_minute

    async def _from_cache(
        self, scope: Scope, headers: dict[bytes, bytes], send: Send, extra: list[tuple[bytes, bytes]]
    ) -> bool:
        query = scope.get("query_string", b"").decode("latin-1")
        key = f"{scope['path']}?{'&'.join(sorted(query.split('&'))) if query else ''}"
        entry = self.state.cache.get(key)
        if entry is None:
            return False
        common = [(b"etag", entry.etag.encode()), (b"cache-control", CACHE_CONTROL.encode()), *extra]
        match = headers.get(b"if-none-match")
        if etag_matches(match.decode("latin-1") if match else None, entry.etag):
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return True
        body = b"" if scope["method"] == "HEAD" else entry.body
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", entry.media_type.encode()),
                    (b"content-length", str(len(entry.body)).encode()),
                    *common,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
            return
        body = problem_bytes(status, detail, instance=scope["path"])
        raw = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()), *(extra or [])]
        raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return wrapped
