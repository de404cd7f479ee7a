"""Hot responses kept as ready bytes with a strong ETag, and the "new data landed" signal that empties the cache.

:class:`ResponseCache` is a per-process LRU of encoded bodies. :class:`LocalInvalidation` signals listeners in this
process; :class:`RedisInvalidation` signals every replica through a Redis pub/sub channel. In both, ``publish``
also reaches this process's own ``run`` listener, so the one who ingested data and every other replica clear their
caches by the same path.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from coinseason.aio import raise_if_cancelled
from coinseason.api.compression import GZIP_MIN_BYTES, compressible, gzip_bytes, gzip_etag
from coinseason.api.limits import redis_address
from coinseason.errors import InvalidationUnavailable

__all__ = [
    "CACHE_CONTROL",
    "CachedResponse",
    "Encoded",
    "Invalidation",
    "InvalidationUnavailable",
    "LocalInvalidation",
    "RedisInvalidation",
    "ResponseCache",
    "etag_matches",
    "etag_of",
]

log = logging.getLogger("coinseason.api.cache")

InvalidationCallback = Callable[[], Awaitable[None] | None]


CACHE_CONTROL = "public, max-age=60"
"""What every cached response says to shared caches and browsers."""


RawHeaders = tuple[tuple[bytes, bytes], ...]
_VARY = ((b"vary", b"accept-encoding"),)


@dataclass(frozen=True, slots=True)
class Encoded:
    """The gzip variant of a cached body, with its own strong ETag and ready headers."""

    body: bytes
    etag: str
    headers_200: RawHeaders = field(repr=False)
    headers_304: RawHeaders = field(repr=False)


@dataclass(frozen=True, slots=True)
class CachedResponse:
    body: bytes
    etag: str
    """A strong, quoted ETag: ``"<blake2b-128 of the body, hex>"``."""
    media_type: str
    route: str | None = field(default=None, compare=False)
    """The route template that made the body (for metrics and the access log), when known."""
    headers_200: RawHeaders = field(init=False, compare=False, repr=False)
    """Content-Type, Content-Length, ETag and Cache-Control (and Vary when there is a gzip variant), encoded once."""
    headers_304: RawHeaders = field(init=False, compare=False, repr=False)
    """ETag and Cache-Control (and Vary), encoded once."""
    gzip: Encoded | None = field(init=False, compare=False, repr=False)
    """The body compressed once, here, when it is long enough to be worth it (:mod:`coinseason.api.compression`)."""

    def __post_init__(self) -> None:
        encoded = None
        vary: RawHeaders = ()
        if len(self.body) >= GZIP_MIN_BYTES and compressible(self.media_type):
            packed, etag = gzip_bytes(self.body), gzip_etag(self.etag)
            common: RawHeaders = ((b"etag", etag.encode()), (b"cache-control", CACHE_CONTROL.encode()), *_VARY)
            first: RawHeaders = (
                (b"content-type", self.media_type.encode()),
                (b"content-length", str(len(packed)).encode()),
                (b"content-encoding", b"gzip"),
            )
            encoded, vary = Encoded(packed, etag, first + common, common), _VARY
        common = ((b"etag", self.etag.encode()), (b"cache-control", CACHE_CONTROL.encode()), *vary)
        first = ((b"content-type", self.media_type.encode()), (b"content-length", str(len(self.body)).encode()))
        object.__setattr__(self, "headers_200", first + common)
        object.__setattr__(self, "headers_304", common)
        object.__setattr__(self, "gzip", encoded)


def cache_key(path: str, query: str) -> str:
    """The response-cache key of a request: its parameters sorted by name; a repeated name keeps its values' order
    (the route reads the last one)."""
    if not query:
        return f"{path}?"
    return f"{path}?{'&'.join(sorted(query.split('&'), key=lambda part: part.partition('=')[0]))}"


def etag_of(body: bytes) -> str:
    """The strong ETag of a body: equal bytes, equal tag."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


