"""The front layer of the API, before FastAPI: one pure-ASGI call per request.

For every HTTP request and WebSocket connection it sets the request id (``X-Request-ID`` in, when valid, and out)
and, for HTTP, writes the access line and counts the request in the metrics. Under ``/v1`` it also refuses a key
in the query, a path parameter (``;...``, where a key could hide), a body over the limit (counted as it arrives,
chunked or not: 413 as soon as it passes, the rest never read), a missing or invalid API key, a client past its
failed key checks (429 before any store lookup) and a client over its rate limit (problem+json, or a WebSocket
close), adds the rate-limit headers, and answers a GET/HEAD whose response is in the ready-bytes cache
(200, or 304 to a matching ``If-None-Match``) without calling FastAPI at all. Everything else passes on to the app,
whose routes fill the cache.

Nothing escapes it as the server's plain-text 500: a key check that finds the store out of reach is a problem+json
503 (for a WebSocket, a close with code 1013, "try again later"), and any exception raised before the response
started becomes a problem+json answer (503 for the store or another dependency out of reach, else 500).

With CORS configured, a request carrying ``Origin`` goes through Starlette's CORS middleware between the request
context and the guard, as before: preflights are answered there, before any key check, and every answer of the
guard gets the CORS headers.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coinseason.api.http.access import AccessLog, route_template, valid_request_id
from coinseason.api.http.cache import CachedResponse, Encoded, ResponseCache, cache_key
from coinseason.api.http.headers import SECURITY_HEADERS, RawHeaders, cache_policy
from coinseason.api.http.limits import LimiterUnavailable, RateLimiter
from coinseason.api.http.metrics import Metrics
from coinseason.api.http.problems import PROBLEM_JSON, RETRY_AFTER_SECONDS, failure, problem_bytes
from coinseason.errors import StoreError
from coinseason.httpkit import accepts_gzip, etag_matches
from coinseason.logs import request_id
from coinseason.settings import Settings
from coinseason.store.records import ApiKeyRecord

__all__ = ["KEY_CACHE_SECONDS", "KEY_PARAMS", "BodyTooLarge", "FrontDoor"]

Headers = list[tuple[bytes, bytes]]
KeyCheck = Callable[[str], ApiKeyRecord | None]
"""The key record of a full API key, or None when it is unknown, revoked or malformed (reads the store)."""

KEY_PARAMS = frozenset({"api_key", "apikey", "key", "x-api-key", "token", "access_token"})
KEY_CACHE_SECONDS = 5.0
"""A verified key is trusted this long without a store lookup: revocation takes effect within this time."""
_PASS_ON_START = ("http.response.start", "websocket.accept")
_Fields = tuple[bytes | None, bytes | None, bytes | None, bytes | None, bool]
"""X-API-Key, Content-Length, If-None-Match, Accept-Encoding of a request, and whether it has Transfer-Encoding."""
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods whose requests carry no body unless Content-Length or Transfer-Encoding says so."""
_KEY_WORDS = (b"key", b"token")
"""Every name of KEY_PARAMS holds one of these: a query string without them needs no parsing."""
_RETRY_STORE = (b"retry-after", str(RETRY_AFTER_SECONDS).encode())
WS_POLICY = 1008
WS_TRY_AGAIN = 1013


def _read_headers(scope: Scope) -> tuple[bytes | None, bool, _Fields]:
    """X-Request-ID, whether Origin is there, and the headers the guard reads, in one pass (the last one wins)."""
    incoming = key = length = if_none_match = accept_encoding = None
    origin = encoded = False
    for raw, value in scope["headers"]:
        name = raw.lower()
        if name == b"x-request-id":
            incoming = value
        elif name == b"x-api-key":
            key = value
        elif name == b"if-none-match":
            if_none_match = value
        elif name == b"accept-encoding":
            accept_encoding = value
        elif name == b"content-length":
            length = value
        elif name == b"origin":
            origin = True
        elif name == b"transfer-encoding":
            encoded = True
    return incoming, origin, (key, length, if_none_match, accept_encoding, encoded)


