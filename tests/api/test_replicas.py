"""Two ``coinseason serve`` processes over one PostgreSQL store and one Redis behave as one service: the same
values, one rate limit, one cache invalidation, and live pushes from either replica. Then one command with two
uvicorn workers.

Needs PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379): skipped without them, failed under ``CI=true``.

Isolation from other runs sharing the Redis: the limiter's key prefix (``coinseason:rl:``) is not a setting, so
every request here comes under an identity of this run alone: an API key made for it (limit 600 a minute), or for
the anonymous limit, a loopback source address picked at random (``anon:127.x.y.z``). Their counters are deleted
afterwards. The invalidation channel is shared by every Redis database; an extra signal only empties caches.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
import redis
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from coinseason.api.http.invalidation import RedisInvalidation
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.services.keys import KeyService
from coinseason.store import open_store
from tests.api.serve_helpers import Server, serve
from tests.api.test_app import DAYS, market_csv
from tests.conftest import fixed_clock
from tests.store.postgres_server import fresh_database

ANONYMOUS_LIMIT = 40
LIMITER_PREFIX = "coinseason:rl:"
Q = {"top": 3, "window": 2}
NEW_DAY = DAYS[-1] + dt.timedelta(days=1)
LANDING_TIMEOUT = 30.0
"""Bound of the wait for both replicas to serve landed data (how fast they do is bench/api.py's business)."""


@dataclass(frozen=True)
class Replicas:
    a: Server
    b: Server
    db: str
    redis_url: str
    key: str

    def client(self, server: Server) -> httpx.Client:
        return httpx.Client(base_url=server.url, headers={"X-API-Key": self.key}, timeout=10.0)


def random_loopback() -> str:
    """A loopback address other than 127.0.0.1 (all of 127/8 reaches the server): an anonymous identity of its own."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@pytest.fixture(scope="module")
def replicas(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("replicas")
    with ExitStack() as stack:
        db = stack.enter_context(fresh_database())
        store = open_store(db)
        try:
            ImportService(store, clock=fixed_clock).import_file(market_csv(root / "m.csv"), FileFormat.TIDY)
            record, key = KeyService(store, clock=fixed_clock).create("replica tests")
        finally:
            store.close()
        stack.callback(_forget, redis_url, f"{LIMITER_PREFIX}key:{record.prefix}")
        env = {"COINSEASON_REDIS_URL": redis_url, "COINSEASON_ANONYMOUS_RATE_LIMIT_PER_MINUTE": str(ANONYMOUS_LIMIT)}
        a = stack.enter_context(serve(["--db", db], log=root / "a.log", env=env))
        b = stack.enter_context(serve(["--db", db], log=root / "b.log", env=env))
        yield Replicas(a=a, b=b, db=db, redis_url=redis_url, key=key)


def _forget(redis_url: str, *keys: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        client.delete(*keys)
    finally:
        client.close()


def publish_landed(redis_url: str) -> None:
    """Say "new data landed" on the invalidation channel, as an ingesting process does."""

    async def send() -> None:
        invalidation = RedisInvalidation(aioredis.Redis.from_url(redis_url))
        try:
            await invalidation.publish()
        finally:
            await invalidation.close()

    asyncio.run(send())


def test_both_replicas_serve_the_same_values(replicas: Replicas) -> None:
    with replicas.client(replicas.a) as a, replicas.client(replicas.b) as b:
        for path, params in (
            ("/v1/season/latest", Q),
            ("/v1/season/history", Q),
            ("/v1/dominance/latest", {}),
            ("/v1/coins", {}),
        ):
            got_a, got_b = a.get(path, params=params), b.get(path, params=params)
            assert got_a.status_code == got_b.status_code == 200, (path, got_a.text, got_b.text)
            assert got_a.content == got_b.content, path
            assert got_a.headers["etag"] == got_b.headers["etag"], path


def test_one_rate_limit_across_replicas(replicas: Replicas) -> None:
    address = random_loopback()
    replicas_ = (replicas.a, replicas.b)
    clients = [
        httpx.Client(base_url=s.url, transport=httpx.HTTPTransport(local_address=address), timeout=10.0)
        for s in replicas_
    ]
    allowed = [0, 0]
    refused: list[httpx.Response] = []
    try:
        for i in range(3 * ANONYMOUS_LIMIT):
            r = clients[i % 2].get("/v1/season/latest", params=Q)
            assert r.status_code in (200, 429), r.text
            if r.status_code == 200:
                allowed[i % 2] += 1
            else:
                refused.append(r)
    finally:
        for client in clients:
            client.close()
        _forget(replicas.redis_url, f"{LIMITER_PREFIX}anon:{address}")
    assert sum(allowed) == ANONYMOUS_LIMIT, allowed  # the sliding window is exact: not twice the limit
    assert min(allowed) > 0  # both replicas let requests in, counted together
    assert len(refused) == 2 * ANONYMOUS_LIMIT
    for r in refused:
        assert r.headers["content-type"] == "application/problem+json"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["x-ratelimit-remaining"] == "0"


def test_new_data_reaches_every_replica(replicas: Replicas, tmp_path: Path) -> None:
    with replicas.client(replicas.a) as a, replicas.client(replicas.b) as b:
        before = [c.get("/v1/season/latest", params=Q) for c in (a, b, a, b)]
        assert all(r.status_code == 200 for r in before)
        assert {r.json()["date"] for r in before} == {DAYS[-1].isoformat()}
        # one more day: "slow" jumps 40 %, beating BTC's 21 % over two days, so the index goes from 50 to 100
        day = tmp_path / "day.csv"
        day.write_text(
            "coin_id,symbol,name,date,price,market_cap\n"
            f"bitcoin,btc,Bitcoin,{NEW_DAY},{100 * 1.1**10},{1e9 * 1.1**10}\n"
            f"fast,fst,Fast,{NEW_DAY},{10 * 1.2**10},{1e8 * 1.2**10}\n"
            f"slow,slw,Slow,{NEW_DAY},7.0,7e7\n"
            f"tether,usdt,Tether,{NEW_DAY},1.0,9e8\n"
        )
        store = open_store(replicas.db)
        try:
            report = ImportService(store, clock=fixed_clock).import_file(day, FileFormat.TIDY)
        finally:
            store.close()
        assert report.added == 4 and report.rejected == 0
        # without the signal, both replicas keep serving what they cached
        assert [c.get("/v1/season/latest", params=Q).json()["date"] for c in (a, b)] == [DAYS[-1].isoformat()] * 2
        publish_landed(replicas.redis_url)
        latest: dict[str, dict[str, object]] = {}
        deadline = time.monotonic() + LANDING_TIMEOUT
        while len(latest) < 2 and time.monotonic() < deadline:  # the replicas reload in their own time
            for name, client in (("a", a), ("b", b)):
                body = client.get("/v1/season/latest", params=Q).json()
                if body["date"] == NEW_DAY.isoformat():
                    latest[name] = body
            time.sleep(0.02)
    assert sorted(latest) == ["a", "b"], f"not every replica serves the new day after {LANDING_TIMEOUT:g} s"
    assert latest["a"] == latest["b"]
    assert latest["a"]["altcoin_season_index"] == 100.0 and latest["a"]["season"] == "altcoin"


def test_a_subscriber_of_one_replica_gets_the_push(replicas: Replicas) -> None:
    async def listen() -> dict[str, object]:
        url = f"{replicas.b.ws_url}/v1/stream"
        async with asyncio.timeout(10), connect(url, additional_headers={"X-API-Key": replicas.key}) as ws:
            await ws.send('{"subscribe": ["dominance"]}')
            assert orjson.loads(await ws.recv()) == {"subscribed": ["dominance"]}
            await asyncio.to_thread(publish_landed, replicas.redis_url)
            message: dict[str, object] = orjson.loads(await ws.recv())
            return message

    message = asyncio.run(listen())
    with replicas.client(replicas.b) as b:
        current = b.get("/v1/dominance/latest").json()
    assert message["topic"] == "dominance"
    assert message["data"] == current


def test_one_command_with_two_workers(replicas: Replicas, tmp_path: Path) -> None:
    env = {"COINSEASON_REDIS_URL": replicas.redis_url}
    with serve(["--workers", "2", "--db", replicas.db], log=tmp_path / "workers.log", env=env) as server:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": replicas.key}, timeout=10.0) as client:
            answers = [client.get("/v1/season/latest", params=Q) for _ in range(8)]
        with replicas.client(replicas.a) as a:
            expected = a.get("/v1/season/latest", params=Q)
        log = server.output()
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert {r.content for r in answers} == {expected.content}
    # a supervisor's two workers (granian, the default server, names them; uvicorn says each started)
    assert log.count("Spawning worker-") >= 2 or log.count("Started server process") >= 2
