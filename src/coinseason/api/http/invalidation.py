"""The "new data landed" signal that empties every replica's response cache and reloads its engines.

:class:`LocalInvalidation` signals listeners in this process; :class:`RedisInvalidation` signals every replica
through a Redis pub/sub channel. In both, ``publish`` also reaches this process's own ``run`` listener, so the one
who ingested data and every other replica reload by the same path.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from coinseason.aio import raise_if_cancelled
from coinseason.api.http.redis_client import redis_address
from coinseason.errors import InvalidationUnavailable

__all__ = ["Invalidation", "InvalidationCallback", "InvalidationUnavailable", "LocalInvalidation", "RedisInvalidation"]

log = logging.getLogger("coinseason.api.cache")

InvalidationCallback = Callable[[], Awaitable[None] | None]
"""Run on every signal: a plain function or a coroutine function."""


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
        self.pongs = 0
        """Answers to the idle subscription's pings: the subscription is alive."""

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
                        if kind == "pong":
                            self.pongs += 1
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
