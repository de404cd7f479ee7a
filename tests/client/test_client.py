"""The typed client against a real ``coinseason serve`` process over the hand-made market of
``tests.conftest.small_market_csv`` (BTC +10 %/day, "fast" +20 %/day, "slow" flat, "tether" excluded).

Expected values are worked out by hand from that market: with top=3 and window=2 the universe is BTC, fast and
slow; fast beats BTC, slow does not, so the Altcoin Season Index is 100 x 1/2 = 50 (neutral) from the third day on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import pytest

from coinseason.client import (
    AsyncClient,
    Client,
    InvalidRequest,
    NotFound,
    RateLimited,
    StreamMessage,
    Unauthorized,
    Unreachable,
)
from coinseason.errors import ConfigError, NoDataError, TemporaryError
from tests.api.serve_helpers import Server, coinseason, free_port, serve
from tests.conftest import SMALL_MARKET_DAYS, small_market_csv

ANON_LIMIT = 3
LAST_DAY = SMALL_MARKET_DAYS[-1]


@dataclass(frozen=True)
class Served:
    server: Server
    key: str
    db: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module: keys required for the key's limit, anonymous reads allowed at ANON_LIMIT a
    minute (the 429 test spends them)."""
    root = tmp_path_factory.mktemp("client")
    db = str(root / "client.duckdb")
    made = coinseason("keys", "create", "--name", "client-tests", "--db", db)
    assert made.returncode == 0, made.stderr
    env = {
        "COINSEASON_ANONYMOUS_RATE_LIMIT_PER_MINUTE": str(ANON_LIMIT),
        "COINSEASON_SEASON_MIN_ELIGIBLE": "0",  # two altcoins: the minimum universe is another test's
    }
    args = ["--db", db, "--import", str(small_market_csv(root / "m.csv")), "--format", "tidy"]
    with serve(args, log=root / "server.log", env=env) as server:
        yield Served(server=server, key=made.stdout.strip(), db=db)


