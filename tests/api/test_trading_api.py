"""The trading endpoints over the small hand-made market (BTC +10 %/day, fast +20 %/day, slow flat, tether)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.test_app import client_for, db  # noqa: F401 - db is a fixture

LINEAR = (10 + 10 / 2) * 1e-4  # 10 bp fee + half of a 10 bp spread
PARAMS = {"top": 3, "window": 2, "impact": 0.0, "fee_bps": 10.0, "spread_bps": 10.0, "rebalance_days": 1,
          "min_volume_usd": 0.0}  # fmt: skip
"""The basket re-formed every day, with no volume filter (the small market has no volumes)."""


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:  # noqa: F811 - the fixture above
    with client_for(db) as c:
        yield c


def test_signals(client: TestClient) -> None:
    r = client.get("/v1/signals", params={"top": 3, "window": 2, "confirm_days": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "not investment advice" in body["disclaimer"]
    values = body["values"]
    assert values[0]["date"] == "2024-01-01"
    # no 2-day return before day 3; then fast beats BTC and slow does not: index 50, neutral
    assert [v["season"] for v in values[:4]] == ["none", "none", "neutral", "neutral"]
    assert values[3]["altcoin_season_index"] == 50.0
    assert set(body["rules"]) == {"season", "season_confirmed", "momentum", "contrarian"}


def test_backtest_hand_computed(client: TestClient) -> None:
    r = client.post("/v1/backtests", json={"params": PARAMS})
    assert r.status_code == 200, r.text
    body = r.json()
    daily = body["daily"]
    assert [d["date"] for d in daily[:2]] == ["2024-01-01", "2024-01-02"]
    # day 2's neutral signal is traded on day 3 (2024-01-04): 50 % BTC, 50 % alt basket (fast and slow)
    assert [d["weight_cash"] for d in daily[:4]] == [1.0, 1.0, 1.0, 0.0]
    assert daily[3]["weight_btc"] == pytest.approx(0.5)
    assert daily[3]["return"] == pytest.approx(-LINEAR)
    # then BTC and the basket both gain 10 % a day; the equal-weight basket re-weights 1/11 of itself (fast
    # drifted to 0.6 / 1.1), paid on the half held
    assert daily[4]["return"] == pytest.approx(1.1 * (1 - 0.5 / 11 * LINEAR) - 1)
    # buy-and-hold buys on day 1 (paying LINEAR) and holds 8 days; the basket re-weights 1/11 a day
    assert body["metrics"]["buy_hold_btc"]["total_return"] == pytest.approx((1 - LINEAR) * 1.1**8 - 1)
    alt = (1 - LINEAR) * (1.1 * (1 - LINEAR / 11)) ** 8 - 1
    assert body["metrics"]["buy_hold_alt"]["total_return"] == pytest.approx(alt)
    assert body["metrics"]["buy_hold_alt_before_costs"]["total_return"] == pytest.approx(1.1**9 - 1)


def test_backtest_sweep_and_bounds(client: TestClient) -> None:
    sweep = [{**PARAMS, "fee_bps": f} for f in (0.0, 50.0)]
    r = client.post("/v1/backtests", json={"params": PARAMS, "sweep": sweep, "daily": False})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["daily"] is None
    low, high = body["sweep"]
    assert low["fee_bps"] == 0.0 and high["fee_bps"] == 50.0
    assert high["total_return"] < low["total_return"]
    too_many = client.post("/v1/backtests", json={"sweep": [PARAMS] * 65})
    assert too_many.status_code == 422
    assert too_many.headers["content-type"] == "application/problem+json"
    assert "sweep" in too_many.json()["detail"]
    bad = client.post("/v1/backtests", json={"params": {"strategy": "moon"}})
    assert bad.status_code == 422 and "params.strategy" in bad.json()["detail"]
    never = client.post("/v1/backtests", json={"params": {"rebalance_days": 0}})
    assert never.status_code == 422 and "params.rebalance_days" in never.json()["detail"]
    backwards = client.post("/v1/backtests", json={"from": "2024-01-05", "to": "2024-01-02"})
    assert backwards.status_code == 422 and "after" in backwards.json()["detail"]
    outside = client.post("/v1/backtests", json={"from": "2023-01-01"})
    assert outside.status_code == 422 and "outside the data" in outside.json()["detail"]


def test_risk(client: TestClient) -> None:
    r = client.get("/v1/risk", params={"top": 3, "days": 9, "coin": "fast"})
    assert r.status_code == 200, r.text
    values = r.json()["values"]
    assert [v["asset"] for v in values] == ["btc", "alt_basket_top3_equal", "fast"]
    assert values[0]["total_return"] == pytest.approx(1.1**9 - 1)  # the 9 daily returns ending on the last 9 days
    missing = client.get("/v1/risk", params={"coin": "nosuchcoin"})
    assert missing.status_code == 404 and "nosuchcoin" in missing.json()["detail"]


def test_rebalance(client: TestClient) -> None:
    holdings = [{"coin_id": "bitcoin", "quantity": 1.0}, {"coin_id": "tether", "value_usd": 100.0}]
    r = client.post("/v1/portfolio/rebalance", json={"holdings": holdings, "profile": "aggressive", "top": 3,
                                                     "window": 2})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["season"] == "neutral" and body["allocation"] == {"btc": 0.6, "alt": 0.4, "cash": 0.0}
    weights = {t["coin_id"]: t["target_weight"] for t in body["trades"]}
    assert weights["bitcoin"] == pytest.approx(0.6)
    assert weights["fast"] + weights["slow"] == pytest.approx(0.4)
    assert "not investment advice" in body["disclaimer"]
    bad = client.post("/v1/portfolio/rebalance", json={"holdings": [{"coin_id": "nosuchcoin", "quantity": 1}]})
    assert bad.status_code == 422 and "nosuchcoin" in bad.json()["detail"]
    empty = client.post("/v1/portfolio/rebalance", json={"holdings": []})
    assert empty.status_code == 422 and empty.headers["content-type"] == "application/problem+json"
