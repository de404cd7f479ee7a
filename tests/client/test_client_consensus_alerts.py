"""The client's consensus, margin and alert methods against a real ``coinseason serve`` over the hand-made market of
``tests.conftest.small_market_csv`` (BTC +10 %/day, "fast" +20 %/day, "slow" flat, "tether" excluded).

Worked out by hand, with top=3 and window=2: the universe is BTC, fast and slow. Over 2 days BTC returns
1.1**2 - 1 = 21 %, fast 1.2**2 - 1 = 44 %, slow 0 %: one of two altcoins beats BTC, index 50 (neutral) from the
third day on. One more coin ahead would make 100 (altcoin season), one fewer 0 (Bitcoin season): the margin is 1.
The consensus grid's windows (30 to 180 days) are longer than the 10 days of data: no variant has a value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import polars as pl
import pytest

from coinseason.client import AsyncClient, Client, InvalidRequest, NotFound, Unauthorized
from tests.alerts.receiver import Receiver, signature_ok
from tests.api.serve_helpers import Server, coinseason, serve
from tests.conftest import SMALL_MARKET_DAYS, small_market_csv

Q = {"top": 3, "window": 2}
FAST_CAP, SLOW_CAP = 1e8 * 1.2**9, 5e7
"""The altcoins' market caps on the last day (2024-01-10)."""


@dataclass(frozen=True)
class Served:
    server: Server
    key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("client-consensus")
    db = str(root / "client.duckdb")
    made = coinseason("keys", "create", "--name", "client-tests", "--db", db)
    assert made.returncode == 0, made.stderr
    env = {
        "COINSEASON_SEASON_MIN_ELIGIBLE": "0",  # two altcoins: the minimum universe is another test's
        "COINSEASON_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",  # the local receiver of the test event
    }
    args = ["--db", db, "--import", str(small_market_csv(root / "m.csv")), "--format", "tidy"]
    with serve(args, log=root / "server.log", env=env) as server:
        yield Served(server=server, key=made.stdout.strip())


def test_consensus_of_a_day_and_its_history(served: Served) -> None:
    with Client(served.server.url, api_key=served.key) as client:
        day = client.season_consensus(top=3, window=2)
        history = client.season_consensus_history(top=3, window=2, start="2024-01-02", end="2024-01-04")
        frame = client.season_consensus_history_frame(top=3, window=2)
    raw = httpx.get(f"{served.server.url}/v1/season/consensus", params=Q, headers={"X-API-Key": served.key})
    assert day.model_dump(mode="json") == raw.json()  # every field the server sends is read
    assert (day.date, day.value, day.season) == (SMALL_MARKET_DAYS[-1], 50.0, "neutral")
    assert (day.n_variants, day.n_valued, len(day.variants)) == (64, 0, 64)
    assert day.cap_weighted == pytest.approx(100 * FAST_CAP / (FAST_CAP + SLOW_CAP))  # fast beats BTC, slow not
    assert day.cap_weighted_season == "altcoin" and day.method.min_eligible == 0
    assert day.grid.window == [30, 60, 90, 180]
    assert [(p.date.isoformat(), p.value) for p in history.values] == [
        ("2024-01-02", None),
        ("2024-01-03", 50.0),
        ("2024-01-04", 50.0),
    ]
    assert frame.schema["date"] == pl.Date
    assert frame["date"].to_list() == SMALL_MARKET_DAYS
    assert frame["value"].to_list()[2:] == [50.0] * 8


def test_margin_of_a_day_and_its_history(served: Served) -> None:
    with Client(served.server.url, api_key=served.key) as client:
        day = client.season_margin(top=3, window=2, band=25)
        narrow = client.season_margin(top=3, window=2, date=SMALL_MARKET_DAYS[4])
        history = client.season_margin_history(top=3, window=2, band=25, start=SMALL_MARKET_DAYS[2])
        frame = client.season_margin_history_frame(top=3, window=2, band=25, start=SMALL_MARKET_DAYS[2])
    assert (day.n_eligible, day.n_outperforming, day.margin, day.next_season) == (2, 1, 1, "altcoin")
    assert (day.to_altcoin, day.to_bitcoin) == (1, 1)
    assert day.btc_return_pct == pytest.approx(21.0)
    # fast +44 % is 23 points above BTC, slow 0 % is 21 below: both within 25 points, the closest first
    assert [(c.coin_id, c.gap_pct) for c in day.close] == [
        ("slow", pytest.approx(-21.0)),
        ("fast", pytest.approx(23.0)),
    ]
    assert day.close_call is True and day.band_pct == 25
    assert narrow.date == SMALL_MARKET_DAYS[4] and narrow.band_pct == 5.0 and narrow.close == []
    assert [p.date for p in history.values] == SMALL_MARKET_DAYS[2:]
    assert {(p.margin, p.n_close_above, p.n_close_below) for p in history.values} == {(1, 1, 1)}
    assert history.band_pct == 25
    assert frame["margin"].to_list() == [1] * 8


