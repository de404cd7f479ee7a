"""Writes by other processes reach a running server (:class:`coinseason.api.watching.StoreWatch`): the store's data
version, looked at on the watch's own pace (injected here: no test sleeps), a reload with new ready bytes, ETags and
stream pushes when it moved, and no second reload for a write that was announced already."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from coinseason.api.app import create_app as create_api
from coinseason.api.publishing import Publisher
from coinseason.api.watching import StoreWatch
from coinseason.errors import StoreBusy
from coinseason.server import create_app
from coinseason.settings import Settings
from coinseason.store import DuckDBStore
from tests.api.test_hooks import NEW_DAY, Q, api_state, land_new_day, publisher
from tests.conftest import fixed_clock


@pytest.fixture
def client(market_db: str) -> Iterator[TestClient]:
    """The API over the small market, without a running watch: each test looks when it wants to."""
    with TestClient(create_api(Settings(db=market_db), clock=fixed_clock)) as client:
        publisher(client).note_version()  # as the server does before its start-up load
        yield client


def look(client: TestClient, watch: StoreWatch) -> bool:
    return client.portal.call(watch.look, publisher(client))


def test_a_write_by_another_process_is_reloaded_and_pushed(client: TestClient, market_db: str, tmp_path: Path) -> None:
    watch = StoreWatch()
    assert look(client, watch) is False  # nothing new
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text('{"subscribe": ["dominance"]}')
        ws.receive_json()
        before = client.get("/v1/season/latest", params=Q)
        assert before.json()["date"] == "2024-01-10"
        other = SimpleNamespace(store=DuckDBStore(market_db))  # another writer: nothing tells the server
        land_new_day(other, tmp_path)  # type: ignore[arg-type]
        assert client.get("/v1/season/latest", params=Q).json()["date"] == "2024-01-10"  # still the old answer
        assert look(client, watch) is True
        pushed = ws.receive_json()
        assert pushed["topic"] == "dominance" and pushed["data"]["date"] == NEW_DAY
    after = client.get("/v1/season/latest", params=Q)
    assert after.json()["date"] == NEW_DAY and after.headers["etag"] != before.headers["etag"]
    assert look(client, watch) is False  # seen: no second reload
    assert (watch.reloads, publisher(client).reloads) == (1, 1)


def test_an_announced_write_is_not_reloaded_again(client: TestClient, tmp_path: Path) -> None:
    watch = StoreWatch()
    land_new_day(api_state(client), tmp_path)
    hooks = publisher(client)
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text('{"subscribe": ["dominance"]}')
        ws.receive_json()
        client.portal.call(hooks.announce_data_landed)  # the writer's own replica, or the Redis signal
        assert ws.receive_json()["data"]["date"] == NEW_DAY  # reloaded
    assert hooks.reloads == 1
    assert look(client, watch) is False
    assert hooks.reloads == 1 and watch.reloads == 0


def test_an_unknown_version_is_reloaded_at_the_first_look(client: TestClient) -> None:
    hooks = publisher(client)
    hooks.version = None  # the store could not say at start-up
    watch = StoreWatch()
    assert look(client, watch) is True
    assert hooks.version is not None and look(client, watch) is False


def test_an_unreadable_store_is_logged_once_and_looked_at_again(
    client: TestClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = api_state(client).store
    real = store.data_version
    failures = iter([StoreBusy("the DuckDB store x is busy: process 1 (import) holds it")] * 3)

    def flaky() -> object:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real()

    store.data_version = flaky  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="coinseason.api")
    watch = StoreWatch()
    land_new_day(api_state(client), tmp_path)
    assert [look(client, watch) for _ in range(3)] == [False, False, False]
    assert watch.failing is not None and "process 1 (import)" in watch.failing
    warnings = [r for r in caplog.records if "cannot read the data version" in r.getMessage()]
    assert len(warnings) == 1
    assert look(client, watch) is True  # readable again: the write is found
    assert watch.failing is None and "can be read again" in caplog.text
    assert client.get("/v1/season/latest", params=Q).json()["date"] == NEW_DAY


def test_the_watch_runs_as_a_background_job_at_its_own_pace(market_db: str, tmp_path: Path) -> None:
    ticks: list[asyncio.Queue[None]] = []
    sleeping = threading.Event()

    async def sleep(seconds: float) -> None:  # the watch's pace: one look per tick the test gives
        assert seconds == 0.5
        if not ticks:
            ticks.append(asyncio.Queue())
        sleeping.set()
        await ticks[0].get()

    watch = StoreWatch(interval=0.5, sleep=sleep)
    app = create_api(Settings(db=market_db), clock=fixed_clock, jobs=[watch])
    with TestClient(app) as client:
        hooks: Publisher = app.state.publisher
        hooks.note_version()
        assert sleeping.wait(10)
        land_new_day(api_state(client), tmp_path)
        with client.websocket_connect("/v1/stream") as ws:
            ws.send_text('{"subscribe": ["dominance"]}')
            ws.receive_json()
            client.portal.call(ticks[0].put, None)  # one look
            assert ws.receive_json()["data"]["date"] == NEW_DAY
        status = client.get("/readyz").json()["jobs"]["store_watch"]
        assert status["looks"] == 1 and status["reloads"] == 1 and status["serving_imports"] == 2
        assert status["store_imports"] == 2 and status["error"] is None


def test_the_server_watches_its_store_and_knows_what_it_loaded(market_db: str) -> None:
    app = create_app(Settings(db=market_db), clock=fixed_clock)
    hooks: Publisher = app.state.publisher
    assert hooks.version == DuckDBStore(market_db).data_version()  # read before its start-up load
    with TestClient(app) as client:
        assert "store_watch" in client.get("/readyz").json()["jobs"]
