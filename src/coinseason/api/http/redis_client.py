"""The Redis client of the API's hot path (rate limits, cache invalidation), and its address for messages."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

__all__ = ["DEFAULT_REDIS_TIMEOUT", "redis_address", "redis_from_url"]

DEFAULT_REDIS_TIMEOUT = 0.25
"""Seconds a rate-limit (or other hot-path) call to Redis may take before it counts as unanswered; the API takes
its value from the ``COINSEASON_REDIS_TIMEOUT_SECONDS`` setting (raise it on a loaded machine, where slow answers
would otherwise be refused with 503)."""


def redis_from_url(url: str, *, timeout: float = DEFAULT_REDIS_TIMEOUT, max_connections: int = 100) -> aioredis.Redis:
    """A Redis client for the hot path: connect and socket time-outs of ``timeout`` seconds, one quick retry.

    At most ``max_connections`` connections; a call finding them all busy waits (up to ``timeout``) for one to come
    back, rather than failing at once as redis-py's default pool does, which refused bursts of requests (503).
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), retries=1),
    )
    return aioredis.Redis.from_pool(pool)


def redis_address(client: aioredis.Redis) -> str:
    """``host:port`` (or the socket path) of a client, for error messages; never the password."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
