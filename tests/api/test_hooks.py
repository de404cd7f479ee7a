"""The app's hooks for its background jobs (:class:`coinseason.api.publishing.Publisher`): jobs started and
cancelled with the app, announcing landed data, pushing intraday updates, reloading while requests go on."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from pydantic import BaseModel

from coinseason.api.app import create_app
from coinseason.api.http.invalidation import RedisInvalidation
from coinseason.api.publishing import Prepared, Publisher
from coinseason.api.state import ApiState
from coinseason.providers.files import FileFormat
from coinseason.services.hooks import AppHooks
from coinseason.services.importing import ImportService
from coinseason.settings import Settings
from tests.api.conftest import UNREACHABLE_REDIS_URL
from tests.api.test_app import client_for
from tests.conftest import fixed_clock

Q = {"top": 3, "window": 2}
NEW_DAY = "2024-01-11"


def api_state(client: TestClient) -> ApiState:
    state: ApiState = client.app.state.api  # type: ignore[attr-defined]
    return state


def publisher(client: TestClient) -> Publisher:
    """The app's hooks, as its background jobs get them."""
    hooks: Publisher = client.app.state.publisher  # type: ignore[attr-defined]
    return hooks


def land_new_day(state: ApiState, tmp_path: Path) -> None:
    """Write 2024-01-11 to the app's store, as the ingestion loop would: BTC and fast go on, slow doubles to 10."""
    i = 10
    path = tmp_path / "day11.csv"
    path.write_text(
        "coin_id,symbol,name,date,price,market_cap\n"
        f"bitcoin,btc,Bitcoin,{NEW_DAY},{100 * 1.1**i},{1e9 * 1.1**i}\n"
        f"fast,fst,Fast,{NEW_DAY},{10 * 1.2**i},{1e8 * 1.2**i}\n"
        f"slow,slw,Slow,{NEW_DAY},10.0,1e8\n"
        f"tether,usdt,Tether,{NEW_DAY},1.0,9e8\n"
    )
    ImportService(state.store, clock=fixed_clock).import_file(path, FileFormat.TIDY)


def test_background_jobs_get_the_hooks_and_are_cancelled_on_shutdown(market_db: str) -> None:
    seen: list[AppHooks] = []
    started, cancelled = threading.Event(), threading.Event()

    async def job(hooks: AppHooks) -> None:
        seen.append(hooks)
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    app = create_app(Settings(db=market_db), clock=fixed_clock, jobs=[job])
    with TestClient(app) as client:
        assert client.get("/v1/season/latest", params=Q).status_code == 200
        assert started.wait(10)
        assert seen == [app.state.publisher] and not cancelled.is_set()
        assert seen[0].clock() == fixed_clock() and seen[0].analytics is app.state.api.analytics
    assert cancelled.is_set()


