"""Ingestion faults the first version let through: a price glitch, a coin that stops existing, a backfill over
stored snapshots, a snapshot that stored nothing, two sources that disagree."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from pathlib import Path

import polars as pl
import pytest

from coinseason.data.gates import REASON_PENDING, REASON_PRICE_SPIKE, REASON_STALE
from coinseason.data.tidy import FLAG_MCAP_SPIKE, TokenClass
from coinseason.errors import ProviderError, RetryableProviderError, SnapshotRejected
from coinseason.providers.base import CoinHistory, GlobalSnapshot, MarketSnapshot
from coinseason.providers.coingecko import CoinGeckoProvider
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.ingestion import IngestConfig, IngestionService, IngestReport
from coinseason.services.ingestion.categories import EXCLUSION_CATEGORIES
from coinseason.store import DuckDBStore, Store
from tests.conftest import COINGECKO_DAILY, SMALL_MARKET_DAYS, shared_file
from tests.fakes.provider_server import FakeProviderServer, ProviderData, in_process_provider
from tests.services.ingest_fakes import REAL_COINS, FakeProvider, small_daily
from tests.services.test_ingestion import Clock, at, service

SPIKE_DAY = SMALL_MARKET_DAYS[5]


def glitched(coin: str = "fast", factor: float = 1000.0) -> pl.DataFrame:
    """The small market with one coin's price and market cap ``factor``× on :data:`SPIKE_DAY`."""
    hit = (pl.col("coin_id") == coin) & (pl.col("date") == SPIKE_DAY)
    return small_daily().with_columns(
        pl.when(hit).then(pl.col(c) * factor).otherwise(c).alias(c) for c in ("price", "market_cap")
    )


def hand_indices(store: Store) -> tuple[list[float], list[float]]:
    """The 3-day index over the top 2 (default exclusions) and BTC dominance over every coin, per day."""
    analytics = AnalyticsService(store)
    season = analytics.season_history(SeasonQuery(top=2, window=3), source="coingecko")
    dominance = analytics.dominance_history(source="coingecko", exclude="none")
    btc = [dominance.filter(pl.col("date") == day)["value"][0] for day in dominance["date"].unique().sort()]
    return season["value"].drop_nulls().to_list(), btc


def expected_btc_dominance() -> list[float]:
    """By hand: BTC 1e9 1.1^i, fast 1e8 1.2^i, slow 5e7, tether 9e8; on the glitch day fast's market cap is the
    day before's (the gap fill), not the glitch."""
    out = []
    for i, day in enumerate(SMALL_MARKET_DAYS):
        fast = 1e8 * 1.2 ** (i - 1 if day == SPIKE_DAY else i)
        out.append(100 * 1e9 * 1.1**i / (1e9 * 1.1**i + fast + 5e7 + 9e8))
    return out


def test_a_1000x_price_and_cap_glitch_in_a_backfill_moves_no_index_on_any_day(tmp_path: Path) -> None:
    clock = Clock(at(SMALL_MARKET_DAYS[-1], 0, 1))
    store = DuckDBStore(tmp_path / "glitch.duckdb")
    asyncio.run(
        service(store, FakeProvider(glitched(), clock=clock), clock).backfill(top=4, since=SMALL_MARKET_DAYS[0])
    )
    season, btc = hand_indices(store)
    # fast +20 %/day beats BTC's +10 %/day on every day with 3 days of history: the index is 100 on all 7 days
    # (the glitch, priced in, would make fast's return from the spike day -99.9 %: 0 on days 8 and 9)
    assert season == [100.0] * 7
    assert btc == pytest.approx(expected_btc_dominance(), rel=1e-12)
    flagged = store.observations("coingecko").filter((pl.col("flags") & FLAG_MCAP_SPIKE) > 0)
    assert flagged.select("coin_id", "date").rows() == [("fast", SPIKE_DAY)]


