"""``/v1/season/consensus`` and ``/v1/season/margin`` (and their history) over the small hand-made market."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from coinseason.api.app import create_app
from coinseason.settings import Settings
from tests.conftest import fixed_clock

Q = {"top": 3, "window": 2}
"""Top 3 with tether excluded: BTC, fast and slow. Over 2 days BTC +21 %, fast +44 %, slow 0 %: 1 of 2 beat BTC."""
FAST_CAP = 1e8 * 1.2**9
SLOW_CAP = 5e7
"""The altcoins' market caps on the last day (2024-01-10)."""


@pytest.fixture
def client(market_db: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(db=market_db), clock=fixed_clock)) as c:
        yield c


def test_consensus_day_on_a_market_too_short_for_the_grid(client: TestClient) -> None:
    r = client.get("/v1/season/consensus", params=Q)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["date"] == "2024-01-10" and body["stale"] is True
    assert body["value"] == 50.0 and body["season"] == "neutral"
    # the grid's windows are 30 to 180 days: 10 days of data give no variant a value
    assert body["n_variants"] == 64 and body["n_valued"] == 0 and len(body["variants"]) == 64
    assert body["share_altcoin"] is None and body["median"] is None and body["p10"] is None
    assert body["majority"] == "none" and body["agreement"] is None and body["agrees"] is False
    # cap-weighted: fast (beats BTC) holds FAST_CAP of FAST_CAP + SLOW_CAP
    assert body["cap_weighted"] == pytest.approx(100 * FAST_CAP / (FAST_CAP + SLOW_CAP))
    assert body["cap_weighted_season"] == "altcoin"
    assert body["grid"] == {
        "top": [20, 50, 100, 200],
        "window": [30, 60, 90, 180],
        "btc_inside": [True, False],
        "exclude": ["default", "none"],
    }
    assert body["method"]["top"] == 3 and body["method"]["min_eligible"] == 20


def test_consensus_history_json_and_csv(client: TestClient) -> None:
    body = client.get("/v1/season/consensus/history", params={**Q, "from": "2024-01-02", "to": "2024-01-04"}).json()
    assert [(v["date"], v["value"], v["season"]) for v in body["values"]] == [
        ("2024-01-02", None, "none"),
        ("2024-01-03", 50.0, "neutral"),
        ("2024-01-04", 50.0, "neutral"),
    ]
    assert body["grid"]["top"] == [20, 50, 100, 200]
    r = client.get("/v1/season/consensus/history", params={**Q, "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 10 and "p10" in rows[0] and "cap_weighted" in rows[0]


def test_margin_day_and_close_coins(client: TestClient) -> None:
    # 1 of 2 beat BTC (50, neutral): one more is 100 (altcoin), one fewer 0 (Bitcoin); a tie names altcoin season.
    body = client.get("/v1/season/margin", params={**Q, "band": 25}).json()
    assert (body["n_eligible"], body["n_outperforming"]) == (2, 1)
    assert (body["to_altcoin"], body["to_bitcoin"], body["to_neutral"]) == (1, 1, None)
    assert body["margin"] == 1 and body["next_season"] == "altcoin"
    assert body["btc_return_pct"] == pytest.approx(21.0)
    # fast +44 % is 23 points above BTC, slow 0 % is 21 below: both within 25 points, slow closest first
    assert [(c["coin_id"], c["beats_btc"]) for c in body["close"]] == [("slow", False), ("fast", True)]
    assert [c["gap_pct"] for c in body["close"]] == [pytest.approx(-21.0), pytest.approx(23.0)]
    assert (body["n_close_above"], body["n_close_below"], body["close_call"]) == (1, 1, True)
    narrow = client.get("/v1/season/margin", params=Q).json()  # the default band: 5 points
    assert narrow["band_pct"] == 5.0 and narrow["close"] == [] and narrow["close_call"] is False


def test_margin_history(client: TestClient) -> None:
    body = client.get("/v1/season/margin/history", params={**Q, "from": "2024-01-01", "to": "2024-01-03"}).json()
    assert [(v["date"], v["margin"], v["next_season"]) for v in body["values"]] == [
        ("2024-01-01", None, "none"),
        ("2024-01-02", None, "none"),
        ("2024-01-03", 1, "altcoin"),
    ]
    assert body["band_pct"] == 5.0


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/v1/season/margin", {"band": 0}, "band"),
        ("/v1/season/margin", {"band": 101}, "band"),
        ("/v1/season/consensus", {"date": "2030-01-01"}, "outside the data"),
        ("/v1/season/consensus", {"fill": "false"}, "fill rule"),
        ("/v1/season/margin/history", {"from": "2024-01-05", "to": "2024-01-02"}, "after"),
    ],
)
def test_bad_input_is_a_problem_naming_it(client: TestClient, path: str, params: dict[str, object], named: str) -> None:
    r = client.get(path, params={**Q, **params})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert named in r.text


def test_methodology_states_the_new_definitions(client: TestClient) -> None:
    definitions = client.get("/v1/methodology").json()["definitions"]
    assert "64 variants" in definitions["consensus"]
    assert "COINSEASON_SEASON_MIN_ELIGIBLE" in definitions["minimum_universe"]
    assert "point in time" in definitions["cap_weighted_index"]
    assert "change sides" in definitions["margin"]
