"""What an ingestion run is configured by (:class:`IngestConfig`) and what one backfill or snapshot did
(:class:`IngestReport`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from coinseason.data.gates import GateConfig, GateReport
from coinseason.errors import ConfigError
from coinseason.services.ingestion.schedule import Schedule
from coinseason.store.records import WriteCounts


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
    """Coins the backfill skipped (the provider did not serve them), with the reason."""
    start: dt.date | None = None
    """First day a backfill asked for."""
    end: dt.date | None = None
    """Last day a backfill asked for."""

    def nothing_stored(self) -> str | None:
        """Why a backfill stored no row, in words; None when it stored some."""
        if self.rows:
            return None
        span = f"from {self.start} to {self.end}" if self.start and self.end else "in the range asked"
        if self.coins == 0:
            return f"{self.source} listed no coin to backfill"
        if len(self.skipped) >= self.coins:
            return f"{self.source} refused every one of the {self.coins} coins (reasons above)"
        if self.rejected:
            return f"every row {self.source} sent {span} was rejected by the quality gates (reasons above)"
        return (
            f"{self.source} sent no daily point {span} for any of the {self.coins} coins: its data ends before"
            " (check the provider's URL setting) or the range is empty"
        )

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
