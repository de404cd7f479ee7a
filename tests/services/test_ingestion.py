"""Ingestion: backfill (resumable, idempotent), snapshots and their gates, the schedule and the one-ingestor lease.

Providers are in-memory fakes over real CoinGecko rows (``tests.services.ingest_fakes``) or the hand-computable
small market of ``tests.conftest``; the HTTP path is exercised by ``tests/test_ingest_kill.py``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import inspect
import json
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import duckdb
import polars as pl
import pytest
from fastapi.testclient import TestClient

from coinseason.data.gates import REASON_PENDING, REASON_SPIKE
from coinseason.data.tidy import FLAG_MCAP_SPIKE
from coinseason.errors import ConfigError, RetryableProviderError
from coinseason.server import create_app
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.hooks import StatusReport
from coinseason.services.ingestion import IngestConfig, IngestionService, LeaseHeld, Schedule
from coinseason.services.ingestion.factory import ingestion_job
from coinseason.settings import CoinGeckoSettings, IngestSettings, Settings
from coinseason.store import DuckDBStore, Store
from tests.conftest import COINGECKO_DAILY, SMALL_MARKET_DAYS, shared_file
from tests.fakes.provider_server import FakeProviderServer, ProviderData, fake_provider
from tests.services.ingest_fakes import REAL_COINS, REAL_END, REAL_START, FakeProvider, real_daily, small_daily


class Clock:
    """A settable UTC clock."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def at(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def real() -> pl.DataFrame:
    return real_daily(shared_file(COINGECKO_DAILY))


def service(store: Store, provider: FakeProvider, clock: Clock, **config: object) -> IngestionService:
    return IngestionService(store, provider, clock=clock, config=IngestConfig(**config))  # type: ignore[arg-type]


def stored(store: Store) -> pl.DataFrame:
    return store.observations(
        "coingecko", columns=("coin_id", "date", "price", "market_cap", "volume", "rank", "flags")
    ).sort("coin_id", "date")


# -- backfill ---------------------------------------------------------------------------------------------------


def test_backfill_stores_every_day_of_the_top_coins_and_a_second_run_changes_nothing(
    store: DuckDBStore, real: pl.DataFrame
) -> None:
    clock = Clock(at(REAL_END, 0, 5))
    provider = FakeProvider(real, clock=clock)
    report = asyncio.run(service(store, provider, clock, batch_coins=3).backfill(top=5, since=REAL_START))
    top5 = real.filter(pl.col("date") == REAL_END).sort("market_cap", descending=True)["coin_id"].head(5)
    expected = real.filter(pl.col("coin_id").is_in(top5.to_list())).sort("coin_id", "date")
    got = stored(store)
    assert got.select("coin_id", "date", "price", "market_cap", "volume").equals(
        expected.select("coin_id", "date", "price", "market_cap", "volume")
    )
    assert (report.coins, report.added, report.rejected) == (5, expected.height, 0)
    assert provider.calls.count("top") == 1
    again = asyncio.run(service(store, provider, clock, batch_coins=3).backfill(top=5, since=REAL_START))
    assert (again.added, again.updated, again.unchanged) == (0, 0, expected.height)
    assert stored(store).equals(got)
    assert store.imports()["format"].to_list() == ["provider-history"] * 4  # 2 batches per run, each logged
    classes = dict(store.coins("coingecko").select("coin_id", "token_class").iter_rows())
    assert classes["tether"] == "stablecoin"  # classified as imports are


def test_backfill_interrupted_resumes_at_its_cursor_without_losing_or_repeating_rows(
    tmp_path: Path, real: pl.DataFrame
) -> None:
    clock = Clock(at(REAL_END, 0, 5))
    whole = DuckDBStore(tmp_path / "whole.duckdb")
    asyncio.run(service(whole, FakeProvider(real, clock=clock), clock, batch_coins=2).backfill(top=7, since=REAL_START))

    broken = DuckDBStore(tmp_path / "broken.duckdb")
    failing = FakeProvider(real, clock=clock, fail_after=5)  # 2 batches land, the third fails mid-way
    with pytest.raises(RetryableProviderError):
        asyncio.run(service(broken, failing, clock, batch_coins=2).backfill(top=7, since=REAL_START))
    assert stored(broken)["coin_id"].n_unique() == 4
    clock.now += dt.timedelta(hours=3)  # the ranking may have changed since: the frozen coin list is kept
    resumed = FakeProvider(real, clock=clock)
    report = asyncio.run(service(broken, resumed, clock, batch_coins=2).backfill(top=7, since=REAL_START))
    assert report.resumed_at == 4
    assert "top" not in resumed.calls and len(resumed.calls) == 3
    assert stored(broken).equals(stored(whole))


