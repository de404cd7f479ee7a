"""File import: read → the quality gates live ingestion passes (with the stored days around the file's as
neighbours) → one atomic write → token classification.

CoinMarketCap snapshots carry symbols only: their rows pass the row gates first, then each coin reported twice on
one day is kept once, the ids are resolved and one-day glitches given back to their coins
(:mod:`coinseason.data.cmc_identity`), and only then the gates that need ids. Every rejection and flag is counted by
reason in the report and in the import log row; a file none of whose rows passes is refused whole
(:class:`~coinseason.errors.ImportRejected`): nothing is written, no log row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import polars as pl

from coinseason.clock import Clock
from coinseason.data.cmc_identity import TrackSeed, attach_glitch_days, drop_duplicate_coins, resolve_cmc_identities
from coinseason.data.gates import GateConfig, gate_observations
from coinseason.data.quality import reject_bad_rows
from coinseason.data.reasons import EARLIEST_DAY, FLAGGED_PREFIX, REASON_NO_COIN
from coinseason.data.tidy import COIN_SCHEMA, FLAG_MCAP_SPIKE
from coinseason.errors import DataError, ImportRejected
from coinseason.providers.files import CMC_ID_PREFIX, FileFormat, ParsedFile, read_file
from coinseason.services.classify import ClassificationService
from coinseason.settings import Settings
from coinseason.store.protocols import MarketData
from coinseason.store.records import ImportRecord

Progress = Callable[[str, int, int], None]
"""Where an import reports how far it is: ``progress(step_name, done, total)``."""

CONTEXT_DAYS: Final = 4
"""Stored days before and after the file's read as neighbours and as the market for the gates."""
SEED_LOOKBACK_DAYS: Final = 30
"""Stored days before a CMC file searched for each coin's last unflagged day (the state its rows continue)."""


