"""Live ingestion: provider → quality gates → store, resumable and with one ingestor per source at a time.

:class:`IngestionService` composes the parts, each in its module:

* :meth:`~IngestionService.backfill` (:mod:`.backfill`): the daily history of the top N coins, resumable;
* :meth:`~IngestionService.snapshot` (:mod:`.snapshot`): the current top N as one day's rows, cross-checked
  (:mod:`.checks`), with the categories of new coins (:mod:`.categories`);
* :meth:`~IngestionService.run`: the loop: holds the lease (:mod:`.lease`), takes snapshots when the
  :class:`~.schedule.Schedule` says so;
* :meth:`~IngestionService.status` (:mod:`.status`): the source's heartbeat: when a snapshot of it last landed (by
  this ingestor or any other holding the lease: the store's cursor says), whether that is longer ago than the
  heartbeat (``COINSEASON_INGEST_HEARTBEAT_MINUTES``), the last error, and the rejections and flags counted by
  reason since the service started.

Writes go through :mod:`.writer`: the gates, then one transaction per write with its cursor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from coinseason.clock import Clock
from coinseason.errors import ConfigError, ProviderError, StoreError
from coinseason.providers.base import MarketProvider
from coinseason.services.ingestion.backfill import Backfill, BackfillProgress
from coinseason.services.ingestion.categories import CategoryLookup
from coinseason.services.ingestion.checks import CrossCheck, DominanceCheck, PriceReference
from coinseason.services.ingestion.config import IngestConfig, IngestReport
from coinseason.services.ingestion.lease import Lease, Sleep, default_owner
from coinseason.services.ingestion.schedule import SnapshotKind
from coinseason.services.ingestion.snapshot import Snapshots, schedule_cursor
from coinseason.services.ingestion.status import Heartbeat, IngestStatus
from coinseason.services.ingestion.writer import IngestWriter
from coinseason.store.protocols import LeaseStore, MarketData

log = logging.getLogger("coinseason.ingest")

BATCH_LANDED_EVERY = dt.timedelta(seconds=10)
"""During a backfill, the app is told of new data at most this often (a fast plan writes a batch every few s)."""

Landed = Callable[[], Awaitable[None]]
"""Called after each write that landed (the API's ``announce_data_landed``)."""


class IngestStore(MarketData, LeaseStore, Protocol):
    """What ingestion needs of a store: the market data, the lease, and the URL it names in its errors."""

    @property
    def url(self) -> str: ...


class IngestionService:
    """Ingests one provider's data into a store; ``references`` are other providers to cross-check it with, and
    ``exchange`` a price-only one (the exchange median), checked with them. ``sleep`` paces the lease renewals of
    a backfill (a fake one moves a test's clock instead of waiting)."""

    def __init__(
        self,
        store: IngestStore,
        provider: MarketProvider,
        *,
        clock: Clock,
        config: IngestConfig | None = None,
        references: Sequence[MarketProvider] = (),
        exchange: PriceReference | None = None,
        owner: str | None = None,
        on_landed: Landed | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self.config = config = config or IngestConfig()
        self.owner = owner or default_owner()
        self.source = source = provider.source
        self.plan = provider.plan
        self._on_landed = on_landed
        self._lease = Lease(
            store,
            f"ingest:{source}",
            self.owner,
            ttl=config.lease_ttl,
            clock=self._now,
            doing=f"ingesting {source} into {store.url}",
        )
        self._writer = writer = IngestWriter(
            store, source, origin=provider.plan.base_url, gates=config.gates, clock=self._now
        )
        self._heartbeat = Heartbeat(source, config.gates.heartbeat, self._now)
        self._dominance = DominanceCheck(source, (provider, *references), threshold=config.dominance_threshold)
        self._backfill = Backfill(
            store, provider, writer, self._lease, config=config, today=lambda: self._now().date(), sleep=sleep
        )
        self._snapshots = Snapshots(
            provider,
            writer,
            self._lease,
            self._heartbeat,
            config=config,
            cross_check=CrossCheck(references, exchange, top=config.top, threshold=config.gates.deviation),
            dominance=self._dominance,
            categories=CategoryLookup(provider),
        )

    @property
    def lease(self) -> str:
        """The name of this source's ingestion lease."""
        return self._lease.name

    @property
    def heartbeat(self) -> dt.timedelta:
        return self._heartbeat.heartbeat

    def status(self) -> IngestStatus:
        """The source's heartbeat and counts now (cheap: no store or provider call)."""
        return self._heartbeat.status(self._dominance.results, self._dominance.off)

    # -- the lease ------------------------------------------------------------------------------------------

    def try_lease(self) -> bool:
        """Take or renew this source's ingestion lease; False when another ingestor holds it."""
        return self._lease.take()

    def hold_lease(self) -> None:
        """Take or renew the lease; :class:`~coinseason.errors.LeaseHeld` when another ingestor holds it."""
        self._lease.hold()

    def release_lease(self) -> None:
        self._lease.release()

    # -- backfill and snapshots -----------------------------------------------------------------------------

    async def backfill(
        self,
        *,
        top: int,
        since: dt.date | None = None,
        progress: BackfillProgress | None = None,
        landed_each_batch: bool = False,
    ) -> IngestReport:
        """Daily history of the top ``top`` coins from ``since`` (default: as far back as the plan serves);
        with ``landed_each_batch`` the app is told after a batch, so it serves what is in as it comes: after the
        first, then at most once every :data:`BATCH_LANDED_EVERY` (each telling reloads the app's series)."""
        self._lease.hold()
        told: list[dt.datetime] = []

        async def paced() -> None:
            now = self._now()
            if not told or now - told[-1] >= BATCH_LANDED_EVERY:
                told.append(now)
                await self._landed()

        try:
            landed = paced if landed_each_batch else None
            report = await self._backfill.run(top, since, progress or (lambda done, total: None), landed)
            await self._landed()
            return report
        finally:
            self._lease.release()

    async def snapshot(self, kind: SnapshotKind) -> IngestReport:
        """Take the current top N as today's rows (taking or renewing the lease first; :class:`LeaseHeld` when
        another ingestor has it). A daily snapshot also puts the previous day's 00:00 values back where intraday
        snapshots refreshed them. Success and failure are counted in :meth:`status`."""
        self._heartbeat.attempted()
        try:
            report = await self._snapshots.take(kind)
            await self._landed()
        except (ProviderError, StoreError) as exc:
            self._heartbeat.failed(exc)
            raise
        self._heartbeat.succeeded(report.rejections, report.flagged)
        return report

    # -- the loop -------------------------------------------------------------------------------------------

    async def run(self, *, stop: asyncio.Event | None = None, sleep: Sleep = asyncio.sleep) -> None:
        """Take snapshots on schedule while this ingestor holds the lease (standing by while another does)."""
        stop = stop or asyncio.Event()
        renew = self._lease.renew_every
        try:
            while not stop.is_set():
                wait = renew
                try:  # the store off the event loop: an embedded store busy with another process makes it wait
                    if await asyncio.to_thread(self._lease.take):
                        wait = await self._tick(renew)
                    else:  # standing by: the holder's snapshots keep the source fresh
                        await asyncio.to_thread(self._read_cursor)
                except StoreError as exc:
                    log.warning("ingestion of %s waits for the store: %s", self.source, exc)
                    wait = min(self.config.retry_after.total_seconds(), renew)
                self._heartbeat.check()
                await sleep(max(wait, 0.0))
        finally:
            self._lease.release()

    async def _tick(self, renew: float) -> float:
        """Take the snapshot due now, if any; the seconds to wait before the next look."""
        now = self._now()
        state = await asyncio.to_thread(self._read_cursor)
        last_daily = dt.date.fromisoformat(state["daily"]) if state.get("daily") else None
        last = dt.datetime.fromisoformat(state["last"]) if state.get("last") else None
        schedule = self.config.schedule
        kind = schedule.due(now, last_daily=last_daily, last=last)
        if kind is not None:
            try:
                report = await self.snapshot(kind)
            except (ProviderError, StoreError) as exc:
                log.warning("%s snapshot of %s failed: %s", kind, self.source, exc)
                return min(self.config.retry_after.total_seconds(), renew)
            log.info(
                "%s snapshot of %s: %d coins, %d added, %d updated, %d rejected %s, flagged %s",
                kind,
                self.source,
                report.coins,
                report.added,
                report.updated,
                report.rejected,
                dict(report.rejections),
                dict(report.flagged),
            )
            last_daily, last = (now.date() if kind == "daily" else last_daily), now
        due = schedule.next_due(self._now(), last_daily=last_daily, last=last)
        return min((due - self._now()).total_seconds(), renew)

    def _read_cursor(self) -> dict[str, Any]:
        """The schedule cursor of the source; its last snapshot counts as landed (it may be another ingestor's)."""
        state = self._writer.cursor(schedule_cursor(self.source))
        last = state.get("last")
        if isinstance(last, str) and last:
            self._heartbeat.landed_at(dt.datetime.fromisoformat(last).astimezone(dt.UTC))
        return state

    async def _landed(self) -> None:
        if self._on_landed is not None:
            await self._on_landed()

    def _now(self) -> dt.datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ConfigError("the ingestion clock must give UTC times with a time zone")
        return now.astimezone(dt.UTC)