def test_backfill_since_after_today_is_refused(store: DuckDBStore, real: pl.DataFrame) -> None:
    clock = Clock(at(REAL_START))
    with pytest.raises(ConfigError, match="after today"):
        asyncio.run(service(store, FakeProvider(real, clock=clock), clock).backfill(top=3, since=REAL_END))


def test_backfill_without_since_goes_as_far_back_as_the_plan(store: DuckDBStore, real: pl.DataFrame) -> None:
    clock = Clock(at(REAL_END, 1))
    provider = FakeProvider(real, clock=clock, history_days=10)
    asyncio.run(service(store, provider, clock).backfill(top=2))
    assert stored(store)["date"].min() == REAL_END - dt.timedelta(days=9)


# -- gates on ingestion: a 1000x spike leaves every index as it was ---------------------------------------------


def indices(store: Store) -> tuple[pl.DataFrame, pl.DataFrame]:
    analytics = AnalyticsService(store)
    season = analytics.season_history(SeasonQuery(top=2, window=3), source="coingecko")
    dominance = analytics.dominance_history(source="coingecko", exclude="none")
    top = analytics.dominance_history(source="coingecko", universe="top:2")
    return season, pl.concat([dominance, top])


SPIKE_DAY = SMALL_MARKET_DAYS[5]


def backfilled(path: Path, daily: pl.DataFrame) -> DuckDBStore:
    clock = Clock(at(SMALL_MARKET_DAYS[-1], 0, 1))
    store = DuckDBStore(path)
    asyncio.run(service(store, FakeProvider(daily, clock=clock), clock).backfill(top=4, since=SMALL_MARKET_DAYS[0]))
    return store


def test_a_1000x_market_cap_spike_in_a_backfill_leaves_every_index_unchanged(tmp_path: Path) -> None:
    clean = backfilled(tmp_path / "clean.duckdb", small_daily())
    spiked = backfilled(tmp_path / "spiked.duckdb", small_daily(spike=("slow", SPIKE_DAY, 1000.0)))
    season, dominance = indices(clean)
    # the small market by hand: top 2 by market cap is bitcoin and tether (excluded), then fast; fast +20 %/day
    # beats bitcoin's +10 %/day, so the index is 100 once 3 days of history exist; BTC dominance = 1e9 1.1^i /
    # (1e9 1.1^i + 1e8 1.2^i + 5e7 + 9e8)
    assert season["value"].drop_nulls().to_list() == [100.0] * 7
    i = 5
    btc, fast = 1e9 * 1.1**i, 1e8 * 1.2**i
    assert dominance.filter(pl.col("date") == SPIKE_DAY)["value"][0] == pytest.approx(
        100 * btc / (btc + fast + 5e7 + 9e8), rel=1e-12
    )
    spiked_season, spiked_dominance = indices(spiked)
    assert spiked_season.equals(season)
    assert spiked_dominance.equals(dominance)
    flags = spiked.observations("coingecko").filter(pl.col("flags") != 0)
    assert flags.select("coin_id", "date").rows() == [("slow", SPIKE_DAY)]
    assert flags["flags"][0] & FLAG_MCAP_SPIKE
    assert json.loads(spiked.imports()["rejections"][0]) == {"flagged: " + REASON_SPIKE: 1}


def test_without_the_gate_the_spike_would_have_moved_the_indices(tmp_path: Path) -> None:
    """The spike test above can fail: stored unflagged, the spike changes both indices."""
    spiked = backfilled(tmp_path / "spiked.duckdb", small_daily(spike=("slow", SPIKE_DAY, 1000.0)))
    clean = backfilled(tmp_path / "clean.duckdb", small_daily())
    spiked.let_go()  # the store closes its file: open it directly
    with duckdb.connect(spiked.path) as con:  # reach past the gate: clear the flag
        con.execute("UPDATE observations SET flags = 0")
    season, dominance = indices(spiked)
    clean_season, clean_dominance = indices(clean)
    assert not season.equals(clean_season)
    assert not dominance.equals(clean_dominance)


