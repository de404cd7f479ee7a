"""The dashboard in a real browser (Debian's Chromium) against a real ``coinseason serve`` over the CoinGecko history
(2013-2025, the coins that were ever in the top 120): what the page shows equals what the API answers, the controls
redraw the charts and write the URL, the CSV is what is shown, and the page works at phone width, in dark mode and
from the keyboard. No console errors.

One server and one browser serve the whole module; every test opens its own page (fresh storage, fresh URL).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import polars as pl
import pytest
from playwright.sync_api import Browser

from tests.api.serve_helpers import Server, serve
from tests.conftest import COINGECKO_DAILY, shared_file
from tests.web.conftest import CHART_FITS, Dashboard, close_dashboard, half_up, open_dashboard

LEADERS = 120
UNLIMITED = {"COINSEASON_ANONYMOUS_RATE_LIMIT_PER_MINUTE": "1000000"}
SEASON_NAMES = {"altcoin": "Altcoin season", "bitcoin": "Bitcoin season", "neutral": "Neutral", "none": "No value"}


def leaders(parquet: Path, path: Path) -> Path:
    """The CoinGecko history of every coin that ranked in the top LEADERS by market cap on some day: the whole date
    range (2013-2025) and every top-N universe up to 100, in about 40 % of the rows."""
    frame = pl.read_parquet(parquet)
    rank = pl.col("market_cap_usd").rank("ordinal", descending=True).over("date")
    keep = frame.filter(rank <= LEADERS)["coin_id"].unique()
    frame.filter(pl.col("coin_id").is_in(keep.implode())).write_parquet(path)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("dashboard")
    parquet = leaders(shared_file(COINGECKO_DAILY), root / "leaders.parquet")
    args = ["--db", str(root / "web.duckdb"), "--import", str(parquet), "--format", "coingecko-daily"]
    with serve(args, log=root / "server.log", env=UNLIMITED) as running:
        yield running


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        yield client


@pytest.fixture
def board(browser: Browser, server: Server) -> Iterator[Dashboard]:
    opened = open_dashboard(browser, f"{server.url}/", viewport={"width": 1280, "height": 1600})
    try:
        opened.wait_loaded()
        yield opened
    finally:
        close_dashboard(opened)


def get(api: httpx.Client, path: str, **params: Any) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def url_state(board: Dashboard) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(board.page.url).query).items()}


def assert_now_matches(board: Dashboard, latest: dict[str, Any]) -> None:
    page = board.page
    assert page.inner_text("#asi") == half_up(latest["altcoin_season_index"], 1)
    assert page.inner_text("#bsi") == half_up(latest["bitcoin_season_index"], 1)
    assert page.inner_text("#btcd") == f"{half_up(latest['btc_dominance'], 2)} %"
    since = f" since {latest['season_since']}" if latest["season_since"] else ""
    assert page.inner_text("#season") == SEASON_NAMES[latest["season"]] + since
    assert page.get_attribute("#asof", "datetime") == latest["as_of"]
    assert page.inner_text("#counted") == (
        f"{latest['n_outperforming']} of {latest['n_eligible']} eligible altcoins beat BTC"
    )
    marker_left = page.eval_on_selector("#marker", "m => m.style.left")
    assert marker_left.endswith("%")  # the marker sits at the value on the 0-100 scale
    assert float(marker_left[:-1]) == pytest.approx(latest["altcoin_season_index"], abs=1e-3)


def breakdown_order(rows: list[dict[str, Any]]) -> list[str]:
    """Coins by return, highest first, those without a return last (ties keep the API's order)."""
    return [
        r["coin_id"]
        for r in sorted(
            rows, key=lambda r: -(r["coin_return_pct"] if r["coin_return_pct"] is not None else float("-inf"))
        )
    ]


def assert_breakdown_matches(board: Dashboard, body: dict[str, Any]) -> None:
    bars = board.chart("breakdown-chart")["data"][0]
    by_id = {r["coin_id"]: r for r in body["values"]}
    assert bars["x"] == breakdown_order(body["values"])
    assert bars["y"] == [by_id[c]["coin_return_pct"] for c in bars["x"]]
    colours = board.page.evaluate(
        "() => { const s = getComputedStyle(document.documentElement);"
        " return ['--alt', '--bad', '--neutral'].map(n => s.getPropertyValue(n).trim()); }"
    )
    beat, lost, other = colours
    expected = [
        other if c == "bitcoin" or not by_id[c]["eligible"] else beat if by_id[c]["beats_btc"] else lost
        for c in bars["x"]
    ]
    assert bars["marker"]["color"] == expected
    assert board.page.inner_text("#breakdown-caption").startswith(f"{body['date']}: ")


def test_first_view_shows_what_the_api_answers(
    board: Dashboard, api: httpx.Client, request: pytest.FixtureRequest
) -> None:
    latest = get(api, "/v1/season/latest")
    assert_now_matches(board, latest)
    stale = board.page.locator("#stale")
    assert stale.is_visible() == latest["stale"]
    assert latest["stale"], "the CoinGecko history ends in 2025: the page must say its data is stale"
    assert latest["date"] in stale.inner_text()

    history = get(api, "/v1/season/history")["values"]
    season = board.chart("season-chart")
    line = season["data"][0]
    assert line["x"] == [p["date"] for p in history]
    assert line["y"] == [p["value"] for p in history]
    periods = get(api, "/v1/seasons", min_days=7)["values"]
    shaded = [s for s in season["layout"]["shapes"] if s["type"] == "rect"]
    assert [(s["x0"], s["fillcolor"] != "") for s in shaded] == [
        (p["start"], True) for p in periods if p["season"] in ("altcoin", "bitcoin")
    ]
    assert len(shaded) > 10, "the whole history has many season periods"

    dominance = get(api, "/v1/dominance/history")["values"]
    btc = board.chart("dominance-chart")["data"][0]
    assert btc["y"] == [p["value"] for p in dominance]
    assert btc["x"][-1] == latest["date"]

    assert_breakdown_matches(board, get(api, "/v1/season/breakdown"))

    rows = board.page.eval_on_selector_all("#periods tbody tr", "rows => rows.map(r => r.innerText.split('\\t'))")
    expected_rows = [
        [
            SEASON_NAMES[p["season"]],
            p["start"],
            f"{p['end']} (ongoing)" if p["ongoing"] else p["end"],
            str(p["days"]),
            half_up(p["peak"], 1),
            p["peak_date"],
        ]
        for p in reversed(periods)
    ]
    assert rows == expected_rows
    assert board.page.inner_text("#live") == "on", "the page subscribed to WS /v1/stream"
    board.screenshot("dashboard.png", request)


def test_controls_refetch_redraw_and_write_the_url(board: Dashboard, api: httpx.Client, browser: Browser) -> None:
    page = board.page
    page.fill("#top", "20")
    page.fill("#window", "30")
    page.select_option("#exclude", "none")  # a change of the select applies the whole form
    board.wait_settled("?top=20&window=30&exclude=none")  # not an intermediate load fired by a field's change
    q = {"top": 20, "window": 30, "exclude": "none"}
    assert_now_matches(board, get(api, "/v1/season/latest", **q))
    history = get(api, "/v1/season/history", **q)["values"]
    assert board.chart("season-chart")["data"][0]["y"] == [p["value"] for p in history]
    assert_breakdown_matches(board, get(api, "/v1/season/breakdown", **q))

    page.click("[data-range='1y']")
    last = dt.date.fromisoformat(history[-1]["date"])
    want = [str(last - dt.timedelta(days=365)), str(last)]
    page.wait_for_function("document.getElementById('dominance-chart').layout.xaxis.autorange === false")
    for chart in ("season-chart", "dominance-chart"):
        assert board.chart(chart)["layout"]["xaxis"]["range"] == want
    assert url_state(board)["range"] == "1y"
    assert page.get_attribute("[data-range='1y']", "aria-pressed") == "true"

    # zoom by dragging across the season chart: the dominance chart follows and the URL holds the range
    box = page.locator("#season-chart .nsewdrag").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    page.wait_for_function("new URLSearchParams(location.search).get('range')?.includes('..')")
    start, end = url_state(board)["range"].split("..")
    assert want[0] < start < end < want[1]
    zoomed = board.chart("dominance-chart")["layout"]["xaxis"]["range"]
    assert [zoomed[0][:10], zoomed[1][:10]] == [start, end]

    for toggle in ("eth", "stable", "price"):
        page.check(f"#{toggle}")
    page.wait_for_function("Number(document.body.dataset.toggled ?? 0) >= 3")
    traces = {t["name"]: t for t in board.chart("dominance-chart")["data"]}
    dominance = get(api, "/v1/dominance/history", exclude="none")["values"]
    assert traces["ETH"]["visible"] is True
    assert traces["ETH"]["y"] == [p["eth_dominance"] for p in dominance]
    assert traces["stablecoins (of all coins)"]["y"] == [p["stablecoin_dominance"] for p in dominance]
    prices = get(api, "/v1/coins/bitcoin/history")["values"]
    assert traces["BTC price (USD)"]["y"] == [p["price"] for p in prices]
    assert traces["BTC price (USD)"]["yaxis"] == "y2"

    page.fill("#date", "2021-05-01")
    page.dispatch_event("#date", "change")
    page.wait_for_function("document.getElementById('breakdown-caption').innerText.startsWith('2021-05-01')")
    assert_breakdown_matches(board, get(api, "/v1/season/breakdown", date="2021-05-01", **q))
    state = url_state(board)
    assert state["date"] == "2021-05-01" and state["eth"] == state["stable"] == state["price"] == "1"

    shared = open_dashboard(browser, page.url, viewport={"width": 1280, "height": 1600})
    try:
        shared.wait_loaded()
        assert [shared.page.input_value(s) for s in ("#top", "#window", "#exclude", "#date")] == [
            "20",
            "30",
            "none",
            "2021-05-01",
        ]
        assert shared.page.is_checked("#eth") and shared.page.is_checked("#price")
        assert shared.page.inner_text("#asi") == page.inner_text("#asi")
        assert board.chart("breakdown-chart")["data"] == shared.chart("breakdown-chart")["data"]
    finally:
        close_dashboard(shared)


def test_csv_download_is_what_is_shown(board: Dashboard, api: httpx.Client, tmp_path: Path) -> None:
    page = board.page
    page.click("[data-range='3y']")
    page.wait_for_function("new URLSearchParams(location.search).get('range') === '3y'")
    with page.expect_download() as info:
        page.click("button[data-csv='season']")
    saved = tmp_path / "season.csv"
    info.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    history = get(api, "/v1/season/history")["values"]
    last = dt.date.fromisoformat(history[-1]["date"])
    first = str(last - dt.timedelta(days=3 * 365))
    shown = [p for p in history if p["date"] >= first]
    assert list(rows[0])[:2] == ["date", "value"]
    assert [r["date"] for r in rows] == [p["date"] for p in shown]
    assert [float(r["value"]) if r["value"] else None for r in rows] == [p["value"] for p in shown]
    assert [r["season"] for r in rows] == [p["season"] for p in shown]

    with page.expect_download() as info:
        page.click("section[aria-labelledby='periods-title'] button[data-csv='periods']")
    info.value.save_as(tmp_path / "periods.csv")
    periods = list(csv.DictReader(io.StringIO((tmp_path / "periods.csv").read_text())))
    assert [(r["season"], r["start"], r["end"], int(r["days"])) for r in periods] == [
        (p["season"], p["start"], p["end"], p["days"]) for p in reversed(get(api, "/v1/seasons", min_days=7)["values"])
    ], "newest first, as the table shows them"

    with page.expect_download() as info:
        page.click("button[data-csv='dominance']")
    info.value.save_as(tmp_path / "dominance.csv")
    dominance = list(csv.DictReader(io.StringIO((tmp_path / "dominance.csv").read_text())))
    shown_dominance = [p for p in get(api, "/v1/dominance/history")["values"] if p["date"] >= first]
    assert list(dominance[0]) == ["date", "value"], "ETH, stablecoins and price only when their toggle is on"
    assert [(r["date"], float(r["value"])) for r in dominance] == [(p["date"], p["value"]) for p in shown_dominance]

    with page.expect_download() as info:
        page.click("button[data-csv='breakdown']")
    info.value.save_as(tmp_path / "breakdown.csv")
    coins = list(csv.DictReader(io.StringIO((tmp_path / "breakdown.csv").read_text())))
    body = get(api, "/v1/season/breakdown")
    assert [r["coin_id"] for r in coins] == breakdown_order(body["values"]), "in the order of the bars"
    assert {r["date"] for r in coins} == {body["date"]}
    by_id = {r["coin_id"]: r for r in body["values"]}
    for row in coins:
        want = by_id[row["coin_id"]]
        assert (float(row["coin_return_pct"]) if row["coin_return_pct"] else None) == want["coin_return_pct"]
        assert row["beats_btc"] == {True: "true", False: "false", None: ""}[want["beats_btc"]]


def test_a_shared_link_with_a_day_outside_the_history_still_draws_everything(
    browser: Browser, server: Server, api: httpx.Client
) -> None:
    board = open_dashboard(browser, f"{server.url}/?date=2010-01-01", viewport={"width": 1280, "height": 1600})
    try:
        board.wait_loaded()
        page = board.page
        history = get(api, "/v1/season/history")["values"]
        assert page.locator("#error").is_hidden(), page.inner_text("#error")
        note = page.locator("#note")
        assert note.is_visible()
        assert note.inner_text() == (
            f"2010-01-01 is outside the history ({history[0]['date']} to {history[-1]['date']}): "
            "the coins are shown for the latest day."
        )
        assert "date" not in url_state(board), "the day is dropped from the URL"
        assert page.input_value("#date") == ""
        dominance = get(api, "/v1/dominance/history")["values"]
        assert board.chart("dominance-chart")["data"][0]["y"] == [p["value"] for p in dominance]
        assert_now_matches(board, get(api, "/v1/season/latest"))
        assert_breakdown_matches(board, get(api, "/v1/season/breakdown"))

        page.click("#today")
        page.wait_for_function("document.getElementById('note').hidden")
        assert_breakdown_matches(board, get(api, "/v1/season/breakdown"))
        assert board.chart("dominance-chart")["data"][0]["y"] == [p["value"] for p in dominance]
        assert page.locator("#error").is_hidden()
    finally:
        close_dashboard(board)


def test_when_the_latest_value_fails_the_now_figures_are_blanked(
    board: Dashboard, api: httpx.Client, server: Server
) -> None:
    page = board.page
    assert page.inner_text("#asi") != "–"
    assert page.get_attribute("#top", "min") == "2", "top 1 is BTC alone: no index"
    page.route(
        lambda url: "/v1/season/latest?" in url,
        lambda route: route.fulfill(status=503, content_type="application/json", body='{"detail": "down for a test"}'),
    )
    page.fill("#window", "30")
    page.press("#window", "Enter")
    board.wait_settled("?window=30")
    for figure in ("#asi", "#bsi", "#btcd", "#season", "#asof", "#counted"):
        assert page.inner_text(figure) == "–", figure
    assert page.locator("#marker").is_hidden()
    assert page.locator("#stale").is_hidden()
    assert "season/latest: down for a test" in page.inner_text("#error")
    history = get(api, "/v1/season/history", window=30)["values"]
    assert board.chart("season-chart")["data"][0]["y"] == [p["value"] for p in history]
    board.errors[:] = [e for e in board.errors if "503" not in e]  # the refused request, logged by the browser

    shared = open_dashboard(browser_of(board), f"{server.url}/?top=1&window=30")
    try:
        shared.wait_loaded()
        assert shared.page.input_value("#top") == "50", "top=1 in a link is ignored"
    finally:
        close_dashboard(shared)


def browser_of(board: Dashboard) -> Browser:
    browser = board.page.context.browser
    assert browser is not None
    return browser


def test_methodology_is_one_click_away(board: Dashboard, api: httpx.Client, request: pytest.FixtureRequest) -> None:
    page = board.page
    body = get(api, "/v1/methodology")
    assert page.locator("#methodology-body").is_hidden()
    page.click("#methodology summary")
    page.wait_for_function("document.getElementById('methodology').dataset.loaded === '1'")
    text = page.inner_text("#methodology-body")
    assert f"Methodology version {body['methodology_version']}." in text
    assert "Altcoin season at an index ≥ 75" in text and "Bitcoin season at ≤ 25" in text
    assert f"Exclusion set version {body['exclusion_list_version']}: " in text
    for source, members in body["exclusion_members"].items():
        assert f"{source}: {len(members)} coins excluded." in text
    terms = page.eval_on_selector_all("#methodology-body dt", "ts => ts.map(t => t.textContent)")
    assert terms == [t.replace("_", " ") for t in body["definitions"]]
    definitions = page.eval_on_selector_all("#methodology-body dd", "ds => ds.map(d => d.textContent)")
    assert definitions == list(body["definitions"].values())
    board.screenshot("dashboard-methodology.png", request)


def test_the_page_reaches_no_other_host(board: Dashboard) -> None:
    """The guard of every test (close_dashboard fails when the page tried another host) catches such a request."""
    page = board.page
    answer = page.evaluate("fetch('http://example.com/x').then(() => 'answered', () => 'refused')")
    assert answer == "refused"
    assert board.elsewhere == ["http://example.com/x"]
    board.elsewhere.clear()
    board.errors[:] = [e for e in board.errors if "ERR_FAILED" not in e and "example.com" not in e]


def test_phone_width_dark_mode_and_keyboard(browser: Browser, server: Server, request: pytest.FixtureRequest) -> None:
    board = open_dashboard(
        browser, f"{server.url}/", viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True
    )
    try:
        board.wait_loaded()
        page = board.page
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"
        labels = page.eval_on_selector_all(
            "#scale .zone span",
            "spans => spans.filter(s => s.offsetParent !== null)"
            ".map(s => [s.textContent, s.scrollWidth <= s.parentElement.clientWidth])",
        )
        assert labels == [["BTC ≤ 25", True], ["neutral", True], ["ALT ≥ 75", True]], "short labels, none clipped"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 20, 24)", "dark colours when the system asks for them"
        font = board.chart("season-chart")["layout"]["font"]["color"]
        assert font == page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--fg').trim()")
        board.screenshot("dashboard-phone-dark.png", request)

        page.click("#theme")  # auto -> light, whatever the system says
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(247, 247, 245)"

        # keyboard only: Tab reaches the range buttons, Enter presses one
        page.locator("#top").focus()
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.dataset.range") == "3y":
                break
        else:
            pytest.fail("Tab never reached the 3 y range button")
        page.keyboard.press("Enter")
        page.wait_for_function("new URLSearchParams(location.search).get('range') === '3y'")
        page.locator("#top").focus()
        page.keyboard.press("Control+A")
        page.keyboard.type("10")
        page.keyboard.press("Enter")
        board.wait_settled("?top=10&range=3y")
    finally:
        close_dashboard(board)


