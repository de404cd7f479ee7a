"""Live ingestion: provider → quality gates → store, resumable and with one ingestor per source at a time.

* :meth:`IngestionService.backfill`: the daily history of the top N coins, a batch of coins per transaction, each
  transaction also saving the cursor (the frozen coin list and how far it got), so a run killed at any point
  resumes where the store says it stopped; rows are upserted by key, so running it again changes nothing. A coin
  the provider no longer serves (a non-retryable :class:`ProviderError`, e.g. HTTP 404) is skipped: logged, kept in
  the cursor with its reason and reported at the end; only a retryable error stops the backfill. The rank and
  circulating supply the daily snapshots stored for a day are kept where the history has none (a history
  carries neither).
* :meth:`IngestionService.snapshot`: the current top N as one day's rows, ranks as the provider gave them that
  day (history built by ingestion is point in time). Day D's row is the daily snapshot taken just after 00:00 UTC
  of D (CoinGecko's own daily point). Intraday snapshots refresh today's row so the latest values move with the
  market; the next daily snapshot puts the 00:00 values of the day before back, so past days stay 00:00 points.
* :meth:`IngestionService.run`: the loop: holds the lease, takes snapshots when :class:`Schedule` says so.
* :meth:`IngestionService.status`: the source's heartbeat: when a snapshot of it last landed (by this ingestor or
  any other holding the lease: the store's cursor says), whether that is longer ago than the heartbeat
  (``COINSEASON_INGEST_HEARTBEAT_MINUTES``: the source is then *stale*, logged once when it turns stale and once
  when it recovers), the last error, and the rejections and flags counted by reason since the service started.

Each daily snapshot also cross-checks the market as a whole: the BTC dominance of the snapshot (Bitcoin's market
cap over the summed market caps of the rows that passed) against each provider's own figure (CoinGecko's
``/global``, CoinMarketCap's ``global-metrics``): a difference beyond ``dominance_threshold`` points is logged,
counted and kept in :meth:`IngestionService.status`. And coins new to the store get their categories from the
provider's exclusion categories (:data:`EXCLUSION_CATEGORIES`: a few calls a day, cached for the day) so a new
stablecoin, wrapped, staked or tokenized coin is excluded as imported ones are.

Writes go through :meth:`Store.write_import` (with an :class:`ImportRecord` per write) so ingested data is
seen as imported data is; every rejection and flag is logged with its reason and counted in the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

import polars as pl

from coinseason.data.gates import GateConfig, GateReport, cross_check, gate_observations, reject_stale
from coinseason.data.quality import EARLIEST_DAY
from coinseason.data.tidy import COIN_SCHEMA, FLAG_MCAP_SPIKE, OBSERVATION_SCHEMA, conform_observations
from coinseason.errors import (
    ConfigError,
    LeaseHeld,
    ProviderError,
    RetryableProviderError,
    SnapshotRejected,
    StoreError,
)
from coinseason.providers.base import MarketProvider
from coinseason.services.classify import ClassificationService
from coinseason.services.ingestion.schedule import Schedule, SnapshotKind
from coinseason.store.protocols import Store
from coinseason.store.records import ImportRecord, IngestCursor, WriteCounts

log = logging.getLogger("coinseason.ingest")

T = TypeVar("T")

CONTEXT_DAYS: Final = 4
"""Stored days before the incoming ones read as neighbours for the gates (the day gap fill reaches, and one)."""
EXCLUSION_CATEGORIES: Final = {
    "stablecoins": "Stablecoins",
    "wrapped-tokens": "Wrapped-Tokens",
    "tokenized-btc": "Tokenized BTC",
    "liquid-staking-tokens": "Liquid Staking Tokens",
    "liquid-restaking-tokens": "Liquid Restaking Tokens",
    "tokenized-gold": "Tokenized Gold",
}
"""Provider category id -> the category name :mod:`coinseason.data.classification` decides a class on: the
categories whose members are looked up for coins new to the store (the top 250 of each, one call each)."""
_RESTORE_COLUMNS: Final = ("coin_id", "price", "market_cap", "volume", "rank", "circulating_supply", "flags")

BackfillProgress = Callable[[int, int], None]
"""``progress(coins_done, coins_total)`` after each committed batch."""
Landed = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class IngestConfig:
    top: int = 500
    schedule: Schedule = field(default_factory=Schedule)
    gates: GateConfig = field(default_factory=GateConfig)
    batch_coins: int = 20
    """Coins whose history is written in one transaction (with the cursor) during a backfill."""
    concurrency: int = 4
    """History requests in flight at once; the provider's own limiter paces them."""
    lease_ttl: dt.timedelta = dt.timedelta(seconds=90)
    """A holder that stops renewing loses the lease after this long; it renews at a third of it."""
    retry_after: dt.timedelta = dt.timedelta(minutes=1)
    """Wait after a failed snapshot before the loop tries again."""
    dominance_threshold: float = 3.0
    """Points of BTC dominance between the snapshot's and a provider's own figure beyond which it is flagged."""
    min_landed_share: float = 0.5
    """A snapshot lands (is written, counts as a success, and a daily one as the day's) only when at least this
    share of its rows, and at least one, passed the gates; else it fails and is tried again later."""

    def __post_init__(self) -> None:
        if not 1 <= self.top <= 5000:
            raise ConfigError(f"--top must be between 1 and 5000, not {self.top}")
        if self.batch_coins < 1 or self.concurrency < 1:
            raise ConfigError("batch size and concurrency must be at least 1")
        if not 0 <= self.min_landed_share <= 1:
            raise ConfigError(f"the minimum landed share must be between 0 and 1, not {self.min_landed_share}")