def test_daily_snapshots_hold_a_spike_out_of_the_latest_index_the_day_it_arrives(tmp_path: Path) -> None:
    """Day by day, as the loop would take them: on the spike day the spike is the newest value (pending), the
    next day it is a confirmed one-day spike; the indices after every day equal the clean ones."""
    results = {}
    for name, daily in (("clean", small_daily()), ("spiked", small_daily(spike=("slow", SPIKE_DAY, 1000.0)))):
        clock = Clock(at(SMALL_MARKET_DAYS[0], 0, 1))
        store = DuckDBStore(tmp_path / f"{name}.duckdb")
        ingest = service(store, FakeProvider(daily, clock=clock), clock, top=4)
        per_day = []
        for day in SMALL_MARKET_DAYS:
            clock.now = at(day, 0, 1)
            report = asyncio.run(ingest.snapshot("daily"))
            per_day.append((indices(store), dict(report.flagged)))
        results[name] = per_day
    for day, (clean, spiked) in enumerate(zip(results["clean"], results["spiked"], strict=True)):
        assert spiked[0][0].equals(clean[0][0]), day
        assert spiked[0][1].equals(clean[0][1]), day
    assert results["spiked"][5][1] == {REASON_PENDING: 1}


def test_a_level_that_holds_is_a_real_move_and_its_pending_flag_is_lifted(store: DuckDBStore) -> None:
    after = (pl.col("coin_id") == "slow") & (pl.col("date") >= SPIKE_DAY)
    daily = small_daily().with_columns(  # a real 1000x move: price and market cap, supply unchanged
        pl.when(after).then(pl.col(c) * 1000).otherwise(c).alias(c) for c in ("price", "market_cap")
    )
    clock = Clock(at(SMALL_MARKET_DAYS[0]))
    ingest = service(store, FakeProvider(daily, clock=clock), clock, top=4)
    for day in SMALL_MARKET_DAYS[:7]:
        clock.now = at(day, 0, 1)
        asyncio.run(ingest.snapshot("daily"))
        flagged = store.observations("coingecko").filter(pl.col("flags") != 0)
        expected = [("slow", SPIKE_DAY)] if day == SPIKE_DAY else []
        assert flagged.select("coin_id", "date").rows() == expected, day


# -- snapshots: point in time, intraday refresh and restore -----------------------------------------------------


def test_intraday_snapshots_refresh_today_and_the_next_daily_puts_the_midnight_values_back(
    store: DuckDBStore, real: pl.DataFrame
) -> None:
    day = dt.date(2024, 2, 1)
    clock = Clock(at(day, 0, 1))
    moving = real.clone()
    provider = FakeProvider(moving, clock=clock)
    ingest = service(store, provider, clock, top=5)
    asyncio.run(ingest.snapshot("daily"))
    midnight = stored(store)
    assert midnight["rank"].to_list() != [None] * 5  # the ranking as observed that day
    provider.daily = real.with_columns(pl.col("price") * 1.01)  # the market moves during the day
    clock.now = at(day, 12)
    asyncio.run(ingest.snapshot("intraday"))
    noon = stored(store)
    assert noon["price"].to_list() == pytest.approx([p * 1.01 for p in midnight["price"]], rel=1e-12)
    provider.daily = real
    clock.now = at(day + dt.timedelta(days=1), 0, 1)
    asyncio.run(ingest.snapshot("daily"))
    assert stored(store).filter(pl.col("date") == day).equals(midnight)


def test_stale_rows_are_rejected_with_their_reason(store: DuckDBStore, real: pl.DataFrame) -> None:
    clock = Clock(at(dt.date(2024, 2, 1), 0, 1))
    provider = FakeProvider(real, clock=clock)
    old = at(dt.date(2024, 1, 31), 20)

    async def stale_top(n: int) -> object:
        snap = await FakeProvider.top(provider, n)
        rows = snap.rows.with_columns(
            pl.when(pl.col("coin_id") == "solana").then(pl.lit(old)).otherwise("last_updated").alias("last_updated")
        )
        return type(snap)(snap.source, snap.observed_at, rows)

    provider.top = stale_top  # type: ignore[method-assign]
    report = asyncio.run(service(store, provider, clock, top=5).snapshot("daily"))
    assert "solana" not in stored(store)["coin_id"].to_list()
    assert report.rejections == {"stale: last updated longer ago than the heartbeat": 1}


