"""The first run before the snapshot loop: what it backfills (the plan's reach on an empty store, the days missed
after a stop, nothing when up to date, the rest of an interrupted backfill), its progress, and the plan's refusals
said once. Over the hand-computable market of tests/services/ingest_fakes.py (4 coins, 2024-01-01 to 2024-01-10)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from coinseason.errors import PlanLimitError
from coinseason.providers.base import CoinHistory
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.services.ingestion import IngestConfig, IngestionService
from coinseason.services.ingestion.estimate import estimate_backfill
from coinseason.services.ingestion.firstrun import FirstRun
from coinseason.store import DuckDBStore
from tests.conftest import SMALL_MARKET_DAYS
from tests.services.ingest_fakes import FakeProvider, small_daily

LAST = SMALL_MARKET_DAYS[-1]  # 2024-01-10
NOW = dt.datetime.combine(LAST, dt.time(0, 5), dt.UTC)


class Ticking:
    """A clock that moves on ``step`` at each reading (a backfill's batches are seconds apart)."""

    def __init__(self, step: dt.timedelta) -> None:
        self.now, self.step = NOW, step

    def __call__(self) -> dt.datetime:
        self.now += self.step
        return self.now


class Landed:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> None:
        self.count += 1


def first_run(
    store: DuckDBStore,
    provider: FakeProvider,
    *,
    landed: Landed | None = None,
    sleep: object = None,
    clock: Callable[[], dt.datetime] = lambda: NOW,
) -> tuple[FirstRun, list[float]]:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)
        if callable(sleep):
            sleep()

    service = IngestionService(
        store, provider, clock=clock, config=IngestConfig(top=4, batch_coins=2), on_landed=landed
    )
    estimate = estimate_backfill("coingecko", provider.plan, top=4, today=LAST, page_size=250)
    run = FirstRun(service, store, estimate, top=4, clock=clock, sleep=record, loop_note="then the loop")
    return run, slept


def days(store: DuckDBStore) -> pl.DataFrame:
    return store.observations("coingecko", columns=("coin_id", "date", "price")).sort("coin_id", "date")


def test_an_empty_store_gets_the_plans_reach_and_is_served_batch_by_batch(store: DuckDBStore) -> None:
    provider = FakeProvider(small_daily(), clock=lambda: NOW, history_days=7)
    landed = Landed()
    run, _ = first_run(store, provider, landed=landed)
    asyncio.run(run.run())
    status = run.status.to_dict()
    assert status["phase"] == "live"
    assert (status["coins_done"], status["coins_total"], status["days"]) == (4, 4, 7)
    assert (status["from"], status["to"]) == ("2024-01-04", "2024-01-10")
    stored = days(store)
    assert stored.height == 4 * 7 and stored["date"].min() == dt.date(2024, 1, 4)
    # the day's snapshot, the first batch, the end of the backfill: the second batch came within 10 s of the first
    assert landed.count == 1 + 1 + 1
    assert "backfill done: 4 coins, 28 rows from 2024-01-04 to 2024-01-10" in status["message"]


def test_batches_seconds_apart_are_told_at_most_every_10_s(store: DuckDBStore) -> None:
    provider = FakeProvider(small_daily(), clock=lambda: NOW, history_days=7)
    landed = Landed()
    # the service reads the clock a few times per batch: 20 s a reading puts the batches well over 10 s apart
    run, _ = first_run(store, provider, landed=landed, clock=Ticking(dt.timedelta(seconds=20)))
    asyncio.run(run.run())
    assert landed.count == 1 + 2 + 1  # the day's snapshot, each of the 2 batches, the end of the backfill


def test_after_a_stop_the_days_missed_are_filled_into_the_same_coins(tmp_path: Path, store: DuckDBStore) -> None:
    """A CoinGecko CSV imported up to 2024-01-06, then the provider: one coin, its days continued from the 7th."""
    market = small_daily().filter(pl.col("coin_id") == "bitcoin", pl.col("date") <= dt.date(2024, 1, 6))
    csv = tmp_path / "bitcoin.csv"
    market.select(
        pl.col("date").dt.strftime("%Y-%m-%d 00:00:00 UTC").alias("snapped_at"),
        "price",
        "market_cap",
        pl.col("volume").alias("total_volume"),
    ).write_csv(csv)
    ImportService(store, clock=lambda: NOW).import_file(csv, FileFormat.COINGECKO_CSV)
    provider = FakeProvider(small_daily(), clock=lambda: NOW)
    run, _ = first_run(store, provider)
    asyncio.run(run.run())
    status = run.status.to_dict()
    assert (status["from"], status["to"], status["days"]) == ("2024-01-07", "2024-01-10", 4)
    btc = days(store).filter(pl.col("coin_id") == "bitcoin")
    assert btc["date"].to_list() == SMALL_MARKET_DAYS  # 1st–6th from the file, 7th–10th from the provider
    assert btc["price"].to_list() == pytest.approx([100 * 1.1**i for i in range(10)])
    assert sorted(store.coins("coingecko")["coin_id"].to_list()) == ["bitcoin", "fast", "slow", "tether"]


def test_an_up_to_date_store_asks_for_no_history(store: DuckDBStore) -> None:
    provider = FakeProvider(small_daily(), clock=lambda: NOW)
    asyncio.run(first_run(store, provider)[0].run())
    provider.calls.clear()
    again, _ = first_run(store, provider)
    asyncio.run(again.run())
    assert again.status.phase == "live" and "up to date" in again.status.message
    assert not [c for c in provider.calls if c.startswith("history")]


def test_a_plan_without_history_says_so_and_asks_for_none(store: DuckDBStore) -> None:
    provider = FakeProvider(small_daily(), clock=lambda: NOW, history_days=0)
    run, _ = first_run(store, provider)
    asyncio.run(run.run())
    assert run.status.phase == "live"
    assert run.status.message.startswith("the coingecko fake plan serves no history")
    assert provider.calls == []


class RefusingProvider(FakeProvider):
    """A provider whose plan refuses every history (as CoinGecko's 10012 does past its reach)."""

    async def history(self, coin_id: str, start: dt.date, end: dt.date) -> CoinHistory:
        self.calls.append(f"history:{coin_id}")
        raise PlanLimitError("coingecko /coins/x/market_chart/range: HTTP 401: the plan does not serve this")


def test_a_plan_refusal_is_one_message_not_one_per_coin(store: DuckDBStore, caplog: pytest.LogCaptureFixture) -> None:
    provider = RefusingProvider(small_daily(), clock=lambda: NOW)
    run, _ = first_run(store, provider)
    with caplog.at_level(logging.WARNING, logger="coinseason.ingest"):
        asyncio.run(run.run())
    assert run.status.phase == "refused" and "the plan does not serve this" in run.status.message
    refusals = [r for r in caplog.records if "does not serve" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]
    assert not [r for r in caplog.records if "skipping" in r.getMessage()]


def test_a_temporary_failure_waits_then_resumes_where_the_cursor_stopped(store: DuckDBStore) -> None:
    provider = FakeProvider(small_daily(), clock=lambda: NOW, history_days=7, fail_after=2)

    def recover() -> None:
        provider.fail_after = None

    run, slept = first_run(store, provider, sleep=recover)
    asyncio.run(run.run())
    assert slept == [60.0]
    assert run.status.phase == "live" and (run.status.coins_done, run.status.coins_total) == (4, 4)
    assert days(store).height == 4 * 7
    histories = [c for c in provider.calls if c.startswith("history")]
    assert len(histories) == 2 + 2 + 2  # the first batch, the failed one (both asked), then only that one again
