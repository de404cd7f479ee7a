"""Response cache (ETags, LRU, generations), If-None-Match matching, and invalidation in-process and over Redis."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from coinseason.api.http.cache import CachedResponse, ResponseCache
from coinseason.api.http.invalidation import (
    Invalidation,
    InvalidationUnavailable,
    LocalInvalidation,
    RedisInvalidation,
)
from coinseason.api.http.redis_client import redis_from_url
from coinseason.httpkit import etag_matches, etag_of
from tests.api.conftest import UNREACHABLE_REDIS_URL

# -- ETags and the LRU ---------------------------------------------------------------------------------------------


def test_etag_is_strong_quoted_blake2b_of_the_body() -> None:
    etag = etag_of(b'{"value": 42}')
    assert etag == '"' + hashlib.blake2b(b'{"value": 42}', digest_size=16).hexdigest() + '"'
    assert len(etag) == 34 and not etag.startswith("W/")


def test_etag_is_stable_for_equal_bytes_and_differs_for_different_bytes() -> None:
    cache = ResponseCache()
    first = cache.put("/a", b"same body", "application/json")
    second = cache.put("/b", b"same" + b" body", "text/csv")
    third = cache.put("/c", b"same bodY", "application/json")
    assert first.etag == second.etag == etag_of(b"same body")
    assert third.etag != first.etag
    assert cache.get("/a") == CachedResponse(body=b"same body", etag=first.etag, media_type="application/json")
    assert cache.get("/b") is not None and cache.get("/b").media_type == "text/csv"  # type: ignore[union-attr]
    assert cache.get("/missing") is None


def test_lru_evicts_the_least_recently_used_entry() -> None:
    cache = ResponseCache(max_entries=3)
    for key in ("a", "b", "c"):
        cache.put(key, key.encode(), "text/plain")
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", b"d", "text/plain")
    assert "b" not in cache and len(cache) == 3
    assert all(cache.get(key) is not None for key in ("a", "c", "d"))
    cache.put("c", b"c2", "text/plain")  # replacing refreshes too
    cache.put("e", b"e", "text/plain")
    assert "a" not in cache and cache.get("c") is not None and cache.get("c").body == b"c2"  # type: ignore[union-attr]


def test_clear_empties_and_bumps_generation() -> None:
    cache = ResponseCache()
    cache.put("a", b"a", "text/plain")
    assert cache.generation == 0
    cache.clear()
    assert cache.generation == 1 and len(cache) == 0 and cache.get("a") is None


def test_a_body_computed_before_a_clear_is_not_kept() -> None:
    cache = ResponseCache()
    generation = cache.generation
    cache.clear()  # new data landed while the old body was being computed
    entry = cache.put("a", b"old", "text/plain", generation=generation)
    assert entry.body == b"old" and cache.get("a") is None
    cache.put("a", b"new", "text/plain", generation=cache.generation)
    assert cache.get("a") is not None


def test_cache_is_safe_across_threads() -> None:
    cache = ResponseCache(max_entries=50)

    def work(worker: int) -> None:
        for i in range(2000):
            key = f"k{(i * 7 + worker) % 120}"
            if cache.get(key) is None:
                cache.put(key, key.encode(), "text/plain")
            if i % 500 == 0:
                cache.clear()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) <= 50


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        ResponseCache(max_entries=0)


# -- If-None-Match (RFC 9110 §13.1.2, weak comparison) -----------------------------------------------------------

TAG = '"abc123"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("   ", False),
        ('"abc123"', True),
        ('W/"abc123"', True),
        ('"other"', False),
        ("*", True),
        (" * ", True),
        ('"x", "abc123"', True),
        ('"x",W/"abc123" ,"y"', True),
        ('"x", "y"', False),
        (', , "abc123"', True),
        ('"abc123" ,', True),
        ('"a,b", "abc123"', True),  # a comma may sit inside an entity tag
        ('"a,b"', False),
        ("abc123", False),  # not quoted: malformed, never a match
        ('"abc123', False),
        ('w/"abc123"', False),  # the weak indicator is case-sensitive
        ('"ABC123"', False),
        ('garbage, "abc123"', False),
    ],
)
def test_etag_matches(header: str | None, expected: bool) -> None:
    assert etag_matches(header, TAG) is expected


def test_etag_matches_a_weak_current_tag_weakly() -> None:
    assert etag_matches('"abc123"', 'W/"abc123"')
    assert etag_matches(etag_of(b"body"), etag_of(b"body"))
    assert not etag_matches(etag_of(b"body"), etag_of(b"other"))


# -- invalidation ------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def listening(invalidation: Invalidation, on_invalidate: Callable[[], object]) -> AsyncIterator[None]:
    task = asyncio.create_task(invalidation.run(on_invalidate))  # type: ignore[arg-type]
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_for(condition: Callable[[], bool], seconds: float = 1.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (the condition is set by callbacks under test)
            await asyncio.sleep(0.005)


@pytest.mark.anyio
async def test_local_invalidation_runs_every_listener_sync_or_async() -> None:
    invalidation = LocalInvalidation()
    calls: list[str] = []

    def plain() -> None:
        calls.append("plain")

    async def awaited() -> None:
        await asyncio.sleep(0)
        calls.append("async")

    async with listening(invalidation, plain), listening(invalidation, awaited):
        await wait_for(lambda: invalidation.listeners == 2)
        await invalidation.publish()
        await wait_for(lambda: len(calls) == 2)
        assert sorted(calls) == ["async", "plain"]
    assert invalidation.listeners == 0


@pytest.mark.anyio
async def test_a_failing_callback_does_not_end_the_listener(caplog: pytest.LogCaptureFixture) -> None:
    invalidation = LocalInvalidation()
    calls = 0

    def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")

    async with listening(invalidation, flaky):
        await wait_for(lambda: invalidation.listeners == 1)
        await invalidation.publish()
        await wait_for(lambda: calls == 1)
        await invalidation.publish()
        await wait_for(lambda: calls == 2)
    assert "cache invalidation callback failed" in caplog.text


@pytest.mark.anyio
async def test_redis_invalidation_reaches_another_replica(redis_url: str, redis_prefix: str) -> None:
    channel = redis_prefix + "data"
    publisher = RedisInvalidation(redis_from_url(redis_url), channel=channel)
    subscriber = RedisInvalidation(redis_from_url(redis_url), channel=channel)
    landed = asyncio.Event()
    try:
        async with listening(subscriber, landed.set):
            async with asyncio.timeout(1.0):
                await subscriber.ready.wait()
            await publisher.publish()
            async with asyncio.timeout(1.0):
                await landed.wait()
        assert subscriber.reconnects == 0
    finally:
        await publisher.close()
        await subscriber.close()


@pytest.mark.anyio
async def test_redis_invalidation_also_reaches_its_own_listener(redis_url: str, redis_prefix: str) -> None:
    invalidation = RedisInvalidation(redis_from_url(redis_url), channel=redis_prefix + "data")
    calls = 0

    def count() -> None:
        nonlocal calls
        calls += 1

    try:
        async with listening(invalidation, count):
            async with asyncio.timeout(1.0):
                await invalidation.ready.wait()
            await invalidation.publish()
            await invalidation.publish()
            await wait_for(lambda: calls == 2)
    finally:
        await invalidation.close()


@pytest.mark.anyio
async def test_redis_invalidation_resubscribes_after_its_connection_is_killed(
    redis_url: str, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    name = "cs-test-" + redis_prefix.split(":")[2]
    channel = redis_prefix + "data"
    listener_client = aioredis.Redis.from_url(redis_url, client_name=name, socket_timeout=0.25)
    listener = RedisInvalidation(listener_client, channel=channel, backoff=0.05)
    publisher = RedisInvalidation(redis_from_url(redis_url), channel=channel)
    calls = 0

    def count() -> None:
        nonlocal calls
        calls += 1

    try:
        async with listening(listener, count):
            async with asyncio.timeout(1.0):
                await listener.ready.wait()
            killed = 0
            for client in await redis_client.client_list(_type="pubsub"):
                if client.get("name") == name:
                    killed += await redis_client.client_kill_filter(_id=client["id"])
            assert killed == 1
            # subscribed again: the callback runs once, since data may have landed while it was deaf
            await wait_for(lambda: listener.reconnects == 1 and calls == 1, seconds=3.0)
            await publisher.publish()
            await wait_for(lambda: calls == 2)
    finally:
        await listener.close()
        await publisher.close()


@pytest.mark.anyio
async def test_redis_invalidation_pings_an_idle_subscription(redis_url: str, redis_prefix: str) -> None:
    invalidation = RedisInvalidation(redis_from_url(redis_url), channel=redis_prefix + "data", ping_interval=0.05)
    landed = asyncio.Event()
    try:
        async with listening(invalidation, landed.set):
            async with asyncio.timeout(1.0):
                await invalidation.ready.wait()
            # five answered pings span twice the silence (2.5 pings) after which a subscription counts as dead
            await wait_for(lambda: invalidation.pongs >= 5, seconds=5.0)
            assert invalidation.reconnects == 0 and invalidation.ready.is_set()
            await invalidation.publish()
            async with asyncio.timeout(1.0):
                await landed.wait()
    finally:
        await invalidation.close()


@pytest.mark.anyio
async def test_redis_invalidation_keeps_retrying_while_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    invalidation = RedisInvalidation(redis_from_url(UNREACHABLE_REDIS_URL), backoff=0.01, max_backoff=0.02)
    try:
        async with listening(invalidation, lambda: None):
            await wait_for(lambda: caplog.text.count("lost the Redis subscription") >= 3)
            assert not invalidation.ready.is_set()
        with pytest.raises(InvalidationUnavailable, match=r"Redis at 127\.0\.0\.1:1"):
            await invalidation.publish()
    finally:
        await invalidation.close()


class SwallowingPubSub:
    """A subscription whose read swallows the cancel of the task reading it, as redis-py's read did on Python 3.11
    when the cancel landed just as its short read timeout expired: the read returns normally, the task is still
    marked as cancelling."""

    def __init__(self) -> None:
        self.reads = 0

    async def subscribe(self, channel: str) -> None:
        return None

    async def get_message(self, timeout: float) -> dict[str, object] | None:  # noqa: ASYNC109 - redis-py's
        self.reads += 1
        if self.reads > 1:  # a later read waits for a message that never comes, as an idle subscription does
            await asyncio.Event().wait()
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0)  # the cancel is delivered here, and swallowed
        return {"type": "subscribe", "channel": b"c", "data": 1}

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class OneSubscriptionClient:
    def __init__(self) -> None:
        self.subscription = SwallowingPubSub()

    def pubsub(self) -> SwallowingPubSub:
        return self.subscription

    async def aclose(self) -> None:
        return None


@pytest.mark.anyio
async def test_redis_invalidation_stops_when_a_read_swallowed_its_cancel() -> None:
    client = OneSubscriptionClient()
    invalidation = RedisInvalidation(client, channel="c")  # type: ignore[arg-type]
    task = asyncio.create_task(invalidation.run(lambda: None))
    done, _ = await asyncio.wait({task}, timeout=2.0)
    assert done, "the listener went on reading after its cancel"
    assert task.cancelled() and client.subscription.reads == 1