class Recording(httpx.HTTPTransport):
    """The real transport, noting the status of every answer."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response


def test_latest_season_and_dominance_match_the_hand_computed_market(served: Served) -> None:
    with Client(served.server.url, api_key=served.key) as client:
        latest = client.season_latest(top=3, window=2)
        dominance = client.dominance_latest()
    assert latest.date == LAST_DAY
    assert latest.altcoin_season_index == pytest.approx(50.0)
    assert (latest.n_eligible, latest.n_outperforming, latest.season) == (2, 1, "neutral")
    assert latest.season_since == SMALL_MARKET_DAYS[2]  # the first day with a 2-day return
    assert (latest.method.top, latest.method.window) == (3, 2)
    btc, fast, slow = 1e9 * 1.1**9, 1e8 * 1.2**9, 5e7  # tether is excluded by default
    assert dominance.btc_dominance == pytest.approx(100 * btc / (btc + fast + slow))
    assert dominance.as_of == dt.datetime(2024, 1, 10, tzinfo=dt.UTC)


def test_history_as_models_and_as_a_csv_frame_agree(served: Served) -> None:
    with Client(served.server.url, api_key=served.key) as client:
        history = client.season_history(top=3, window=2, start=SMALL_MARKET_DAYS[2], end="2024-01-10")
        frame = client.season_history_frame(top=3, window=2, start=SMALL_MARKET_DAYS[2], end="2024-01-10")
    assert [p.date for p in history.values] == SMALL_MARKET_DAYS[2:]
    assert [p.value for p in history.values] == [50.0] * 8
    assert frame.schema["date"] == pl.Date
    assert frame["date"].to_list() == SMALL_MARKET_DAYS[2:]
    assert frame["value"].to_list() == [50.0] * 8


def test_coins_are_iterated_across_pages(served: Served) -> None:
    recording = Recording()
    with Client(served.server.url, api_key=served.key, transport=recording) as client:
        ids = [coin.coin_id for coin in client.coins(limit=1)]
        stablecoins = [coin.coin_id for coin in client.coins(token_class="stablecoin")]  # noqa: S106 - a token class
    assert ids == ["bitcoin", "fast", "slow", "tether"]
    assert len(recording.statuses) == 4 + 1  # one page per coin, then the stablecoins' single page
    assert stablecoins == ["tether"]


def test_an_unchanged_answer_is_reused_through_its_etag(served: Served) -> None:
    recording = Recording()
    with Client(served.server.url, api_key=served.key, transport=recording) as client:
        first = client.breakdown(top=3, window=2, date="2024-01-05")
        second = client.breakdown(top=3, window=2, date="2024-01-05")
        other = client.breakdown(top=3, window=2, date="2024-01-06")
        assert client.etags.hits == 1
    assert recording.statuses == [200, 304, 200]
    assert second == first
    assert other.date == dt.date(2024, 1, 6)
    rows = {row.coin_id: row for row in first.values}
    assert rows["fast"].beats_btc and not rows["slow"].beats_btc
    assert rows["fast"].coin_return_pct == pytest.approx(100 * (1.2**2 - 1))
    assert rows["bitcoin"].btc_return_pct == pytest.approx(100 * (1.1**2 - 1))


def test_problems_become_the_matching_exceptions(served: Served) -> None:
    with Client(served.server.url, api_key=served.key) as client:
        with pytest.raises(InvalidRequest) as invalid:
            client.season_latest(top=0)
        with pytest.raises(NotFound) as missing:
            client.coin_history("no-such-coin")
        with pytest.raises(InvalidRequest, match="after"):
            client.seasons(start="2024-01-05", end="2024-01-01")
    assert isinstance(invalid.value, ConfigError)
    assert invalid.value.status == 422
    assert [e.parameter for e in invalid.value.errors] == ["top"]
    assert invalid.value.request_id
    assert isinstance(missing.value, NoDataError)
    assert "no-such-coin" in str(missing.value)
    with Client(served.server.url, api_key="cs_AAAAAAAA_" + "A" * 43) as bad, pytest.raises(Unauthorized) as refused:
        bad.methodology()
    assert refused.value.status == 401 and "invalid or revoked" in refused.value.detail


def test_readiness_reads_the_503_answer(served: Served) -> None:
    with Client(served.server.url) as client:
        ready = client.readyz()
        assert client.healthz().status == "ok"
    assert ready.status == "not ready"  # the hand-made market ends in 2024: older than the staleness limit
    assert ready.store is True


def test_a_backtest_and_the_methodology(served: Served) -> None:
    with Client(served.server.url, api_key=served.key) as client:
        report = client.backtest({"top": 3, "window": 2}, daily=False)
        methodology = client.methodology()
        with pytest.raises(InvalidRequest) as invalid:
            client.backtest({"top": 3, "window": 2, "fee_bps": -1})
    assert report.source == "custom" and report.params["top"] == 3
    assert methodology.sources == ["custom"]
    assert [m.coin_id for m in methodology.exclusion_members["custom"]] == ["tether"]
    assert invalid.value.status is None  # refused before any request, as the server would
    assert [e.parameter for e in invalid.value.errors] == ["params.fee_bps"]


def test_rate_limiting_is_waited_out_within_the_bound(served: Served) -> None:
    """Anonymous reads are limited to ANON_LIMIT a minute: the next one is a real 429 with Retry-After."""
    waits: list[float] = []
    with Client(served.server.url, max_wait=0) as client:
        for _ in range(ANON_LIMIT):
            client.healthz()  # outside /v1: not counted
        for _ in range(ANON_LIMIT):
            client.season_latest(top=3, window=2)
        with pytest.raises(RateLimited) as refused:  # a wait of ~60 s is over a bound of 0
            client.season_latest(top=3, window=2)
    assert isinstance(refused.value, TemporaryError)
    assert refused.value.retry_after is not None and 1 <= refused.value.retry_after <= 60
    with Client(served.server.url, max_wait=3600, max_retries=2, sleep=waits.append) as patient:
        with pytest.raises(RateLimited):
            patient.season_latest(top=3, window=2)
    assert len(waits) == 2 and all(1 <= w <= 60 for w in waits)  # the server's Retry-After, twice, then given up

    # the real 429 answer, replayed before a real 200: one wait of its Retry-After, then the value
    raw = httpx.get(f"{served.server.url}/v1/season/latest", params={"top": 3, "window": 2})
    assert raw.status_code == 429
    keyed = {"X-API-Key": served.key}
    answers = [raw, httpx.get(f"{served.server.url}/v1/season/latest", params={"top": 3, "window": 2}, headers=keyed)]
    replay = iter(answers)
    transport = httpx.MockTransport(lambda request: _copy(next(replay), request))
    slept: list[float] = []
    with Client(served.server.url, transport=transport, sleep=slept.append) as mocked:
        latest = mocked.season_latest(top=3, window=2)
    assert slept == [float(raw.headers["retry-after"])]
    assert latest.altcoin_season_index == pytest.approx(50.0)


def _copy(response: httpx.Response, request: httpx.Request) -> httpx.Response:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-encoding", "content-length")}
    return httpx.Response(response.status_code, headers=headers, content=response.content, request=request)


def test_the_async_client(served: Served) -> None:
    async def scenario() -> tuple[float | None, list[str], int | None]:
        async with AsyncClient(served.server.url, api_key=served.key) as client:
            latest = await client.season_latest(top=3, window=2)
            ids = [coin.coin_id async for coin in client.coins(limit=2)]
            try:
                await client.season_history(interval="year")  # type: ignore[typeddict-item]  # refused by the server
            except InvalidRequest as exc:
                status = exc.status
            else:
                status = None
            return latest.altcoin_season_index, ids, status

    value, ids, status = asyncio.run(scenario())
    assert value == pytest.approx(50.0)
    assert ids == ["bitcoin", "fast", "slow", "tether"]
    assert status == 422


def test_no_server_is_a_temporary_error(tmp_path: Path) -> None:
    with Client(f"http://127.0.0.1:{free_port()}", timeout=2.0) as client, pytest.raises(Unreachable) as failed:
        client.methodology()
    assert isinstance(failed.value, TemporaryError)


def test_the_stream_pushes_the_dominance_of_a_day_imported_while_listening(served: Served, tmp_path: Path) -> None:
    """Each import adds one more day (BTC at 10 %/day, as in the market); the server sees the write and pushes the
    new dominance. Imports go on, one day after another (at most 5), until the push is read."""

    async def scenario() -> tuple[StreamMessage, list[dt.date]]:
        async with AsyncClient(served.server.url, api_key=served.key) as client:
            stream = client.stream(["dominance"])
            first = asyncio.ensure_future(anext(stream))
            added: list[dt.date] = []
            for n in range(10, 15):
                day = dt.date(2024, 1, 1) + dt.timedelta(days=n)
                row = f"bitcoin,btc,Bitcoin,{day},{100 * 1.1**n},{1e9 * 1.1**n}"
                path = tmp_path / f"{day}.csv"
                path.write_text(f"coin_id,symbol,name,date,price,market_cap\n{row}\n")
                done = await asyncio.to_thread(coinseason, "import", str(path), "--format", "tidy", "--db", served.db)
                assert done.returncode == 0, done.stderr
                added.append(day)
                finished, _ = await asyncio.wait({first}, timeout=5)
                if finished:
                    await stream.aclose()
                    return first.result(), added
            raise AssertionError(f"no push after importing {added}")

    message, added = asyncio.run(scenario())
    assert message.topic == "dominance"
    assert dt.date.fromisoformat(message.data["date"]) in added
    with Client(served.server.url, api_key=served.key) as client:
        assert client.dominance_latest().date == added[-1]


def test_the_stream_refuses_a_bad_key(served: Served) -> None:
    async def scenario() -> None:
        async with AsyncClient(served.server.url, api_key="cs_AAAAAAAA_" + "A" * 43) as client:
            async for _ in client.stream():
                break

    with pytest.raises(Unauthorized):
        asyncio.run(scenario())