_NUMBERS: dict[int, bytes] = {}


def _ascii(number: int) -> bytes:
    """``str(number).encode()``, kept for the small numbers rate-limit headers repeat."""
    text = _NUMBERS.get(number)
    if text is None:
        text = str(number).encode()
        if len(_NUMBERS) < 4096:
            _NUMBERS[number] = text
    return text


class BodyTooLarge(HTTPException):
    """A request body passed the limit while it was being read: answered 413, the rest is never read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")


class _BoundedBody:
    """The ``receive`` of a request with a body: counts the body's bytes as they arrive, whatever the framing
    (Content-Length or chunked), and raises :class:`BodyTooLarge` as soon as they pass ``limit``, so at most one
    chunk over the limit is ever held and nothing more is read."""

    __slots__ = ("limit", "read", "receive")

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.read = 0

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            if self.read > self.limit:
                raise BodyTooLarge(self.limit)
        return message


class _AuthThrottled(Exception):
    """The client failed too many key checks lately: refused (429) without looking the key up."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _may_hold_a_key(query: bytes) -> bool:
    lowered = query.lower()
    return b"%" in lowered or any(word in lowered for word in _KEY_WORDS)


class _Exchange:
    """One request's way out: records the status, adds the request id (and the rate-limit headers) to the start."""

    __slots__ = ("cache_default", "extra", "rid_header", "send", "started", "status", "template")

    def __init__(self, send: Send, rid_header: tuple[bytes, bytes], cache_default: RawHeaders = ()) -> None:
        self.send = send
        self.rid_header = rid_header
        self.cache_default = cache_default
        """Cache-Control (and Vary) of a response that names no Cache-Control of its own."""
        self.extra: Headers = []
        self.started = False
        """Whether a response (or a WebSocket accept or close) went out: after that no error answer can."""
        self.status = 500
        self.template: str | None = None
        """The route template of an answer made here (a cached response); None for refusals."""

    async def __call__(self, message: Message) -> None:
        """The ``send`` of the app behind: its response start gets the request id and the extra headers."""
        if message["type"] in _PASS_ON_START or message["type"] == "websocket.close":
            self.started = True
        if message["type"] in _PASS_ON_START:
            self.status = message.get("status", 101)
            headers = [(name, value) for name, value in message.get("headers", ()) if name.lower() != b"x-request-id"]
            headers.append(self.rid_header)
            if message["type"] == "http.response.start":
                headers += self.extra
                headers += SECURITY_HEADERS
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers += self.cache_default
            message = {**message, "headers": headers}
        await self.send(message)