def test_a_price_only_glitch_is_flagged_as_a_price_spike(tmp_path: Path) -> None:
    hit = (pl.col("coin_id") == "fast") & (pl.col("date") == SPIKE_DAY)
    daily = small_daily().with_columns(pl.when(hit).then(pl.col("price") * 1000).otherwise("price").alias("price"))
    clock = Clock(at(SMALL_MARKET_DAYS[-1], 0, 1))
    store = DuckDBStore(tmp_path / "price.duckdb")
    report = asyncio.run(service(store, FakeProvider(daily, clock=clock), clock).backfill(top=4))
    assert report.flagged[REASON_PRICE_SPIKE] == 1
    season, btc = hand_indices(store)
    assert season == [100.0] * 7
    assert btc == pytest.approx(expected_btc_dominance(), rel=1e-12)


def test_daily_snapshots_keep_a_price_glitch_out_of_every_index_day_by_day(tmp_path: Path) -> None:
    clock = Clock(at(SMALL_MARKET_DAYS[0], 0, 1))
    store = DuckDBStore(tmp_path / "daily.duckdb")
    ingest = service(store, FakeProvider(glitched(), clock=clock), clock, top=4)
    for i, day in enumerate(SMALL_MARKET_DAYS):
        clock.now = at(day, 0, 1)
        report = asyncio.run(ingest.snapshot("daily"))
        if day == SPIKE_DAY:
            assert report.flagged == {REASON_PENDING: 1}
        season, btc = hand_indices(store)
        assert season == [100.0] * max(i - 2, 0), day
        assert btc == pytest.approx(expected_btc_dominance()[: i + 1], rel=1e-12), day


# -- a coin that stops existing -----------------------------------------------------------------------------------


