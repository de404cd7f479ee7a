"""Fixtures of the API component tests: the anyio backend and a reachable Redis (or a skip, except on CI)."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock, small_market_csv
from tests.support.requirements import skip_or_fail

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
        skip_or_fail(reason)
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


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Lines logged by coinseason (httpx logs its own client calls too)."""
    entries = [orjson.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [entry for entry in entries if entry["logger"].startswith("coinseason.")]


def access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in log_lines(stream) if line["logger"] == "coinseason.access"]


@pytest.fixture
def market_db(tmp_path: Path) -> str:
    """A DuckDB store file holding the small hand-made market of ``tests.conftest.small_market_csv``."""
    path = tmp_path / "api.duckdb"
    store = DuckDBStore(path)
    ImportService(store, clock=fixed_clock).import_file(small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY)
    store.close()
    return str(path)
