"""The daily history of the top N coins, a batch of coins per transaction, each transaction also saving the cursor
(the frozen coin list and how far it got), so a run killed at any point resumes where the store says it stopped;
rows are upserted by key, so running it again changes nothing.

A coin the provider no longer serves (a non-retryable :class:`ProviderError`, e.g. HTTP 404) is skipped: logged,
kept in the cursor with its reason and reported at the end; a retryable error stops the backfill, and so does a
refusal for the plan's limits (:class:`PlanLimitError`: history further back than the plan reaches), said once
before any coin is asked when the plan's reach is known, never once per coin. The rank and
circulating supply the daily snapshots stored for a day are kept where the history has none (a history carries
neither)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable

import polars as pl

from coinseason.data.quality import EARLIEST_DAY
from coinseason.data.tidy import OBSERVATION_SCHEMA, conform_observations
from coinseason.errors import ConfigError, PlanLimitError, ProviderError, RetryableProviderError
from coinseason.providers.base import MarketProvider, Plan
from coinseason.services.ingestion.config import IngestConfig, IngestReport
from coinseason.services.ingestion.lease import Lease, Sleep
from coinseason.services.ingestion.writer import CONTEXT_DAYS, IngestWriter, coin_meta, coins_frame
from coinseason.store.protocols import MarketData
from coinseason.store.records import IngestCursor

log = logging.getLogger("coinseason.ingest")

BackfillProgress = Callable[[int, int], None]
"""``progress(coins_done, coins_total)`` after each committed batch."""
BatchLanded = Callable[[], Awaitable[None]]
"""Called after each committed batch (the API reloads: a series is served as soon as its coins are in)."""

FREE_FILES = "coinseason import PATH --format crypto2-listings|coingecko-csv"
"""The command that brings full history without a paid plan."""


def plan_reach(plan: Plan, today: dt.date) -> dt.date | None:
    """The first day ``plan`` serves history for, today; None when it has no limit."""
    return None if plan.history_days is None else today - dt.timedelta(days=plan.history_days - 1)


def check_reach(source: str, plan: Plan, start: dt.date, today: dt.date) -> None:
    """One :class:`PlanLimitError` when ``plan`` cannot serve history from ``start``: the plan, its reach and what
    to do instead, before any coin is asked."""
    if plan.history_days == 0:
        raise PlanLimitError(
            f"the {source} {plan.name} plan serves no history: only the daily snapshots from today on are taken;"
            f" for history use a plan that has it, or import a full-history file ({FREE_FILES})"
        )
    reach = plan_reach(plan, today)
    if reach is not None and start < reach:
        raise PlanLimitError(
            f"the {source} {plan.name} plan serves history only {plan.history_days} days back (from {reach});"
            f" {start} is before it: start at {reach} or later (--since {reach}), use a plan that reaches further,"
            f" or import a full-history file ({FREE_FILES})"
        )


def keep_snapshot_values(incoming: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    """``incoming`` (histories) with the rank and circulating supply already stored for its days where it has
    none: a backfill never erases them."""
    if incoming.height == 0 or stored.height == 0:
        return incoming
    kept = incoming.join(stored, on=["coin_id", "date"], how="left").with_columns(
        pl.coalesce("rank", "_rank").alias("rank"),
        pl.coalesce("circulating_supply", "_supply").alias("circulating_supply"),
    )
    return conform_observations(kept.drop("_rank", "_supply"))


class Backfill:
    """Backfills of one provider's source into a store, under ``lease`` (held by the caller, renewed here)."""

    def __init__(
        self,
        store: MarketData,
        provider: MarketProvider,
        writer: IngestWriter,
        lease: Lease,
        *,
        config: IngestConfig,
        today: Callable[[], dt.date],
        sleep: Sleep,
    ) -> None:
        self._store = store
        self._provider = provider
        self._writer = writer
        self._lease = lease
        self._config = config
        self._today = today
        self._sleep = sleep
        self.source = provider.source

    async def run(
        self, top: int, since: dt.date | None, progress: BackfillProgress, landed: BatchLanded | None = None
    ) -> IngestReport:
        """Daily history of the top ``top`` coins from ``since`` (default: as far back as the plan serves);
        ``landed`` is awaited after each committed batch."""
        today = self._today()
        start = since or self._earliest(today)
        if start > today:
            raise ConfigError(f"--since {start} is after today ({today})")
        check_reach(self.source, self._provider.plan, start, today)
        name = f"backfill:{self.source}"
        state = self._writer.cursor(name)
        report = IngestReport(self.source, "backfill")
        # without --since the cursor says "plan" (as far back as the plan serves): a run killed before midnight
        # resumes after it, from the start it had, instead of starting over from a start one day later
        since_key = start.isoformat() if since else "plan"
        if state and state.get("top") == top and state.get("since") == since_key and not state["complete"]:
            coins, done, end = state["coins"], int(state["done"]), dt.date.fromisoformat(state["end"])
            start = dt.date.fromisoformat(state.get("start") or state["since"])
            report.skipped.update(state.get("skipped") or {})
            report.resumed_at = done
            log.info("resuming the %s backfill at coin %d of %d", self.source, done, len(coins))
        else:
            snapshot = await self._provider.top(top)
            coins = [coin_meta(row) for row in snapshot.rows.iter_rows(named=True)]
            done, end = 0, today
        report.coins = len(coins)
        report.start, report.end = start, end
        progress(done, len(coins))
        kept = await asyncio.to_thread(self._snapshot_values, start, end)
        context = (start - dt.timedelta(days=CONTEXT_DAYS), start - dt.timedelta(days=1))
        while done < len(coins):
            batch = coins[done : done + self._config.batch_coins]
            fetch = self._histories([c[0] for c in batch], start, end)
            frames, skipped = await self._lease.kept_during(fetch, self._sleep)
            self._lease.hold()  # renewed per batch; a lost lease stops before anything is written
            done += len(batch)
            report.skipped.update(skipped)
            cursor = {"top": top, "since": since_key, "start": start.isoformat(), "end": end.isoformat()}
            cursor |= {"coins": coins, "done": done}
            cursor["complete"] = done >= len(coins)
            cursor["skipped"] = report.skipped
            incoming = pl.concat(frames) if frames else pl.DataFrame(schema=OBSERVATION_SCHEMA)
            incoming = await asyncio.to_thread(keep_snapshot_values, incoming, kept)
            gate = await asyncio.to_thread(self._writer.gate, incoming, context)
            saved = IngestCursor(name, json.dumps(cursor))
            counts = await asyncio.to_thread(
                self._writer.commit, coins_frame(self.source, batch), gate, "provider-history", saved
            )
            report.add(counts, gate)
            progress(done, len(coins))
            if landed is not None and gate.good.height:
                await landed()
        if report.skipped:
            log.warning(
                "%s backfill skipped %d coin(s) the provider did not serve: %s",
                self.source,
                len(report.skipped),
                ", ".join(sorted(report.skipped)),
            )
        await asyncio.to_thread(self._writer.reclassify)
        return report

    async def _histories(
        self, coin_ids: list[str], start: dt.date, end: dt.date
    ) -> tuple[list[pl.DataFrame], dict[str, str]]:
        """The histories of ``coin_ids``, and the coins skipped (a non-retryable provider error) with the reason;
        a retryable error is raised."""
        gate = asyncio.Semaphore(self._config.concurrency)

        async def one(coin_id: str) -> pl.DataFrame | str:
            async with gate:
                try:
                    history = await self._provider.history(coin_id, start, end)
                except (RetryableProviderError, PlanLimitError):
                    raise
                except ProviderError as exc:
                    log.warning("%s backfill: skipping %s: %s", self.source, coin_id, exc)
                    return f"{type(exc).__name__}: {exc}"
            return history.days.with_columns(
                pl.lit(self.source).alias("source"), pl.lit(coin_id).alias("coin_id")
            ).pipe(conform_observations)

        tasks = [asyncio.ensure_future(one(c)) for c in coin_ids]
        try:
            results = await asyncio.gather(*tasks)
        finally:  # a retryable error stops the batch: its siblings make no more calls
            for task in tasks:
                task.cancel()
        frames = [r for r in results if isinstance(r, pl.DataFrame)]
        skipped = {c: r for c, r in zip(coin_ids, results, strict=True) if isinstance(r, str)}
        return frames, skipped

    def _snapshot_values(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """The rank and circulating supply stored for ``start`` to ``end`` (by the daily snapshots), read once."""
        return (
            self._store.observations_between(self.source, start, end)
            .filter(pl.col("rank").is_not_null() | pl.col("circulating_supply").is_not_null())
            .select("coin_id", "date", pl.col("rank").alias("_rank"), pl.col("circulating_supply").alias("_supply"))
        )

    def _earliest(self, today: dt.date) -> dt.date:
        return plan_reach(self._provider.plan, today) or EARLIEST_DAY
