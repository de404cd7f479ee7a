"""A source's heartbeat: when a snapshot of it last landed, whether that is longer ago than the heartbeat (the
source is then *stale*, logged once when it turns stale and once when it recovers), the last error, and the rows
rejected and flagged by reason since the service started."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("coinseason.ingest")


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


class Heartbeat:
    """The counts behind :class:`IngestStatus`, kept as snapshots succeed and fail; ``now`` is the service's
    clock (UTC)."""

    def __init__(self, source: str, heartbeat: dt.timedelta, now: Callable[[], dt.datetime]) -> None:
        self.source = source
        self.heartbeat = heartbeat
        self._now = now
        self._started = now()
        self.last_success: dt.datetime | None = None
        self.last_attempt: dt.datetime | None = None
        self.last_error: str | None = None
        self.snapshots = 0
        self.failures = 0
        self.rejections: Counter[str] = Counter()
        self.flagged: Counter[str] = Counter()
        self._stale = False

    def landed_at(self, moment: dt.datetime) -> None:
        """A snapshot of the source landed at ``moment`` (this ingestor's, or another's)."""
        if self.last_success is None or moment > self.last_success:
            self.last_success = moment

    def count(self, rejections: Mapping[str, int], flagged: Mapping[str, int]) -> None:
        self.rejections.update(rejections)
        self.flagged.update(flagged)

    def attempted(self) -> None:
        self.last_attempt = self._now()

    def failed(self, error: Exception) -> None:
        self.failures += 1
        self.last_error = f"{type(error).__name__}: {error}"
        self.check()

    def succeeded(self, rejections: Mapping[str, int], flagged: Mapping[str, int]) -> None:
        self.snapshots += 1
        self.last_error = None
        self.count(rejections, flagged)
        self.landed_at(self._now())
        self.check()

    def check(self) -> bool:
        """Whether the source is stale now: nothing landed for longer than the heartbeat (counted from the
        service's start while nothing landed at all); the change is logged once each way."""
        since = self.last_success or self._started
        stale = self._now() - since > self.heartbeat
        if stale and not self._stale:
            log.warning(
                "source %s is stale: no snapshot landed since %s (heartbeat %.0f min)%s",
                self.source,
                "the start" if self.last_success is None else self.last_success.isoformat(),
                self.heartbeat.total_seconds() / 60,
                "" if self.last_error is None else f"; last error: {self.last_error}",
            )
        elif self._stale and not stale:
            log.info("source %s recovered: a snapshot landed at %s", self.source, since.isoformat())
        self._stale = stale
        return stale

    def status(self, dominance: Mapping[str, Mapping[str, Any]], dominance_off: int) -> IngestStatus:
        """The heartbeat and counts now, with the last dominance cross-check."""
        stale = self.check()
        return IngestStatus(
            source=self.source,
            stale=stale,
            last_success=self.last_success,
            heartbeat=self.heartbeat,
            last_attempt=self.last_attempt,
            last_error=self.last_error,
            snapshots=self.snapshots,
            failures=self.failures,
            rejections=dict(self.rejections),
            flagged=dict(self.flagged),
            dominance={k: dict(v) for k, v in dominance.items()},
            dominance_off=dominance_off,
        )
