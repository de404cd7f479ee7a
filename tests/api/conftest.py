"""Fixtures of the API component tests: the anyio backend and a reachable Redis (or a skip, except on CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis

REDIS_URL = os.environ.get("COINSEASON_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis; a skip when it does not answer, a failure when ``CI=true`` (CI must run these tests)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis at {REDIS_URL} is unreachable ({exc}); set COINSEASON_TEST_REDIS_URL or start Redis"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix (and channel name) of this test alone, so parallel workers never share keys."""
    return f"coinseason:test:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_client(redis_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the test Redis; every key under ``redis_prefix`` is deleted afterwards."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=redis_prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
