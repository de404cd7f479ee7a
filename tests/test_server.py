"""The composition root (:mod:`coinseason.server`): the API with the dashboard and the background jobs the settings
ask for, and the worker factory that builds it from the settings ``coinseason serve`` handed over."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from coinseason.api.app import create_app as create_api
from coinseason.errors import ConfigError
from coinseason.live.job import LiveJob
from coinseason.live.reference import ExchangeReference
from coinseason.providers.files import FileFormat
from coinseason.server import background_jobs, create_app, create_app_from_handoff
from coinseason.services.importing import ImportService
from coinseason.services.ingestion.factory import IngestionJob
from coinseason.settings import HANDOFF_ENV, ApiSettings, IngestSettings, LiveSettings, Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock, small_market_csv
from tests.fakes.ws_replay import replay_in_thread
from tests.live.test_live_job import DAY_AFTER, EXPECTED_BTC_DOMINANCE, EXPECTED_VALUE, small_frame


@pytest.fixture
def market_db(tmp_path: Path) -> str:
    path = tmp_path / "server.duckdb"
    store = DuckDBStore(path)
    try:
        ImportService(store, clock=fixed_clock).import_file(small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY)
    finally:
        store.close()
    return str(path)


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The root logger as it was, whatever the test configures."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)


# -- the jobs the settings ask for ---------------------------------------------------------------------------------


def test_live_and_ingestion_share_one_exchange_reference() -> None:
    live, ingestion = background_jobs(
        Settings(live=LiveSettings(run=True, stale_after_seconds=30), ingest=IngestSettings(provider="coingecko"))
    )
    assert isinstance(live, LiveJob) and isinstance(ingestion, IngestionJob)
    assert isinstance(live.reference, ExchangeReference) and ingestion.exchange is live.reference
    assert live.reference.stale_after == 30


@pytest.mark.parametrize(
    ("settings", "kinds"),
    [
        ({"live": {"run": True}}, [LiveJob]),
        ({"ingest": {"provider": "coingecko"}}, [IngestionJob]),
        ({"ingest": {"provider": "cmc", "run": False}}, []),  # --no-ingest
        ({"ingest": {"run": True}}, []),  # no provider: nothing to ingest from
        ({}, []),
    ],
)
def test_the_jobs_follow_the_settings(settings: dict[str, dict[str, object]], kinds: list[type]) -> None:
    jobs = background_jobs(Settings.from_env(**settings))
    assert [type(job) for job in jobs] == kinds
    for job in jobs:
        if isinstance(job, IngestionJob):
            assert job.exchange is None  # no live feed: no exchange median in the cross-check


# -- the app -------------------------------------------------------------------------------------------------------


def test_the_dashboard_is_the_servers_not_the_apis(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "empty.duckdb"))
    with TestClient(create_app(settings)) as served:
        page = served.get("/")
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        assert served.get("/healthz").json() == {"status": "ok"}
    with TestClient(create_api(settings)) as api:
        assert api.get("/").status_code == 404
        assert api.get("/healthz").json() == {"status": "ok"}


def test_the_live_feed_reaches_stream_subscribers(market_db: str) -> None:
    with replay_in_thread([[small_frame()] * 400], interval=0.05) as server:
        settings = Settings(db=market_db, live=LiveSettings(exchange_ws_url=server.url, push_seconds=0.1))
        job = LiveJob(settings, top=3, window=3)
        with TestClient(create_app(settings, clock=lambda: DAY_AFTER, jobs=[job])) as client:
            with client.websocket_connect("/v1/stream") as ws:
                ws.send_text(json.dumps({"subscribe": ["intraday"]}))
                assert ws.receive_json() == {"subscribed": ["intraday"]}
                for _ in range(100):  # pushed every 0.1 s; the first ones may come before any tick
                    message = ws.receive_json()
                    if message["data"]["value"] is not None:
                        break
    assert message["topic"] == "intraday"
    data = message["data"]
    assert data["value"] == pytest.approx(EXPECTED_VALUE)
    assert data["btc_dominance"] == pytest.approx(EXPECTED_BTC_DOMINANCE)
    assert data["method"]["base_date"] == "2024-01-08" and data["stale"] is False


# -- the worker factory --------------------------------------------------------------------------------------------


def test_a_worker_reads_the_handed_settings_and_nothing_else(
    market_db: str, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    monkeypatch.setenv(HANDOFF_ENV, Settings(db=market_db, api=ApiSettings(allow_anonymous=False)).to_handoff())
    monkeypatch.setenv("COINSEASON_ALLOW_ANONYMOUS", "true")  # what serve was not told: the worker must ignore it
    monkeypatch.setenv("COINSEASON_DB", "/nowhere/else.duckdb")
    with TestClient(create_app_from_handoff()) as client:
        refused = client.get("/v1/season/latest", params={"top": 3, "window": 2})
        assert refused.status_code == 401 and "API key" in refused.json()["detail"]
        assert client.get("/readyz").json()["store"] is True  # the handed store, not the environment's
        assert client.get("/").status_code == 200


def test_a_worker_without_handed_settings_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HANDOFF_ENV, raising=False)
    with pytest.raises(ConfigError, match="COINSEASON_SERVE_SETTINGS is not set"):
        create_app_from_handoff()
