"""Live updates for ``WS /v1/stream``: a topic hub fanning ready bytes out to bounded per-subscriber queues.

``publish`` never awaits and never blocks: it appends the payload to each subscriber's queue (a full queue drops
its oldest message and counts the drop) and wakes the subscriber's pending ``get``. The cost is one append per
subscriber, so an update reaches a thousand sockets as fast as their send loops run. Call the hub from the event
loop's thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterable

from coinseason.errors import SubscriptionClosed

__all__ = ["TOPICS", "ClientConnections", "StreamHub", "Subscription", "SubscriptionClosed"]

TOPICS: frozenset[str] = frozenset({"season", "dominance", "intraday"})
"""season and dominance: pushed when new daily data lands; intraday: pushed by the live feed."""


class Subscription:
    """One subscriber's bounded queue of payloads; read it from one task with ``get`` or ``async for``."""

    __slots__ = ("_closed", "_queue", "_waiter", "dropped", "topics")

    def __init__(self, topics: frozenset[str], queue_size: int) -> None:
        self.topics = topics
        self.dropped = 0
        """Messages dropped (oldest first) because this subscriber read too slowly."""
        self._queue: deque[bytes] = deque(maxlen=queue_size)
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Messages waiting to be read."""
        return len(self._queue)

    def _close(self) -> None:
        self._closed = True
        self._queue.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> bytes:
        """The next payload, waiting for one; :class:`SubscriptionClosed` once the subscription ends."""
        while True:
            if self._closed:
                raise SubscriptionClosed("the subscription is closed")
            if self._queue:
                return self._queue.popleft()
            if self._waiter is not None and not self._waiter.done():
                raise RuntimeError("another task is already waiting on this subscription")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        """Payloads until the subscription ends."""
        while True:
            try:
                payload = await self.get()
            except SubscriptionClosed:
                return
            yield payload


class StreamHub:
    """Subscribers by topic; ``publish`` copies a payload reference into each subscriber's queue."""

    def __init__(self, *, queue_size: int = 16, topics: Iterable[str] = TOPICS) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        self.queue_size = queue_size
        self.topics: frozenset[str] = frozenset(topics)
        self._subscribers: dict[str, dict[Subscription, None]] = {topic: {} for topic in self.topics}
        self._all: dict[Subscription, None] = {}
        self.published = 0
        """Deliveries made (one per subscriber per message)."""
        self.dropped = 0
        """Messages dropped from slow subscribers' queues, over every subscriber."""

    def subscribe(self, topics: Collection[str]) -> Subscription:
        """A new subscription to ``topics`` (a subset of :attr:`topics`); ValueError naming an unknown topic."""
        if isinstance(topics, str):
            topics = (topics,)
        chosen = frozenset(topics)
        if not chosen:
            raise ValueError(f"subscribe to at least one topic of {sorted(self.topics)}")
        unknown = sorted(chosen - self.topics)
        if unknown:
            raise ValueError(f"unknown topic {unknown[0]!r}: the topics are {', '.join(sorted(self.topics))}")
        sub = Subscription(chosen, self.queue_size)
        for topic in chosen:
            self._subscribers[topic][sub] = None
        self._all[sub] = None
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """End a subscription (idempotent): it receives nothing more and a waiting ``get`` raises."""
        for topic in sub.topics:
            self._subscribers.get(topic, {}).pop(sub, None)
        self._all.pop(sub, None)
        sub._close()

    def publish(self, topic: str, payload: bytes) -> int:
        """Queue ``payload`` for every subscriber of ``topic`` without waiting; returns how many got it."""
        try:
            subscribers = self._subscribers[topic]
        except KeyError:
            raise ValueError(f"unknown topic {topic!r}: the topics are {', '.join(sorted(self.topics))}") from None
        dropped = 0
        for sub in subscribers:  # Subscription._deliver, inlined: this loop is the whole cost of a fan-out
            queue = sub._queue
            if len(queue) == queue.maxlen:
                sub.dropped += 1
                dropped += 1
            queue.append(payload)  # a full deque with maxlen drops its leftmost (oldest) item
            waiter = sub._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        delivered = len(subscribers)
        self.published += delivered
        self.dropped += dropped
        return delivered

    @property
    def subscribers(self) -> int:
        return len(self._all)

    def close(self) -> None:
        """End every subscription (on shutdown), so every stream handler's ``get`` returns."""
        for sub in list(self._all):
            self.unsubscribe(sub)


class ClientConnections:
    """Open WebSocket connections per client address, for the cap on how many one client may hold at once."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def open(self, address: str, limit: int) -> bool:
        """Count one more connection of ``address`` unless it already holds ``limit``: whether it was counted."""
        held = self._open.get(address, 0)
        if held >= limit:
            return False
        self._open[address] = held + 1
        return True

    def close(self, address: str) -> None:
        """Forget one counted connection of ``address`` (nothing when none is counted)."""
        held = self._open.get(address, 0)
        if held <= 1:
            self._open.pop(address, None)
        else:
            self._open[address] = held - 1

    def held(self, address: str) -> int:
        return self._open.get(address, 0)
