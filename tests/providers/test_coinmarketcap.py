"""CoinMarketCap provider: documented response shapes (small inline fixtures), status.error_code on every answer,
plans and history, and the fake server built from the real CMC top-200 snapshots."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import polars as pl
import pytest
import respx

from coinseason.errors import ConfigError, ProviderError, RetryableProviderError
from coinseason.providers.base import HISTORY_SCHEMA, SNAPSHOT_SCHEMA, MarketProvider
from coinseason.providers.coinmarketcap import CoinMarketCapProvider
from coinseason.providers.http import OutboundPolicy, RateLimitedError
from coinseason.settings import CmcSettings
from tests.conftest import CMC_SNAPSHOTS, shared_file
from tests.fakes.clock import FakeTime
from tests.fakes.provider_server import FakeProviderServer, ProviderData, in_process_provider

T = TypeVar("T")
URL = "https://pro-api.coinmarketcap.com"
NOW = dt.datetime(2024, 12, 12, 8, 0, tzinfo=dt.UTC)


def status(code: int = 0, message: str | None = None, credits: int = 1) -> dict[str, Any]:
    return {
        "timestamp": "2024-12-12T08:00:00.000Z",
        "error_code": code,
        "error_message": message,
        "elapsed": 10,
        "credit_count": credits,
        "notice": None,
    }


LISTINGS = {
    "data": [
        {
            "id": 1,
            "name": "Bitcoin",
            "symbol": "BTC",
            "slug": "bitcoin",
            "cmc_rank": 1,
            "circulating_supply": 19794440,
            "total_supply": 19794440,
            "max_supply": 21000000,
            "last_updated": "2024-12-12T07:59:00.000Z",
            "quote": {
                "USD": {
                    "price": 101173.03,
                    "volume_24h": 85391409935.84,
                    "percent_change_24h": 4.65,
                    "market_cap": 2002663524311.69,
                    "last_updated": "2024-12-12T07:58:00.000Z",
                }
            },
        },
        {
            "id": 1027,
            "name": "Ethereum",
            "symbol": "ETH",
            "slug": "ethereum",
            "cmc_rank": 2,
            "circulating_supply": 120444873,
            "last_updated": "2024-12-12T07:59:00.000Z",
            "quote": {
                "USD": {
                    "price": 3832.82,
                    "volume_24h": 0,
                    "market_cap": 461643766660.01,
                    "last_updated": "2024-12-12T07:58:00.000Z",
                }
            },
        },
    ],
    "status": {**status(), "total_count": 9999},
}
GLOBAL = {
    "data": {
        "active_cryptocurrencies": 9999,
        "btc_dominance": 56.13,
        "eth_dominance": 12.94,
        "last_updated": "2024-12-12T07:55:00.000Z",
        "quote": {"USD": {"total_market_cap": 3.56e12, "total_volume_24h": 2.1e11, "last_updated": "2024-12-12"}},
    },
    "status": status(),
}
HISTORICAL = {
    "data": {
        "1": {
            "id": 1,
            "name": "Bitcoin",
            "symbol": "BTC",
            "is_active": 1,
            "is_fiat": 0,
            "quotes": [
                {
                    "timestamp": "2024-12-01T23:59:00.000Z",
                    "quote": {
                        "USD": {
                            "price": 97276.0,
                            "volume_24h": 4.1e10,
                            "market_cap": 1.925e12,
                            "timestamp": "2024-12-01T23:59:00.000Z",
                        }
                    },
                },
                {
                    "timestamp": "2024-12-02T23:59:00.000Z",
                    "quote": {
                        "USD": {
                            "price": 95865.0,
                            "volume_24h": 7.0e10,
                            "market_cap": 1.897e12,
                            "timestamp": "2024-12-02T23:59:00.000Z",
                        }
                    },
                },
            ],
        }
    },
    "status": status(credits=1),
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def cmc(plan: str = "basic", **kw: Any) -> CoinMarketCapProvider:
    fake = FakeTime()
    return CoinMarketCapProvider(
        "cmc-secret", plan, clock=lambda: NOW, monotonic=fake.monotonic, sleep=fake.sleep, rng=random.Random(3), **kw
    )


async def _use(p: CoinMarketCapProvider, coro: Coroutine[Any, Any, T]) -> T:
    try:
        return await coro
    finally:
        await p.aclose()


@respx.mock
def test_listings_become_a_snapshot_with_cmc_ids() -> None:
    route = respx.get(f"{URL}/v1/cryptocurrency/listings/latest").mock(return_value=httpx.Response(200, json=LISTINGS))
    p = cmc()
    snap = run(_use(p, p.top(2)))
    request = route.calls[0].request
    assert request.headers["X-CMC_PRO_API_KEY"] == "cmc-secret" and "cmc-secret" not in str(request.url)
    assert (request.url.params["start"], request.url.params["limit"], request.url.params["convert"]) == (
        "1",
        "2",
        "USD",
    )
    assert snap.source == "cmc" and snap.observed_at == NOW
    assert snap.rows.schema == pl.Schema(SNAPSHOT_SCHEMA)
    assert snap.rows.to_dicts() == [
        {
            "coin_id": "cmc:1",
            "symbol": "BTC",
            "name": "Bitcoin",
            "price": 101173.03,
            "market_cap": 2002663524311.69,
            "volume": 85391409935.84,
            "rank": 1,
            "circulating_supply": 19794440.0,
            "last_updated": dt.datetime(2024, 12, 12, 7, 58, tzinfo=dt.UTC),
        },
        {
            "coin_id": "cmc:1027",
            "symbol": "ETH",
            "name": "Ethereum",
            "price": 3832.82,
            "market_cap": 461643766660.01,
            "volume": None,  # 0 volume: unknown, not zero
            "rank": 2,
            "circulating_supply": 120444873.0,
            "last_updated": dt.datetime(2024, 12, 12, 7, 58, tzinfo=dt.UTC),
        },
    ]
    assert p.credits_used == 1


@respx.mock
def test_global_metrics_give_cmc_btc_dominance() -> None:
    respx.get(f"{URL}/v1/global-metrics/quotes/latest").mock(return_value=httpx.Response(200, json=GLOBAL))
    p = cmc()
    snap = run(_use(p, p.global_snapshot()))
    assert (snap.source, snap.total_market_cap, snap.btc_dominance, snap.eth_dominance) == (
        "cmc",
        3.56e12,
        56.13,
        12.94,
    )
    assert snap.observed_at == dt.datetime(2024, 12, 12, 7, 55, tzinfo=dt.UTC)


@respx.mock
def test_error_code_1008_on_http_200_is_retried() -> None:
    route = respx.get(f"{URL}/v1/global-metrics/quotes/latest").mock(
        side_effect=[
            httpx.Response(
                200, json={"status": status(1008, "You've exceeded your API Key's HTTP request rate limit.")}
            ),
            httpx.Response(200, json=GLOBAL),
        ]
    )
    p = cmc()
    assert run(_use(p, p.global_snapshot())).btc_dominance == 56.13
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("http_status", "code", "words"),
    [
        (429, 1009, "daily or monthly reset"),
        (429, 1010, "daily or monthly reset"),
        (401, 1001, "This API Key is invalid"),
        (402, 1003, "error 1003"),
        (403, 1006, "plan does not include this endpoint"),
        (200, 1010, "daily or monthly reset"),
    ],
)
@respx.mock
def test_quota_and_key_errors_are_raised_at_once(http_status: int, code: int, words: str) -> None:
    message = "This API Key is invalid." if code == 1001 else f"vendor says {code}"
    route = respx.get(f"{URL}/v1/global-metrics/quotes/latest").mock(
        return_value=httpx.Response(http_status, json={"status": status(code, message, credits=0)})
    )
    p = cmc()
    with pytest.raises(ProviderError, match=words) as err:
        run(_use(p, p.global_snapshot()))
    assert not isinstance(err.value, RetryableProviderError)
    assert f"error {code} (HTTP {http_status})" in str(err.value)
    assert route.call_count == 1


@respx.mock
def test_rate_limit_429_with_1008_waits_and_gives_up_clearly() -> None:
    route = respx.get(f"{URL}/v1/global-metrics/quotes/latest").mock(
        return_value=httpx.Response(429, json={"status": status(1008, "minute limit")}, headers={"Retry-After": "2"})
    )
    p = cmc()
    with pytest.raises(RateLimitedError, match=r"error 1008 .*minute limit; retry after 2 s.*gave up after 4"):
        run(_use(p, p.global_snapshot()))
    assert route.call_count == 4


@respx.mock
def test_5xx_status_code_is_retryable() -> None:
    route = respx.get(f"{URL}/v1/global-metrics/quotes/latest").mock(
        side_effect=[httpx.Response(500, json={"status": status(500, "Internal")}), httpx.Response(200, json=GLOBAL)]
    )
    p = cmc()
    assert run(_use(p, p.global_snapshot())).total_market_cap == 3.56e12
    assert route.call_count == 2


@respx.mock
def test_history_on_a_plan_that_has_it() -> None:
    route = respx.get(f"{URL}/v2/cryptocurrency/quotes/historical").mock(
        return_value=httpx.Response(200, json=HISTORICAL)
    )
    p = cmc("hobbyist")
    hist = run(_use(p, p.history("cmc:1", dt.date(2024, 12, 1), dt.date(2024, 12, 2))))
    params = route.calls[0].request.url.params
    assert (params["id"], params["interval"], params["count"]) == ("1", "daily", "2")
    assert params["time_start"] == "2024-12-01T00:00:00Z" and params["time_end"] == "2024-12-02T23:59:59Z"
    assert hist.days.schema == pl.Schema(HISTORY_SCHEMA)
    assert hist.days.rows() == [
        (dt.date(2024, 12, 1), 97276.0, 1.925e12, 4.1e10),
        (dt.date(2024, 12, 2), 95865.0, 1.897e12, 7.0e10),
    ]


def test_basic_plan_has_no_history_and_says_so() -> None:
    p = cmc("basic")
    with pytest.raises(ProviderError, match="basic plan has no historical quotes"):
        run(_use(p, p.history("cmc:1", dt.date(2024, 12, 1), dt.date(2024, 12, 2))))
    assert p.http.requests_sent == 0


def test_history_past_the_plan_names_the_limit() -> None:
    p = cmc("hobbyist")
    with pytest.raises(ProviderError, match=r"serves history only 365 days back \(from 2023-12-13\)"):
        run(_use(p, p.history("cmc:1", dt.date(2023, 1, 1), dt.date(2023, 1, 2))))


@respx.mock
def test_a_plan_that_refuses_the_endpoint_anyway_is_a_clear_error() -> None:
    respx.get(f"{URL}/v2/cryptocurrency/quotes/historical").mock(
        return_value=httpx.Response(
            403, json={"status": status(1006, "Your API Key subscription plan doesn't support this endpoint.", 0)}
        )
    )
    p = cmc("enterprise")
    with pytest.raises(ProviderError, match="error 1006 .*doesn't support this endpoint"):
        run(_use(p, p.history("cmc:1", dt.date(2024, 12, 1), dt.date(2024, 12, 2))))


def test_ids_keys_and_settings() -> None:
    with pytest.raises(ConfigError, match="needs an API key"):
        CoinMarketCapProvider(None)
    p = cmc("hobbyist")
    with pytest.raises(ConfigError, match="cmc:<number>"):
        run(_use(p, p.history("btc@2013-04-28", dt.date(2024, 12, 1), dt.date(2024, 12, 2))))
    settings = CmcSettings(api_key="k", plan="standard", url="http://127.0.0.1:9", calls_per_minute=7)
    q = CoinMarketCapProvider.from_settings(settings)
    provider: MarketProvider = q
    assert provider.plan.base_url == "http://127.0.0.1:9" and provider.plan.calls_per_minute == 7
    assert q.http.policy.calls_per_minute == 7 and provider.plan.history_days == 1825
    run(q.aclose())


# ---------------------------------------------------------------------------------------------- the fake server


@pytest.fixture
def server() -> FakeProviderServer:
    """The fake server in process (no socket)."""
    shared_file(CMC_SNAPSHOTS)
    return in_process_provider(ProviderData.shared(), cmc_history=True, now=lambda: NOW)


async def _use_local(p: CoinMarketCapProvider, coro: Coroutine[Any, Any, T]) -> T:
    try:
        return await coro
    finally:
        await p.aclose()
        await p.http._client.aclose()  # the in-process client is the test's


def test_top_200_from_the_real_snapshot(server: FakeProviderServer) -> None:
    day = pl.read_parquet(shared_file(CMC_SNAPSHOTS)).filter(pl.col("date") == dt.date(2024, 12, 11)).sort("rank")
    p = cmc(base_url=server.cmc_url, policy=OutboundPolicy(calls_per_minute=600), client=server.client())
    snap = run(_use_local(p, p.top(200)))
    assert server.calls == 1
    assert snap.rows["symbol"].to_list() == day["symbol"].to_list()
    assert snap.rows["price"].to_list() == day["price_usd"].to_list()
    assert snap.rows["coin_id"][:2].to_list() == ["cmc:1", "cmc:1027"]  # BTC and ETH keep CMC's real ids


def test_history_and_global_from_the_fake_server(server: FakeProviderServer) -> None:
    real = pl.read_parquet(shared_file(CMC_SNAPSHOTS))
    btc = real.filter((pl.col("symbol") == "BTC") & (pl.col("date") >= dt.date(2024, 12, 1))).sort("date")
    day = real.filter(pl.col("date") == dt.date(2024, 12, 11))
    p = cmc("hobbyist", base_url=server.cmc_url, policy=OutboundPolicy(calls_per_minute=600), client=server.client())

    async def calls() -> tuple[Any, Any]:
        return await p.history("cmc:1", dt.date(2024, 12, 1), dt.date(2024, 12, 11)), await p.global_snapshot()

    hist, glob = run(_use_local(p, calls()))
    assert hist.days["price"].to_list() == btc["price_usd"].to_list()
    btc_cap = btc["market_cap_usd"][-1]
    assert glob.btc_dominance == pytest.approx(100 * btc_cap / day["market_cap_usd"].sum(), rel=1e-12)
