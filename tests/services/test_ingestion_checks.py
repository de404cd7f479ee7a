"""Ingestion cross-checked against the exchange median, and each source's heartbeat (stale when no snapshot landed
for longer than it), with an injected clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import polars as pl
import pytest

from coinseason.data.gates import FLAG_SOURCE_DEVIATION, REASON_PRICE_DEVIATION, REASON_PRICE_DISPUTED
from coinseason.data.tidy import FLAG_MCAP_SPIKE
from coinseason.errors import RetryableProviderError
from coinseason.live.binance import Ticker
from coinseason.live.reference import ExchangeReference
from coinseason.live.symbols import build_symbol_map
from coinseason.providers.base import MarketSnapshot
from coinseason.services.ingestion import IngestConfig, IngestionService, PriceReference, Schedule
from coinseason.store import DuckDBStore
from tests.conftest import COINGECKO_DAILY, shared_file
from tests.services.ingest_fakes import FakeProvider, real_daily
from tests.services.test_ingestion import Clock, at, run_loop, stored

DAY = dt.date(2024, 2, 1)
REASON = REASON_PRICE_DEVIATION


@pytest.fixture(scope="module")
def real() -> pl.DataFrame:
    return real_daily(shared_file(COINGECKO_DAILY))


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def exchange(real: pl.DataFrame, seconds: Monotonic, **quotes: tuple[float, ...]) -> ExchangeReference:
    """An exchange with every coin of ``real`` quoted in USDT at its price of ``DAY``, except the symbols of
    ``quotes``: their prices in USDT, FDUSD, USDC (as factors of the true price)."""
    coins = real.select("coin_id", "symbol").unique()
    ref = ExchangeReference(build_symbol_map(coins), stale_after=60.0, clock=seconds)
    day = real.filter(pl.col("date") == DAY)
    ticks = []
    for symbol, price in day.select("symbol", "price").iter_rows():
        for factor, quote in zip(quotes.get(symbol, (1.0,)), ("USDT", "FDUSD", "USDC"), strict=False):
            ticks.append(Ticker(f"{symbol.upper()}{quote}", price * factor, 1))
    ref.apply(ticks, now=seconds.now)
    return ref


def test_the_exchange_median_is_over_the_fresh_quotes_of_a_coin() -> None:
    coins = pl.DataFrame({"coin_id": ["bitcoin", "ripple"], "symbol": ["btc", "xrp"]})
    seconds = Monotonic()
    ref = ExchangeReference(build_symbol_map(coins), stale_after=60.0, clock=seconds)
    ref.apply([Ticker("XRPUSDT", 1.00, 1), Ticker("XRPFDUSD", 1.02, 1), Ticker("XRPUSDC", 1.50, 1)], now=0.0)
    ref.apply([Ticker("BTCUSDT", 100.0, 2), Ticker("BTCBTC", 1.0, 2), Ticker("BTCEUR", 90.0, 2)], now=0.0)
    assert dict(ref.prices().select("coin_id", "price").iter_rows()) == {"bitcoin": 100.0, "ripple": 1.02}
    assert ref.prices()["symbol"].to_list() == ["btc", "xrp"]
    ref.apply([Ticker("XRPUSDC", 1.10, 3)], now=30.0)
    seconds.now = 70.0  # USDT and FDUSD quotes (t=0) are stale now; USDC's (t=30) is not; BTC has none fresh
    assert ref.prices().rows() == [("ripple", "xrp", 1.10)]
    seconds.now = 200.0
    assert ref.prices().height == 0


def test_with_two_sources_a_price_off_the_exchange_median_is_flagged_not_deleted(
    store: DuckDBStore, real: pl.DataFrame
) -> None:
    clock = Clock(at(DAY, 0, 1))
    # CoinGecko says ripple is 1.5x and dogecoin 1.02x their exchange prices. Two sources: the median is their mean,
    # ripple is 0.5 / 2.5 = 20 % off it, dogecoin 1 % (kept). Two sources cannot tell which is wrong: ripple is
    # kept, flagged out of the indices. Cardano's exchange quotes are 1.0, 1.02 and 1.5x: their median is 1.02x,
    # so CoinGecko's price is 1 % off (kept unflagged; the mean, 1.17x, would flag it).
    primary = real.with_columns(
        pl.when(pl.col("coin_id") == "ripple")
        .then(pl.col("price") * 1.5)
        .when(pl.col("coin_id") == "dogecoin")
        .then(pl.col("price") * 1.02)
        .otherwise("price")
        .alias("price")
    )
    seconds = Monotonic()
    ref = exchange(real, seconds, ada=(1.0, 1.02, 1.5))
    seconds.now = 30.0
    ingest = IngestionService(
        store, FakeProvider(primary, clock=clock), clock=clock, config=IngestConfig(top=8), exchange=ref
    )
    report = asyncio.run(ingest.snapshot("daily"))
    held = stored(store)
    assert {"ripple", "dogecoin", "cardano", "bitcoin"} <= set(held["coin_id"].to_list())
    flagged = held.filter((pl.col("flags") & FLAG_SOURCE_DEVIATION) > 0)
    assert flagged["coin_id"].to_list() == ["ripple"]
    # a disputed row is kept out of the indices: it carries the flag the engine reads too
    assert held.filter((pl.col("flags") & FLAG_MCAP_SPIKE) > 0)["coin_id"].to_list() == ["ripple"]
    assert report.rejections == {}
    assert report.flagged == {REASON_PRICE_DISPUTED: 1}  # the exchange gives no market cap: none is judged by it
    assert ingest.status().flagged == {REASON_PRICE_DISPUTED: 1}


def test_with_three_sources_the_outlier_primary_price_is_rejected(store: DuckDBStore, real: pl.DataFrame) -> None:
    clock = Clock(at(DAY, 0, 1))
    primary = real.with_columns(
        pl.when(pl.col("coin_id") == "ripple").then(pl.col("price") * 1.5).otherwise("price").alias("price")
    )
    cmc = real.with_columns(("cmc:" + pl.col("coin_id")).alias("coin_id"))
    seconds = Monotonic()
    ref = exchange(real, seconds)
    ingest = IngestionService(
        store,
        FakeProvider(primary, clock=clock),
        clock=clock,
        config=IngestConfig(top=8),
        exchange=ref,
        references=[FakeProvider(cmc, clock=clock, source="cmc")],
    )
    report = asyncio.run(ingest.snapshot("daily"))
    # CoinGecko 1.5x, CoinMarketCap and the exchange 1x: the median is 1x, CoinGecko is 50 % off it, the outlier
    assert report.rejections == {REASON: 1}
    assert report.flagged == {}
    assert "ripple" not in stored(store)["coin_id"].to_list()


def test_without_fresh_exchange_prices_nothing_is_judged_by_the_exchange(
    store: DuckDBStore, real: pl.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(at(DAY, 0, 1))
    primary = real.with_columns(
        pl.when(pl.col("coin_id") == "ripple").then(pl.col("price") * 1.5).otherwise("price").alias("price")
    )
    seconds = Monotonic()
    ref = exchange(real, seconds)
    seconds.now = 61.0  # every quote is older than its 60 s: the feed is down
    ingest = IngestionService(
        store, FakeProvider(primary, clock=clock), clock=clock, config=IngestConfig(top=8), exchange=ref
    )
    with caplog.at_level(logging.WARNING, logger="coinseason.ingest"):
        report = asyncio.run(ingest.snapshot("daily"))
    assert report.rejected == 0
    assert "ripple" in stored(store)["coin_id"].to_list()
    assert "cross-check source exchange has no fresh price" in caplog.text


def test_the_exchange_reference_is_a_price_reference() -> None:
    ref: PriceReference = ExchangeReference()  # mypy checks the protocol; an unmapped one has no price
    assert ref.source == "exchange"
    assert ref.prices().height == 0


class Breakable(FakeProvider):
    """A provider whose snapshots fail while ``broken``."""

    broken = False

    async def top(self, n: int) -> MarketSnapshot:
        if self.broken:
            raise RetryableProviderError("fake: /coins/markets answered HTTP 503")
        return await super().top(n)


def test_a_source_without_a_snapshot_for_longer_than_its_heartbeat_is_stale_then_recovers(
    store: DuckDBStore, real: pl.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(at(DAY, 0, 0))
    provider = Breakable(real, clock=clock)
    config = IngestConfig(
        top=3,
        schedule=Schedule(dt.timedelta(minutes=15)),
        retry_after=dt.timedelta(minutes=1),
    )
    assert config.gates.heartbeat == dt.timedelta(hours=1)  # COINSEASON_INGEST_HEARTBEAT_MINUTES' default
    ingest = IngestionService(store, provider, clock=clock, config=config)
    first = ingest.status()
    assert (first.stale, first.last_success, first.snapshots) == (False, None, 0)

    with caplog.at_level(logging.INFO, logger="coinseason.ingest"):
        run_loop(ingest, clock, until=at(DAY, 0, 50))
        ok = ingest.status()
        assert not ok.stale
        assert ok.last_success == at(DAY, 0, 45)  # the daily at 00:00, intraday at 00:15, 00:30, 00:45
        assert ok.snapshots == 4

        provider.broken = True  # from 00:50 every snapshot fails
        run_loop(ingest, clock, until=at(DAY, 1, 45))
        assert not ingest.status().stale  # 1 h since 00:45 is not over yet
        run_loop(ingest, clock, until=at(DAY, 1, 47))
        down = ingest.status()
        assert down.stale
        assert down.last_success == at(DAY, 0, 45)
        assert down.last_error == "RetryableProviderError: fake: /coins/markets answered HTTP 503"
        assert down.failures >= 50  # retried every minute
        run_loop(ingest, clock, until=at(DAY, 3))
        assert ingest.status().stale

        provider.broken = False
        run_loop(ingest, clock, until=at(DAY, 3, 2))
        back = ingest.status()
        assert not back.stale
        assert back.last_error is None
        assert back.to_dict()["last_success"] == at(DAY, 3).isoformat()
    went_stale = [r for r in caplog.records if "is stale" in r.getMessage()]
    recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(went_stale) == 1 and len(recovered) == 1  # once each way, not at every failed retry
    assert "last error: RetryableProviderError" in went_stale[0].getMessage()


def test_a_standby_ingestor_sees_the_holders_snapshots_in_the_store(store: DuckDBStore, real: pl.DataFrame) -> None:
    clock = Clock(at(DAY, 0, 0))
    standby = IngestionService(store, FakeProvider(real, clock=clock), clock=clock, config=IngestConfig(top=3))
    clock.now = at(DAY, 0, 50)
    holder = IngestionService(store, FakeProvider(real, clock=clock), clock=clock, config=IngestConfig(top=3))
    asyncio.run(holder.snapshot("daily"))
    holder.release_lease()
    assert store.acquire_lease(holder.lease, "another-replica", clock.now, dt.timedelta(hours=5))
    clock.now = at(DAY, 1, 30)
    assert standby.status().stale  # on its own: 1.5 h since it started, and nothing landed by its hand
    run_loop(standby, clock, until=at(DAY, 1, 31))  # stands by (the lease is held) and reads the store's cursor
    status = standby.status()
    assert status.snapshots == 0
    assert status.last_success == at(DAY, 0, 50)
    assert not status.stale  # the holder's snapshot of 00:50 is 41 min old


def test_sources_with_their_own_ids_are_matched_by_symbol_and_by_name_where_the_symbol_is_shared(
    store: DuckDBStore, real: pl.DataFrame
) -> None:
    clock = Clock(at(DAY, 0, 1))
    primary = real.with_columns(
        pl.when(pl.col("coin_id").is_in(["cardano", "ripple"]))
        .then(pl.col("price") * 1.5)
        .otherwise("price")
        .alias("price")
    )
    # CoinMarketCap's view: its own ids, XRP under another name, and a second coin with Cardano's symbol ADA
    cmc = real.with_columns(
        ("cmc:" + pl.col("coin_id")).alias("coin_id"),
        pl.when(pl.col("coin_id") == "ripple").then(pl.lit("XRP Ledger")).otherwise("name").alias("name"),
    )
    other_ada = cmc.filter(pl.col("coin_id") == "cmc:cardano").with_columns(
        pl.lit("cmc:999").alias("coin_id"), pl.lit("Ada Token").alias("name"), pl.col("price") * 3
    )
    reference = FakeProvider(pl.concat([cmc, other_ada]), clock=clock, source="cmc")
    ingest = IngestionService(
        store, FakeProvider(primary, clock=clock), clock=clock, config=IngestConfig(top=10), references=[reference]
    )
    report = asyncio.run(ingest.snapshot("daily"))
    # ripple: its symbol is unique, matched whatever the name; cardano: ADA is shared at CMC, told apart by the
    # name "Cardano" (by symbol alone it would match nothing and pass unchecked). Each is 1.5x: 20 % off the median
    # of two sources, flagged (two sources cannot say which one is wrong).
    assert report.rejections == {}
    assert report.flagged == {REASON_PRICE_DISPUTED: 2}
    flagged = stored(store).filter((pl.col("flags") & FLAG_SOURCE_DEVIATION) > 0)
    assert sorted(flagged["coin_id"].to_list()) == ["cardano", "ripple"]
