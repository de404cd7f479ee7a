"""Rate limits: exactly ``limit`` per sliding window, exact retry_after, per identity, shared through Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from coinseason.api.http.limits import (
    LimiterUnavailable,
    MemoryRateLimiter,
    RateDecision,
    RateLimiter,
    RedisRateLimiter,
)
from coinseason.api.http.redis_client import redis_from_url
from coinseason.errors import CoinseasonError
from tests.api.conftest import UNREACHABLE_REDIS_URL

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_memory_allows_exactly_limit_then_denies_with_exact_retry_after() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    decisions = []
    for _ in range(3):
        decisions.append(await limiter.hit("k1", limit=3, window=60))
        clock.now += 10
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.retry_after == 0 and d.limit == 3 for d in decisions)

    denied = await limiter.hit("k1", limit=3, window=60)  # t = 1030, the oldest was at 1000
    assert denied == RateDecision(allowed=False, limit=3, remaining=0, retry_after=30.0)

    clock.now = 1059.999
    assert not (await limiter.hit("k1", limit=3, window=60)).allowed
    clock.now = 1060.0  # the request of t = 1000 leaves the window
    again = await limiter.hit("k1", limit=3, window=60)
    assert again.allowed and again.remaining == 0
    denied = await limiter.hit("k1", limit=3, window=60)
    assert denied.retry_after == pytest.approx(10.0)  # the one of t = 1010 leaves at 1070


async def test_memory_never_more_than_limit_in_any_window() -> None:
    clock = FakeClock(0.0)
    limiter = MemoryRateLimiter(clock=clock)
    allowed: list[float] = []
    for step in range(2000):  # a request every 0.07 s for 140 s against 10 per 5 s
        clock.now = step * 0.07
        if (await limiter.hit("k", limit=10, window=5.0)).allowed:
            allowed.append(clock.now)
    assert max(sum(1 for t in allowed if start - 5.0 < t <= start) for start in allowed) == 10
    assert len(allowed) >= 10 * (140 // 5)


async def test_memory_identities_are_independent() -> None:
    limiter = MemoryRateLimiter(clock=FakeClock())
    assert (await limiter.hit("key:a", limit=1)).allowed
    assert not (await limiter.hit("key:a", limit=1)).allowed
    assert (await limiter.hit("anon:10.0.0.1", limit=1)).allowed
    assert not (await limiter.hit("anon:10.0.0.1", limit=1)).allowed


async def test_memory_denied_requests_are_not_counted() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    assert (await limiter.hit("k", limit=1, window=10)).allowed
    for _ in range(50):
        clock.now += 0.1
        assert not (await limiter.hit("k", limit=1, window=10)).allowed
    clock.now = 1010.0
    assert (await limiter.hit("k", limit=1, window=10)).allowed


async def test_memory_lowered_limit_waits_for_enough_requests_to_leave() -> None:
    clock = FakeClock(0.0)
    limiter = MemoryRateLimiter(clock=clock)
    for t in (0.0, 1.0, 2.0, 3.0):
        clock.now = t
        assert (await limiter.hit("k", limit=4, window=10)).allowed
    clock.now = 4.0
    denied = await limiter.hit("k", limit=2, window=10)  # 4 in the window, 2 allowed: the one of t = 2 must leave
    assert denied.retry_after == pytest.approx(8.0)


async def test_memory_forgets_idle_identities() -> None:
    clock = FakeClock(0.0)
    limiter = MemoryRateLimiter(clock=clock)
    for i in range(MemoryRateLimiter._SWEEP_EVERY - 1):
        await limiter.hit(f"anon:{i}", limit=5, window=1.0)
    assert limiter.identities == MemoryRateLimiter._SWEEP_EVERY - 1
    clock.now = 2.0
    await limiter.hit("anon:late", limit=5, window=1.0)
    assert limiter.identities == 1
    await limiter.close()
    assert limiter.identities == 0


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (5, 0.0), (5, -1.0), (5, float("inf"))])
async def test_bad_limit_or_window_is_refused(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        await MemoryRateLimiter().hit("k", limit=limit, window=window)


async def test_limiters_satisfy_the_protocol() -> None:
    limiters: list[RateLimiter] = [MemoryRateLimiter(), RedisRateLimiter(redis_from_url(UNREACHABLE_REDIS_URL))]
    for limiter in limiters:
        await limiter.close()
    assert issubclass(LimiterUnavailable, CoinseasonError)


# -- Redis ---------------------------------------------------------------------------------------------------------


async def test_redis_allows_exactly_limit_then_denies(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix, owns_client=False)
    decisions = [await limiter.hit("key:a", limit=5, window=30) for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]
    denied = decisions[-1]
    assert denied.limit == 5
    assert 29.0 < denied.retry_after <= 30.0
    ttl = await redis_client.pttl(redis_prefix + "key:a")
    assert 0 < ttl <= 30_000


async def age(redis_client: aioredis.Redis, key: str, seconds: float, *, oldest: int) -> None:
    """Move the ``oldest`` requests of a limiter's log ``seconds`` back in time, as if that much time had passed
    since them (the script reads the Redis server's clock, which a test cannot set)."""
    entries = await redis_client.zrange(key, 0, oldest - 1, withscores=True)
    await redis_client.zadd(key, {member: score - seconds * 1_000_000 for member, score in entries})


async def test_redis_window_slides(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix, owns_client=False)
    assert (await limiter.hit("k", limit=2, window=60)).allowed
    assert (await limiter.hit("k", limit=2, window=60)).allowed
    denied = await limiter.hit("k", limit=2, window=60)
    assert not denied.allowed
    assert 59.0 < denied.retry_after <= 60.0
    await age(redis_client, redis_prefix + "k", denied.retry_after, oldest=1)  # the first leaves the window
    again = await limiter.hit("k", limit=2, window=60)
    assert again.allowed and again.remaining == 0
    assert not (await limiter.hit("k", limit=2, window=60)).allowed  # the second one is still in it


async def test_redis_identities_are_independent(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix, owns_client=False)
    assert (await limiter.hit("key:a", limit=1)).allowed
    assert not (await limiter.hit("key:a", limit=1)).allowed
    assert (await limiter.hit("anon:10.0.0.1", limit=1)).allowed


async def test_two_workers_share_exactly_the_limit(
    redis_url: str, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    workers = [RedisRateLimiter(redis_from_url(redis_url, timeout=2.0), prefix=redis_prefix, timeout=2.0)]
    workers.append(RedisRateLimiter(redis_from_url(redis_url, timeout=2.0), prefix=redis_prefix, timeout=2.0))
    try:
        decisions = await asyncio.gather(*(workers[i % 2].hit("key:shared", limit=37, window=60) for i in range(150)))
    finally:
        for worker in workers:
            await worker.close()
    assert sum(d.allowed for d in decisions) == 37
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(37))


async def test_script_is_loaded_again_after_script_flush(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix, owns_client=False)
    assert (await limiter.hit("k", limit=3)).allowed
    await redis_client.script_flush()  # a restarted or failed-over Redis forgets scripts: EVALSHA → NOSCRIPT
    decision = await limiter.hit("k", limit=3)
    assert decision.allowed and decision.remaining == 1


async def test_unreachable_redis_raises_limiter_unavailable() -> None:
    limiter = RedisRateLimiter(redis_from_url(UNREACHABLE_REDIS_URL))
    with pytest.raises(LimiterUnavailable, match=r"rate limiter unavailable: Redis at 127\.0\.0\.1:1 did not answer"):
        await limiter.hit("key:a", limit=10)
    await limiter.close()


async def test_silent_redis_times_out_into_limiter_unavailable() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # take the connection, never answer

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RedisRateLimiter(redis_from_url(f"redis://127.0.0.1:{port}/0"), timeout=0.2)
    try:
        with pytest.raises(LimiterUnavailable, match=r"did not answer within 0\.2 s \(TimeoutError"):
            await limiter.hit("key:a", limit=10)
    finally:
        await limiter.close()
        server.close()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        await server.wait_closed()


async def test_close_twice_and_shared_client_close_are_harmless(redis_url: str) -> None:
    client = redis_from_url(redis_url)
    limiter = RedisRateLimiter(client)
    await limiter.close()
    await limiter.close()
    await client.aclose()


async def test_redis_limiter_reconnects_after_its_connection_drops(
    redis_url: str, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    name = "cs-test-" + redis_prefix.split(":")[2]
    client = redis_from_url(redis_url)
    await client.client_setname(name)
    limiter = RedisRateLimiter(client, prefix=redis_prefix)
    try:
        assert (await limiter.hit("k", limit=3)).allowed
        killed = 0
        for info in await redis_client.client_list():
            if info.get("name") == name:
                killed += await redis_client.client_kill_filter(_id=info["id"])
        assert killed == 1
        decision = await limiter.hit("k", limit=3)  # one quick retry on a fresh connection
        assert decision.allowed and decision.remaining == 1
    finally:
        await limiter.close()