class GoneProvider(FakeProvider):
    """The small market, where one coin's history answers HTTP 404 (the provider no longer lists it)."""

    def __init__(self, *args: object, gone: str, retryable: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gone, self.retryable = gone, retryable

    async def history(self, coin_id: str, start: dt.date, end: dt.date) -> CoinHistory:
        if coin_id == self.gone:
            self.calls.append(f"history:{coin_id}")
            error = RetryableProviderError if self.retryable else ProviderError
            raise error(f"HTTP 404 from /coins/{coin_id}/market_chart/range: coin not found")
        return await super().history(coin_id, start, end)


def test_a_coin_the_provider_no_longer_serves_is_skipped_and_the_backfill_completes(store: DuckDBStore) -> None:
    clock = Clock(at(SMALL_MARKET_DAYS[-1], 0, 1))
    provider = GoneProvider(small_daily(), clock=clock, gone="slow")
    report = asyncio.run(service(store, provider, clock, batch_coins=1).backfill(top=4, since=SMALL_MARKET_DAYS[0]))
    assert list(report.skipped) == ["slow"]
    assert "HTTP 404" in report.skipped["slow"]
    cursor = json.loads(store.ingest_cursor("backfill:coingecko") or "{}")
    assert cursor["complete"] is True
    assert cursor["done"] == 4
    assert list(cursor["skipped"]) == ["slow"]
    held = store.observations("coingecko")
    assert sorted(held["coin_id"].unique().to_list()) == ["bitcoin", "fast", "tether"]
    assert held.height == 3 * len(SMALL_MARKET_DAYS)
    # done: a second run starts afresh, fetching each coin once again, not stuck at the missing one
    provider.calls.clear()
    asyncio.run(service(store, provider, clock, batch_coins=1).backfill(top=4, since=SMALL_MARKET_DAYS[0]))
    assert sorted(c for c in provider.calls if c.startswith("history")) == [
        "history:bitcoin",
        "history:fast",
        "history:slow",
        "history:tether",
    ]


def test_a_retryable_error_still_stops_the_backfill_at_its_cursor(store: DuckDBStore) -> None:
    clock = Clock(at(SMALL_MARKET_DAYS[-1], 0, 1))
    provider = GoneProvider(small_daily(), clock=clock, gone="slow", retryable=True)
    with pytest.raises(RetryableProviderError):
        asyncio.run(service(store, provider, clock, batch_coins=1).backfill(top=4, since=SMALL_MARKET_DAYS[0]))
    cursor = json.loads(store.ingest_cursor("backfill:coingecko") or "{}")
    assert cursor["complete"] is False
    assert cursor["skipped"] == {}


# -- a backfill over days the daily snapshots stored ----------------------------------------------------------------


def test_a_backfill_keeps_the_ranks_and_supplies_the_daily_snapshots_stored(any_store: Store) -> None:
    clock = Clock(at(SMALL_MARKET_DAYS[0], 0, 1))
    provider = FakeProvider(small_daily(), clock=clock)
    ingest = service(any_store, provider, clock, top=4)
    for day in SMALL_MARKET_DAYS[:4]:
        clock.now = at(day, 0, 1)
        asyncio.run(ingest.snapshot("daily"))
    clock.now = at(SMALL_MARKET_DAYS[-1], 0, 1)
    asyncio.run(ingest.backfill(top=4, since=SMALL_MARKET_DAYS[0]))
    kept = any_store.coin_observations("coingecko", "fast", end=SMALL_MARKET_DAYS[3])
    # by market cap that day: bitcoin 1e9 1.1^i, tether 9e8, fast 1e8 1.2^i, slow 5e7 -> fast is third
    assert kept["rank"].to_list() == [3, 3, 3, 3]
    assert kept["circulating_supply"].to_list() == pytest.approx([1e7] * 4)  # 1e8 1.2^i / (10 1.2^i)
    after = any_store.coin_observations("coingecko", "fast", start=SMALL_MARKET_DAYS[4])
    assert after.height == 6  # the days only the backfill brought, without rank or supply
    assert after["rank"].null_count() == 6


# -- a snapshot that stores nothing is no success -----------------------------------------------------------------


class StaleProvider(FakeProvider):
    """Snapshots whose rows were last updated ``age`` before they were served (all stale past the heartbeat)."""

    age = dt.timedelta(days=400)

    async def top(self, n: int) -> MarketSnapshot:
        snap = await super().top(n)
        rows = snap.rows.with_columns(pl.col("last_updated") - self.age)
        return MarketSnapshot(snap.source, snap.observed_at, rows)


def test_a_snapshot_whose_rows_were_all_rejected_fails_and_the_day_is_taken_again(store: DuckDBStore) -> None:
    clock = Clock(at(SMALL_MARKET_DAYS[0], 0, 1))
    provider = StaleProvider(small_daily(), clock=clock)
    ingest = service(store, provider, clock, top=4)
    with pytest.raises(SnapshotRejected, match="0 of 4 rows passed the gates"):
        asyncio.run(ingest.snapshot("daily"))
    status = ingest.status()
    assert (status.snapshots, status.failures, status.last_success) == (0, 1, None)
    assert status.rejections == {REASON_STALE: 4}
    assert store.observations("coingecko").height == 0
    assert store.ingest_cursor("schedule:coingecko") is None  # the day's daily snapshot is still due
    provider.age = dt.timedelta(0)  # the provider recovers: the retry lands
    clock.now = at(SMALL_MARKET_DAYS[0], 0, 2)
    report = asyncio.run(ingest.snapshot("daily"))
    assert report.rows == 4
    assert ingest.status().last_success == clock.now
    assert json.loads(store.ingest_cursor("schedule:coingecko") or "{}")["daily"] == SMALL_MARKET_DAYS[0].isoformat()


# -- the market as a whole, and categories for new coins ------------------------------------------------------------


class OffGlobal(FakeProvider):
    """A provider whose own BTC dominance is ``btc_dominance``, whatever its rows say."""

    btc_dominance = 40.0

    async def global_snapshot(self) -> GlobalSnapshot:
        real = await super().global_snapshot()
        return GlobalSnapshot(real.source, real.observed_at, real.total_market_cap, self.btc_dominance)


def test_the_daily_snapshot_checks_its_btc_dominance_against_the_providers_own(
    store: DuckDBStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(at(SMALL_MARKET_DAYS[0], 0, 1))
    ingest = service(store, FakeProvider(small_daily(), clock=clock), clock, top=4)
    asyncio.run(ingest.snapshot("daily"))
    check = ingest.status().dominance["coingecko"]
    # by hand, day 0: 1e9 / (1e9 + 1e8 + 5e7 + 9e8) = 48.78 %, the same four coins on both sides
    assert check["ours"] == pytest.approx(100 / 2.05)
    assert check["points_apart"] == pytest.approx(0.0, abs=1e-9)
    assert check["off"] is False
    assert ingest.status().dominance_off == 0

    off = service(store, OffGlobal(small_daily(), clock=clock), clock, top=4, dominance_threshold=3.0)
    clock.now = at(SMALL_MARKET_DAYS[1], 0, 1)
    with caplog.at_level(logging.WARNING, logger="coinseason.ingest"):
        asyncio.run(off.snapshot("daily"))
    status = off.status()
    ours = 100 * 1.1e9 / (1.1e9 + 1.2e8 + 5e7 + 9e8)  # day 1: 49.77 %
    assert status.dominance["coingecko"]["ours"] == pytest.approx(ours)
    assert status.dominance["coingecko"]["points_apart"] == pytest.approx(ours - 40.0)
    assert status.dominance["coingecko"]["off"] is True
    assert status.dominance_off == 1
    assert status.to_dict()["dominance_off"] == 1
    assert "points off coingecko's own figure" in caplog.text
    assert store.observations("coingecko").height == 8  # a check, not a gate: the rows landed


class Categorised(FakeProvider):
    """A provider with categories (``members``: category id -> coin ids); ``category_calls`` counts lookups."""

    members: dict[str, list[str]] = {"stablecoins": ["new-usd", "some-other-usd"]}  # noqa: RUF012 - read only
    category_calls = 0

    async def category_members(self, category_id: str, n: int = 250) -> list[str]:
        self.category_calls += 1
        return self.members.get(category_id, [])


def test_new_coins_get_their_exclusion_categories_and_are_classified_by_them(store: DuckDBStore) -> None:
    clock = Clock(at(SMALL_MARKET_DAYS[0], 0, 1))
    # tether under an id no curated list knows, so only the provider's category can make it a stablecoin
    daily = small_daily().with_columns(
        pl.when(pl.col("coin_id") == "tether").then(pl.lit("new-usd")).otherwise("coin_id").alias("coin_id"),
        pl.when(pl.col("symbol") == "usdt").then(pl.lit("nusd")).otherwise("symbol").alias("symbol"),
        pl.when(pl.col("name") == "Tether").then(pl.lit("New USD")).otherwise("name").alias("name"),
    )
    provider = Categorised(daily, clock=clock)
    ingest = service(store, provider, clock, top=4)
    asyncio.run(ingest.snapshot("daily"))
    coins = {r["coin_id"]: r for r in store.coins("coingecko").iter_rows(named=True)}
    assert coins["new-usd"]["categories"] == "Stablecoins"
    assert coins["new-usd"]["token_class"] == TokenClass.STABLECOIN
    assert coins["fast"]["categories"] is None
    assert provider.category_calls == len(EXCLUSION_CATEGORIES)  # one call per category
    clock.now = at(SMALL_MARKET_DAYS[0], 0, 30)
    asyncio.run(ingest.snapshot("intraday"))
    assert provider.category_calls == len(EXCLUSION_CATEGORIES)  # no new coin: no lookup


# -- the fake server as the live API: rows fresh at serve time ------------------------------------------------------


def test_snapshots_from_the_fake_server_land_when_it_stamps_rows_at_serve_time(tmp_path: Path) -> None:
    """The fake server in process, its clock and the ingestion's at 02:00 of the served day: rows stamped at serve
    time land; the recorded stamps (00:00) are two hours old, past the default one-hour heartbeat."""
    last = dt.date(2025, 7, 19)
    now = at(last, 2)
    frame = pl.scan_parquet(shared_file(COINGECKO_DAILY)).filter(
        pl.col("date").is_between(last - dt.timedelta(days=1), last), pl.col("coin_id").is_in(REAL_COINS)
    )
    data = ProviderData.from_frames(frame.collect(), as_of=last)

    async def snapshot(server: FakeProviderServer, store: Store) -> IngestReport:
        client = server.client()
        provider = CoinGeckoProvider(
            "pro", api_key="test-key", base_url=server.coingecko_url, client=client, clock=lambda: now
        )
        try:
            return await IngestionService(store, provider, clock=lambda: now).snapshot("daily")
        finally:
            await client.aclose()

    fresh = in_process_provider(data, stamp_now=True, now=lambda: now)
    report = asyncio.run(snapshot(fresh, DuckDBStore(tmp_path / "now.duckdb")))
    assert report.rows == len(REAL_COINS)
    assert report.rejected == 0
    recorded = in_process_provider(data, now=lambda: now)
    with pytest.raises(SnapshotRejected, match="0 of 9 rows passed the gates"):
        asyncio.run(snapshot(recorded, DuckDBStore(tmp_path / "recorded.duckdb")))


# -- a backfill batch slower than the lease keeps it -----------------------------------------------------------------


class SteppedClock(Clock):
    """A clock moved only by its :meth:`sleep`; :meth:`reached` waits until it shows a given time."""

    def __init__(self, now: dt.datetime) -> None:
        super().__init__(now)
        self.slept: list[float] = []
        self._waiting: list[tuple[dt.datetime, asyncio.Event]] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)
        for when, reached in self._waiting:
            if self.now >= when:
                reached.set()

    async def reached(self, when: dt.datetime) -> None:
        reached = asyncio.Event()
        self._waiting.append((when, reached))
        if self.now >= when:
            reached.set()
        await reached.wait()


class SlowHistory(FakeProvider):
    """Bitcoin's history is served only once the clock is 1.5 s past its request, as a slow vendor's would (time
    moves only when the backfill's lease renewal sleeps); then another ingestor tries to take the lease."""

    other: IngestionService | None = None
    other_got_it: bool | None = None
    tried_at: dt.datetime | None = None

    def __init__(self, daily: pl.DataFrame, *, clock: SteppedClock) -> None:
        super().__init__(daily, clock=clock)
        self.stepped = clock

    async def history(self, coin_id: str, start: dt.date, end: dt.date) -> CoinHistory:
        if coin_id == "bitcoin":
            await self.stepped.reached(self.stepped.now + dt.timedelta(seconds=1.5))
            assert self.other is not None
            self.tried_at = self.stepped.now
            self.other_got_it = self.other.try_lease()
        return await super().history(coin_id, start, end)


def test_a_backfill_renews_its_lease_while_a_slow_batch_is_fetched(store: DuckDBStore) -> None:
    start = at(SMALL_MARKET_DAYS[-1], 0, 1)
    clock = SteppedClock(start)
    provider = SlowHistory(small_daily(), clock=clock)
    ttl = dt.timedelta(seconds=0.9)  # renewed every 0.3 s; the batch takes 1.5 s
    provider.other = service(store, FakeProvider(small_daily(), clock=clock), clock, lease_ttl=ttl)
    config = IngestConfig(lease_ttl=ttl, batch_coins=4)
    ingest = IngestionService(store, provider, clock=clock, config=config, sleep=clock.sleep)
    report = asyncio.run(ingest.backfill(top=4, since=SMALL_MARKET_DAYS[0]))
    # without renewal the lease, taken at +0 s, expires at +0.9 s: the other ingestor would take it at +1.5 s
    assert provider.tried_at is not None and provider.tried_at >= start + dt.timedelta(seconds=1.5)
    assert provider.other_got_it is False
    assert set(clock.slept) == {0.3}  # a renewal every third of the lease's time to live
    assert report.rows == 4 * len(SMALL_MARKET_DAYS)


def test_a_default_backfill_killed_before_midnight_resumes_after_it(store: DuckDBStore) -> None:
    clock = Clock(at(SMALL_MARKET_DAYS[8], 23, 59))
    provider = FakeProvider(small_daily(), clock=clock, fail_after=2, history_days=5)  # the plan serves 5 days
    with pytest.raises(RetryableProviderError):
        asyncio.run(service(store, provider, clock, batch_coins=1).backfill(top=4))
    clock.now = at(SMALL_MARKET_DAYS[9], 0, 1)  # past midnight: the plan's first day moved on by one
    provider.fail_after = None
    report = asyncio.run(service(store, provider, clock, batch_coins=1).backfill(top=4))
    assert report.resumed_at == 2  # not started over
    held = store.observations("coingecko")
    # every coin from the first run's start (day 8 - 4 = day 4) to its end (day 8): 4 coins x 5 days
    assert held["date"].min() == SMALL_MARKET_DAYS[4]
    assert held["date"].max() == SMALL_MARKET_DAYS[8]
    assert held.height == 4 * 5


def test_backfill_top_zero_is_refused_before_the_progress_bar(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from coinseason.cli import app

    result = CliRunner().invoke(app, ["ingest", "backfill", "--top", "0", "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 2
    assert "--top must be between 1 and 5000, not 0" in result.stderr
    assert "backfill coingecko" not in result.stderr  # no bar was drawn
