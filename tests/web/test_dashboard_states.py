"""The dashboard on a store with no data yet, in a real browser against an API run in this process: one panel
naming both ways to fill the store (not four red error boxes), and the first-run backfill's progress as ``/readyz``
reports it under ``jobs.backfill`` (the shape the first-run job writes), gone when the backfill is done."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from coinseason.api.state import ApiState
from coinseason.providers.files import FileFormat
from coinseason.server import create_app
from coinseason.services.importing import ImportService
from coinseason.settings import Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock, small_market_csv
from tests.web.conftest import CHART_FITS, close_dashboard, open_dashboard
from tests.web.test_dashboard_local import serving

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
VIEWPORT = {"width": 390, "height": 844}
NOT_FOUND = ("404",)
"""The data routes answer 404 on an empty store; the browser logs each."""


@dataclass(frozen=True)
class Empty:
    url: str
    state: ApiState


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Empty]:
    db = tmp_path_factory.mktemp("empty") / "empty.duckdb"
    DuckDBStore(db).close()
    app = create_app(Settings(db=str(db)), clock=lambda: NOW)
    with serving(app) as url:
        yield Empty(url, app.state.api)


def test_an_empty_store_names_both_routes(empty: Empty, browser: Browser, request: pytest.FixtureRequest) -> None:
    answer = httpx.get(f"{empty.url}/v1/dominance/latest", timeout=10.0)
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    board = open_dashboard(browser, f"{empty.url}/", viewport=VIEWPORT, is_mobile=True, clock=NOW)
    try:
        board.wait_loaded()
        page = board.page
        assert page.locator("#error").is_hidden(), "an empty store is a state, not an error"
        panel = page.locator("#empty")
        assert panel.is_visible()
        text = panel.inner_text()
        assert "coinseason import PATH --format" in text, "route 1: import a file"
        assert "COINSEASON_INGEST_PROVIDER=coingecko" in text and "coinseason serve" in text, "route 2: a provider"
        shown = page.inner_text("#empty-detail")
        if "configure a provider" in detail:  # the server names both routes itself: its words, commands as code
            assert shown == detail.replace("`", "")
            assert page.locator("#empty ol.routes").is_hidden()
            assert page.locator("#empty-detail code").count() == detail.count("`") // 2
        else:  # the page's own two routes beside what the server said
            assert shown == f"The server says: {detail.replace('`', '')}"
            assert "coinseason import PATH --format coingecko-daily" in text
            assert "COINSEASON_INGEST_PROVIDER=coingecko coinseason serve" in text
        assert page.inner_text("#status") == "No data yet"
        assert page.locator("#progress").is_hidden(), "no backfill runs"
        for card in ("section.now", "#methodology", "#season-chart", "#periods"):
            assert page.locator(card).is_hidden(), f"{card}: no empty data cards under the panel"
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
        board.screenshot("dashboard-empty-390.png", request)
    finally:
        close_dashboard(board, expected=NOT_FOUND)


def backfill(phase: str, done: int, total: int, eta: float | None) -> dict[str, Any]:
    """A ``jobs.backfill`` status as the first-run job reports it."""
    return {
        "phase": phase,
        "message": "",
        "coins_done": done,
        "coins_total": total,
        "days": 365,
        "from": "2025-12-08",
        "to": "2026-12-07",
        "eta_seconds": eta,
        "plan": {"plan": "keyless", "calls_per_minute": 10},
    }


def test_the_backfill_progress_shows_while_it_runs(
    empty: Empty, browser: Browser, request: pytest.FixtureRequest
) -> None:
    status = {"now": backfill("backfilling", 120, 500, 1800.0)}
    empty.state.statuses["backfill"] = lambda: status["now"]
    try:
        assert httpx.get(f"{empty.url}/readyz", timeout=10.0).json()["jobs"]["backfill"]["coins_done"] == 120
        board = open_dashboard(browser, f"{empty.url}/", viewport=VIEWPORT, is_mobile=True)
        try:
            page = board.page
            page.clock.install(time=NOW)  # the page's timers under the test's hand: the 15 s poll runs on demand
            page.reload()
            board.wait_loaded()
            progress = page.locator("#progress")
            assert progress.is_visible()
            assert page.inner_text("#progress-text") == (
                "Backfilling history · 120 of 500 coins · 2025-12-08 to 2026-12-07 · about 30 min left"
            )
            assert page.eval_on_selector("#progress-bar", "b => b.value") == pytest.approx(0.24)
            assert page.locator("#empty").is_visible(), "both routes stay named until data lands"
            board.screenshot("dashboard-backfill-390.png", request)

            status["now"] = backfill("backfilling", 260, 500, 960.0)
            page.clock.run_for(16_000)
            page.wait_for_function("document.getElementById('progress-bar').value > 0.5")
            assert "260 of 500 coins" in page.inner_text("#progress-text")

            loads = board.loads()
            status["now"] = backfill("live", 500, 500, None)
            page.clock.run_for(16_000)
            page.wait_for_function("document.getElementById('progress').hidden")
            board.wait_loaded(loads + 1)  # the end of the backfill loads everything again
        finally:
            close_dashboard(board, expected=NOT_FOUND)
    finally:
        del empty.state.statuses["backfill"]


def test_data_landing_in_an_empty_store_replaces_the_panel(
    tmp_path: Path, browser: Browser, request: pytest.FixtureRequest
) -> None:
    db = tmp_path / "landing.duckdb"
    DuckDBStore(db).close()
    app = create_app(Settings(db=str(db)), clock=lambda: NOW)
    with serving(app) as url:
        board = open_dashboard(browser, f"{url}/?top=3&window=3", viewport=VIEWPORT, is_mobile=True, clock=NOW)
        try:
            board.wait_loaded()
            page = board.page
            assert page.locator("#empty").is_visible()
            page.wait_for_function("document.getElementById('live').textContent === 'on'")
            loads = board.loads()
            # another process imports a file: the server's store watch reloads and pushes, the page loads again
            store = DuckDBStore(db)
            try:
                ImportService(store, clock=fixed_clock).import_file(
                    small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY
                )
            finally:
                store.close()
            board.wait_loaded(loads + 1)
            page.wait_for_function("document.getElementById('empty').hidden")
            assert page.locator("#error").is_hidden(), page.inner_text("#error")
            assert page.inner_text("#now-title") == "Latest values: 2024-01-10"
            assert page.inner_text("#asi") == "50.0"
            for chart in ("season-chart", "dominance-chart", "breakdown-chart"):
                page.wait_for_function(CHART_FITS, arg=chart)  # drawn while hidden, sized to its box once shown
            assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
            board.screenshot("dashboard-landed-390.png", request)
        finally:
            close_dashboard(board, expected=NOT_FOUND)
