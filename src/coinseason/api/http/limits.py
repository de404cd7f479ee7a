"""Rate limits per identity (an API key prefix, or ``anon:<client ip>``): an exact sliding window.

Every limiter keeps, for each identity, the times of the requests it allowed within the last ``window`` seconds
(a sliding log). A request is allowed when fewer than ``limit`` of them remain, so no interval of ``window`` seconds
ever holds more than ``limit`` allowed requests, and a denied request learns exactly when the next one would pass
(``retry_after``: the moment the oldest counted request leaves the window). Denied requests are not counted, so a
client hammering a closed window is let in again on time.

:class:`MemoryRateLimiter` holds the log in the process; :class:`RedisRateLimiter` holds it in a Redis sorted set,
read and written by one atomic Lua script on the server's clock, so all workers and replicas sharing a Redis share
the limit. When Redis does not answer in time, :meth:`RedisRateLimiter.hit` raises :class:`LimiterUnavailable`
(the API fails closed on it).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from coinseason.api.http.redis_client import DEFAULT_REDIS_TIMEOUT, redis_address
from coinseason.errors import LimiterUnavailable

__all__ = [
    "LimiterUnavailable",
    "MemoryRateLimiter",
    "RateDecision",
    "RateLimiter",
    "RedisRateLimiter",
]


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The answer to one request: allowed or not, and what the ``RateLimit-*``/``Retry-After`` headers say."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    """Seconds until a request would be allowed; 0 when this one was."""


class RateLimiter(Protocol):
    async def hit(self, identity: str, *, limit: int, window: float = 60.0) -> RateDecision:
        """Count one request of ``identity`` if fewer than ``limit`` were allowed in the last ``window`` seconds."""
        ...

    async def close(self) -> None:
        """Release what the limiter holds."""
        ...


def _check(limit: int, window: float) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if not (window > 0 and math.isfinite(window)):
        raise ValueError(f"window must be a positive number of seconds, not {window}")


class MemoryRateLimiter:
    """Sliding-window limits held in this process (one worker): for a single process, tests and development."""

    _SWEEP_EVERY = 4096

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._log: dict[str, tuple[deque[float], float]] = {}
        self._hits = 0

    async def hit(self, identity: str, *, limit: int, window: float = 60.0) -> RateDecision:
        _check(limit, window)
        now = self._clock()
        self._hits += 1
        if self._hits % self._SWEEP_EVERY == 0:
            self._sweep(now)
        entry = self._log.get(identity)
        if entry is None:
            times: deque[float] = deque()
        else:
            times = entry[0]
        self._log[identity] = (times, window)
        horizon = now - window
        while times and times[0] <= horizon:
            times.popleft()
        count = len(times)
        if count < limit:
            times.append(now)
            return RateDecision(allowed=True, limit=limit, remaining=limit - count - 1, retry_after=0.0)
        # the request that must leave the window before one more fits (the oldest, unless the limit was lowered)
        freeing = times[count - limit]
        return RateDecision(allowed=False, limit=limit, remaining=0, retry_after=max(freeing + window - now, 0.0))

    def _sweep(self, now: float) -> None:
        """Forget identities with nothing left in their window, so idle clients do not hold memory."""
        idle = [key for key, (times, window) in self._log.items() if not times or times[-1] <= now - window]
        for key in idle:
            del self._log[key]

    @property
    def identities(self) -> int:
        """How many identities are tracked (idle ones are forgotten from time to time)."""
        return len(self._log)

    async def close(self) -> None:
        self._log.clear()


# KEYS[1]: the identity's sorted set; ARGV: limit, window in microseconds, a unique member for this request.
# Scores are the server's clock in microseconds (exact in a double until the year 2255).
_SLIDING_WINDOW_LUA = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  return {1, limit - count - 1, 0}
end
local freeing = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
return {0, 0, tonumber(freeing[2]) + window - now}
"""
_SLIDING_WINDOW_SHA = hashlib.sha1(_SLIDING_WINDOW_LUA.encode(), usedforsecurity=False).hexdigest()


class RedisRateLimiter:
    """Sliding-window limits in Redis, shared by every worker and replica using the same Redis.

    One ``EVALSHA`` (``EVAL`` when the server does not know the script yet) per hit; each identity's key expires
    ``window`` after its last allowed request. ``timeout`` bounds the whole call, whatever the client's own
    time-outs are. ``close`` closes the client unless ``owns_client`` is false.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "coinseason:rl:",
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        owns_client: bool = True,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._timeout = timeout
        self._owns_client = owns_client

    @property
    def prefix(self) -> str:
        return self._prefix

    async def hit(self, identity: str, *, limit: int, window: float = 60.0) -> RateDecision:
        _check(limit, window)
        window_us = max(math.ceil(window * 1_000_000), 1)
        args = (limit, window_us, os.urandom(12).hex())
        key = self._prefix + identity
        try:
            async with asyncio.timeout(self._timeout):
                try:
                    reply = await _awaited(self._client.evalsha(_SLIDING_WINDOW_SHA, 1, key, *args))
                except NoScriptError:
                    reply = await _awaited(self._client.eval(_SLIDING_WINDOW_LUA, 1, key, *args))
        except (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError) as exc:
            raise LimiterUnavailable(
                f"rate limiter unavailable: Redis at {redis_address(self._client)} did not answer"
                f" within {self._timeout:g} s ({type(exc).__name__}: {exc})",
                reason=f"the rate limiter did not answer within {self._timeout:g} s",
            ) from exc
        except RedisError as exc:
            raise LimiterUnavailable(
                f"rate limiter unavailable: Redis at {redis_address(self._client)} refused the limit script"
                f" ({type(exc).__name__}: {exc})",
                reason="the rate limiter refused its script",
            ) from exc
        allowed, remaining, retry_us = (int(value) for value in reply)
        return RateDecision(
            allowed=bool(allowed),
            limit=limit,
            remaining=max(remaining, 0),
            retry_after=0.0 if allowed else max(retry_us, 0) / 1_000_000,
        )

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()


async def _awaited(result: Awaitable[Any] | Any) -> list[Any]:
    """redis-py types its commands for both clients (``Any | Awaitable[Any]``); the asyncio one returns awaitables."""
    return cast(list[Any], await cast(Awaitable[Any], result))