def test_a_source_off_the_others_is_caught_by_the_cross_check(store: DuckDBStore, real: pl.DataFrame) -> None:
    clock = Clock(at(dt.date(2024, 2, 1), 0, 1))
    off = real.with_columns(
        pl.when(pl.col("coin_id") == "ripple").then(pl.col("price") * 1.5).otherwise("price").alias("price"),
        pl.when(pl.col("coin_id") == "cardano")
        .then(pl.col("market_cap") * 2)
        .otherwise("market_cap")
        .alias("market_cap"),
    )
    refs = [FakeProvider(real, clock=clock, source="cmc"), FakeProvider(real, clock=clock, source="exchange")]
    ingest = IngestionService(
        store, FakeProvider(off, clock=clock), clock=clock, config=IngestConfig(top=6), references=refs
    )
    report = asyncio.run(ingest.snapshot("daily"))
    rows = stored(store)
    assert "ripple" not in rows["coin_id"].to_list()
    assert report.rejections == {"price off the other sources' median": 1}
    assert report.flagged == {"market cap off the other sources' median": 1}
    assert rows.filter(pl.col("flags") != 0)["coin_id"].to_list() == ["cardano"]


# -- the loop: schedule and lease --------------------------------------------------------------------------------


def run_loop(ingest: IngestionService, clock: Clock, until: dt.datetime) -> None:
    """Run the loop with a sleep that moves the clock instead of waiting."""

    async def main() -> None:
        stop = asyncio.Event()

        async def sleep(seconds: float) -> None:
            clock.now += dt.timedelta(seconds=max(seconds, 1.0))
            if clock.now >= until:
                stop.set()

        await ingest.run(stop=stop, sleep=sleep)

    asyncio.run(main())


def snapshot_times(store: Store) -> list[tuple[str, dt.datetime]]:
    frame = store.imports()
    return [(f.removeprefix("provider-"), t) for f, t in zip(frame["format"], frame["imported_at"], strict=True)]


def test_the_loop_takes_the_daily_snapshot_once_after_midnight_and_intraday_every_n_minutes(
    store: DuckDBStore, real: pl.DataFrame
) -> None:
    start = at(dt.date(2024, 2, 1), 23, 20)
    clock = Clock(start)
    ingest = service(
        store,
        FakeProvider(real, clock=clock),
        clock,
        top=3,
        schedule=Schedule(dt.timedelta(minutes=20)),
        lease_ttl=dt.timedelta(hours=3),  # few idle wake-ups: the loop wakes when a snapshot is due
    )
    run_loop(ingest, clock, until=at(dt.date(2024, 2, 3), 0, 50))
    got = [(kind, t.astimezone(dt.UTC)) for kind, t in snapshot_times(store)]
    day1, day2, day3 = (dt.date(2024, 2, d) for d in (1, 2, 3))
    intraday_day2 = [("intraday", at(day2, h, m)) for h in range(24) for m in (0, 20, 40) if (h, m) != (0, 0)]
    assert got == [
        ("daily", at(day1, 23, 20)),  # started mid-day with no snapshot of the day: that day's daily comes first
        ("intraday", at(day1, 23, 40)),
        ("daily", at(day2)),
        *intraday_day2,
        ("daily", at(day3)),
        ("intraday", at(day3, 0, 20)),
        ("intraday", at(day3, 0, 40)),
    ]


def test_a_restarted_loop_does_not_take_the_daily_snapshot_twice(store: DuckDBStore, real: pl.DataFrame) -> None:
    clock = Clock(at(dt.date(2024, 2, 1), 0, 0))
    config = {"top": 3, "schedule": Schedule(dt.timedelta(hours=6)), "lease_ttl": dt.timedelta(hours=3)}
    run_loop(service(store, FakeProvider(real, clock=clock), clock, **config), clock, at(clock.now.date(), 1))
    run_loop(service(store, FakeProvider(real, clock=clock), clock, **config), clock, at(clock.now.date(), 7))
    assert [k for k, _ in snapshot_times(store)] == ["daily", "intraday"]


