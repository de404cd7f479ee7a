"""The dashboard against an API run in this process (uvicorn in a thread), where the test holds the clock, the
pushes and the settings: fresh data shows no stale banner, intraday pushes of the live feed show apart from the
daily figures, and a server without anonymous reads works once an API key is given.

The data is the hand-made small market of tests/conftest.py (10 days to 2024-01-10), shown as top 3 over 3 days.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser

from coinseason.api.publishing import Publisher
from coinseason.api.state import ApiState
from coinseason.providers.files import FileFormat
from coinseason.server import create_app
from coinseason.services.importing import ImportService
from coinseason.settings import ApiSettings, Settings
from coinseason.store import DuckDBStore
from tests.conftest import SMALL_MARKET_DAYS, fixed_clock, small_market_csv
from tests.web.conftest import close_dashboard, half_up, open_dashboard

LAST_DAY = SMALL_MARKET_DAYS[-1]
NOW = dt.datetime.combine(LAST_DAY, dt.time(12), dt.UTC)
"""Noon of the last day: the data is 12 h old, under the 36 h staleness limit."""
VIEW = "?top=3&window=3"
PARAMS = {"top": 3, "window": 3}
VIEWPORT = {"width": 1280, "height": 1400}


@dataclass(frozen=True)
class Local:
    url: str
    state: ApiState
    hooks: Publisher
    """The app's hooks, as the live feed's job gets them."""


class ThreadServer(uvicorn.Server):
    """uvicorn's server, saying when it listens or gave up starting."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.settled = threading.Event()

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().serve(sockets)
        finally:
            self.settled.set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.settled.set()


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` on 127.0.0.1 (a free port) in a background thread, with its lifespan; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, loop="asyncio", timeout_graceful_shutdown=1)
    runner = ThreadServer(config)
    thread = threading.Thread(target=lambda: asyncio.run(runner.serve(sockets=[sock])), daemon=True)
    thread.start()
    if not runner.settled.wait(30) or not runner.started:
        runner.should_exit = True
        sock.close()
        raise RuntimeError("the API did not start in its thread")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        runner.should_exit = True
        thread.join(timeout=10)
        sock.close()


def local_api(root: Path, **api: Any) -> Iterator[Local]:
    db = root / "small.duckdb"
    store = DuckDBStore(db)
    try:
        ImportService(store, clock=fixed_clock).import_file(small_market_csv(root / "small.csv"), FileFormat.TIDY)
    finally:
        store.close()
    app = create_app(Settings(db=str(db), api=ApiSettings(**api)), clock=lambda: NOW)
    with serving(app) as url:
        yield Local(url=url, state=app.state.api, hooks=app.state.publisher)


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    yield from local_api(tmp_path_factory.mktemp("anonymous"))


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    yield from local_api(tmp_path_factory.mktemp("keyed"), allow_anonymous=False)


def latest(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = httpx.get(f"{url}/v1/season/latest", params=PARAMS, headers=headers, timeout=10.0)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_fresh_data_shows_no_stale_banner(anonymous: Local, browser: Browser) -> None:
    body = latest(anonymous.url)
    assert body["date"] == str(LAST_DAY) and body["stale"] is False, "12 h old data is not stale"
    board = open_dashboard(browser, f"{anonymous.url}/{VIEW}", viewport=VIEWPORT)
    try:
        board.wait_loaded()
        page = board.page
        assert page.locator("#error").is_hidden(), page.inner_text("#error")
        assert page.inner_text("#asi") == half_up(body["altcoin_season_index"], 1)
        assert page.get_attribute("#asof", "datetime") == body["as_of"]
        assert page.locator("#stale").is_hidden()
        assert page.inner_text("#stale") == ""
    finally:
        close_dashboard(board)


def test_intraday_pushes_show_live_beside_the_daily_figures(
    anonymous: Local, browser: Browser, request: pytest.FixtureRequest
) -> None:
    board = open_dashboard(browser, f"{anonymous.url}/{VIEW}", viewport=VIEWPORT)
    try:
        board.wait_loaded()
        page = board.page
        page.wait_for_function("document.getElementById('live').textContent === 'on'")
        daily = (page.inner_text("#asi"), page.inner_text("#btcd"))
        assert page.locator("#intraday").is_hidden(), "nothing live before the first push"
        # the shape the live feed pushes (IntradaySnapshot.to_dict), from another thread as the feed's job may
        anonymous.hooks.push_intraday(
            {
                "as_of": "2024-01-11T09:30:05+00:00",
                "stale": False,
                "value": 50.0,
                "bitcoin_season_index": 50.0,
                "btc_dominance": 81.63265306122449,
                "method": {"top": 3, "window": 3, "base_date": "2024-01-08"},
            }
        )
        page.wait_for_function("document.getElementById('intraday').dataset.count === '1'")
        assert page.locator("#intraday").is_visible()
        assert page.inner_text("#live-badge") == "LIVE"  # shown in capitals by the style sheet
        assert page.inner_text("#live-asi") == "50.0"
        assert page.inner_text("#live-btcd") == "81.63 %"
        assert page.get_attribute("#live-time", "datetime") == "2024-01-11T09:30:05+00:00"
        assert page.inner_text("#live-time") == "2024-01-11 09:30:05 UTC"
        assert page.inner_text("#live-method") == "top 3, 3-day window"
        assert (page.inner_text("#asi"), page.inner_text("#btcd")) == daily, "the daily figures stay as they were"
        board.screenshot("dashboard-live.png", request)

        anonymous.hooks.push_intraday({"as_of": "2024-01-11T09:31:00+00:00", "stale": True, "value": None})
        page.wait_for_function("document.getElementById('intraday').dataset.count === '2'")
        assert page.inner_text("#live-badge") == "LIVE · STALE"
        assert page.inner_text("#live-asi") == "–"
    finally:
        close_dashboard(board)


def test_without_anonymous_reads_the_page_asks_for_a_key(keyed: Local, browser: Browser) -> None:
    _, key = keyed.state.keys.create("dashboard")
    assert httpx.get(f"{keyed.url}/v1/season/latest", timeout=10.0).status_code == 401
    body = latest(keyed.url, {"X-API-Key": key})
    board = open_dashboard(browser, f"{keyed.url}/{VIEW}", viewport=VIEWPORT)
    refused = ("401", "WebSocket")  # the refused requests and socket, as the browser logs them
    try:
        board.wait_loaded()
        page = board.page
        assert page.locator("#error").is_visible()
        assert "a valid API key is required" in page.inner_text("#error")
        assert page.locator("#access").get_attribute("open") is not None, "the key field is shown"
        page.wait_for_function("document.getElementById('live').textContent === 'off'")
        assert page.locator("#ws-note").is_visible()
        assert "COINSEASON_ALLOW_ANONYMOUS=true" in page.inner_text("#ws-note")

        sent: list[str | None] = []
        page.on("request", lambda r: sent.append(r.headers.get("x-api-key")) if "/v1/" in r.url else None)
        page.fill("#apikey", key)
        page.click("#key-form button[type=submit]")
        board.wait_loaded(2)
        assert page.locator("#error").is_hidden(), page.inner_text("#error")
        assert page.inner_text("#asi") == half_up(body["altcoin_season_index"], 1)
        assert page.inner_text("#btcd") == f"{half_up(body['btc_dominance'], 2)} %"
        assert sent and set(sent) == {key}, "every API request carries the key in the X-API-Key header"
        assert key not in page.url

        page.reload()  # the key is kept in this browser
        board.wait_loaded()
        assert page.input_value("#apikey") == key
        assert page.locator("#error").is_hidden()
        assert page.inner_text("#asi") == half_up(body["altcoin_season_index"], 1)
        page.wait_for_function("document.getElementById('live').textContent === 'off'")
    finally:
        close_dashboard(board, expected=refused)