def test_alert_rules_through_the_client(served: Served) -> None:
    with Receiver() as receiver, Client(served.server.url, api_key=served.key) as client:
        made = client.add_alert("alt season", "season", receiver.url, {"top": 3, "window": 2, "level": 75})
        listed = client.alerts()
        one = client.alert(made.id)
        sent = client.test_alert(made.id)
        events = client.alert_events(rule_id=made.id, limit=10)
        dead = client.dead_letters(limit=10)
        with pytest.raises(InvalidRequest) as invalid:
            client.add_alert("bad", "season", receiver.url, {"level": 150})
        with pytest.raises(NotFound):
            client.replay_dead_letter("evt_" + "0" * 32)
        client.remove_alert(made.id)
        with pytest.raises(NotFound):
            client.alert(made.id)
        after = client.alerts()
    assert made.secret is not None and made.secret.startswith("whsec_")
    assert made.kind == "season" and made.params["level"] == 75 and made.endpoint.url == receiver.url
    assert [r.id for r in listed] == [made.id] and one == listed[0]
    assert sent.delivered is True and sent.status == 200
    assert [r.json()["id"] for r in receiver.received] == [sent.event_id]
    assert signature_ok(made.secret, receiver.received[0])
    assert events == [] and dead == []  # a test event is neither stored nor retried
    assert invalid.value.status in (400, 422) and "level" in invalid.value.detail
    assert after == []


def test_the_api_still_refuses_unknown_request_fields(served: Served) -> None:
    body = {"name": "n", "kind": "season", "url": "https://example.com/hook", "surprise": 1}
    refused = httpx.post(f"{served.server.url}/v1/alerts", json=body, headers={"X-API-Key": served.key})
    assert refused.status_code == 422 and "surprise" in refused.text


def test_alerts_need_a_key_and_the_async_client(served: Served) -> None:
    async def scenario() -> tuple[int | None, float | None, int | None, int]:
        async with AsyncClient(served.server.url) as anonymous:
            try:
                await anonymous.alerts()
            except Unauthorized as exc:
                status = exc.status
            else:
                status = None
        async with AsyncClient(served.server.url, api_key=served.key) as client:
            consensus = await client.season_consensus(top=3, window=2)
            margin = await client.season_margin(top=3, window=2)
            return status, consensus.value, margin.margin, len(await client.alerts())

    assert asyncio.run(scenario()) == (401, 50.0, 1, 0)


def test_the_whole_market_and_glance_fields_reach_the_client(served: Served) -> None:
    with Client(served.server.url, api_key=served.key) as client:
        latest = client.season_latest(top=3, window=2)
        dominance = client.dominance_latest()
    keyed = {"X-API-Key": served.key}
    assert (
        latest.model_dump(mode="json")
        == httpx.get(f"{served.server.url}/v1/season/latest", params=Q, headers=keyed).json()
    )
    assert (
        dominance.model_dump(mode="json") == httpx.get(f"{served.server.url}/v1/dominance/latest", headers=keyed).json()
    )
    btc, fast, slow, tether = 1e9 * 1.1**9, 1e8 * 1.2**9, 5e7, 9e8  # the last day; tether counts in the whole market
    assert latest.btc_dominance_whole_market == pytest.approx(100 * btc / (btc + fast + slow + tether))
    assert dominance.whole_market.btc_dominance == pytest.approx(100 * btc / (btc + fast + slow + tether))
    assert dominance.whole_market.stablecoin_dominance == pytest.approx(100 * tether / (btc + fast + slow + tether))
    assert dominance.btc_dominance == pytest.approx(100 * btc / (btc + fast + slow))
    day_before = latest.glance.changes[0]
    assert (day_before.days, day_before.date, day_before.value, day_before.change) == (1, SMALL_MARKET_DAYS[-2], 50, 0)
    assert latest.method.min_eligible == 0 and dominance.method.dominance
