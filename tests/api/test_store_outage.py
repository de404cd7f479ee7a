"""While the store is out of reach the API answers problem+json 503 with ``Retry-After`` and a reason that names no
server, ``/readyz`` says why, and what it holds in memory is still served; nothing escapes as a plain-text 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from coinseason.api.app import create_app
from coinseason.errors import StoreError, StoreUnavailable
from coinseason.services.keys import KeyService
from coinseason.settings import ApiSettings, Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock

Q = {"top": 3, "window": 2}
SECRET_URL = "postgresql://admin:hunter2@db.internal.example:5432/prod"  # noqa: S105 - a fake, to be hidden
REFUSED = "the database server refuses connections"


class SwitchableStore:
    """A real store whose every call raises ``down`` while it is set (closing excepted)."""

    def __init__(self, inner: DuckDBStore) -> None:
        self.inner = inner
        self.down: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name == "close" or not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down is not None:
                raise self.down
            return found(*args, **kwargs)

        return call


def unavailable() -> StoreUnavailable:
    return StoreUnavailable(f"{SECRET_URL}: {REFUSED} (connection to 10.0.0.5 port 5432 failed)", reason=REFUSED)


@pytest.fixture
def outage(market_db: str) -> Iterator[tuple[TestClient, SwitchableStore, str]]:
    inner = DuckDBStore(market_db)
    _, key = KeyService(inner, clock=fixed_clock).create("outage")
    store = SwitchableStore(inner)
    app = create_app(Settings(db=market_db, api=ApiSettings()), store=store, clock=fixed_clock)  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, store, key
    inner.close()


def assert_safe_503(answer: Any, detail: str) -> None:
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "2"
    assert answer.json()["detail"] == detail
    for secret in ("db.internal", "hunter2", "10.0.0.5", "admin"):
        assert secret not in answer.text


def test_a_keyed_request_gets_a_problem_503_naming_the_reason_not_the_server(
    outage: tuple[TestClient, SwitchableStore, str],
) -> None:
    client, store, key = outage
    store.down = unavailable()
    answer = client.get("/v1/season/latest", params=Q, headers={"X-API-Key": key})
    assert_safe_503(answer, f"the store is unavailable: {REFUSED}; try again shortly")
    store.down = None
    assert client.get("/v1/season/latest", params=Q, headers={"X-API-Key": key}).status_code == 200


def test_readyz_says_why(outage: tuple[TestClient, SwitchableStore, str]) -> None:
    client, store, _ = outage
    store.down = unavailable()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["store"] is False
    assert ready.json()["reasons"] == [f"store unreachable: {REFUSED}"]
    assert "db.internal" not in ready.text and "hunter2" not in ready.text


def test_what_is_in_memory_is_still_served_and_store_reads_are_refused(
    outage: tuple[TestClient, SwitchableStore, str],
) -> None:
    client, store, _ = outage
    before = client.get("/v1/season/latest", params=Q)
    assert before.status_code == 200
    store.down = unavailable()
    during = client.get("/v1/season/latest", params=Q)
    assert during.status_code == 200 and during.content == before.content
    history = client.get("/v1/coins/bitcoin/history")  # read from the store on each new request
    assert_safe_503(history, f"the store is unavailable: {REFUSED}; try again shortly")


@pytest.mark.parametrize(
    ("failure", "status", "detail"),
    [
        (
            lambda: StoreError(f"reading {SECRET_URL} failed: relation does not exist"),
            503,
            "the store could not answer; the error is logged with this request's id",
        ),
        (
            lambda: RuntimeError(f"bug near {SECRET_URL}"),
            500,
            "an unexpected error; it is logged with this request's id",
        ),
    ],
)
def test_other_failures_are_problems_that_name_no_server(
    outage: tuple[TestClient, SwitchableStore, str],
    failure: Callable[[], BaseException],
    status: int,
    detail: str,
) -> None:
    client, store, key = outage
    store.down = failure()
    for answer in (
        client.get("/v1/coins/bitcoin/history"),  # raised in a route, behind FastAPI
        client.get("/v1/season/latest", params=Q, headers={"X-API-Key": key}),  # raised in the front layer
    ):
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == detail
        assert "db.internal" not in answer.text and "hunter2" not in answer.text


def test_a_websocket_whose_key_cannot_be_checked_is_told_to_try_again(
    outage: tuple[TestClient, SwitchableStore, str],
) -> None:
    client, store, key = outage
    store.down = unavailable()
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/v1/stream", headers={"X-API-Key": key}) as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 1013 and REFUSED in closed.value.reason
