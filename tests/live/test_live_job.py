"""The live feed as a background job (:class:`coinseason.live.job.LiveJob`), seen through the app's hooks only: it
builds the board from the hooks' analytics, pushes throttled intraday snapshots, feeds the exchange reference, and
waits for a store that cannot give a board yet. The job reads a local replay server; no API is involved."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from coinseason.live.job import LiveJob, seconds_to_midnight
from coinseason.live.reference import ExchangeReference
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.hooks import AppHooks, StatusReport
from coinseason.services.importing import ImportService
from coinseason.settings import LiveSettings, Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock, shared_file, small_market_csv
from tests.fakes.ws_replay import RECORDED_FRAME, ReplayServer, encode, recorded_frame

pytestmark = pytest.mark.anyio

DAY_AFTER = dt.datetime(2024, 1, 11, 12, 0, tzinfo=dt.UTC)
"""The small market ends on 2024-01-10; with W = 3 the base day is 2024-01-08."""
# live BTC 200, FST 40, SLW 5 (supply 1e7 each): BTC +2.6 % over 3 days, fast +11.6 %, slow 0 % -> 1 of 2 beat BTC
EXPECTED_VALUE = 50.0
EXPECTED_BTC_DOMINANCE = 100 * 2e9 / (2e9 + 4e8 + 5e7)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def small_frame() -> bytes:
    """The recorded frame's BTCUSDT ticker, reshaped for the small market's coins."""
    btc = next(t for t in recorded_frame(shared_file(RECORDED_FRAME)) if t["s"] == "BTCUSDT")
    frame: list[dict[str, Any]] = []
    for symbol, price in (("BTCUSDT", "200.00"), ("FSTUSDT", "40.00"), ("SLWUSDT", "5.00")):
        ticker = copy.deepcopy(btc)
        ticker.update(s=symbol, c=price)
        frame.append(ticker)
    return encode(frame)


@pytest.fixture
def analytics(tmp_path: Path) -> Iterator[AnalyticsService]:
    store = DuckDBStore(tmp_path / "live.duckdb")
    try:
        ImportService(store, clock=fixed_clock).import_file(small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY)
        yield AnalyticsService(store)
    finally:
        store.close()


class RecordingHooks:
    """The app's side of the hooks, recording what the job pushes; ``valued`` is set by the first push with an
    index value."""

    def __init__(self, analytics: AnalyticsService, days: list[dt.datetime]) -> None:
        self._analytics = analytics
        self._days = days
        self.pushed: list[Mapping[str, Any]] = []
        self.valued = asyncio.Event()

    @property
    def analytics(self) -> AnalyticsService:
        return self._analytics

    def clock(self) -> dt.datetime:
        """The next of ``days``, the last one for ever after."""
        return self._days.pop(0) if len(self._days) > 1 else self._days[0]

    async def announce_data_landed(self) -> None:
        raise AssertionError("the live job writes nothing to the store")

    def push_intraday(self, payload: Mapping[str, Any]) -> None:
        self.pushed.append(payload)
        if payload["value"] is not None:
            self.valued.set()

    def register_status(self, name: str, report: StatusReport) -> None:
        raise AssertionError("the live job reports no status")


@contextlib.asynccontextmanager
async def running(job: LiveJob, hooks: AppHooks) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(job(hooks))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_job_pushes_the_intraday_index_and_feeds_the_reference(analytics: AnalyticsService) -> None:
    hooks = RecordingHooks(analytics, [DAY_AFTER])
    async with ReplayServer([[small_frame()] * 400], interval=0.02) as server:
        settings = Settings(db="unused.duckdb", live=LiveSettings(exchange_ws_url=server.url, push_seconds=0.05))
        reference = ExchangeReference(stale_after=settings.live.stale_after_seconds)
        async with running(LiveJob(settings, reference=reference, top=3, window=3), hooks):
            async with asyncio.timeout(10):
                await hooks.valued.wait()
        prices = dict(reference.prices().select("coin_id", "price").iter_rows())
    data = next(payload for payload in hooks.pushed if payload["value"] is not None)
    assert data["value"] == pytest.approx(EXPECTED_VALUE)
    assert data["btc_dominance"] == pytest.approx(EXPECTED_BTC_DOMINANCE)
    assert data["stale"] is False
    assert data["method"]["base_date"] == "2024-01-08"
    assert prices == {"bitcoin": 200.0, "fast": 40.0, "slow": 5.0}


async def test_a_store_without_the_base_day_is_retried_until_it_has_one(
    analytics: AnalyticsService, caplog: pytest.LogCaptureFixture
) -> None:
    far = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)  # weeks past the data: no board for that day
    hooks = RecordingHooks(analytics, [far, DAY_AFTER])  # the next attempt is a day the store can serve
    async with ReplayServer([[small_frame()] * 400], interval=0.02) as server:
        settings = Settings(db="unused.duckdb", live=LiveSettings(exchange_ws_url=server.url, push_seconds=0.05))
        job = LiveJob(settings, top=3, window=3, retry_seconds=0.0)
        with caplog.at_level(logging.WARNING, logger="coinseason.live"):
            async with running(job, hooks):
                async with asyncio.timeout(10):
                    await hooks.valued.wait()
    assert "live feed not started" in caplog.text and "retrying" in caplog.text
    data = next(payload for payload in hooks.pushed if payload["value"] is not None)
    assert data["method"]["base_date"] == "2024-01-08" and data["value"] == pytest.approx(EXPECTED_VALUE)


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (dt.datetime(2024, 1, 11, 12, 0, tzinfo=dt.UTC), 12 * 3600.0),
        (dt.datetime(2024, 1, 11, 23, 59, 59, 500_000, tzinfo=dt.UTC), 1.0),  # never less than a second
        (dt.datetime(2024, 1, 11, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), 23 * 3600.0),  # 01:00 UTC
    ],
)
async def test_the_job_wakes_at_the_next_utc_midnight(now: dt.datetime, seconds: float) -> None:
    assert seconds_to_midnight(now) == pytest.approx(seconds)