class VirtualTime:
    """Discrete-event time for several loops: the clock jumps to the earliest wake-up once every loop sleeps, so a
    loop busy in a snapshot holds time still (as real time barely moves while it works)."""

    def __init__(self, clock: Clock, *, sleepers: int, until: dt.datetime, stop: asyncio.Event) -> None:
        self.clock, self.sleepers, self.until, self.stop = clock, sleepers, until, stop
        self.waiting: list[tuple[dt.datetime, int, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        wake = self.clock.now + dt.timedelta(seconds=max(seconds, 1.0))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self.waiting, (wake, id(future), future))
        if len(self.waiting) == self.sleepers:
            wake, _, first = heapq.heappop(self.waiting)
            self.clock.now = wake
            if wake >= self.until:
                self.stop.set()
                for _, _, f in self.waiting:
                    f.set_result(None)
                self.waiting.clear()
            first.set_result(None)
        await future


def test_two_ingestors_exactly_one_runs(tmp_path: Path, real: pl.DataFrame) -> None:
    clock = Clock(at(dt.date(2024, 2, 1), 0, 0))
    providers = [FakeProvider(real, clock=clock), FakeProvider(real, clock=clock)]
    stores = [DuckDBStore(tmp_path / "shared.duckdb"), DuckDBStore(tmp_path / "shared.duckdb")]  # 2 connections
    store = stores[0]
    ingestors = [
        IngestionService(s, p, clock=clock, config=IngestConfig(top=3), owner=f"ingestor-{i}")
        for i, (s, p) in enumerate(zip(stores, providers, strict=True))
    ]

    async def main() -> None:
        stop = asyncio.Event()
        time = VirtualTime(clock, sleepers=len(ingestors), until=at(dt.date(2024, 2, 1), 3), stop=stop)
        await asyncio.gather(*(i.run(stop=stop, sleep=time.sleep) for i in ingestors))

    asyncio.run(main())
    ran = [bool(p.calls) for p in providers]
    assert sorted(ran) == [False, True]
    day = dt.date(2024, 2, 1)
    assert snapshot_times(store) == [  # one daily, then every 15 minutes until the loops stop at 03:00
        ("daily", at(day)),
        *[("intraday", at(day, h, m)) for h in range(3) for m in (0, 15, 30, 45) if (h, m) != (0, 0)],
    ]
    with pytest.raises(LeaseHeld, match="another coinseason process"):
        other = IngestionService(store, providers[0], clock=clock, owner="late")
        assert store.acquire_lease(other.lease, "holder", clock.now, dt.timedelta(minutes=5))
        asyncio.run(other.backfill(top=3, since=REAL_START))


def test_a_dead_holder_loses_the_lease_after_its_ttl(store: DuckDBStore, real: pl.DataFrame) -> None:
    clock = Clock(at(dt.date(2024, 2, 1)))
    ttl = dt.timedelta(seconds=90)
    assert store.acquire_lease("ingest:coingecko", "dead", clock.now, ttl)  # then never renewed
    ingest = service(store, FakeProvider(real, clock=clock), clock, top=3, lease_ttl=ttl)
    assert not ingest.try_lease()
    clock.now += ttl
    assert ingest.try_lease()


def test_schedule_rules() -> None:
    schedule = Schedule(dt.timedelta(minutes=15), daily_after=dt.timedelta(minutes=2))
    day = dt.date(2024, 5, 1)
    assert schedule.due(at(day, 0, 1), last_daily=day - dt.timedelta(days=1), last=None) is None  # before 00:02
    assert schedule.due(at(day, 0, 2), last_daily=day - dt.timedelta(days=1), last=None) == "daily"
    assert schedule.due(at(day, 0, 14), last_daily=day, last=at(day, 0, 2)) is None
    assert schedule.due(at(day, 0, 15), last_daily=day, last=at(day, 0, 2)) == "intraday"
    assert schedule.next_due(at(day, 0, 16), last_daily=day, last=at(day, 0, 15)) == at(day, 0, 30)
    assert schedule.next_due(at(day, 23, 50), last_daily=day, last=at(day, 23, 45)) == at(
        day + dt.timedelta(days=1), 0, 2
    )
    with pytest.raises(ValueError, match="interval"):
        Schedule(dt.timedelta(0))


# -- serve: the loop as a background job of the API ---------------------------------------------------------------


class RecordingHooks:
    """The app as a background job sees it (:class:`~coinseason.services.hooks.AppHooks`), recording what the job
    asks of it; ``landed`` is set when the job says new data landed."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.statuses: dict[str, StatusReport] = {}
        self.landed = asyncio.Event()

    @property
    def analytics(self) -> AnalyticsService:
        raise AssertionError("the ingestion job does not read the app's analytics")

    def clock(self) -> dt.datetime:
        return self.now

    async def announce_data_landed(self) -> None:
        self.landed.set()

    def push_intraday(self, payload: Mapping[str, object]) -> None:
        raise AssertionError("the ingestion job pushes nothing to the stream")

    def register_status(self, name: str, report: StatusReport) -> None:
        self.statuses[name] = report


SERVED_DAY = dt.date(2025, 7, 19)
"""The day the fake provider serves as "now" (the last day of the shared CoinGecko data)."""


def served_data() -> ProviderData:
    frame = pl.scan_parquet(shared_file(COINGECKO_DAILY)).filter(
        pl.col("date").is_between(SERVED_DAY - dt.timedelta(days=3), SERVED_DAY), pl.col("coin_id").is_in(REAL_COINS)
    )
    return ProviderData.from_frames(frame.collect(), as_of=SERVED_DAY)


def serve_settings(db: Path, server: FakeProviderServer) -> Settings:
    return Settings(
        db=str(db),
        ingest=IngestSettings(provider="coingecko", top=5),
        coingecko=CoinGeckoSettings(url=server.coingecko_url, plan="pro", api_key="test-key"),
    )


def test_the_ingestion_job_runs_the_loop_with_the_apps_clock_and_tells_the_app(tmp_path: Path) -> None:
    """End to end against the fake CoinGecko server (the job builds its provider from the settings' URL)."""
    now = at(SERVED_DAY, 0, 5)  # five minutes after the served rows' 00:00 stamps: fresh
    hooks = RecordingHooks(now)
    with fake_provider(served_data()) as server:
        job = ingestion_job(serve_settings(tmp_path / "job.duckdb", server))

        async def main() -> None:
            task = asyncio.create_task(job(hooks))
            try:
                await asyncio.wait_for(hooks.landed.wait(), timeout=60)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        asyncio.run(main())
    status = hooks.statuses["ingestion"]()
    assert status is not None
    assert (status["snapshots"], status["last_success"], status["stale"]) == (1, now.isoformat(), False)
    store = DuckDBStore(tmp_path / "job.duckdb")
    try:
        imports = store.imports()
        assert imports["format"].to_list() == ["provider-daily"]
        assert imports["imported_at"][0] == now  # the app's clock, not the system's
        assert store.observations("coingecko")["coin_id"].n_unique() == 5
        assert store.lease_holder("ingest:coingecko") is None  # released when the job was cancelled
    finally:
        store.close()


class LandedSignal:
    """The API's invalidation channel within one process, as its default one, that also tells the test's thread
    each time the app has reloaded after new data landed (instead of the test polling)."""

    def __init__(self) -> None:
        self._listeners: set[asyncio.Event] = set()
        self.reloaded = threading.Event()

    async def publish(self) -> None:
        for pending in self._listeners:
            pending.set()

    async def run(self, on_invalidate: Callable[[], Awaitable[None] | None]) -> None:
        pending = asyncio.Event()
        self._listeners.add(pending)
        try:
            while True:
                await pending.wait()
                pending.clear()
                result = on_invalidate()
                if inspect.isawaitable(result):
                    await result
                self.reloaded.set()
        finally:
            self._listeners.discard(pending)

    async def close(self) -> None:
        return None


def test_serve_runs_the_loop_when_a_provider_is_set_and_announces_what_landed(tmp_path: Path) -> None:
    db = tmp_path / "serve.duckdb"
    signal = LandedSignal()
    with fake_provider(served_data()) as server:
        app = create_app(serve_settings(db, server), clock=lambda: at(SERVED_DAY, 0, 5), invalidation=signal)
        with TestClient(app) as client:
            assert signal.reloaded.wait(timeout=60), "no snapshot landed"
            state = client.app.state.api  # type: ignore[attr-defined]
            assert [s.source for s in state.analytics.sources()] == ["coingecko"]
            assert client.get("/v1/coins", params={"source": "coingecko"}).status_code == 200
        assert "/coins/markets" in server.paths()[0]
    store = DuckDBStore(db)
    try:
        assert store.imports()["format"].to_list()[:1] == ["provider-daily"]
        assert store.observations("coingecko")["coin_id"].n_unique() == 5
    finally:
        store.close()
