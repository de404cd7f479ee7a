"""Failed API key checks are limited per client (issue reproduction 8: each failed attempt used to cost a store
lookup, without limit): a bucket of its own, stricter than the request limit, answered 429 with ``Retry-After``
and, once full, before the store is asked at all."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from coinseason.api.app import CoinseasonAPI
from coinseason.services.keys import KeyService
from coinseason.store import DuckDBStore
from coinseason.store.records import ApiKeyRecord
from tests.conftest import fixed_clock
from tests.security.bounds_support import Q, app_for, assert_problem, market_db

WRONG = "cs_wrongprefix_" + "x" * 40


@pytest.fixture
def keyed(tmp_path: Path) -> tuple[str, str]:
    """The market's store with one key: (db, key)."""
    db = market_db(tmp_path)
    store = DuckDBStore(db)
    _, key = KeyService(store, clock=fixed_clock).create("tests")
    store.close()
    return db, key


def counting_lookups(app: CoinseasonAPI) -> list[str]:
    """Every key the front layer looks up in the store from now on."""
    assert app.front is not None
    front = app.front
    looked_up: list[str] = []
    real = front.verify_key

    def verify(key: str) -> ApiKeyRecord | None:
        looked_up.append(key)
        return real(key)

    front.verify_key = verify
    return looked_up


def test_failed_key_checks_are_limited_before_the_store_lookup(keyed: tuple[str, str]) -> None:
    """API2:2023 Broken Authentication (no limit on guessing keys) and API4:2023 (each guess a store lookup)."""
    db, key = keyed
    app = app_for(db, allow_anonymous=False, auth_failures_per_minute=3)
    assert isinstance(app, CoinseasonAPI)
    looked_up = counting_lookups(app)
    with TestClient(app) as client:
        for n in range(3):
            assert_problem(client.get("/v1/season/latest", params=Q, headers={"X-API-Key": f"{WRONG}{n}"}), 401)
        assert len(looked_up) == 3
        over = client.get("/v1/season/latest", params=Q, headers={"X-API-Key": f"{WRONG}3"})
        assert_problem(over, 429)
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert len(looked_up) == 4  # the attempt that found the bucket full
        for n in range(4, 10):  # from now on, no lookup at all, even for a valid key from this client
            later = client.get("/v1/season/latest", params=Q, headers={"X-API-Key": f"{WRONG}{n}"})
            assert_problem(later, 429)
            assert "failed API key checks" in later.json()["detail"]
        assert_problem(client.get("/v1/season/latest", params=Q, headers={"X-API-Key": key}), 429)
        assert len(looked_up) == 4
        other = TestClient(app, client=("10.1.2.3", 4000))  # another client is not held back
        assert other.get("/v1/season/latest", params=Q, headers={"X-API-Key": key}).status_code == 200


def test_a_valid_key_does_not_use_the_failure_bucket(keyed: tuple[str, str]) -> None:
    """API2:2023 Broken Authentication: the stricter bucket counts failures only; a client with a valid key is
    held to the request limit alone."""
    db, key = keyed
    with TestClient(app_for(db, allow_anonymous=False, auth_failures_per_minute=1)) as client:
        for _ in range(5):
            assert client.get("/v1/season/latest", params=Q, headers={"X-API-Key": key}).status_code == 200
        assert_problem(client.get("/v1/season/latest", params=Q, headers={"X-API-Key": WRONG}), 401)
        assert_problem(client.get("/v1/season/latest", params=Q, headers={"X-API-Key": WRONG}), 429)


def test_workers_sharing_redis_share_the_failure_bucket(keyed: tuple[str, str]) -> None:
    """API2:2023 Broken Authentication: with ``COINSEASON_REDIS_URL`` the failures a client makes on one worker
    count on every other; spreading guesses over workers gains one lookup per worker at most."""
    import redis

    from tests.api.conftest import REDIS_URL
    from tests.support.requirements import skip_or_fail

    probe = redis.Redis.from_url(REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        probe.ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at {REDIS_URL} is unreachable ({exc}); set COINSEASON_TEST_REDIS_URL or start Redis")
    db, _ = keyed
    address = f"10.9.{os.getpid() % 250}.{secrets.randbelow(250)}"  # this test's own bucket in the shared Redis
    try:
        settings = {"allow_anonymous": False, "auth_failures_per_minute": 3, "redis_url": REDIS_URL}
        first, second = app_for(db, **settings), app_for(db, **settings)
        assert isinstance(first, CoinseasonAPI) and isinstance(second, CoinseasonAPI)
        seen = [counting_lookups(app) for app in (first, second)]
        with TestClient(first, client=(address, 1)) as one, TestClient(second, client=(address, 2)) as two:
            statuses = [
                one.get("/v1/season/latest", params=Q, headers={"X-API-Key": f"{WRONG}{n}"}).status_code
                for n in range(2)
            ]
            statuses += [
                two.get("/v1/season/latest", params=Q, headers={"X-API-Key": f"{WRONG}{n}"}).status_code
                for n in range(2, 5)
            ]
            statuses.append(one.get("/v1/season/latest", params=Q, headers={"X-API-Key": WRONG}).status_code)
            statuses.append(one.get("/v1/season/latest", params=Q, headers={"X-API-Key": WRONG}).status_code)
        assert statuses == [401, 401, 401, 429, 429, 429, 429]
        # a worker looks up until it learns the shared bucket is full: the first 2 + 1, the second 1 + 1
        assert [len(s) for s in seen] == [3, 2]
    finally:
        probe.delete(f"coinseason:rl:authfail:{address}")
        probe.close()


def test_every_operation_under_v1_needs_a_key_when_anonymous_reads_are_off(keyed: tuple[str, str]) -> None:
    """API5:2023 Broken Function Level Authorization: every operation the OpenAPI document lists under /v1, each
    method, is refused (401 problem+json) without a key and with a wrong one when anonymous reads are off."""
    db, _ = keyed
    with TestClient(app_for(db, allow_anonymous=False, auth_failures_per_minute=1000)) as client:
        paths = client.get("/openapi.json").json()["paths"]
        operations = [
            (method.upper(), path.replace("{coin_id}", "bitcoin"))
            for path, item in paths.items()
            if path.startswith("/v1/")
            for method in item
            if method in {"get", "post", "put", "patch", "delete"}
        ]
        assert len(operations) >= 10, operations
        for method, path in operations:
            for headers in ({}, {"X-API-Key": WRONG}):
                answer = client.request(method, path, headers=headers, json={} if method != "GET" else None)
                assert_problem(answer, 401)
