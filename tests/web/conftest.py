"""Fixtures of the dashboard tests: Debian's Chromium through Playwright, pages that record console errors and any
attempt to reach another host (aborted: the page must work offline), and screenshots in the repository's
``artifacts/`` folder (git-ignored), listed at the end of the run, also under xdist."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright, Route, WebSocketRoute, sync_playwright

from tests.support.requirements import skip_or_fail
from tests.web.artifacts import SCREENSHOT
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, ensure_chromium

REDIS_URL = os.environ.get("COINSEASON_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ARTIFACTS = Path(os.environ.get("COINSEASON_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "artifacts")
"""Screenshots go here: ``COINSEASON_TEST_ARTIFACTS`` when set, else ``/artifacts/`` of the repository (git-ignored)."""
PAGE_TIMEOUT_MS = 20_000

CHART_FITS = """(id) => {
  const gd = document.getElementById(id);
  const svg = gd.querySelector(".main-svg");
  return svg !== null && Math.abs(svg.getBoundingClientRect().width - gd.clientWidth) <= 1;
}"""
"""A chart (by element id) drawn as wide as its box, within a pixel."""


def half_up(value: float | None, digits: int) -> str:
    """``value`` as JavaScript's ``toFixed(digits)`` writes it: the exact binary value rounded half up."""
    if value is None:
        return "–"
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


@pytest.fixture(scope="session")
def chromium() -> Path:
    reason = ensure_chromium()
    if reason is not None:
        skip_or_fail(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at {REDIS_URL} is unreachable ({exc}); set COINSEASON_TEST_REDIS_URL or start Redis")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium: Path) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@dataclass
class Dashboard:
    """One browser page on the dashboard, with every console error and uncaught exception it logged."""

    page: Page
    errors: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    """Requests the page tried to send to another host (each aborted)."""

    def wait_loaded(self, times: int = 1) -> None:
        """Until the page has finished ``times`` full loads (first view, control change, live update)."""
        self.page.wait_for_function(f"Number(document.body.dataset.ready ?? 0) >= {times}", timeout=PAGE_TIMEOUT_MS)

    def wait_settled(self, query: str) -> None:
        """Until the URL's query is ``query`` and the load that URL started has finished.

        Filling a field fires its ``change`` (and a load) when the next one takes the focus, so several loads may
        run one after the other; the last one starts as the URL takes its final state, and every load records its
        number (``data-generation`` when it starts, ``data-loaded`` when it is done)."""
        self.page.wait_for_function("(q) => location.search === q", arg=query, timeout=PAGE_TIMEOUT_MS)
        last = self.page.evaluate("document.body.dataset.generation")
        self.page.wait_for_function("(g) => document.body.dataset.loaded === g", arg=last, timeout=PAGE_TIMEOUT_MS)

    def loads(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.ready ?? 0)"))

    def chart(self, element_id: str) -> dict[str, Any]:
        """The chart as drawn: plotly's ``data`` and ``layout`` of the element."""
        got: dict[str, Any] = self.page.evaluate(
            "(id) => { const gd = document.getElementById(id); return {data: gd.data, layout: gd.layout}; }",
            element_id,
        )
        return got

    def screenshot(self, name: str, request: pytest.FixtureRequest) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        request.node.user_properties.append((SCREENSHOT, str(path)))
        return path


OPTIONAL_PATHS = ("/v1/season/consensus", "/v1/season/margin")
"""Routes the page reads where the server has them (a 404 leaves their part out)."""


def answered_as_designed(message: ConsoleMessage) -> bool:
    """The browser logs every 4xx/5xx answer as an error; two are answers the page reads as designed: ``/readyz``
    saying "not ready" (503, with the backfill's progress in its body) and a 404 of an optional route."""
    if not message.text.startswith("Failed to load resource"):
        return False
    path = urlsplit(message.location.get("url", "")).path
    return path == "/readyz" or ("404" in message.text and path.startswith(OPTIONAL_PATHS))


def open_dashboard(browser: Browser, url: str, *, clock: dt.datetime | None = None, **context: object) -> Dashboard:
    """A fresh context and page on ``url``; requests to any other host are recorded and aborted. ``clock``: the time
    the page's clock says (``Date.now``), fixed, timers still running."""
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the page's CSP refuses; the CSP itself is
    # tested with bypass_csp=False (tests/security/test_headers_docs.py)
    options: dict[str, object] = {"accept_downloads": True, "bypass_csp": True, **context}
    page = browser.new_context(**options).new_page()  # type: ignore[arg-type]
    if clock is not None:
        page.clock.set_fixed_time(clock)
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    board = Dashboard(page)
    home = urlsplit(url).netloc

    def local(target: str) -> bool:
        parts = urlsplit(target)
        return parts.scheme in ("data", "blob") or parts.netloc == home

    def refuse(route: Route) -> None:
        board.elsewhere.append(route.request.url)
        route.abort()

    def refuse_socket(socket: WebSocketRoute) -> None:
        board.elsewhere.append(socket.url)
        socket.close()

    page.route(lambda target: not local(target), refuse)
    page.route_web_socket(lambda target: not local(target), refuse_socket)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not answered_as_designed(message):
            board.errors.append(f"console: {message.text}")

    def on_error(error: Error) -> None:
        board.errors.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.goto(url)
    return board


def close_dashboard(board: Dashboard, *, expected: tuple[str, ...] = ()) -> None:
    """Close the page; it must have logged no error (but those holding one of ``expected``) and tried no other
    host."""
    errors = [e for e in board.errors if not any(text in e for text in expected)]
    elsewhere = list(board.elsewhere)
    board.page.context.close()
    assert errors == [], f"the page logged errors: {errors}"
    assert elsewhere == [], f"the page tried to reach another host: {elsewhere}"