class FrontDoor:
    """Request context, access log and metrics, key and rate-limit checks, and the hot cache, in one ASGI layer."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        metrics: Metrics,
        limiter: RateLimiter,
        cache: ResponseCache,
        verify_key: KeyCheck,
        prefix: str = "/v1",
        route_of: Callable[[Scope], str | None] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter
        self.cache = cache
        self.verify_key = verify_key
        self.prefix = prefix
        self.route_of = route_of
        """The route template of a request answered before routing (a refusal), for metrics and the log."""
        self.access = AccessLog(metrics=metrics, lines=settings.api.access_log)
        self.cache_default = cache_policy(allow_anonymous=settings.api.allow_anonymous).default
        self._verified: dict[bytes, tuple[str, float]] = {}
        self._auth_blocked: dict[str, float] = {}
        """Client address -> monotonic time until which its key checks are refused (too many failed lately)."""
        origins = settings.api.cors_origins
        self.cors: ASGIApp | None = None
        if origins:
            self.cors = CORSMiddleware(
                self._guarded,
                allow_origins=origins,
                allow_methods=["GET"],
                allow_headers=["X-API-Key", "If-None-Match"],
                expose_headers=["ETag", "Retry-After"],
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        incoming, origin, fields = _read_headers(scope)
        rid = valid_request_id(incoming)
        token = request_id.set(rid)
        start = time.perf_counter()
        exchange = _Exchange(send, (b"x-request-id", rid.encode("ascii")), self.cache_default)
        try:
            if origin and self.cors is not None:
                await self.cors(scope, receive, exchange)
            else:
                await self._guard(scope, receive, exchange, exchange, fields)
        except BodyTooLarge as exc:  # read by a part of the app that does not answer it itself
            if exchange.started:
                raise
            await _refuse(scope, exchange, 413, str(exc.detail))
        except Exception as exc:
            if exchange.started:
                raise
            status, detail = failure(exc)
            await _refuse(scope, exchange, status, detail, [_RETRY_STORE] if status == 503 else None, ws_code=1011)
        finally:
            if kind == "http":
                template = exchange.template or route_template(scope)
                if template is None and self.route_of is not None:
                    template = self.route_of(scope)
                self.access(scope, template, exchange.status, time.perf_counter() - start)
            request_id.reset(token)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The guard behind the CORS middleware: answers go out through ``send`` (which adds the CORS headers)."""
        await self._guard(scope, receive, send, None, _read_headers(scope)[2])

    async def _guard(
        self, scope: Scope, receive: Receive, send: Send, direct: _Exchange | None, fields: _Fields
    ) -> None:
        """Refuse, answer from the cache, or pass on. ``direct``: the exchange when nothing sits between."""
        if not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        key, length, if_none_match, accept_encoding, encoded = fields
        if ";" in scope["path"]:  # a path parameter (``;api_key=...``): never served, so never a way to send a key
            await _refuse(scope, send, 400, "path parameters (';') are not accepted; API keys go in X-API-Key")
            return
        query: bytes = scope.get("query_string", b"")
        if (
            query
            and _may_hold_a_key(query)
            and any(k.lower() in KEY_PARAMS for k, _ in parse_qsl(query.decode("latin-1")))
        ):
            await _refuse(scope, send, 400, "API keys go in the X-API-Key header, never in the URL")
            return
        settings = self.settings
        max_body = settings.api.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > max_body):
            await _refuse(scope, send, 413, f"request body over {max_body} bytes")
            return
        if (encoded or length is not None or scope.get("method") not in _NO_BODY_METHODS) and scope["type"] == "http":
            receive = _BoundedBody(receive, max_body)
        try:
            identity, limit = await self._identity(scope, key)
        except StoreError as exc:  # the key cannot be checked: the store is out of reach
            status, detail = failure(exc)
            await _refuse(scope, send, status, detail, [_RETRY_STORE], ws_code=WS_TRY_AGAIN)
            return
        except LimiterUnavailable as exc:  # the failed check could not be counted: fail closed
            status, detail = failure(exc)
            await _refuse(scope, send, status, detail, [(b"retry-after", b"5")], ws_code=WS_TRY_AGAIN)
            return
        except _AuthThrottled as exc:
            retry = max(1, int(exc.retry_after + 0.999))
            limit_text = f"{settings.api.auth_failures_per_minute} failed API key checks a minute"
            await _refuse(scope, send, 429, f"{limit_text} reached; try again later", [(b"retry-after", _ascii(retry))])
            return
        if identity is None:
            detail = "a valid API key is required in the X-API-Key header" if limit else "invalid or revoked API key"
            await _refuse(scope, send, 401, detail, [(b"www-authenticate", b"ApiKey")])
            return
        try:
            decision = await self.limiter.hit(identity, limit=limit)
        except LimiterUnavailable as exc:
            status, detail = failure(exc)  # logged with the address; the answer names none
            await _refuse(scope, send, status, detail, [(b"retry-after", b"5")], ws_code=WS_TRY_AGAIN)
            return
        rate_headers = [
            (b"x-ratelimit-limit", _ascii(decision.limit)),
            (b"x-ratelimit-remaining", _ascii(decision.remaining)),
        ]
        if not decision.allowed:
            retry = max(1, int(decision.retry_after + 0.999))
            detail = f"rate limit of {decision.limit} requests a minute reached"
            await _refuse(scope, send, 429, detail, [*rate_headers, (b"retry-after", _ascii(retry))])
            return
        method = scope.get("method")
        if method == "GET" or method == "HEAD":  # answer from the ready-bytes cache when the response is there
            entry = self.cache.get(cache_key(scope["path"], query.decode("latin-1")))
            if entry is not None:
                chosen: CachedResponse | Encoded = entry
                if entry.gzip is not None and accept_encoding is not None and accepts_gzip(accept_encoding):
                    chosen = entry.gzip
                if if_none_match is not None and etag_matches(if_none_match.decode("latin-1"), chosen.etag):
                    status, headers, body = 304, [*chosen.headers_304, *rate_headers], b""
                else:
                    status, headers = 200, [*chosen.headers_200, *rate_headers]
                    body = b"" if method == "HEAD" else chosen.body
                if direct is not None:  # the hot path: the request id is added here, not by wrapping send
                    direct.status, direct.template, direct.started = status, entry.route, True
                    headers.append(direct.rid_header)
                    headers += SECURITY_HEADERS
                    send = direct.send
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        if direct is not None:
            direct.extra = rate_headers
            await self.app(scope, receive, direct)
        else:
            await self.app(scope, receive, _with_headers(send, rate_headers))

    async def _identity(self, scope: Scope, key: bytes | None) -> tuple[str | None, int]:
        """(identity, its per-minute limit); identity None = refuse (limit 1: key missing, 0: key invalid)."""
        settings = self.settings
        if key is None:
            if not settings.api.allow_anonymous:
                return None, 1
            client = scope.get("client") or ("unknown", 0)
            return f"anon:{client[0]}", settings.api.anonymous_rate_limit_per_minute
        digest = hashlib.sha256(key).digest()
        now = time.monotonic()
        known = self._verified.get(digest)
        if known is not None and now - known[1] < KEY_CACHE_SECONDS:
            return known[0], settings.api.rate_limit_per_minute
        address = (scope.get("client") or ("unknown", 0))[0]
        blocked = self._auth_blocked.get(address)
        if blocked is not None:
            if now < blocked:
                raise _AuthThrottled(blocked - now)
            del self._auth_blocked[address]
        record = await asyncio.to_thread(self.verify_key, key.decode("latin-1"))  # store I/O: off the loop
        if record is None:
            self._verified.pop(digest, None)
            await self._failed_check(address, now)
            return None, 0
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[digest] = (f"key:{record.prefix}", now)
        return f"key:{record.prefix}", settings.api.rate_limit_per_minute

    async def _failed_check(self, address: str, now: float) -> None:
        """Count a failed key check of ``address`` in its own bucket (shared by the workers when the limiter is);
        past the limit, refuse this attempt and, in this worker, every later one before its store lookup."""
        decision = await self.limiter.hit(
            f"authfail:{address}", limit=self.settings.api.auth_failures_per_minute, window=60.0
        )
        if not decision.allowed:
            if len(self._auth_blocked) > 10_000:
                self._auth_blocked.clear()
            self._auth_blocked[address] = now + decision.retry_after
            raise _AuthThrottled(decision.retry_after)


async def _refuse(
    scope: Scope, send: Send, status: int, detail: str, headers: Headers | None = None, *, ws_code: int = WS_POLICY
) -> None:
    """A problem+json answer, or for a WebSocket a close naming the reason (code 1008, policy violation, unless
    ``ws_code`` says otherwise)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": ws_code, "reason": detail[:120]})
        return
    body = problem_bytes(status, detail, instance=scope["path"])
    raw = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send, extra: Headers) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return wrapped
