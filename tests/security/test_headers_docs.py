"""The API docs and the dashboard work offline and under the Content-Security-Policy: Swagger UI at ``/docs``,
ReDoc at ``/redoc`` and the dashboard at ``/`` render in a real browser (Debian's Chromium) with the CSP enforced,
no request to another host and no console error (a CSP refusal is one), from a real ``coinseason serve``
(reproduction 7 of the security issue: ``/docs`` loaded Swagger UI from a CDN, beside the page that keeps the API
key)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.api.serve_helpers import Server
from tests.security.edge_helpers import market_db_at, serving
from tests.web.conftest import PAGE_TIMEOUT_MS, browser, chromium, close_dashboard, open_dashboard, playwright

__all__ = ["browser", "chromium", "playwright"]  # the fixtures, for pytest

OPERATIONS = 10
"""At least this many operations are drawn (the API has twenty)."""
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("docs")
    with serving("granian", market_db_at(root), root) as running:
        yield running


def test_swagger_ui_renders_offline_under_the_csp(server: Server, browser: Browser) -> None:
    """API8 (security misconfiguration) / API10 (unsafe consumption: no third-party script beside the key):
    /docs draws its operations from files served here."""
    page = open_dashboard(browser, f"{server.url}/docs", bypass_csp=False)
    try:
        page.page.wait_for_selector(".swagger-ui .info .title", timeout=PAGE_TIMEOUT_MS)
        assert "coinseason" in page.page.inner_text(".swagger-ui .info .title")
        # locators, not wait_for_function: Playwright polls a function with eval, which this CSP refuses too
        page.page.locator(".opblock").nth(OPERATIONS - 1).wait_for(timeout=PAGE_TIMEOUT_MS)
        assert "/v1/season/latest" in page.page.inner_text(".swagger-ui")
    finally:
        close_dashboard(page)


def test_redoc_renders_offline_under_the_csp(server: Server, browser: Browser) -> None:
    """API8 / API10: /redoc draws its operations from files served here. ReDoc's bundle always draws its maker's
    logo from their CDN: the CSP blocks it before any request leaves (the one console error allowed, and it must
    be that block)."""
    page = open_dashboard(browser, f"{server.url}/redoc", bypass_csp=False)
    try:
        page.page.get_by_text("/v1/season/latest").first.wait_for(timeout=PAGE_TIMEOUT_MS)
        assert "coinseason" in page.page.inner_text("h1")
        blocked = [e for e in page.errors if REDOC_LOGO in e]
        assert all("Content Security Policy" in e for e in blocked), blocked
    finally:
        close_dashboard(page, expected=(REDOC_LOGO,))


def test_the_dashboard_renders_under_the_csp(server: Server, browser: Browser) -> None:
    """API8: the page, its plotly charts and its WebSocket need nothing the CSP refuses (no inline script, no
    eval, no other origin)."""
    page = open_dashboard(browser, f"{server.url}/?top=3&window=2", bypass_csp=False)
    try:
        page.page.locator("body[data-ready]").wait_for(timeout=PAGE_TIMEOUT_MS)
        page.page.locator(".js-plotly-plot").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    finally:
        close_dashboard(page)
