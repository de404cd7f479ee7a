"""Everything one API process holds, built once in :func:`coinseason.api.app.create_app` and injected into the
routes (``StateDep``). A plain container: reloading after new data, warming up and pushing to the stream are in
:mod:`coinseason.api.publishing`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from coinseason.api.http.cache import ResponseCache
from coinseason.api.http.invalidation import Invalidation
from coinseason.api.http.limits import RateLimiter
from coinseason.api.http.metrics import Metrics
from coinseason.api.http.stream import StreamHub
from coinseason.clock import Clock
from coinseason.services.analytics import AnalyticsService
from coinseason.services.hooks import StatusReport
from coinseason.services.keys import KeyService
from coinseason.settings import Settings
from coinseason.store.protocols import Store


@dataclass
class ApiState:
    settings: Settings
    store: Store
    analytics: AnalyticsService
    """The loaded series and engines; replaced by a reload when new data lands, so read it afresh on each use."""
    keys: KeyService
    cache: ResponseCache
    limiter: RateLimiter
    invalidation: Invalidation
    hub: StreamHub
    metrics: Metrics
    clock: Clock
    statuses: dict[str, StatusReport] = field(default_factory=dict, repr=False)
    """Name -> a background job's status report (e.g. ``ingestion``), shown by ``/readyz``."""

    def source(self, requested: str | None) -> str:
        """The source a request reads: the one it names, else the configured default, else the only one."""
        return self.analytics.source(requested or self.settings.api.default_source)

    def is_stale(self, as_of: dt.datetime) -> bool:
        return (self.clock() - as_of).total_seconds() > self.settings.api.stale_after_hours * 3600

    def job_statuses(self) -> dict[str, dict[str, Any]]:
        """Every registered job's current status (jobs with none yet left out)."""
        found: dict[str, dict[str, Any]] = {}
        for name, status in self.statuses.items():
            value = status()
            if value is not None:
                found[name] = dict(value)
        return found
