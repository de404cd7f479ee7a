"""The current top N as one day's rows, ranks as the provider gave them that day (history built by ingestion is
point in time). Day D's row is the daily snapshot taken just after 00:00 UTC of D (CoinGecko's own daily point).
Intraday snapshots refresh today's row so the latest values move with the market; the next daily snapshot puts
the 00:00 values of the day before back, so past days stay 00:00 points.

Each daily snapshot is also checked as a whole (its BTC dominance against each provider's own figure), and coins
new to the store get their exclusion categories from the provider."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Any, Final

import polars as pl

from coinseason.data.gates import reject_stale
from coinseason.errors import SnapshotRejected
from coinseason.providers.base import MarketProvider
from coinseason.services.ingestion.categories import CategoryLookup
from coinseason.services.ingestion.checks import CrossCheck, DominanceCheck
from coinseason.services.ingestion.config import IngestConfig, IngestReport
from coinseason.services.ingestion.lease import Lease
from coinseason.services.ingestion.schedule import SnapshotKind
from coinseason.services.ingestion.status import Heartbeat
from coinseason.services.ingestion.writer import CONTEXT_DAYS, IngestWriter, coin_meta, coins_frame, dated
from coinseason.store.records import IngestCursor

log = logging.getLogger("coinseason.ingest")

RESTORE_COLUMNS: Final = ("coin_id", "price", "market_cap", "volume", "rank", "circulating_supply", "flags")
"""What the schedule cursor keeps of a daily snapshot's rows, to put them back after the day's intraday ones."""


def schedule_cursor(source: str) -> str:
    """The name of the cursor of ``source``'s snapshot loop: ``last`` (time of the last snapshot), ``daily`` (day
    of the last daily one) and ``daily_rows`` (its rows, :data:`RESTORE_COLUMNS`)."""
    return f"schedule:{source}"


def restored(source: str, day: str, rows: list[list[Any]]) -> pl.DataFrame:
    """The 00:00 rows of ``day`` kept by its daily snapshot, as observations."""
    frame = pl.DataFrame(rows, schema=list(RESTORE_COLUMNS), orient="row")
    return dated(frame, source, dt.date.fromisoformat(day))


class Snapshots:
    """Snapshots of one provider's source, each written under ``lease`` (renewed right before writing)."""

    def __init__(
        self,
        provider: MarketProvider,
        writer: IngestWriter,
        lease: Lease,
        heartbeat: Heartbeat,
        *,
        config: IngestConfig,
        cross_check: CrossCheck,
        dominance: DominanceCheck,
        categories: CategoryLookup,
    ) -> None:
        self._provider = provider
        self._writer = writer
        self._lease = lease
        self._heartbeat = heartbeat
        self._config = config
        self._cross_check = cross_check
        self._dominance = dominance
        self._categories = categories
        self.source = provider.source

    async def take(self, kind: SnapshotKind) -> IngestReport:
        """Take the current top N as today's rows; :class:`SnapshotRejected` (nothing written, its rejections
        counted in the heartbeat) when too few rows passed the gates."""
        snap = await self._provider.top(self._config.top)
        observed = snap.observed_at.astimezone(dt.UTC)
        day = observed.date()
        rows, stale = reject_stale(snap.rows, observed_at=observed, heartbeat=self._config.gates.heartbeat)
        rows, off, deviating = await self._cross_check(rows)
        incoming = dated(rows, self.source, day)
        name = schedule_cursor(self.source)
        state = self._writer.cursor(name)
        if kind == "daily" and state.get("daily_rows") and state.get("daily") != day.isoformat():
            incoming = pl.concat([restored(self.source, state["daily"], state["daily_rows"]), incoming])
        known = await asyncio.to_thread(self._writer.known_coins)
        new = set(rows["coin_id"].to_list()) - known
        categories = await self._categories.of(new, day) if new else {}
        coins = coins_frame(self.source, [coin_meta(r) for r in rows.iter_rows(named=True)], categories)
        gate = await asyncio.to_thread(self._writer.gate, incoming, (day - dt.timedelta(days=CONTEXT_DAYS), day))
        gate.rejections.update(stale + off)
        gate.flagged.update(deviating)
        landed = gate.good.filter(pl.col("date") == day)
        passed = landed.height
        if snap.rows.height == 0 or passed == 0 or passed < self._config.min_landed_share * snap.rows.height:
            self._heartbeat.count(gate.rejections, gate.flagged)
            for reason, n in sorted(gate.rejections.items()):
                log.warning("%s %s snapshot: rejected %d row(s): %s", self.source, kind, n, reason)
            raise SnapshotRejected(
                f"{kind} snapshot of {self.source}: {passed} of {snap.rows.height} rows passed the gates (at least"
                f" {self._config.min_landed_share:.0%} and one needed), nothing written; rejected"
                f" {dict(gate.rejections)}"
            )
        state["last"] = observed.isoformat()
        if kind == "daily":
            state["daily"] = day.isoformat()
            state["daily_rows"] = landed.select(RESTORE_COLUMNS).rows()
        cursor = IngestCursor(name, json.dumps(state))
        self._lease.hold()  # renewed right before writing: a holder that lost it (stalled past its TTL) writes nothing
        counts = await asyncio.to_thread(self._writer.commit, coins, gate, f"provider-{kind}", cursor)
        report = IngestReport(self.source, kind, coins=coins.height)
        report.add(counts, gate)
        if kind == "daily":
            await self._dominance(landed, rows)
        if new:
            await asyncio.to_thread(self._writer.reclassify)
        return report
