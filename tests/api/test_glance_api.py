"""What the dashboard puts beside each current value, over the small hand-made market (10 days to 2024-01-10):
changes against 1, 7 and 30 days before, the 52-week high and low, and BTC dominance of the whole market beside the
figure without stablecoins and tokens, each named. Expected values come from the market's own formulas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.test_app import client_for

DEFAULT_BASIS = (
    "every coin of the source except stablecoins, wrapped and bridged tokens, liquid staking tokens and tokenized "
    "assets"
)
WHOLE_BASIS = "whole market: every coin of the source, nothing excluded"


def btc(i: int) -> float:
    return 1e9 * 1.1**i


def others(i: int) -> float:
    """fast + slow (tether, the stablecoin, apart)."""
    return 1e8 * 1.2**i + 5e7


TETHER = 9e8


def ex_stable(i: int) -> float:
    return 100 * btc(i) / (btc(i) + others(i))


def whole(i: int) -> float:
    return 100 * btc(i) / (btc(i) + others(i) + TETHER)


@pytest.fixture
def client(market_db: str) -> Iterator[TestClient]:
    with client_for(market_db) as c:
        yield c


def test_season_latest_carries_changes_and_the_yearly_range(client: TestClient) -> None:
    body = client.get("/v1/season/latest", params={"top": 3, "window": 2}).json()
    # top 3 over 2 days: fast beats BTC, slow does not -> 50 on every day from 2024-01-03 (day 3), none before
    g = body["glance"]
    assert g["changes"] == [
        {"days": 1, "date": "2024-01-09", "value": 50.0, "change": 0.0},
        {"days": 7, "date": "2024-01-03", "value": 50.0, "change": 0.0},
        {"days": 30, "date": "2023-12-11", "value": None, "change": None},
    ]
    assert g["since"] == "2023-01-11"
    assert (g["high_52w"], g["high_52w_date"], g["low_52w"], g["low_52w_date"]) == (
        50.0,
        "2024-01-10",
        50.0,
        "2024-01-10",
    )
    three_days = client.get("/v1/season/latest", params={"top": 3, "window": 8}).json()["glance"]
    # an 8-day window has values on days 9 and 10 only: the change against 7 days before has none
    assert [c["change"] for c in three_days["changes"]] == [0.0, None, None]


def test_season_latest_names_both_dominance_figures(client: TestClient) -> None:
    body = client.get("/v1/season/latest", params={"top": 3, "window": 2}).json()
    assert body["btc_dominance"] == pytest.approx(ex_stable(9))
    assert body["btc_dominance_basis"] == DEFAULT_BASIS
    assert body["btc_dominance_whole_market"] == pytest.approx(whole(9))
    none = client.get("/v1/season/latest", params={"top": 3, "window": 2, "exclude": "none"}).json()
    assert none["btc_dominance"] == pytest.approx(whole(9)) and none["btc_dominance_basis"] == WHOLE_BASIS


def test_dominance_latest_beside_the_whole_market(client: TestClient) -> None:
    body = client.get("/v1/dominance/latest").json()
    assert body["btc_dominance"] == pytest.approx(ex_stable(9))
    assert body["method"]["dominance"] == DEFAULT_BASIS and body["method"]["universe"] == "all"
    changes = body["glance"]["changes"]
    assert [c["date"] for c in changes] == ["2024-01-09", "2024-01-03", "2023-12-11"]
    assert changes[0]["change"] == pytest.approx(ex_stable(9) - ex_stable(8))
    assert changes[1]["change"] == pytest.approx(ex_stable(9) - ex_stable(2))
    assert changes[2]["change"] is None
    # BTC's share falls every day (fast grows 20 %/day against BTC's 10 %): high on the first day, low on the last
    g = body["glance"]
    assert (g["high_52w_date"], g["low_52w_date"]) == ("2024-01-01", "2024-01-10")
    assert g["high_52w"] == pytest.approx(ex_stable(0)) and g["low_52w"] == pytest.approx(ex_stable(9))

    market = body["whole_market"]
    assert (market["universe"], market["exclusion"], market["basis"]) == ("all", "none", WHOLE_BASIS)
    assert market["btc_dominance"] == pytest.approx(whole(9))
    assert market["stablecoin_dominance"] == pytest.approx(100 * TETHER / (btc(9) + others(9) + TETHER))
    assert market["total"] == pytest.approx(btc(9) + others(9) + TETHER)
    assert market["glance"]["changes"][1]["change"] == pytest.approx(whole(9) - whole(2))
    # with tether's fixed 9e8 in the total, BTC's share rises every day instead
    wg = market["glance"]
    assert (wg["high_52w_date"], wg["low_52w_date"]) == ("2024-01-10", "2024-01-01")
    assert wg["high_52w"] == pytest.approx(whole(9)) and wg["low_52w"] == pytest.approx(whole(0))


def test_a_top_n_universe_is_named_and_the_whole_market_stays_whole(client: TestClient) -> None:
    body = client.get("/v1/dominance/latest", params={"universe": "top:2", "exclude": "none"}).json()
    assert body["method"]["dominance"] == "the top 2 coins by market cap each day, nothing excluded"
    assert body["btc_dominance"] == pytest.approx(100 * btc(9) / (btc(9) + TETHER))  # BTC and tether are the top 2
    assert body["whole_market"]["btc_dominance"] == pytest.approx(whole(9))
    history = client.get("/v1/dominance/history", params={"universe": "top:2", "exclude": "none"}).json()
    assert history["method"]["dominance"] == "the top 2 coins by market cap each day, nothing excluded"
    season = client.get("/v1/season/history", params={"top": 3, "window": 2}).json()
    assert "dominance" not in season["method"], "a season series names no dominance universe"