def _no_progress(step: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class ImportReport:
    source: str
    format: str
    path: str
    rows_read: int
    added: int
    updated: int
    unchanged: int
    rejected: int
    rejections: dict[str, int] = field(default_factory=dict)
    duplicates_merged: int = 0
    coins: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    """Rows stored but kept out of every index, by reason."""
    gates: GateConfig = field(default_factory=GateConfig)
    """The gates the rows passed (``K``, the supply factor)."""


STEPS = ("read", "check", "resolve", "write", "classify")


def gate_config(settings: Settings) -> GateConfig:
    """The quality gates' parameters from the settings (``COINSEASON_INGEST_*``): one set for imports and live
    ingestion alike."""
    ingest = settings.ingest
    return GateConfig(
        spike_factor=ingest.spike_factor,
        supply_factor=ingest.supply_jump_factor,
        deviation=ingest.cross_check_threshold,
        heartbeat=dt.timedelta(minutes=ingest.heartbeat_minutes),
    )


class ImportService:
    """Imports files into a store. ``clock`` gives the current UTC time (rows dated after it are rejected);
    ``gates`` are the quality gates' parameters, the same as live ingestion's."""

    def __init__(
        self,
        store: MarketData,
        *,
        clock: Clock,
        gates: GateConfig | None = None,
        progress: Progress = _no_progress,
    ) -> None:
        self._store = store
        self._clock = clock
        self._gates = gates or GateConfig()
        self._progress = progress

    def import_file(
        self, path: Path, fmt: FileFormat, *, source: str | None = None, coin_id: str | None = None
    ) -> ImportReport:
        """Import ``path`` as ``fmt``; raises :class:`FormatError` for a file not of that format and
        :class:`ImportRejected` when every row is rejected (nothing is written either way)."""
        total = len(STEPS)
        self._progress("read", 0, total)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        parsed = read_file(path, fmt, source=source, coin_id=coin_id)
        self._refuse_other_identities(parsed, fmt)
        self._progress("check", 1, total)
        now = self._clock()
        today = now.date()
        rows_read = parsed.observations.height
        rejections: Counter[str] = Counter()
        merged = 0
        coins, observations = parsed.coins, parsed.observations
        if parsed.needs_identity:
            self._progress("resolve", 2, total)
            checked = reject_bad_rows(observations, today=today, skip=(REASON_NO_COIN,))
            rejections.update(checked.rejections)
            coins, observations, dropped, merged = self._resolve_identities(parsed, checked.good)
            rejections.update(dropped)
        gate = gate_observations(
            observations, today=today, config=self._gates, stored=self._neighbours(parsed.source, observations, today)
        )
        rejections.update(gate.rejections)
        merged += gate.duplicates_merged
        rejected = sum(rejections.values())
        if rows_read and rows_read - rejected - merged <= 0:
            raise ImportRejected(
                f"{path}: every one of its {rows_read:,} rows was rejected; nothing was imported",
                rows_read=rows_read,
                rejections=dict(sorted(rejections.items())),
            )
        if rows_read:  # a coin none of whose rows passed is not written (a categories file has no rows)
            coins = coins.join(gate.good.select("coin_id").unique(), on="coin_id", how="semi")
        self._progress("write", 3, total)
        record = ImportRecord(
            source=parsed.source,
            path=str(path),
            format=str(fmt),
            sha256=digest,
            imported_at=now,
            rejected=rejected,
            rejections={**rejections, **{FLAGGED_PREFIX + reason: n for reason, n in gate.flagged.items()}},
        )
        counts = self._store.write_import(coins, gate.good, record)
        self._progress("classify", 4, total)
        ClassificationService(self._store).reclassify(parsed.source)
        self._progress("done", total, total)
        return ImportReport(
            source=parsed.source,
            format=str(fmt),
            path=str(path),
            rows_read=rows_read,
            added=counts.added,
            updated=counts.updated,
            unchanged=counts.unchanged,
            rejected=rejected,
            rejections=dict(sorted(rejections.items())),
            duplicates_merged=merged,
            coins=coins.height,
            flagged=dict(sorted(gate.flagged.items())),
            gates=self._gates,
        )

    def _refuse_other_identities(self, parsed: ParsedFile, fmt: FileFormat) -> None:
        """Refuse a CoinMarketCap file whose coins are named otherwise than the source's stored ones: ``crypto2``
        listings (and the live provider) name a coin by CMC's numeric id (``cmc:1``), ``cmc-snapshots`` by a track
        of its symbol (``btc@2013-04-28``); mixed in one source, one coin would be counted twice."""
        if fmt not in (FileFormat.CRYPTO2_LISTINGS, FileFormat.CMC_SNAPSHOTS):
            return
        stored = self._store.coins(parsed.source)["coin_id"]
        if stored.is_empty():
            return
        by_id = stored.str.starts_with(CMC_ID_PREFIX)
        if fmt is FileFormat.CRYPTO2_LISTINGS and not bool(by_id.all()):
            other = stored.filter(~by_id)[0]
            raise DataError(
                f"source {parsed.source} holds CoinMarketCap coins named by symbol (e.g. {other}, from a cmc-snapshots"
                f" import); crypto2 listings name them by CMC id: import them into another source (--source"
                f" {parsed.source}-listings) so no coin is counted twice"
            )
        if fmt is FileFormat.CMC_SNAPSHOTS and bool(by_id.any()):
            other = stored.filter(by_id)[0]
            raise DataError(
                f"source {parsed.source} holds CoinMarketCap coins named by CMC id (e.g. {other}, from crypto2 listings"
                f" or the live provider); cmc-snapshots name them by symbol: import them into another source"
                f" (--source {parsed.source}-snapshots) so no coin is counted twice"
            )

    def _neighbours(self, source: str, observations: pl.DataFrame, today: dt.date) -> pl.DataFrame | None:
        """The stored days of ``source`` around the plausible days of ``observations``, every coin."""
        days = observations.filter(pl.col("date").is_between(EARLIEST_DAY, today))["date"]
        if days.is_empty():
            return None
        first: dt.date = days.min()  # type: ignore[assignment]
        last: dt.date = days.max()  # type: ignore[assignment]
        span = dt.timedelta(days=CONTEXT_DAYS)
        return self._store.observations_between(source, first - span, last + span)

    def _resolve_identities(
        self, parsed: ParsedFile, observations: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame, Counter[str], int]:
        """Coins and rows with their ids, the rows rejected as one coin's second copy (by reason), and the
        identical copies merged."""
        # the file continues the stored tracks as they were the day before its first day, so importing the same
        # file again, or a file that overlaps stored days, resolves to the ids already stored
        first_day = observations["date"].min() if observations.height else None
        seeds = self._seeds(parsed.source, first_day)  # type: ignore[arg-type]
        once = drop_duplicate_coins(observations, seeds)
        resolved = resolve_cmc_identities(once.good, seeds)
        resolved, _ = attach_glitch_days(resolved, seeds, factor=self._gates.spike_factor)
        coins = (
            resolved.filter(pl.col("coin_id").is_not_null())
            .sort("date")
            .group_by("coin_id", maintain_order=True)
            .agg(pl.col("symbol").last())
            .select(
                pl.lit(parsed.source).alias("source"),
                "coin_id",
                "symbol",
                pl.lit(None, dtype=pl.String).alias("name"),
                pl.lit(None, dtype=pl.String).alias("categories"),
            )
            .select(list(COIN_SCHEMA))
        )
        return coins, resolved, once.rejections, once.merged

    def _seeds(self, source: str, first_day: dt.date | None) -> list[TrackSeed]:
        """Each stored coin's last state before ``first_day``: its last day not kept out of the indices (a glitch
        is no state to continue from), else its last day."""
        last = self._store.last_observations(source, before=first_day)
        if first_day is not None and last.height:
            recent = self._store.observations_between(
                source, first_day - dt.timedelta(days=SEED_LOOKBACK_DAYS), first_day - dt.timedelta(days=1)
            )
            clean = (
                recent.filter((pl.col("flags") & FLAG_MCAP_SPIKE) == 0)
                .sort("date")
                .group_by("coin_id")
                .last()
                .select("coin_id", "date", "price", "market_cap", "circulating_supply")
            )
            flagged = recent.filter((pl.col("flags") & FLAG_MCAP_SPIKE) != 0).select("coin_id", "date")
            glitched = last.join(flagged, on=["coin_id", "date"], how="semi").select("coin_id", "symbol")
            replaced = glitched.join(clean, on="coin_id", how="inner")
            if replaced.height:
                last = pl.concat(
                    [last.join(replaced, on="coin_id", how="anti"), replaced.select(last.columns)],
                    how="vertical_relaxed",
                )
        return [
            TrackSeed(
                coin_id=row["coin_id"],
                symbol=row["symbol"] or "",
                last_date=row["date"],
                price=row["price"],
                market_cap=row["market_cap"],
                circulating_supply=row["circulating_supply"],
            )
            for row in last.iter_rows(named=True)
        ]