def test_a_failing_background_job_is_logged_and_the_service_goes_on(
    market_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(hooks: AppHooks) -> None:
        raise RuntimeError("feed unreachable")

    caplog.set_level(logging.ERROR, logger="coinseason.api")
    with TestClient(create_app(Settings(db=market_db), clock=fixed_clock, jobs=[broken])) as client:
        assert client.get("/v1/season/latest", params=Q).status_code == 200
    failures = [r for r in caplog.records if "background job" in r.getMessage()]
    assert failures and "broken" in failures[0].getMessage() and failures[0].exc_info is not None


class Tick(BaseModel):
    btc_dominance: float
    at: dt.datetime


def test_push_intraday_reaches_intraday_subscribers_only(market_db: str) -> None:
    with client_for(market_db) as client, client.websocket_connect("/v1/stream") as live:
        with client.websocket_connect("/v1/stream") as daily:
            live.send_text('{"subscribe": ["intraday"]}')
            assert live.receive_json() == {"subscribed": ["intraday"]}
            daily.send_text('{"subscribe": ["season", "dominance"]}')
            assert daily.receive_json() == {"subscribed": ["dominance", "season"]}
            hooks = publisher(client)
            client.portal.call(hooks.push_intraday, {"btc_dominance": 61.5})  # from the event loop
            pushed = threading.Thread(  # and from another thread
                target=hooks.push_intraday, args=(Tick(btc_dominance=61.25, at=fixed_clock()),)
            )
            pushed.start()
            pushed.join()
            first, second = live.receive_json(), live.receive_json()
            assert first == {
                "topic": "intraday",
                "sent_at": "2026-11-24T12:00:00.000000+00:00",
                "data": {"btc_dominance": 61.5},
            }
            assert second["data"] == {"btc_dominance": 61.25, "at": "2026-11-24T12:00:00Z"}
            assert api_state(client).hub.published == 2  # the daily subscriber was not sent either


def test_push_intraday_refuses_what_is_not_json(market_db: str) -> None:
    with client_for(market_db) as client, pytest.raises(TypeError):
        publisher(client).push_intraday({"at": object()})


def test_announced_data_reloads_and_pushes_the_new_day(market_db: str, tmp_path: Path) -> None:
    with client_for(market_db) as client, client.websocket_connect("/v1/stream") as ws:
        ws.send_text('{"subscribe": ["dominance"]}')
        ws.receive_json()
        before = client.get("/v1/dominance/latest")
        assert before.json()["date"] == "2024-01-10"
        land_new_day(api_state(client), tmp_path)
        client.portal.call(publisher(client).announce_data_landed)
        message = ws.receive_json()
        # BTC 1e9 × 1.1^10 of TOTAL = BTC + fast 1e8 × 1.2^10 + slow 1e8 (tether excluded)
        btc, total = 1e9 * 1.1**10, 1e9 * 1.1**10 + 1e8 * 1.2**10 + 1e8
        assert message["topic"] == "dominance" and message["data"]["date"] == NEW_DAY
        assert message["data"]["btc_dominance"] == pytest.approx(100 * btc / total)
        after = client.get("/v1/dominance/latest")
        assert after.json() == message["data"]  # the pushed bytes are the answer's bytes
        assert after.headers["etag"] != before.headers["etag"]
        # slow doubled over the 2-day window, more than BTC's 21 %: both altcoins of the top 3 now beat BTC
        assert client.get("/v1/season/latest", params=Q).json()["altcoin_season_index"] == 100.0


def test_requests_are_answered_from_the_old_engines_during_a_reload(market_db: str, tmp_path: Path) -> None:
    with client_for(market_db) as client:
        land_new_day(api_state(client), tmp_path)
        hooks = publisher(client)
        entered, release = threading.Event(), threading.Event()
        prepare = hooks._prepare

        def slow_prepare() -> Prepared:
            entered.set()
            assert release.wait(10)
            return prepare()

        hooks._prepare = slow_prepare  # type: ignore[method-assign]
        reload = client.portal.start_task_soon(hooks.data_landed)
        assert entered.wait(10)
        during = client.get("/v1/season/latest", params={"top": 2, "window": 1})  # not cached: computed now
        assert during.status_code == 200 and during.json()["date"] == "2024-01-10"
        release.set()
        reload.result(10)
        assert hooks.reloads == 1
        after = client.get("/v1/season/latest", params={"top": 2, "window": 1})
        assert after.json()["date"] == NEW_DAY


def test_a_failed_reload_leaves_requests_reading_the_store(
    market_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with client_for(market_db) as client:
        assert client.get("/v1/season/latest", params=Q).json()["date"] == "2024-01-10"
        land_new_day(api_state(client), tmp_path)
        hooks = publisher(client)

        def failing() -> Prepared:
            raise OSError("disk gone")

        hooks._prepare = failing  # type: ignore[method-assign]
        client.portal.call(hooks.data_landed)
        assert hooks.reloads == 0 and "reloading after new data failed" in caplog.text
        assert client.get("/v1/season/latest", params=Q).json()["date"] == NEW_DAY


def test_announcing_without_redis_still_reloads_this_replica(
    market_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = RedisInvalidation(aioredis.Redis.from_url(UNREACHABLE_REDIS_URL), timeout=0.5)
    app = create_app(Settings(db=market_db), clock=fixed_clock, invalidation=unreachable)
    with TestClient(app) as client:
        land_new_day(api_state(client), tmp_path)
        hooks = publisher(client)
        client.portal.call(hooks.announce_data_landed)
        assert hooks.reloads == 1 and "reloading this replica only" in caplog.text
        assert client.get("/v1/dominance/latest").json()["date"] == NEW_DAY