@dataclass(slots=True)
class IngestReport:
    """What one backfill or snapshot did."""

    source: str
    kind: str
    coins: int = 0
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    resumed_at: int = 0
    """Coins the backfill found already done by an earlier, interrupted run."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Coins the backfill skipped (the provider no longer serves them), with the reason."""

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())

    def add(self, counts: WriteCounts, gate: GateReport) -> None:
        self.rows += gate.good.height
        self.added += counts.added
        self.updated += counts.updated
        self.unchanged += counts.unchanged
        self.rejections.update(gate.rejections)
        self.flagged.update(gate.flagged)


class PriceReference(Protocol):
    """A cross-check source that gives prices only, keyed by symbol (the exchange's median:
    :class:`coinseason.live.reference.ExchangeReference`)."""

    @property
    def source(self) -> str: ...

    def prices(self) -> pl.DataFrame:
        """``symbol`` (lower case) and ``price`` of the coins it has a fresh price of now."""
        ...


@dataclass(frozen=True, slots=True)
class IngestStatus:
    """The state of one source's ingestion, for the API and logs."""

    source: str
    stale: bool
    """No snapshot of the source landed for longer than ``heartbeat``."""
    last_success: dt.datetime | None
    """When the last snapshot of the source landed (this ingestor's, or another's as the store's cursor says)."""
    heartbeat: dt.timedelta
    last_attempt: dt.datetime | None = None
    last_error: str | None = None
    snapshots: int = 0
    failures: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    """Rows rejected by this ingestor since it started, by reason."""
    flagged: dict[str, int] = field(default_factory=dict)
    dominance: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The last BTC dominance cross-check against each provider's own figure: ours, theirs, points apart, off."""
    dominance_off: int = 0
    """Daily snapshots whose BTC dominance was off a provider's figure beyond the threshold."""

    def to_dict(self) -> dict[str, Any]:
        def iso(t: dt.datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "source": self.source,
            "stale": self.stale,
            "last_success": iso(self.last_success),
            "heartbeat_seconds": self.heartbeat.total_seconds(),
            "last_attempt": iso(self.last_attempt),
            "last_error": self.last_error,
            "snapshots": self.snapshots,
            "failures": self.failures,
            "rejections": dict(self.rejections),
            "flagged": dict(self.flagged),
            "dominance": {k: dict(v) for k, v in self.dominance.items()},
            "dominance_off": self.dominance_off,
        }


def default_owner() -> str:
    """``host:pid:random``: unique per service, and tells whether a holder was a process of this host."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def died_here(owner: str) -> bool:
    """True when ``owner`` (from :func:`default_owner`) was a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, run by another user
        return False
    return False