# -- every screen, stale state, figures at a glance, readable bars, ISO dates ---------------------------------------

WIDTHS = (360, 390, 768, 1440)
BROWSER_NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
"""The page's clock in the tests that read an age: the data's last day, 2025-07-19, is 506 days before."""

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const scrollsSideways = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const x = getComputedStyle(a).overflowX;
      if (x === "auto" || x === "scroll") return true;
    }
    return false;
  };
  const beyond = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not laid out (hidden)
    if (el.matches(".skip:not(:focus)")) continue;  // the skip link waits off screen until focused
    if (el.closest("#js-plotly-tester")) continue;  // plotly's text-measuring svg, kept far off screen on purpose
    if ((r.right > width + 0.5 || r.left < -0.5) && !scrollsSideways(el)) {
      beyond.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className?.baseVal ?? el.className}: ` +
        `${r.left.toFixed(1)}..${r.right.toFixed(1)}`);
    }
  }
  return { width, scrollWidth: document.documentElement.scrollWidth, beyond: beyond.slice(0, 10) };
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_every_width_and_theme_fits_the_window(
    browser: Browser, server: Server, width: int, scheme: str, request: pytest.FixtureRequest
) -> None:
    board = open_dashboard(
        browser,
        f"{server.url}/",
        viewport={"width": width, "height": 900},
        color_scheme=scheme,
        is_mobile=width < 768,
        clock=BROWSER_NOW,
    )
    try:
        board.wait_loaded()
        page = board.page
        fit = page.evaluate(OVERFLOW)
        assert fit["scrollWidth"] <= width, fit
        assert fit["beyond"] == [], f"elements end beyond the {width} px window: {fit['beyond']}"
        for chart in ("season-chart", "dominance-chart", "breakdown-chart"):
            assert page.evaluate(CHART_FITS, chart), f"{chart} is not as wide as its box at {width} px"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == {"light": "rgb(247, 247, 245)", "dark": "rgb(18, 20, 24)"}[scheme]
        # the wide periods table may scroll sideways, inside its own box only
        wrap = page.eval_on_selector(
            ".table-wrap", "w => [w.scrollWidth, w.clientWidth, w.getBoundingClientRect().right]"
        )
        assert wrap[2] <= width
        board.screenshot(f"dashboard-{width}-{scheme}.png", request)
    finally:
        close_dashboard(board)


def test_charts_redraw_to_their_box_when_the_window_changes(browser: Browser, server: Server) -> None:
    board = open_dashboard(browser, f"{server.url}/", viewport={"width": 1440, "height": 900})
    try:
        board.wait_loaded()
        page = board.page
        charts = ("season-chart", "dominance-chart", "breakdown-chart")
        wide = [page.eval_on_selector(f"#{c} .main-svg", "s => s.getBoundingClientRect().width") for c in charts]
        for size in ({"width": 390, "height": 844}, {"width": 768, "height": 900}, {"width": 1440, "height": 900}):
            page.set_viewport_size(size)
            for chart in charts:
                page.wait_for_function(CHART_FITS, arg=chart)
            if size["width"] == 390:
                narrow = [
                    page.eval_on_selector(f"#{c} .main-svg", "s => s.getBoundingClientRect().width") for c in charts
                ]
                assert all(n < w / 2 for n, w in zip(narrow, wide, strict=True)), (narrow, wide)
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    finally:
        close_dashboard(board)


def test_stale_values_are_titled_by_their_day_with_their_age_and_how_to_refresh(
    browser: Browser, server: Server, api: httpx.Client
) -> None:
    latest = get(api, "/v1/season/latest")
    assert latest["date"] == "2025-07-19" and latest["stale"]
    board = open_dashboard(browser, f"{server.url}/", viewport={"width": 1280, "height": 1600}, clock=BROWSER_NOW)
    try:
        board.wait_loaded()
        page = board.page
        assert page.inner_text("#now-title") == "Latest values: 2025-07-19", "titled by the day, not 'Now'"
        assert page.inner_text("#age") == "506 days old"
        banner = page.inner_text("#stale")
        assert banner.startswith("Stale data: the latest day, 2025-07-19, is 506 days old; no newer data has landed.")
        assert "coinseason import PATH --format coingecko-daily" in banner
        assert "COINSEASON_INGEST_PROVIDER=coingecko" in banner
    finally:
        close_dashboard(board)


def signed(value: float | None, digits: int) -> str:
    """As the page writes a change: a minus sign (U+2212), a plus, or ± for zero."""
    if value is None:
        return "–"
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return sign + half_up(abs(value), digits)


def glance_texts(glance: dict[str, Any], digits: int) -> tuple[list[str], list[str]]:
    moves = [f"{c['days']} d {signed(c['change'], digits)}" for c in glance["changes"]]
    return moves, [f"52 w low {half_up(glance['low_52w'], digits)}", f"high {half_up(glance['high_52w'], digits)}"]


def test_changes_and_the_yearly_range_sit_beside_each_current_value(board: Dashboard, api: httpx.Client) -> None:
    page = board.page
    spans = "(e) => [...e.children].map((s) => s.textContent)"
    latest = get(api, "/v1/season/latest")
    dominance = get(api, "/v1/dominance/latest")
    for figure, glance, digits in (
        ("asi", latest["glance"], 1),
        ("btcd", dominance["glance"], 2),
        ("btcd-all", dominance["whole_market"]["glance"], 2),
    ):
        moves, year = glance_texts(glance, digits)
        assert page.eval_on_selector(f"#{figure}-moves", spans) == moves, figure
        assert page.eval_on_selector(f"#{figure}-range", spans) == year, figure
    assert [c["days"] for c in latest["glance"]["changes"]] == [1, 7, 30]
    # both dominance figures, named: the series' universe and the whole market (the published BTC.D)
    assert page.inner_text("#btcd") == f"{half_up(latest['btc_dominance'], 2)} %"
    assert page.inner_text("#btcd-all") == f"{half_up(latest['btc_dominance_whole_market'], 2)} %"
    assert page.inner_text("#btcd-label") == "BTC dominance, without stablecoins & tokens"
    basis = page.inner_text("#dominance-basis")
    assert basis == (
        f"BTC dominance: share of {latest['btc_dominance_basis']}. Whole market: share of every coin of the source, "
        "nothing excluded (the figure CoinMarketCap and CoinGecko publish)."
    )
    assert dominance["whole_market"]["basis"] == "whole market: every coin of the source, nothing excluded"
    assert get(api, "/v1/dominance/history")["method"]["dominance"] in page.inner_text("#dominance-caption")

    page.select_option("#exclude", "none")
    board.wait_settled("?exclude=none")
    assert page.inner_text("#btcd-label") == "BTC dominance, whole market"
    assert page.locator("#whole-figure").is_hidden(), "one figure when the series itself has no exclusions"


def test_breakdown_bars_stay_readable_with_an_outlier(
    board: Dashboard, api: httpx.Client, request: pytest.FixtureRequest
) -> None:
    # 2025-01-02: virtual-protocol rose about 9,200 % in 90 days while the rest of the top 50 moved tens of percent
    page = board.page
    page.fill("#date", "2025-01-02")
    page.dispatch_event("#date", "change")
    page.wait_for_function("document.getElementById('breakdown-caption').innerText.startsWith('2025-01-02')")
    body = get(api, "/v1/season/breakdown", date="2025-01-02")
    assert_breakdown_matches(board, body)  # the bars keep their true values (hover and CSV say them)
    chart = board.chart("breakdown-chart")
    low, high = chart["layout"]["yaxis"]["range"]
    returns = {r["coin_id"]: r["coin_return_pct"] for r in body["values"] if r["coin_return_pct"] is not None}
    assert returns["virtual-protocol"] > 9000 and high < 1000, "the outlier no longer sets the scale"
    btc = body["values"][0]["btc_return_pct"]
    assert low <= btc <= high and low <= 0 <= high
    beyond = sorted(c for c, v in returns.items() if not low <= v <= high)
    inside = [c for c, v in returns.items() if low <= v <= high]
    assert "virtual-protocol" in beyond and len(inside) >= 0.9 * len(returns)
    bars = chart["data"][0]
    shapes = dict(zip(bars["x"], bars["marker"]["pattern"]["shape"], strict=True))
    assert sorted(c for c, s in shapes.items() if s == "/") == beyond, "the cut bars, and only they, are hatched"
    notes = {a["x"]: a["text"] for a in chart["layout"]["annotations"]}
    assert notes["virtual-protocol"] == f"+{math.floor(returns['virtual-protocol'] + 0.5):,} %"
    assert sorted(notes) == beyond if len(beyond) <= 12 else len(notes) == 12
    assert "past the scale" in page.inner_text("#breakdown-caption")
    board.screenshot("dashboard-breakdown-outlier.png", request)


def test_season_periods_default_to_a_week_and_dates_are_iso(board: Dashboard, api: httpx.Client) -> None:
    page = board.page
    rows = page.eval_on_selector_all("#periods tbody tr", "rows => rows.map(r => r.innerText.split('\\t'))")
    assert rows and all(int(r[3]) >= 7 for r in rows), "no season period shorter than 7 days by default"
    every = get(api, "/v1/seasons", min_days=1)["values"]
    assert len(rows) < len(every) / 2, (len(rows), len(every))
    assert page.input_value("#min-days") == "7"
    page.select_option("#min-days", "1")
    board.wait_settled("?min_days=1")
    assert page.locator("#periods tbody tr").count() == len(every)
    assert url_state(board)["min_days"] == "1"

    # the day field takes and shows YYYY-MM-DD, whatever the browser's locale
    assert page.get_attribute("#date", "type") == "text"
    assert page.get_attribute("#date", "placeholder") == "YYYY-MM-DD"
    page.fill("#date", "05/01/2021")
    page.dispatch_event("#date", "change")
    assert page.inner_text("#note") == '"05/01/2021" is not a day: write it as YYYY-MM-DD, e.g. 2024-03-18.'
    assert "date" not in url_state(board)
    hover = board.chart("season-chart")["layout"]["xaxis"]["hoverformat"]
    assert hover == "%Y-%m-%d"


# -- consensus across definitions (#15): drawn from the server's own routes where it has them ------------------------


def has_route(api: httpx.Client, path: str) -> bool:
    return path in get(api, "/openapi.json")["paths"]


def test_without_consensus_routes_the_band_and_lines_are_absent(board: Dashboard, api: httpx.Client) -> None:
    if has_route(api, "/v1/season/consensus"):
        pytest.skip("this server has the consensus routes: test_consensus_band_and_margin_beside_the_index runs")
    page = board.page
    assert page.locator("#error").is_hidden(), "an absent optional route is no error"
    assert page.locator("#consensus").is_hidden() and page.locator("#margin").is_hidden()
    assert page.locator("#band-note").is_hidden()
    assert [t["name"] for t in board.chart("season-chart")["data"]] == ["Altcoin Season Index"]


def test_consensus_band_and_margin_beside_the_index(
    board: Dashboard, api: httpx.Client, request: pytest.FixtureRequest
) -> None:
    if not has_route(api, "/v1/season/consensus"):
        pytest.skip("this build has no /v1/season/consensus: the band is absent (see the test above)")
    page = board.page
    consensus = get(api, "/v1/season/consensus")
    margin = get(api, "/v1/season/margin")
    band = get(api, "/v1/season/consensus/history")["values"]
    page.wait_for_function("document.getElementById('season-chart').data.length === 3")
    traces = {t["name"]: t for t in board.chart("season-chart")["data"]}
    assert traces["consensus 90 %"]["x"] == [p["date"] for p in band]
    assert traces["consensus 90 %"]["y"] == [p["p90"] for p in band]
    assert traces["consensus 10 %"]["y"] == [p["p10"] for p in band]
    assert traces["consensus 10 %"]["fill"] == "tonexty", "the band is filled between the 10 % and 90 % lines"
    assert page.locator("#band-note").is_visible()
    assert page.inner_text("#band-variants") == str(consensus["n_variants"])

    n = consensus["n_valued"]
    held = math.floor(consensus["agreement"] * n + 0.5)
    line = page.inner_text("#consensus")
    assert line.startswith(f"Consensus: {held} of {n} definitions ({half_up(100 * consensus['agreement'], 0)} %)")
    assert f"10–90 %: {half_up(consensus['p10'], 1)}–{half_up(consensus['p90'], 1)}" in line
    assert f"median {half_up(consensus['median'], 1)}" in line
    assert page.inner_text("#margin").startswith(f"Margin: {margin['margin']} coin")
    close = margin["n_close_above"] + margin["n_close_below"]
    assert f"; {close} coin" in page.inner_text("#margin")
    board.screenshot("dashboard-consensus.png", request)