class ResponseCache:
    """A least-recently-used map of request keys to ready responses; safe to call from worker threads."""

    def __init__(self, *, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries = max_entries
        self.generation = 0
        """Bumped by every :meth:`clear`; a body computed under an older generation is stale."""
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedResponse | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(
        self, key: str, body: bytes, media_type: str, *, generation: int | None = None, route: str | None = None
    ) -> CachedResponse:
        """Keep ``body`` under ``key`` (evicting the least recently used entry when full) and return the entry.

        With ``generation`` (read before computing the body), a body computed before a :meth:`clear` is returned
        but not kept, so a slow request cannot put old data back after new data landed. ``route``: the template of
        the route that made it.
        """
        entry = CachedResponse(body=body, etag=etag_of(body), media_type=media_type, route=route)
        with self._lock:
            if generation is not None and generation != self.generation:
                return entry
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE (RFC 9110 §8.8.3); etagc excludes DQUOTE, so a comma may sit inside
_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


def _opaque(tag: str) -> str:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``etag`` (RFC 9110 §13.1.2: ``*``, lists, weak comparison).

    A malformed header matches nothing, so the full response is sent.
    """
    if if_none_match is None:
        return False
    header = if_none_match.strip()
    if not header:
        return False
    if header == "*":
        return True
    wanted = _opaque(etag)
    position, end = 0, len(header)
    while True:
        while position < end and header[position] in " \t,":  # empty list elements are allowed
            position += 1
        if position == end:
            return False
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            return False
        if match.group(1) == wanted:
            return True
        position = match.end()


class Invalidation(Protocol):
    async def publish(self) -> None:
        """Say that new data landed: every listener (this process's included) runs its callback."""
        ...

    async def run(self, on_invalidate: InvalidationCallback) -> None:
        """Call ``on_invalidate`` on every signal until cancelled."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


async def _call(on_invalidate: InvalidationCallback) -> None:
    """Run a callback (plain or async); its failure is logged, never ends the listener."""
    try:
        result = on_invalidate()
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("cache invalidation callback failed")


class LocalInvalidation:
    """Invalidation within one process: ``publish`` wakes every running ``run`` (signals coalesce while busy)."""

    def __init__(self) -> None:
        self._listeners: set[asyncio.Event] = set()

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    async def publish(self) -> None:
        for pending in self._listeners:
            pending.set()

    async def run(self, on_invalidate: InvalidationCallback) -> None:
        pending = asyncio.Event()
        self._listeners.add(pending)
        try:
            while True:
                await pending.wait()
                pending.clear()
                await _call(on_invalidate)
        finally:
            self._listeners.discard(pending)

    async def close(self) -> None:
        return None


class RedisInvalidation:
    """Invalidation across replicas through a Redis pub/sub ``channel``.

    ``run`` keeps a subscription open; when the connection drops it reconnects with exponential back-off
    (``backoff`` doubling up to ``max_backoff`` seconds) and, once subscribed again, runs the callback once, since
    data may have landed while it was deaf. A ping every ``ping_interval`` seconds finds connections that died
    silently. ``ready`` is set while subscribed. ``close`` closes the client unless ``owns_client`` is false.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        channel: str = "coinseason:data",
        timeout: float = 1.0,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        ping_interval: float = 10.0,
        owns_client: bool = True,
    ) -> None:
        self._client = client
        self.channel = channel
        self._timeout = timeout
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._ping_interval = ping_interval
        self._owns_client = owns_client
        self.ready = asyncio.Event()
        self.reconnects = 0
        """How many times ``run`` subscribed again after losing its subscription."""

    async def publish(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await cast(Awaitable[Any], self._client.publish(self.channel, b"landed"))
        except (RedisError, TimeoutError, OSError) as exc:
            raise InvalidationUnavailable(
                f"cache invalidation unavailable: Redis at {redis_address(self._client)} did not take the message"
                f" ({type(exc).__name__}: {exc})"
            ) from exc

    async def run(self, on_invalidate: InvalidationCallback) -> None:
        delay = self._backoff
        subscribed_before = False
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                loop = asyncio.get_running_loop()
                last_heard = last_ping = loop.time()
                while True:
                    message = await pubsub.get_message(timeout=min(1.0, self._ping_interval))
                    raise_if_cancelled()
                    now = loop.time()
                    if message is not None:
                        last_heard = now
                        kind = message["type"]
                        if kind == "subscribe":  # also sent when redis-py re-subscribes after reconnecting on its own
                            self.ready.set()
                            delay = self._backoff
                            if subscribed_before:
                                self.reconnects += 1
                                log.info(
                                    "re-subscribed to %s: clearing caches in case data landed meanwhile", self.channel
                                )
                                await _call(on_invalidate)
                            subscribed_before = True
                        elif kind == "message":
                            await _call(on_invalidate)
                    if now - last_heard > 2.5 * self._ping_interval:
                        raise TimeoutError(f"no answer on the subscription for {now - last_heard:.1f} s")
                    if now - last_ping >= self._ping_interval:
                        last_ping = now
                        await pubsub.ping()
            except (RedisError, TimeoutError, OSError) as exc:
                self.ready.clear()
                raise_if_cancelled()
                log.warning(
                    "lost the Redis subscription to %s at %s (%s: %s); retrying in %.1f s",
                    self.channel,
                    redis_address(self._client),
                    type(exc).__name__,
                    exc,
                    delay,
                )
            finally:
                self.ready.clear()
                await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()
