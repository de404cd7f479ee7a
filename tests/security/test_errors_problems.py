"""Every failure is a problem+json with the status it deserves, and its body names no internal host, DSN or file:
overflow and non-finite input 422 (issue reproduction 8: ``1e308`` holdings gave a plain-text 500), a store or
Redis out of reach 503, anything unexpected a problem+json 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from coinseason.api.http.problems import INTERNAL_ERROR
from coinseason.services.keys import KeyService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock
from tests.security.bounds_support import Q, app_for, assert_problem, market_db

REDIS_HOST = "cache-7.redis.internal.invalid"
"""A host name that does not resolve (``.invalid`` is reserved): the limiter fails, its name must not leak."""


@pytest.fixture
def secret_dir(tmp_path: Path) -> Path:
    return tmp_path / "srv-private-data-7c1"


@pytest.fixture
def client(secret_dir: Path) -> Iterator[TestClient]:
    with TestClient(app_for(market_db(secret_dir)), raise_server_exceptions=False) as c:
        yield c


def holding(**amount: Any) -> dict[str, Any]:
    return {"holdings": [{"coin_id": "bitcoin", **amount}], "top": 3, "window": 2}


@pytest.mark.parametrize(
    "body",
    [
        holding(quantity=1e308),
        holding(value_usd=1e308),
        holding(quantity=1.7e308),
    ],
)
def test_huge_holdings_are_a_422_naming_the_field(client: TestClient, body: dict[str, Any]) -> None:
    """API8:2023 Security Misconfiguration (a plain-text 500 from input): the reproduction ``1e308`` holdings."""
    problem = assert_problem(client.post("/v1/portfolio/rebalance", json=body), 422)
    assert "holdings.0." in problem["detail"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_a_422(client: TestClient, literal: str) -> None:
    """API8:2023 Security Misconfiguration: JSON has no NaN or Infinity, Python's parser takes them; refused."""
    raw = '{"holdings": [{"coin_id": "bitcoin", "quantity": ' + literal + "}]}"
    answer = client.post("/v1/portfolio/rebalance", content=raw, headers={"Content-Type": "application/json"})
    assert_problem(answer, 422)


def test_an_overflow_inside_a_computation_is_a_422(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """API8:2023 Security Misconfiguration: a number that passes validation but takes a computation out of range
    is the request's fault, answered 422, not a 500."""
    import coinseason.api.routes.trading as trading

    def overflowing(*args: object, **kwargs: object) -> None:
        raise OverflowError("math range error")

    monkeypatch.setattr(trading, "rebalance", overflowing)
    problem = assert_problem(client.post("/v1/portfolio/rebalance", json=holding(quantity=1.0)), 422)
    assert "too large" in problem["detail"]


def test_an_unexpected_exception_is_a_problem_500_naming_nothing_internal(client: TestClient, secret_dir: Path) -> None:
    """API8:2023 Security Misconfiguration: the catch-all; the exception's text (a file path) stays in the log."""

    class Exploding:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(f"cannot read {secret_dir}/market.duckdb")

    client.app.state.api.analytics = Exploding()  # type: ignore[attr-defined]
    problem = assert_problem(client.get("/v1/season/latest", params=Q), 500)
    assert problem["detail"] == INTERNAL_ERROR and secret_dir.name not in str(problem)


def test_a_redis_outage_is_a_503_naming_no_host(tmp_path: Path) -> None:
    """API8:2023 Security Misconfiguration: the limiter's Redis out of reach (fail closed) is a 503 problem whose
    body names neither the host nor the port of the Redis in the settings."""
    app = app_for(market_db(tmp_path), redis_url=f"redis://:pw@{REDIS_HOST}:6390/0", redis_timeout_seconds=1.0)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/season/latest", params=Q)
    problem = assert_problem(answer, 503)
    assert answer.headers["retry-after"]
    assert "rate limiter" in problem["detail"]
    assert "internal" not in answer.text and "6390" not in answer.text and "pw" not in answer.text


def test_a_broken_store_is_a_503_naming_no_file(tmp_path: Path, secret_dir: Path) -> None:
    """API8:2023 Security Misconfiguration: the store's file replaced by garbage while serving; the key check that
    reads it answers 503, never the file's path."""
    db = market_db(secret_dir)
    store = DuckDBStore(db)
    _, key = KeyService(store, clock=fixed_clock).create("tests")
    store.close()
    with TestClient(app_for(db), raise_server_exceptions=False) as client:
        Path(db).write_bytes(b"not a database" * 1000)
        answer = client.get("/v1/season/latest", params=Q, headers={"X-API-Key": key})
    problem = assert_problem(answer, 503)
    assert answer.headers["retry-after"]
    assert secret_dir.name not in answer.text and "duckdb" not in problem["detail"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e999", "1e308"])
@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/v1/backtests", '{"params": {"top": 3, "window": 2, "fee_bps": %s}}'),
        ("POST", "/v1/backtests", '{"params": {"top": 3, "window": 2, "capital": %s}}'),
        ("GET", "/v1/risk?top=3&order_usd=%s", ""),
        ("GET", "/v1/season/latest?top=3&window=%s", ""),
    ],
)
def test_out_of_range_numbers_anywhere_are_a_422(
    client: TestClient, literal: str, method: str, path: str, template: str
) -> None:
    """API8:2023 Security Misconfiguration: every number a client sends is range-checked before any work."""
    if method == "POST":
        answer = client.post(path, content=template % literal, headers={"Content-Type": "application/json"})
    else:
        answer = client.get(path % literal)
    assert_problem(answer, 422)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/backtests", {"params": {"top": 3, "window": 2, "is_admin": True}}),
        ("/v1/backtests", {"params": {"top": 3, "window": 2}, "owner": "someone-else"}),
        ("/v1/portfolio/rebalance", {"holdings": [{"coin_id": "bitcoin", "quantity": 1.0, "price": 1e9}]}),
    ],
)
def test_properties_a_model_does_not_declare_are_refused(client: TestClient, path: str, body: dict[str, Any]) -> None:
    """API3:2023 Broken Object Property Level Authorization (mass assignment): a property the operation does not
    declare is a 422 naming it, never silently taken or ignored."""
    problem = assert_problem(client.post(path, json=body), 422)
    assert problem["errors"]
