"""Data landing incrementally: when the store rewrote only its last days and added new ones, the loaded engines
are brought up to date (days taken back, days appended) and answer exactly as after a full reload; otherwise the
source is reloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from coinseason.api.publishing import Publisher
from coinseason.api.state import ApiState
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from tests.api.test_app import client_for
from tests.conftest import fixed_clock

HEADER = "coin_id,symbol,name,date,price,market_cap\n"
URLS = [
    "/v1/season/latest?top=3&window=2",
    "/v1/season/latest?top=2&window=1&fill=false",
    "/v1/season/history?top=3&window=2",
    "/v1/season/history?top=3&window=2&interval=week&format=csv",
    "/v1/season/breakdown?top=3&window=2",
    "/v1/seasons?top=3&window=2&neutral=true",
    "/v1/dominance/latest",
    "/v1/dominance/history",
    "/v1/dominance/history?universe=top:2&exclude=none",
    "/v1/coins",
]


def state_of(client: TestClient) -> ApiState:
    state: ApiState = client.app.state.api  # type: ignore[attr-defined]
    return state


def publisher_of(client: TestClient) -> Publisher:
    publisher: Publisher = client.app.state.publisher  # type: ignore[attr-defined]
    return publisher


def write(state: ApiState, tmp_path: Path, rows: str) -> None:
    path = tmp_path / "landing.csv"
    path.write_text(HEADER + rows)
    ImportService(state.store, clock=fixed_clock).import_file(path, FileFormat.TIDY)


def answers(client: TestClient) -> dict[str, bytes]:
    got = {}
    for url in URLS:
        response = client.get(url)
        assert response.status_code == 200, (url, response.text)
        got[url] = response.content
    return got


def full_reload(client: TestClient) -> dict[str, bytes]:
    """The answers of engines loaded afresh from the store."""
    state = state_of(client)
    state.analytics = AnalyticsService(state.store)
    state.cache.clear()
    return answers(client)


# The small market's last day (2024-01-10) rewritten (slow 5 -> 7, as an intraday snapshot had left it) and a new
# day 2024-01-11 (slow at 10): as the ingestion loop's daily snapshot writes them.
DAILY = (
    "slow,slw,Slow,2024-01-10,7.0,7e7\n"
    f"bitcoin,btc,Bitcoin,2024-01-11,{100 * 1.1**10},{1e9 * 1.1**10}\n"
    f"fast,fst,Fast,2024-01-11,{10 * 1.2**10},{1e8 * 1.2**10}\n"
    "slow,slw,Slow,2024-01-11,10.0,1e8\n"
    "tether,usdt,Tether,2024-01-11,1.0,9e8\n"
)


def test_a_daily_landing_is_appended_and_answers_as_a_full_reload(market_db: str, tmp_path: Path) -> None:
    with client_for(market_db) as client:
        before = answers(client)  # loads and caches the series the landing must extend
        state = state_of(client)
        write(state, tmp_path, DAILY)
        client.portal.call(publisher_of(client).data_landed)
        assert state.analytics.extended == {state.analytics.source(None)}  # brought up to date, not reloaded
        incremental = answers(client)
        assert incremental != before
        history = client.get("/v1/season/history", params={"top": 3, "window": 2}).json()["values"]
        # 2024-01-10: slow 7/5 = +40 % and fast +44 % beat BTC's +21 % over 2 days (before the rewrite slow was
        # flat: 50); 2024-01-11: slow 10/5 = +100 %, fast +44 %: both beat BTC again
        assert [(v["date"], v["value"]) for v in history[-3:]] == [
            ("2024-01-09", 50.0),
            ("2024-01-10", 100.0),
            ("2024-01-11", 100.0),
        ]
        dominance = client.get("/v1/dominance/history").json()["values"]
        btc, fast = 1e9 * 1.1**9, 1e8 * 1.2**9
        assert dominance[-2]["value"] == pytest.approx(100 * btc / (btc + fast + 7e7))  # tether excluded
        assert full_reload(client) == incremental  # byte for byte


def test_nothing_changed_keeps_the_engines(market_db: str) -> None:
    with client_for(market_db) as client:
        before = answers(client)
        state = state_of(client)
        engine = state.analytics.loaded(None).engine
        client.portal.call(publisher_of(client).data_landed)
        assert state.analytics.loaded(None).engine is engine
        assert answers(client) == before


@pytest.mark.parametrize(
    ("rows", "why"),
    [
        ("slow,slw,Slow,2024-01-02,5.5,5.5e7\n", "a day 9 days back (more than can be taken back)"),
        ("newcoin,new,New,2024-01-10,2.0,3e9\n", "a coin the engine does not have"),
        ("bitcoin,btc,Bitcoin,2023-12-31,90.0,9e8\n", "a day before the first"),
    ],
)
def test_other_landings_reload_the_source(market_db: str, tmp_path: Path, rows: str, why: str) -> None:
    with client_for(market_db) as client:
        answers(client)
        state = state_of(client)
        write(state, tmp_path, rows)
        client.portal.call(publisher_of(client).data_landed)
        assert state.analytics.extended == set(), why
        reloaded = answers(client)
        assert full_reload(client) == reloaded


def test_a_reload_prepared_before_the_last_one_was_swapped_in_builds_on_it(market_db: str, tmp_path: Path) -> None:
    with client_for(market_db) as client:
        answers(client)
        state = state_of(client)
        write(state, tmp_path, "slow,slw,Slow,2024-01-11,6.0,6e7\n")
        client.portal.call(publisher_of(client).data_landed)  # the engine now has room for more days
        write(state, tmp_path, "slow,slw,Slow,2024-01-12,8.0,8e7\n")  # a new day only: appended, rows shared
        first = publisher_of(client)._prepare()
        write(state, tmp_path, "slow,slw,Slow,2024-01-12,9.0,9e7\nslow,slw,Slow,2024-01-13,9.5,9.5e7\n")
        # before the first is swapped in: it must not append to the same engine again
        second = publisher_of(client)._prepare()
        slow = list(state.analytics.loaded(None).engine.coin_ids).index("slow")
        assert first.analytics.loaded(None).engine.price[-1, slow] == 8.0  # still what it answered with
        assert second.analytics.loaded(None).engine.price[-2:, slow].tolist() == [9.0, 9.5]
        assert second.analytics.extended == {state.analytics.source(None)}
