"""The first run with a provider: before the snapshot loop, ``serve`` backfills what the store lacks of the
provider's source, in the background, with its progress readable while it runs.

What it backfills: on an empty source, the top N as far back as the plan reaches; after a stop, the days missed
since the last stored day (within the plan's reach); an interrupted backfill is resumed where its cursor stopped.
It says first what it will fetch, how long that takes on the plan and how far back the plan reaches (the log and
:class:`FirstRunStatus`, shown by ``/readyz`` under ``jobs.backfill``), takes the day's snapshot (so the coins'
exclusion categories are known before their history lands), then writes the history a batch of coins at a time,
telling the app after each batch: the top of the ranking comes first, so a top-N series is served as soon as its
coins are in. A plan that refuses (no history, a reach exceeded) is one message, and the snapshot loop goes on."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coinseason.data.quality import EARLIEST_DAY
from coinseason.errors import LeaseHeld, PlanLimitError, ProviderError, StoreError, TemporaryError
from coinseason.services.ingestion.backfill import plan_reach
from coinseason.services.ingestion.estimate import BackfillEstimate, describe_seconds
from coinseason.services.ingestion.lease import Sleep
from coinseason.services.ingestion.service import IngestionService
from coinseason.store.protocols import MarketData

log = logging.getLogger("coinseason.ingest")

RETRY_SECONDS = 60.0
"""Wait after a temporary failure (the provider or the store) before the backfill resumes from its cursor."""


@dataclass(slots=True)
class FirstRunStatus:
    """Where the first-run backfill is, for ``/readyz`` (``jobs.backfill``) and the page.

    ``phase``: ``planning``, ``backfilling``, ``waiting`` (a temporary failure; it resumes), ``live`` (the snapshot
    loop runs: the backfill is done or was not needed), ``standby`` (another process ingests) or ``refused`` (the
    plan cannot serve the history: ``message`` says what to do)."""

    phase: str = "planning"
    message: str = ""
    coins_done: int = 0
    coins_total: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    eta_seconds: float | None = None
    plan: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        days = None
        if self.first_day is not None and self.last_day is not None:
            days = (self.last_day - self.first_day).days + 1
        return {
            "phase": self.phase,
            "message": self.message,
            "coins_done": self.coins_done,
            "coins_total": self.coins_total,
            "days": days,
            "from": None if self.first_day is None else self.first_day.isoformat(),
            "to": None if self.last_day is None else self.last_day.isoformat(),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds),
            "plan": dict(self.plan),
        }


@dataclass(frozen=True, slots=True)
class Window:
    """What to backfill: ``since`` as :meth:`IngestionService.backfill` takes it (None: the plan's reach)."""

    since: dt.date | None
    first_day: dt.date
    resumed: bool = False


class FirstRun:
    """Backfills ``service``'s source before its snapshot loop (see the module docstring)."""

    def __init__(
        self,
        service: IngestionService,
        store: MarketData,
        estimate: BackfillEstimate,
        *,
        top: int,
        clock: Callable[[], dt.datetime],
        sleep: Sleep,
        loop_note: str,
    ) -> None:
        self._service = service
        self._store = store
        self._estimate = estimate
        self._top = top
        self._clock = clock
        self._sleep = sleep
        self._loop_note = loop_note
        self._started: dt.datetime | None = None
        self.status = FirstRunStatus(plan=estimate.to_dict())

    def window(self, today: dt.date) -> Window | None:
        """What the store lacks of the source: an interrupted backfill, everything the plan reaches on an empty
        source, or the days since the last stored one; None when it is up to date."""
        source = self._service.source
        text = self._store.ingest_cursor(f"backfill:{source}")
        cursor = json.loads(text) if text else {}
        if isinstance(cursor, dict) and cursor.get("top") == self._top and cursor.get("complete") is False:
            since = None if cursor.get("since") == "plan" else dt.date.fromisoformat(str(cursor["since"]))
            first = dt.date.fromisoformat(str(cursor.get("start") or cursor["since"]))
            return Window(since, first, resumed=True)
        reach = plan_reach(self._service.plan, today)
        stored = next((s for s in self._store.sources() if s.source == source), None)
        if stored is None or (not cursor and stored.first_date >= today - dt.timedelta(days=1)):
            # empty, or only the day's snapshots (a first run stopped before its backfill began): the plan's reach
            return Window(None, reach or EARLIEST_DAY)
        if stored.last_date >= today - dt.timedelta(days=1):
            return None
        start = stored.last_date + dt.timedelta(days=1)
        if reach is not None and start < reach:
            start = reach
        return Window(start, start)

    async def run(self) -> None:
        """Backfill what is missing, retrying temporary failures, until done, refused or not needed."""
        status = self.status
        while True:
            try:
                await self._once()
                return
            except LeaseHeld:
                status.phase, status.eta_seconds = "standby", None
                status.message = "another process ingests this source; its backfill and snapshots fill the store"
                log.info("first run: %s", status.message)
                return
            except PlanLimitError as exc:
                status.phase, status.eta_seconds = "refused", None
                status.message = str(exc)
                log.warning("first run: the backfill was refused for the plan: %s", exc)
                return
            except (TemporaryError, StoreError) as exc:
                status.phase = "waiting"
                status.message = f"waiting {RETRY_SECONDS:.0f} s after a temporary failure, then resuming: {exc}"
                log.warning("first run: %s", status.message)
                await self._sleep(RETRY_SECONDS)

    async def _once(self) -> None:
        status = self.status
        today = self._clock().date()
        if not self._estimate.has_history:
            status.phase, status.message = "live", f"{self._estimate.describe()}; {self._loop_note}"
            log.info("first run: %s", status.message)
            return
        window = self.window(today)
        if window is None:
            status.phase, status.message = "live", f"the store is up to date; {self._loop_note}"
            return
        status.first_day, status.last_day = window.first_day, today
        status.phase, status.eta_seconds = "backfilling", self._estimate.seconds
        what = "resuming an interrupted backfill" if window.resumed else self._estimate.describe()
        status.message = f"{what}; each series is served as soon as its coins are in; then {self._loop_note}"
        log.info("first run: %s (days %s to %s)", status.message, window.first_day, today)
        try:
            await self._service.snapshot("daily")  # the day's ranking and the new coins' exclusion categories
        except LeaseHeld:
            raise
        except (ProviderError, StoreError) as exc:
            log.warning("first run: the day's snapshot failed, the loop takes it later: %s", exc)
        self._started = self._clock()
        report = await self._service.backfill(
            top=self._top, since=window.since, progress=self._progress, landed_each_batch=True
        )
        empty = report.nothing_stored()
        status.phase, status.eta_seconds = "live", 0.0
        if empty is not None:
            status.message = f"the backfill stored nothing: {empty}; {self._loop_note}"
            log.warning("first run: %s", status.message)
            return
        status.message = (
            f"backfill done: {report.coins} coins, {report.rows} rows from {report.start} to {report.end}"
            f"{f', {len(report.skipped)} coins skipped' if report.skipped else ''}; {self._loop_note}"
        )
        log.info("first run: %s", status.message)

    def _progress(self, done: int, total: int) -> None:
        status = self.status
        status.coins_done, status.coins_total = done, total
        remaining = max(total - done, 0)
        if done and self._started is not None:
            elapsed = (self._clock() - self._started).total_seconds()
            status.eta_seconds = elapsed / done * remaining
        elif total:
            status.eta_seconds = self._estimate.seconds * remaining / total
        if done:
            left = describe_seconds(status.eta_seconds or 0.0)
            log.info("first run: %s backfill: %d of %d coins, about %s left", self._service.source, done, total, left)
