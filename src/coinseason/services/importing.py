"""File import: read → quality gate → identity resolution → one atomic write → token classification."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from coinseason.clock import Clock
from coinseason.data.cmc_identity import TrackSeed, resolve_cmc_identities
from coinseason.data.quality import REASON_NO_COIN, reject_bad_rows, reject_conflicting_keys
from coinseason.data.tidy import COIN_SCHEMA, conform_observations
from coinseason.providers.files import FileFormat, ParsedFile, read_file
from coinseason.services.classify import ClassificationService
from coinseason.store.protocols import MarketData
from coinseason.store.records import ImportRecord

Progress = Callable[[str, int, int], None]
"""Where an import reports how far it is: ``progress(step_name, done, total)``."""


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


STEPS = ("read", "check", "resolve", "write", "classify")


class ImportService:
    """Imports files into a store. ``clock`` gives the current UTC time (rows dated after it are rejected)."""

    def __init__(
        self,
        store: MarketData,
        *,
        clock: Clock,
        progress: Progress = _no_progress,
    ) -> None:
        self._store = store
        self._clock = clock
        self._progress = progress

    def import_file(
        self, path: Path, fmt: FileFormat, *, source: str | None = None, coin_id: str | None = None
    ) -> ImportReport:
        total = len(STEPS)
        self._progress("read", 0, total)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        parsed = read_file(path, fmt, source=source, coin_id=coin_id)
        self._progress("check", 1, total)
        now = self._clock()
        rows_read = parsed.observations.height
        skip = (REASON_NO_COIN,) if parsed.needs_identity else ()
        gate = reject_bad_rows(parsed.observations, today=now.date(), skip=skip)
        rejections: Counter[str] = Counter(gate.rejections)
        self._progress("resolve", 2, total)
        coins, observations = parsed.coins, gate.good
        if parsed.needs_identity:
            coins, observations = self._resolve_identities(parsed, observations)
        keys = reject_conflicting_keys(conform_observations(observations))
        rejections.update(keys.rejections)
        self._progress("write", 3, total)
        record = ImportRecord(
            source=parsed.source,
            path=str(path),
            format=str(fmt),
            sha256=digest,
            imported_at=now,
            rejected=sum(rejections.values()),
            rejections=dict(rejections),
        )
        counts = self._store.write_import(coins, keys.good, record)
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
            rejected=record.rejected,
            rejections=dict(sorted(rejections.items())),
            duplicates_merged=keys.duplicates_merged,
            coins=coins.height,
        )

    def _resolve_identities(self, parsed: ParsedFile, observations: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        # the file continues the stored tracks as they were the day before its first day, so importing the same
        # file again, or a file that overlaps stored days, resolves to the ids already stored
        first_day = observations["date"].min() if observations.height else None
        last = self._store.last_observations(parsed.source, before=first_day)  # type: ignore[arg-type]
        seeds = [
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
        resolved = resolve_cmc_identities(observations, seeds)
        coins = (
            resolved.sort("date")
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
        return coins, resolved
