"""CoinGecko provider: real recorded responses (respx), plans and keys, pages that shift, the plan's history limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import polars as pl
import pytest
import respx

from coinseason.errors import ConfigError, PlanLimitError, ProviderError
from coinseason.providers.base import HISTORY_SCHEMA, SNAPSHOT_SCHEMA, MarketProvider
from coinseason.providers.coingecko import CoinGeckoProvider
from coinseason.providers.http import OutboundPolicy
from coinseason.settings import Settings
from tests.conftest import COINGECKO_DAILY, DATA_DIR, shared_file
from tests.fakes.clock import FakeTime
from tests.fakes.provider_server import (
    IN_PROCESS_URL,
    FakeProviderServer,
    Fault,
    ProviderData,
    fake_provider,
    in_process_provider,
)

T = TypeVar("T")
EXAMPLES = DATA_DIR / "coingecko" / "api_examples"
SPEC = DATA_DIR / "coingecko" / "api_spec" / "demo-api.json"
PUBLIC = "https://api.coingecko.com/api/v3"
PRO = "https://pro-api.coingecko.com/api/v3"
AS_OF = dt.datetime(2025, 7, 19, 12, 0, tzinfo=dt.UTC)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def example(name: str) -> Path:
    return shared_file(EXAMPLES / name)


def gecko(plan: str = "keyless", key: str | None = None, now: dt.datetime = AS_OF, **kw: Any) -> CoinGeckoProvider:
    fake = FakeTime()
    return CoinGeckoProvider(
        plan, api_key=key, clock=lambda: now, monotonic=fake.monotonic, sleep=fake.sleep, rng=random.Random(1), **kw
    )


async def _use(p: CoinGeckoProvider, coro: Coroutine[Any, Any, T]) -> T:
    try:
        return await coro
    finally:
        await p.aclose()


# ---------------------------------------------------------------------------------------------- recorded answers


@pytest.mark.parametrize("day", ["2023-09-29", "2023-11-30", "2025-05-05", "2025-06-24"])
@respx.mock
def test_markets_row_from_the_recorded_response(day: str) -> None:
    path = example(f"coingecko_coins_markets_bitcoin_row_{day}.json")
    recorded = json.loads(path.read_text())[0]
    route = respx.get(f"{PUBLIC}/coins/markets").mock(return_value=httpx.Response(200, content=path.read_bytes()))
    p = gecko()
    snap = run(_use(p, p.top(1)))
    assert route.call_count == 1
    params = route.calls[0].request.url.params
    assert (params["vs_currency"], params["order"], params["per_page"], params["page"]) == (
        "usd",
        "market_cap_desc",
        "1",
        "1",
    )
    assert snap.source == "coingecko"
    assert snap.observed_at == AS_OF
    assert snap.rows.schema == pl.Schema(SNAPSHOT_SCHEMA)
    row = snap.rows.row(0, named=True)
    assert row["coin_id"] == "bitcoin" and row["symbol"] == "btc" and row["name"] == "Bitcoin"
    assert row["price"] == float(recorded["current_price"])
    assert row["market_cap"] == float(recorded["market_cap"])
    assert row["volume"] == float(recorded["total_volume"])
    assert row["rank"] == 1
    assert row["circulating_supply"] == float(recorded["circulating_supply"])
    stamp = dt.datetime.fromisoformat(recorded["last_updated"].replace("Z", "+00:00"))
    assert row["last_updated"] == stamp


@respx.mock
def test_recorded_values_spelled_out_for_one_day() -> None:
    """Golden values typed from the 2023-09-29 recorded row, so a misread field cannot pass unnoticed."""
    path = example("coingecko_coins_markets_bitcoin_row_2023-09-29.json")
    respx.get(f"{PUBLIC}/coins/markets").mock(return_value=httpx.Response(200, content=path.read_bytes()))
    p = gecko()
    row = run(_use(p, p.top(1))).rows.row(0, named=True)
    assert (row["price"], row["market_cap"], row["volume"]) == (26872.0, 524111706712.0, 15381589003.0)
    assert row["circulating_supply"] == 19499312.0
    assert row["last_updated"] == dt.datetime(2023, 9, 29, 15, 53, 42, 327000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in EXAMPLES.glob("coingecko_global_*.json")) or ["coingecko_global_missing.json"],
)
@respx.mock
def test_global_snapshot_matches_the_published_figures(name: str) -> None:
    path = example(name)
    table = pl.read_csv(shared_file(DATA_DIR / "coingecko" / "coingecko_global_snapshots.csv"))
    published = table.filter(pl.col("json_file") == name).row(0, named=True)
    respx.get(f"{PUBLIC}/global").mock(return_value=httpx.Response(200, content=path.read_bytes()))
    p = gecko()
    snap = run(_use(p, p.global_snapshot()))
    assert snap.total_market_cap == pytest.approx(published["total_market_cap_usd"], rel=1e-12)
    assert snap.btc_dominance == pytest.approx(published["btc_dominance_pct"], rel=1e-12)
    assert snap.eth_dominance == pytest.approx(published["eth_dominance_pct"], rel=1e-12)
    assert snap.observed_at == dt.datetime.fromtimestamp(published["updated_at_unix"], dt.UTC)


@respx.mock
def test_history_from_the_recorded_market_chart() -> None:
    path = example("coingecko_market_chart_bitcoin_2024-01-01_to_07_RECONSTRUCTED.json")
    route = respx.get(f"{PUBLIC}/coins/bitcoin/market_chart/range").mock(
        return_value=httpx.Response(200, content=path.read_bytes())
    )
    p = gecko(now=dt.datetime(2024, 1, 8, tzinfo=dt.UTC))
    hist = run(_use(p, p.history("bitcoin", dt.date(2024, 1, 1), dt.date(2024, 1, 7))))
    params = route.calls[0].request.url.params
    assert (params["from"], params["to"]) == ("1704067200", "1704671999")  # 2024-01-01 00:00 to 01-07 23:59:59
    assert hist.coin_id == "bitcoin" and hist.days.schema == pl.Schema(HISTORY_SCHEMA)
    assert hist.days["date"].to_list() == [dt.date(2024, 1, d) for d in range(1, 8)]
    first = hist.days.row(0, named=True)
    assert (first["price"], first["market_cap"], first["volume"]) == (
        42208.202176186474,
        827596236151.1959,
        14183728910.169804,
    )
    assert hist.days["price"][-1] == 43956.12071720152


def test_history_reaching_past_the_plan_is_refused_naming_the_limit() -> None:
    p = gecko("demo", "k")
    with pytest.raises(ProviderError, match=r"demo plan serves history only 365 days back \(from 2024-07-19\)"):
        run(_use(p, p.history("bitcoin", dt.date(2024, 1, 1), dt.date(2024, 2, 1))))
    assert p.http.requests_sent == 0


@respx.mock
def test_pro_plan_uses_its_own_url_and_header_and_reaches_back_to_2013() -> None:
    route = respx.get(f"{PRO}/coins/bitcoin/market_chart/range").mock(
        return_value=httpx.Response(200, json={"prices": [], "market_caps": [], "total_volumes": []})
    )
    p = gecko("pro", "pro-secret")
    hist = run(_use(p, p.history("bitcoin", dt.date(2013, 4, 28), dt.date(2013, 5, 1))))
    request = route.calls[0].request
    assert request.headers["x-cg-pro-api-key"] == "pro-secret"
    assert "pro-secret" not in str(request.url)
    assert hist.days.height == 0
    assert p.plan.history_days is None and p.plan.calls_per_minute == 500


@respx.mock
def test_demo_key_goes_in_its_header() -> None:
    path = example("coingecko_coins_markets_bitcoin_row_2025-05-05.json")
    route = respx.get(f"{PUBLIC}/coins/markets").mock(return_value=httpx.Response(200, content=path.read_bytes()))
    p = gecko("demo", "demo-secret")
    run(_use(p, p.top(1)))
    assert route.calls[0].request.headers["x-cg-demo-api-key"] == "demo-secret"
    assert "x-cg-pro-api-key" not in route.calls[0].request.headers
    assert p.plan.calls_per_minute == 30


def test_plans_and_keys_are_checked() -> None:
    with pytest.raises(ConfigError, match="demo plan needs an API key"):
        CoinGeckoProvider("demo")
    with pytest.raises(ConfigError, match="plan is keyless"):
        CoinGeckoProvider("keyless", api_key="k")
    with pytest.raises(ConfigError, match="unknown CoinGecko plan 'gold'"):
        CoinGeckoProvider("gold")


def test_settings_choose_url_key_plan_and_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COINSEASON_COINGECKO_URL", "http://127.0.0.1:9/api/v3")
    monkeypatch.setenv("COINSEASON_COINGECKO_API_KEY", "s3cret")
    monkeypatch.setenv("COINSEASON_COINGECKO_PLAN", "demo")
    monkeypatch.setenv("COINSEASON_COINGECKO_CALLS_PER_MINUTE", "12")
    settings = Settings.from_env()
    assert "s3cret" not in repr(settings)
    p = CoinGeckoProvider.from_settings(settings.coingecko)
    assert p.plan.base_url == "http://127.0.0.1:9/api/v3"
    assert p.plan.calls_per_minute == 12 == p.http.policy.calls_per_minute
    assert p.plan.history_days == 365
    provider: MarketProvider = p  # the contract is met
    assert provider.source == "coingecko"
    run(p.aclose())


@respx.mock
def test_classification_endpoints_read_the_specification_examples() -> None:
    spec = json.loads(shared_file(SPEC).read_text())

    def sample(path: str) -> Any:
        return spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["example"]

    coins, cats = sample("/coins/list"), sample("/coins/categories")
    respx.get(f"{PUBLIC}/coins/list").mock(return_value=httpx.Response(200, json=coins))
    respx.get(f"{PUBLIC}/coins/categories").mock(return_value=httpx.Response(200, json=cats))
    respx.get(f"{PUBLIC}/coins/ethereum").mock(
        return_value=httpx.Response(200, json={"id": "ethereum", "categories": ["Smart Contract Platform", None]})
    )
    p = gecko()

    async def calls() -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
        return await p.coins_list(), await p.categories(), await p.coin_categories("ethereum")

    listed, categories, of_eth = run(_use(p, calls()))
    assert listed["coin_id"].to_list() == [c["id"] for c in coins]
    assert listed["symbol"].to_list() == [c["symbol"] for c in coins]
    assert categories["category_id"].to_list() == [c["id"] for c in cats]
    assert categories["market_cap"].to_list() == [c["market_cap"] for c in cats]
    assert of_eth == ["Smart Contract Platform"]


@respx.mock
def test_a_row_without_an_id_is_a_clear_error() -> None:
    respx.get(f"{PUBLIC}/coins/markets").mock(return_value=httpx.Response(200, json=[{"symbol": "btc"}]))
    p = gecko()
    with pytest.raises(ProviderError, match="a row has no string 'id'"):
        run(_use(p, p.top(1)))


# ---------------------------------------------------------------------------------------------- the fake server


@pytest.fixture(scope="module")
def served() -> Iterator[FakeProviderServer]:
    """The fake server over a real socket, for the end-to-end test."""
    shared_file(COINGECKO_DAILY)
    with fake_provider(ProviderData.shared()) as running:
        yield running


@pytest.fixture
def fresh() -> FakeProviderServer:
    """The fake server in process (no socket)."""
    shared_file(COINGECKO_DAILY)
    return in_process_provider(ProviderData.shared(), now=lambda: AS_OF)


def local(server: FakeProviderServer, plan: str = "pro", **kw: Any) -> CoinGeckoProvider:
    key = None if plan == "keyless" else "k"
    policy = OutboundPolicy(calls_per_minute=600, margin=0.0)
    if "client" not in kw and server.base_url == IN_PROCESS_URL:
        kw["client"] = server.client()
    return gecko(plan, key, base_url=server.coingecko_url, policy=policy, **kw)


async def _use_local(p: CoinGeckoProvider, coro: Coroutine[Any, Any, T]) -> T:
    try:
        return await coro
    finally:
        await p.aclose()
        await p.http._client.aclose()  # the in-process client is the test's


def test_top_500_over_two_pages_matches_the_real_data(served: FakeProviderServer) -> None:
    """End to end, over a real socket."""
    served.reset()
    day = pl.read_parquet(shared_file(COINGECKO_DAILY)).filter(pl.col("date") == dt.date(2025, 7, 19))
    expected = day.drop_nulls("market_cap_usd").sort("market_cap_usd", descending=True).head(500)
    p = local(served)
    snap = run(_use(p, p.top(500)))
    assert served.paths() == ["/api/v3/coins/markets"] * 2
    assert snap.rows["coin_id"].to_list() == expected["coin_id"].to_list()
    assert snap.rows["rank"].to_list() == list(range(1, 501))
    assert snap.rows["price"].to_list() == expected["price_usd"].cast(pl.Float64).to_list()


def test_a_coin_moving_from_page_1_to_page_2_is_neither_lost_nor_repeated(fresh: FakeProviderServer) -> None:
    before = fresh.ranking()
    fresh.add_fault(Fault("shift", path="/coins/markets", rank=250, by=1))  # after page 1, #250 drops to #251
    p = local(fresh)
    snap = run(_use_local(p, p.top(500)))
    ids = snap.rows["coin_id"].to_list()
    assert ids == before[:249] + [before[250], before[249]] + before[251:500]  # the ranking after the move
    assert fresh.calls == 4  # one inconsistent pass (a coin twice), one consistent pass


def test_pages_that_keep_shifting_still_give_each_coin_seen_once(fresh: FakeProviderServer) -> None:
    """The ranking moves after every page: #251 is on page 1 only while page 2 is read, and the reverse, so it is
    never seen; every coin that was seen is kept, once."""
    before = fresh.ranking()
    fresh.add_fault(Fault("shift", path="/coins/markets", rank=250, by=1, times=1000))
    p = local(fresh)
    snap = run(_use_local(p, p.top(500)))
    ids = snap.rows["coin_id"].to_list()
    assert len(ids) == len(set(ids))
    assert ids == before[:250] + before[251:500]  # the coin the pages never showed is the only one missing
    assert fresh.calls == 6  # three passes of two pages, none consistent


def test_history_from_the_fake_server_is_the_real_daily_data(fresh: FakeProviderServer) -> None:
    p = local(fresh)
    hist = run(_use_local(p, p.history("ethereum", dt.date(2025, 1, 1), dt.date(2025, 1, 31))))
    real = (
        pl.read_parquet(shared_file(COINGECKO_DAILY))
        .filter(
            (pl.col("coin_id") == "ethereum") & pl.col("date").is_between(dt.date(2025, 1, 1), dt.date(2025, 1, 31))
        )
        .sort("date")
    )
    assert hist.days["date"].to_list() == real["date"].to_list()
    assert hist.days["price"].to_list() == real["price_usd"].cast(pl.Float64).to_list()
    assert hist.days["market_cap"].to_list() == real["market_cap_usd"].cast(pl.Float64).to_list()


def test_server_refusal_of_old_history_is_a_clear_error(fresh: FakeProviderServer) -> None:
    """Even when the plan setting is wrong (pro), a vendor refusal names CoinGecko's own limit, as a plan limit
    (said once by a backfill, not once per coin)."""
    fresh.history_days = 365
    p = local(fresh)
    with pytest.raises(PlanLimitError, match=r"HTTP 401: .*within the past 365 days"):
        run(_use_local(p, p.history("bitcoin", dt.date(2020, 1, 1), dt.date(2020, 1, 31))))
    assert fresh.calls == 1


def test_category_members_in_one_call(fresh: FakeProviderServer) -> None:
    p = local(fresh)
    members = run(_use_local(p, p.category_members("stablecoins", n=20)))
    assert "tether" in members and "usd-coin" in members and "bitcoin" not in members
    assert fresh.calls == 1
    assert len(members) <= 20