class IngestionService:
    """Ingests one provider's data into a store; ``references`` are other providers to cross-check it with, and
    ``exchange`` a price-only one (the exchange median), checked with them."""

    def __init__(
        self,
        store: Store,
        provider: MarketProvider,
        *,
        clock: Callable[[], dt.datetime],
        config: IngestConfig | None = None,
        references: Sequence[MarketProvider] = (),
        exchange: PriceReference | None = None,
        owner: str | None = None,
        on_landed: Landed | None = None,
    ) -> None:
        self._store = store
        self._provider = provider
        self._clock = clock
        self.config = config or IngestConfig()
        self._references = tuple(references)
        self._exchange = exchange
        self.owner = owner or default_owner()
        self._on_landed = on_landed
        self.source = provider.source
        self.lease = f"ingest:{self.source}"
        self._started = self._now()
        self._last_success: dt.datetime | None = None
        self._last_attempt: dt.datetime | None = None
        self._last_error: str | None = None
        self._snapshots = 0
        self._failures = 0
        self._rejections: Counter[str] = Counter()
        self._flagged: Counter[str] = Counter()
        self._stale = False
        self._dominance: dict[str, dict[str, Any]] = {}
        self._dominance_off = 0
        self._categories: tuple[dt.date, dict[str, str]] | None = None

    # -- the heartbeat --------------------------------------------------------------------------------------

    @property
    def heartbeat(self) -> dt.timedelta:
        return self.config.gates.heartbeat

    def status(self) -> IngestStatus:
        """The source's heartbeat and counts now (cheap: no store or provider call)."""
        stale = self._check_heartbeat()
        return IngestStatus(
            source=self.source,
            stale=stale,
            last_success=self._last_success,
            heartbeat=self.heartbeat,
            last_attempt=self._last_attempt,
            last_error=self._last_error,
            snapshots=self._snapshots,
            failures=self._failures,
            rejections=dict(self._rejections),
            flagged=dict(self._flagged),
            dominance={k: dict(v) for k, v in self._dominance.items()},
            dominance_off=self._dominance_off,
        )

    def _landed_at(self, moment: dt.datetime) -> None:
        if self._last_success is None or moment > self._last_success:
            self._last_success = moment

    def _check_heartbeat(self) -> bool:
        """Whether the source is stale now: nothing landed for longer than the heartbeat (counted from the
        service's start while nothing landed at all); the change is logged once each way."""
        since = self._last_success or self._started
        stale = self._now() - since > self.heartbeat
        if stale and not self._stale:
            log.warning(
                "source %s is stale: no snapshot landed since %s (heartbeat %.0f min)%s",
                self.source,
                "the start" if self._last_success is None else self._last_success.isoformat(),
                self.heartbeat.total_seconds() / 60,
                "" if self._last_error is None else f"; last error: {self._last_error}",
            )
        elif self._stale and not stale:
            log.info("source %s recovered: a snapshot landed at %s", self.source, since.isoformat())
        self._stale = stale
        return stale

    # -- the lease ------------------------------------------------------------------------------------------

    def try_lease(self) -> bool:
        """Take or renew this source's ingestion lease; False when another ingestor holds it. A holder that was
        a process of this host and is gone (killed) is taken over at once instead of after its time-to-live."""
        now, ttl = self._now(), self.config.lease_ttl
        if self._store.acquire_lease(self.lease, self.owner, now, ttl):
            return True
        holder = self._store.lease_holder(self.lease)
        if holder is None or not died_here(holder):
            return False
        log.warning("lease %s was held by %s, a process of this host that is gone: taking it over", self.lease, holder)
        return self._store.acquire_lease(self.lease, self.owner, now, ttl, dead=holder)

    def hold_lease(self) -> None:
        if not self.try_lease():
            raise LeaseHeld(
                f"another coinseason process is ingesting {self.source} into {self._store.url} (lease {self.lease});"
                f" try again when it stops, or within {self.config.lease_ttl.total_seconds():.0f} s if it died"
            )

    def release_lease(self) -> None:
        self._store.release_lease(self.lease, self.owner)

    # -- backfill -------------------------------------------------------------------------------------------

    async def backfill(
        self, *, top: int, since: dt.date | None = None, progress: BackfillProgress | None = None
    ) -> IngestReport:
        """Daily history of the top ``top`` coins from ``since`` (default: as far back as the plan serves)."""
        self.hold_lease()
        try:
            return await self._backfill(top, since, progress or (lambda done, total: None))
        finally:
            self.release_lease()

    async def _backfill(self, top: int, since: dt.date | None, progress: BackfillProgress) -> IngestReport:
        today = self._now().date()
        start = since or self._earliest(today)
        if start > today:
            raise ConfigError(f"--since {start} is after today ({today})")
        name = f"backfill:{self.source}"
        state = _load(self._store.ingest_cursor(name))
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
            coins = [_coin_meta(row) for row in snapshot.rows.iter_rows(named=True)]
            done, end = 0, today
        report.coins = len(coins)
        progress(done, len(coins))
        kept = await asyncio.to_thread(self._snapshot_values, start, end)
        context = (start - dt.timedelta(days=CONTEXT_DAYS), start - dt.timedelta(days=1))
        while done < len(coins):
            batch = coins[done : done + self.config.batch_coins]
            frames, skipped = await self._renewing(self._histories([c[0] for c in batch], start, end))
            self.hold_lease()  # renewed per batch; a lost lease stops before anything is written
            done += len(batch)
            report.skipped.update(skipped)
            cursor = {"top": top, "since": since_key, "start": start.isoformat(), "end": end.isoformat()}
            cursor |= {"coins": coins, "done": done}
            cursor["complete"] = done >= len(coins)
            cursor["skipped"] = report.skipped
            incoming = pl.concat(frames) if frames else pl.DataFrame(schema=OBSERVATION_SCHEMA)
            incoming = await asyncio.to_thread(_keep_snapshot_values, incoming, kept)
            gate = await asyncio.to_thread(self._gate, incoming, context)
            saved = IngestCursor(name, json.dumps(cursor))
            counts = await asyncio.to_thread(
                self._commit, _coins_frame(self.source, batch), gate, "provider-history", saved
            )
            report.add(counts, gate)
            progress(done, len(coins))
        if report.skipped:
            log.warning(
                "%s backfill skipped %d coin(s) the provider no longer serves: %s",
                self.source,
                len(report.skipped),
                ", ".join(sorted(report.skipped)),
            )
        await asyncio.to_thread(ClassificationService(self._store).reclassify, self.source)
        await self._landed()
        return report

    async def _renewing(self, work: Awaitable[T]) -> T:
        """Await ``work`` (provider calls only: no store use), renewing the lease every third of its time-to-live
        meanwhile, so a batch slower than the lease (a keyless plan's few calls a minute) keeps it;
        :class:`LeaseHeld` when another ingestor took it."""
        task = asyncio.ensure_future(work)
        every = self.config.lease_ttl.total_seconds() / 3
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=every)
                if done:
                    return task.result()
                self.hold_lease()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _histories(
        self, coin_ids: list[str], start: dt.date, end: dt.date
    ) -> tuple[list[pl.DataFrame], dict[str, str]]:
        """The histories of ``coin_ids``, and the coins skipped (a non-retryable provider error) with the reason;
        a retryable error is raised."""
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(coin_id: str) -> pl.DataFrame | str:
            async with gate:
                try:
                    history = await self._provider.history(coin_id, start, end)
                except RetryableProviderError:
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
        days = self._provider.plan.history_days
        return EARLIEST_DAY if days is None else today - dt.timedelta(days=days - 1)

    # -- snapshots ------------------------------------------------------------------------------------------

    async def snapshot(self, kind: SnapshotKind) -> IngestReport:
        """Take the current top N as today's rows (taking or renewing the lease first; :class:`LeaseHeld` when
        another ingestor has it). A daily snapshot also puts the previous day's 00:00 values back where intraday
        snapshots refreshed them. Success and failure are counted in :meth:`status`."""
        self._last_attempt = self._now()
        try:
            report = await self._snapshot(kind)
        except (ProviderError, StoreError) as exc:
            self._failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._check_heartbeat()
            raise
        self._snapshots += 1
        self._last_error = None
        self._rejections.update(report.rejections)
        self._flagged.update(report.flagged)
        self._landed_at(self._now())
        self._check_heartbeat()
        return report

    async def _snapshot(self, kind: SnapshotKind) -> IngestReport:
        snap = await self._provider.top(self.config.top)
        observed = snap.observed_at.astimezone(dt.UTC)
        day = observed.date()
        rows, stale = reject_stale(snap.rows, observed_at=observed, heartbeat=self.config.gates.heartbeat)
        rows, off, deviating = await self._cross_check(rows)
        incoming = conform_observations(
            rows.with_columns(pl.lit(self.source).alias("source"), pl.lit(day).alias("date"))
        )
        name = f"schedule:{self.source}"
        state = _load(self._store.ingest_cursor(name)) or {}
        if kind == "daily" and state.get("daily_rows") and state.get("daily") != day.isoformat():
            incoming = pl.concat([_restore(self.source, state["daily"], state["daily_rows"]), incoming])
        known = set((await asyncio.to_thread(self._store.coins, self.source))["coin_id"].to_list())
        new = set(rows["coin_id"].to_list()) - known
        categories = await self._categories_of(new, day) if new else {}
        coins = _coins_frame(self.source, [_coin_meta(r) for r in rows.iter_rows(named=True)], categories)
        gate = await asyncio.to_thread(self._gate, incoming, (day - dt.timedelta(days=CONTEXT_DAYS), day))
        gate.rejections.update(stale + off)
        gate.flagged.update(deviating)
        landed = gate.good.filter(pl.col("date") == day)
        passed = landed.height
        if snap.rows.height == 0 or passed == 0 or passed < self.config.min_landed_share * snap.rows.height:
            self._rejections.update(gate.rejections)
            self._flagged.update(gate.flagged)
            for reason, n in sorted(gate.rejections.items()):
                log.warning("%s %s snapshot: rejected %d row(s): %s", self.source, kind, n, reason)
            raise SnapshotRejected(
                f"{kind} snapshot of {self.source}: {passed} of {snap.rows.height} rows passed the gates (at least"
                f" {self.config.min_landed_share:.0%} and one needed), nothing written; rejected"
                f" {dict(gate.rejections)}"
            )
        state["last"] = observed.isoformat()
        if kind == "daily":
            state["daily"] = day.isoformat()
            state["daily_rows"] = landed.select(_RESTORE_COLUMNS).rows()
        cursor = IngestCursor(name, json.dumps(state))
        self.hold_lease()  # renewed right before writing: a holder that lost it (stalled past its TTL) writes nothing
        counts = await asyncio.to_thread(self._commit, coins, gate, f"provider-{kind}", cursor)
        report = IngestReport(self.source, kind, coins=coins.height)
        report.add(counts, gate)
        if kind == "daily":
            await self._check_dominance(landed, rows)
        if new:
            await asyncio.to_thread(ClassificationService(self._store).reclassify, self.source)
        await self._landed()
        return report

    async def _cross_check(self, rows: pl.DataFrame) -> tuple[pl.DataFrame, Counter[str], Counter[str]]:
        if not self._references and self._exchange is None:
            return rows, Counter(), Counter()
        others: list[pl.DataFrame] = []
        for ref in self._references:
            try:
                others.append((await ref.top(self.config.top)).rows)
            except ProviderError as exc:  # a reference that fails leaves the check to the others
                log.warning("cross-check source %s unavailable: %s", ref.source, exc)
        primary, *others = match_keys([rows, *others])
        if self._exchange is not None:
            prices = self._exchange.prices()
            if prices.height:  # no fresh exchange price (feed down): the check is left to the others
                others.append(_exchange_keyed(prices, primary))
            else:
                log.warning("cross-check source %s has no fresh price", self._exchange.source)
        kept, rejections, flagged = cross_check(primary, others, key="_key", threshold=self.config.gates.deviation)
        return kept.drop("_key"), rejections, flagged

    async def _check_dominance(self, landed: pl.DataFrame, rows: pl.DataFrame) -> None:
        """Compare the BTC dominance of ``landed`` (today's rows that passed; ``rows`` give the symbols) with each
        provider's own figure; log, count and keep the result (see the module)."""
        btc_ids = rows.filter(pl.col("symbol").str.to_lowercase() == "btc").sort("market_cap", descending=True)
        usable = landed.filter((pl.col("flags") & FLAG_MCAP_SPIKE) == 0)
        total = usable["market_cap"].sum()
        btc = usable.filter(pl.col("coin_id") == (btc_ids["coin_id"][0] if btc_ids.height else None))
        if not btc.height or not total > 0:
            log.warning("BTC dominance cross-check of %s skipped: Bitcoin is not in the snapshot", self.source)
            return
        ours = 100.0 * float(btc["market_cap"][0]) / float(total)
        for provider in (self._provider, *self._references):
            try:
                theirs = await provider.global_snapshot()
            except ProviderError as exc:
                log.warning("BTC dominance cross-check with %s unavailable: %s", provider.source, exc)
                continue
            apart = abs(ours - theirs.btc_dominance)
            off = apart > self.config.dominance_threshold
            self._dominance[provider.source] = {
                "ours": ours,
                "theirs": theirs.btc_dominance,
                "points_apart": apart,
                "off": off,
                "at": theirs.observed_at.isoformat(),
            }
            if off:
                self._dominance_off += 1
                log.warning(
                    "BTC dominance of the %s snapshot (%.2f %%, its top %d) is %.2f points off %s's own figure"
                    " (%.2f %%), beyond %.2f",
                    self.source,
                    ours,
                    usable.height,
                    apart,
                    provider.source,
                    theirs.btc_dominance,
                    self.config.dominance_threshold,
                )

    async def _categories_of(self, coin_ids: set[str], day: dt.date) -> dict[str, str]:
        """``coin_id -> categories`` (``;``-separated names) of ``coin_ids`` that are members of an exclusion
        category (:data:`EXCLUSION_CATEGORIES`), looked up once a day; {} for a provider without categories."""
        members = getattr(self._provider, "category_members", None)
        if members is None:
            return {}
        if self._categories is None or self._categories[0] != day:
            found: dict[str, list[str]] = {}
            complete = True
            for category_id, name in EXCLUSION_CATEGORIES.items():
                try:
                    ids = await members(category_id)
                except ProviderError as exc:
                    log.warning("category %s of %s unavailable: %s", category_id, self.source, exc)
                    complete = False
                    continue
                for coin_id in ids:
                    found.setdefault(coin_id, []).append(name)
            joined = {c: ";".join(names) for c, names in found.items()}
            if not complete:  # looked up again at the next snapshot
                return {c: v for c, v in joined.items() if c in coin_ids}
            self._categories = (day, joined)
        return {c: v for c, v in self._categories[1].items() if c in coin_ids}

    # -- the loop -------------------------------------------------------------------------------------------

    async def run(
        self,
        *,
        stop: asyncio.Event | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Take snapshots on schedule while this ingestor holds the lease (standing by while another does)."""
        stop = stop or asyncio.Event()
        renew = self.config.lease_ttl.total_seconds() / 3
        try:
            while not stop.is_set():
                wait = renew
                if self.try_lease():
                    wait = await self._tick(renew)
                else:  # standing by: the holder's snapshots keep the source fresh
                    self._read_cursor()
                self._check_heartbeat()
                await sleep(max(wait, 0.0))
        finally:
            self.release_lease()

    async def _tick(self, renew: float) -> float:
        """Take the snapshot due now, if any; the seconds to wait before the next look."""
        now = self._now()
        state = self._read_cursor()
        last_daily = dt.date.fromisoformat(state["daily"]) if state.get("daily") else None
        last = dt.datetime.fromisoformat(state["last"]) if state.get("last") else None
        kind = self.config.schedule.due(now, last_daily=last_daily, last=last)
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
        due = self.config.schedule.next_due(self._now(), last_daily=last_daily, last=last)
        return min((due - self._now()).total_seconds(), renew)

    def _read_cursor(self) -> dict[str, Any]:
        """The schedule cursor of the source; its last snapshot counts as landed (it may be another ingestor's)."""
        state = _load(self._store.ingest_cursor(f"schedule:{self.source}")) or {}
        if state.get("last"):
            self._landed_at(dt.datetime.fromisoformat(state["last"]).astimezone(dt.UTC))
        return state

    # -- writing --------------------------------------------------------------------------------------------

    def _gate(self, incoming: pl.DataFrame, context: tuple[dt.date, dt.date]) -> GateReport:
        """Gate ``incoming`` with the stored days of ``context`` (first, last) as neighbours."""
        stored = self._store.observations_between(self.source, *context)
        return gate_observations(incoming, today=self._now().date(), config=self.config.gates, stored=stored)

    def _commit(self, coins: pl.DataFrame, gate: GateReport, fmt: str, cursor: IngestCursor) -> WriteCounts:
        """Write what passed the gates with ``cursor``, in one transaction, logging every rejection and flag."""
        for reason, n in sorted(gate.rejections.items()):
            log.warning("%s %s: rejected %d row(s): %s", self.source, fmt, n, reason)
        for reason, n in sorted(gate.flagged.items()):
            log.warning("%s %s: flagged %d row(s): %s", self.source, fmt, n, reason)
        record = ImportRecord(
            source=self.source,
            path=self._provider.plan.base_url,
            format=fmt,
            sha256="",
            imported_at=self._now(),
            rejected=gate.rejected,
            rejections={**gate.rejections, **{f"flagged: {k}": v for k, v in gate.flagged.items()}},
        )
        return self._store.write_import(coins, gate.good, record, cursor=cursor)

    async def _landed(self) -> None:
        if self._on_landed is not None:
            await self._on_landed()

    def _now(self) -> dt.datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ConfigError("the ingestion clock must give UTC times with a time zone")
        return now.astimezone(dt.UTC)


def _keep_snapshot_values(incoming: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    """``incoming`` (histories) with the rank and circulating supply already stored for its days where it has
    none: a backfill never erases them."""
    if incoming.height == 0 or stored.height == 0:
        return incoming
    kept = incoming.join(stored, on=["coin_id", "date"], how="left").with_columns(
        pl.coalesce("rank", "_rank").alias("rank"),
        pl.coalesce("circulating_supply", "_supply").alias("circulating_supply"),
    )
    return conform_observations(kept.drop("_rank", "_supply"))


def _load(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


def _coin_meta(row: dict[str, Any]) -> list[str | None]:
    return [row["coin_id"], row.get("symbol"), row.get("name")]


def _coins_frame(
    source: str, meta: Sequence[Sequence[str | None]], categories: dict[str, str] | None = None
) -> pl.DataFrame:
    """The coins rows of ``meta``; ``categories`` (by coin id) fill the categories of those it names (the others
    stay null: the store keeps what it held)."""
    categories = categories or {}
    return pl.DataFrame(
        {
            "source": [source] * len(meta),
            "coin_id": [m[0] for m in meta],
            "symbol": [m[1] for m in meta],
            "name": [m[2] for m in meta],
            "categories": [categories.get(str(m[0])) for m in meta],
        },
        schema=COIN_SCHEMA,
    )


def _restore(source: str, day: str, rows: list[list[Any]]) -> pl.DataFrame:
    """The 00:00 rows of ``day`` kept by its daily snapshot, as observations."""
    frame = pl.DataFrame(rows, schema=list(_RESTORE_COLUMNS), orient="row")
    return conform_observations(
        frame.with_columns(pl.lit(source).alias("source"), pl.lit(dt.date.fromisoformat(day)).alias("date"))
    )


def _symbol() -> pl.Expr:
    return pl.col("symbol").str.to_lowercase()


def match_keys(frames: Sequence[pl.DataFrame]) -> list[pl.DataFrame]:
    """``frames`` (sources with their own coin ids: CoinGecko's slugs, ``cmc:<id>``) with ``_key``, what matches a
    coin across them: the lower-case symbol, the only name vendors share; where several coins of one frame share a
    symbol, the symbol and the name (lower case, letters and digits only) for that symbol in every frame, so coins
    are told apart by name where it is unique. A key still shared in a frame matches nothing (see
    :func:`~coinseason.data.gates.cross_check`)."""
    shared: set[str] = set()
    for frame in frames:
        counts = frame.group_by(_symbol().alias("s")).len().filter(pl.col("len") > 1)
        shared |= {s for s in counts["s"].to_list() if s is not None}
    name = pl.col("name").str.to_lowercase().str.replace_all(r"[^a-z0-9]", "")
    return [
        f.with_columns(
            pl.when(_symbol().is_in(list(shared)))
            .then(pl.concat_str([_symbol(), pl.lit("|"), name]))
            .otherwise(_symbol())
            .alias("_key")
        )
        for f in frames
    ]


def _exchange_keyed(prices: pl.DataFrame, primary: pl.DataFrame) -> pl.DataFrame:
    """The exchange's ``coin_id, symbol, price`` keyed as ``primary`` is: by the primary's key of the same coin id
    (the exchange's ids are the store's, so a CoinGecko snapshot matches by id), else by the symbol."""
    ids = primary.select("coin_id", pl.col("_key").alias("_by_id"))
    return prices.join(ids, on="coin_id", how="left").select(
        pl.coalesce("_by_id", _symbol()).alias("_key"),
        "price",
        pl.lit(None, pl.Float64).alias("market_cap"),
    )


__all__ = [
    "IngestConfig",
    "IngestReport",
    "IngestStatus",
    "IngestionService",
    "LeaseHeld",
    "PriceReference",
    "SnapshotRejected",
    "default_owner",
]
