"""Live feature providers against recorded response shapes (respx): alternative.me, Coin Metrics community, FRED,
Blockchain.com charts, Stooq CSV; configurable base URLs, paging, missing values, errors, revisions."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import polars as pl
import pytest
import respx

from coinseason.errors import ProviderError, RetryableProviderError
from coinseason.features.catalog import FEATURE_SCHEMA
from coinseason.features.providers import (
    BlockchainChartsProvider,
    CoinMetricsProvider,
    FearGreedProvider,
    FredProvider,
    StooqProvider,
    with_revisions,
)
from coinseason.providers.http import OutboundPolicy

T = TypeVar("T")
FAST = OutboundPolicy(calls_per_minute=600, margin=0.0, max_attempts=2, backoff_base=0.0, backoff_cap=0.0)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@respx.mock
def test_fear_and_greed() -> None:
    # the shape of api.alternative.me/fng/: strings, Unix seconds at 00:00 UTC, newest first
    route = respx.get("https://api.alternative.me/fng/").mock(
        return_value=httpx.Response(
            200,
            json={
                "name": "Fear and Greed Index",
                "data": [
                    {"value": "10", "value_classification": "Extreme Fear", "timestamp": "1584057600"},
                    {"value": "14", "value_classification": "Extreme Fear", "timestamp": "1583971200"},
                ],
                "metadata": {"error": None},
            },
        )
    )
    rows = run(FearGreedProvider(policy=FAST).fetch(limit=2))
    assert route.calls[0].request.url.params["limit"] == "2"
    assert rows.schema == pl.Schema(FEATURE_SCHEMA)
    assert rows.rows() == [
        ("fng.value", dt.date(2020, 3, 12), utc("2020-03-13T00:00"), 14.0),
        ("fng.value", dt.date(2020, 3, 13), utc("2020-03-14T00:00"), 10.0),
    ]


@respx.mock
def test_coin_metrics_pages_and_nulls() -> None:
    base = "http://mirror.test/v4"
    first = {
        "data": [
            {"asset": "btc", "time": "2024-01-01T00:00:00.000000000Z", "AdrActCnt": "812345", "CapMVRVCur": "1.9"},
            {"asset": "btc", "time": "2024-01-02T00:00:00.000000000Z", "AdrActCnt": None, "CapMVRVCur": "2.0"},
        ],
        "next_page_token": "abc",
        "next_page_url": f"{base}/timeseries/asset-metrics?next_page_token=abc",
    }
    second = {"data": [{"asset": "btc", "time": "2024-01-03T00:00:00.000000000Z", "AdrActCnt": "800000"}]}
    route = respx.get(f"{base}/timeseries/asset-metrics").mock(
        side_effect=[httpx.Response(200, json=first), httpx.Response(200, json=second)]
    )
    rows = run(CoinMetricsProvider(base, policy=FAST).fetch("btc", start=dt.date(2024, 1, 1)))
    assert route.call_count == 2
    params = route.calls[0].request.url.params
    assert params["assets"] == "btc" and params["frequency"] == "1d" and params["start_time"] == "2024-01-01"
    assert "AdrActCnt" in params["metrics"].split(",")
    assert route.calls[1].request.url.params["next_page_token"] == "abc"  # noqa: S105 - a page cursor
    active = rows.filter(pl.col("series") == "btc_cm.adr_act_cnt")
    assert active.select("date", "value").rows() == [(dt.date(2024, 1, 1), 812345.0), (dt.date(2024, 1, 3), 800000.0)]
    assert active["known_at"][0] == utc("2024-01-02T06:00")
    assert rows.filter(pl.col("series") == "btc_cm.cap_mvrv_cur")["value"].to_list() == [1.9, 2.0]


@respx.mock
def test_fred_missing_values_and_key() -> None:
    route = respx.get("https://api.stlouisfed.org/fred/series/observations").mock(
        return_value=httpx.Response(
            200,
            json={
                "realtime_start": "2024-06-01",
                "observations": [
                    {
                        "realtime_start": "2024-06-01",
                        "realtime_end": "2024-06-01",
                        "date": "2020-03-09",
                        "value": "0.54",
                    },
                    {"realtime_start": "2024-06-01", "realtime_end": "2024-06-01", "date": "2020-03-10", "value": "."},
                ],
            },
        )
    )
    rows = run(FredProvider("k" * 32, policy=FAST).fetch("DGS10", start=dt.date(2020, 3, 1)))
    params = route.calls[0].request.url.params
    assert params["series_id"] == "DGS10" and params["file_type"] == "json" and params["api_key"] == "k" * 32
    assert rows.rows() == [("fred.dgs10_pct", dt.date(2020, 3, 9), utc("2020-03-10T21:15"), 0.54)]
    with pytest.raises(ProviderError, match="API key"):
        FredProvider("")


@respx.mock
def test_blockchain_charts() -> None:
    route = respx.get("https://api.blockchain.info/charts/n-transactions").mock(
        return_value=httpx.Response(
            200,
            json={
                "status": "ok",
                "name": "Confirmed Transactions Per Day",
                "unit": "Transactions",
                "period": "day",
                "values": [{"x": 1442534400, "y": 188330}, {"x": 1442620800, "y": 1.17999e5}],
            },
        )
    )
    rows = run(BlockchainChartsProvider(policy=FAST).fetch("n-transactions"))
    assert route.calls[0].request.url.params["sampled"] == "false"
    assert rows.select("date", "value").rows() == [(dt.date(2015, 9, 18), 188330.0), (dt.date(2015, 9, 19), 117999.0)]
    assert set(rows["series"]) == {"btc_bc.n_transactions"}


@respx.mock
def test_errors_name_the_provider() -> None:
    respx.get("https://api.alternative.me/fng/").mock(return_value=httpx.Response(200, json={"unexpected": 1}))
    with pytest.raises(ProviderError, match="alternative.me.*'data'"):
        run(FearGreedProvider(policy=FAST).fetch())
    respx.get("https://api.blockchain.info/charts/hash-rate").mock(
        return_value=httpx.Response(200, json={"values": [{"x": 1442534400, "y": "lots"}]})
    )
    with pytest.raises(ProviderError, match="not a number"):
        run(BlockchainChartsProvider(policy=FAST).fetch("hash-rate"))
    respx.get("https://community-api.coinmetrics.io/v4/timeseries/asset-metrics").mock(
        return_value=httpx.Response(503, text="busy")
    )
    with pytest.raises(RetryableProviderError):
        run(CoinMetricsProvider(policy=FAST).fetch("btc"))
    with pytest.raises(ProviderError, match="unsupported chart"):
        run(BlockchainChartsProvider(policy=FAST).fetch("price-of-tea"))


@respx.mock
def test_cli_fetch_into_the_store(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from coinseason.cli import app
    from coinseason.store import DuckDBStore

    respx.get("http://mirror.test/fng/").mock(
        return_value=httpx.Response(200, json={"data": [{"value": "47", "timestamp": "1714521600"}]})
    )
    db = str(tmp_path / "s.duckdb")
    args = ["features", "fetch", "fear-greed", "--base-url", "http://mirror.test", "--db", db]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    assert CliRunner().invoke(app, args).output.count("1 unchanged") == 1
    store = DuckDBStore(db)
    assert store.features().rows() == [("fng.value", dt.date(2024, 5, 1), utc("2024-05-02T00:00"), 47.0)]
    store.close()


STOOQ_SPX = (
    "Date,Open,High,Low,Close,Volume\n"
    "2024-01-02,4745.2,4754.33,4722.67,4742.83,2748070000\n"
    "2024-01-03,4725.07,4729.29,4699.71,4704.81,2808490000\n"
)


@respx.mock
def test_stooq_csv_and_errors() -> None:
    route = respx.get("http://stooq.test/q/d/l/").mock(return_value=httpx.Response(200, text=STOOQ_SPX))
    rows = run(StooqProvider("http://stooq.test/").fetch("^spx"))
    assert route.calls[0].request.url.params["s"] == "^spx" and route.calls[0].request.url.params["i"] == "d"
    assert rows.schema == pl.Schema(FEATURE_SCHEMA)
    # a US close of D is used from noon UTC of D+1
    assert rows.rows() == [
        ("yahoo.sp500_close", dt.date(2024, 1, 2), utc("2024-01-03T12:00"), 4742.83),
        ("yahoo.sp500_close", dt.date(2024, 1, 3), utc("2024-01-04T12:00"), 4704.81),
    ]
    later = run(StooqProvider("http://stooq.test").fetch("gld.us", start=dt.date(2024, 1, 3)))
    assert later.select("series", "date").rows() == [("gld.close_usd", dt.date(2024, 1, 3))]
    respx.get("http://stooq.test/q/d/l/").mock(return_value=httpx.Response(200, text="No data"))
    with pytest.raises(ProviderError, match="stooq dx.f: not a daily CSV"):
        run(StooqProvider("http://stooq.test").fetch("dx.f"))
    respx.get("http://stooq.test/q/d/l/").mock(return_value=httpx.Response(503, text="busy"))
    with pytest.raises(RetryableProviderError, match="503"):
        run(StooqProvider("http://stooq.test").fetch("^spx"))
    with pytest.raises(ProviderError, match="unsupported symbol"):
        run(StooqProvider("http://stooq.test").fetch("^tea"))


@respx.mock
def test_fred_sp500_feeds_the_sp500_series() -> None:
    respx.get("https://api.stlouisfed.org/fred/series/observations").mock(
        return_value=httpx.Response(200, json={"observations": [{"date": "2024-01-02", "value": "4742.83"}]})
    )
    rows = run(FredProvider("k" * 32, policy=FAST).fetch("SP500"))
    assert rows.select("series", "date", "value").rows() == [("yahoo.sp500_close", dt.date(2024, 1, 2), 4742.83)]


def test_with_revisions_keeps_the_original() -> None:
    fetched = pl.DataFrame(
        {
            "series": ["btc_cm.adr_act_cnt"] * 3,
            "date": [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)],
            "known_at": [utc("2024-01-02T06:00"), utc("2024-01-03T06:00"), utc("2024-01-04T06:00")],
            "value": [999999.0, 810000.0, 820000.0],
        },
        schema=FEATURE_SCHEMA,
    )
    stored = pl.DataFrame(
        {
            "series": ["btc_cm.adr_act_cnt"] * 3,
            "date": [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 2)],
            "known_at": [utc("2024-01-02T06:00"), utc("2024-01-03T06:00"), utc("2024-01-20T00:00")],
            "value": [800000.0, 805000.0, 810000.0],
        },
        schema=FEATURE_SCHEMA,
    )
    out = with_revisions(fetched, stored, utc("2024-02-01T08:30"))
    assert out.schema == pl.Schema(FEATURE_SCHEMA)
    assert out.rows() == [
        # changed: a revision known from now
        ("btc_cm.adr_act_cnt", dt.date(2024, 1, 1), utc("2024-02-01T08:30"), 999999.0),
        # equal to the latest stored revision: that row again (unchanged)
        ("btc_cm.adr_act_cnt", dt.date(2024, 1, 2), utc("2024-01-20T00:00"), 810000.0),
        # new day: its publication time
        ("btc_cm.adr_act_cnt", dt.date(2024, 1, 3), utc("2024-01-04T06:00"), 820000.0),
    ]
    # a revision fetched before the value's own publication time is known from the publication time
    early = with_revisions(fetched.head(1), stored, utc("2024-01-01T00:00"))
    assert early["known_at"].to_list() == [utc("2024-01-02T06:00")]


@respx.mock
def test_cli_fetch_keeps_revised_values_point_in_time(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from coinseason.cli import app
    from coinseason.store import DuckDBStore

    db = str(tmp_path / "s.duckdb")
    args = ["features", "fetch", "stooq", "--base-url", "http://stooq.test", "--db", db]
    route = respx.get("http://stooq.test/q/d/l/").mock(return_value=httpx.Response(200, text=STOOQ_SPX))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert route.call_count == 3  # S&P 500, GLD, dollar index
    route.mock(return_value=httpx.Response(200, text=STOOQ_SPX.replace("4742.83", "4750.00")))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    store = DuckDBStore(db)
    try:
        spx = store.features(("yahoo.sp500_close",))
        day = spx.filter(pl.col("date") == dt.date(2024, 1, 2)).sort("known_at")
        assert day["value"].to_list() == [4742.83, 4750.0]  # the original stays, the revision is a new row
        assert day["known_at"][0] == utc("2024-01-03T12:00") and day["known_at"][1] > utc("2025-01-01T00:00")
        then = store.features(("yahoo.sp500_close",), known_by=utc("2024-06-01T00:00"))
        assert then.filter(pl.col("date") == dt.date(2024, 1, 2))["value"].to_list() == [4742.83]
        assert spx.filter(pl.col("date") == dt.date(2024, 1, 3)).height == 1
    finally:
        store.close()
