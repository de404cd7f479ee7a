"""Everything one API process holds, built once in :func:`coinseason.api.app.create_app` and injected."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from pydantic import BaseModel

from coinseason.api.cache import Invalidation, ResponseCache
from coinseason.api.limits import RateLimiter
from coinseason.api.metrics import Metrics
from coinseason.api.stream import StreamHub
from coinseason.errors import CoinseasonError
from coinseason.services.analytics import AnalyticsService
from coinseason.services.keys import KeyService
from coinseason.settings import Settings
from coinseason.store.base import MarketStore

log = logging.getLogger("coinseason.api")


@dataclass
class ApiState:
    settings: Settings
    store: MarketStore
    analytics: AnalyticsService
    keys: KeyService
    cache: ResponseCache
    limiter: RateLimiter
    invalidation: Invalidation
    hub: StreamHub
    metrics: Metrics
    clock: Callable[[], dt.datetime]

    def source(self, requested: str | None) -> str:
        return self.analytics.source(requested or self.settings.default_source)

    def is_stale(self, as_of: dt.datetime) -> bool:
        return (self.clock() - as_of).total_seconds() > self.settings.stale_after_hours * 3600

    async def data_landed(self) -> None:
        """New data is in the store (here or, through the invalidation channel, in another replica)."""
        self.analytics.invalidate()
        self.cache.clear()
        self.update_gauges()
        self.push_latest()

    def warm_up(self) -> None:
        """Load each source and compute the standard series, so that first requests are fast."""
        from coinseason.api.views import dominance_latest, season_latest

        for summary in self.analytics.sources():
            try:
                season_latest(self, source=summary.source, top=50, window=90)
                dominance_latest(self, source=summary.source, universe="all", exclude="default")
            except CoinseasonError as exc:
                log.info("source %s not warmed up: %s", summary.source, exc)

    def update_gauges(self) -> None:
        now = self.clock()
        for summary in self.analytics.sources():
            as_of = dt.datetime.combine(summary.last_date, dt.time(), dt.UTC)
            self.metrics.set_data_age(summary.source, (now - as_of).total_seconds())

    def push_latest(self) -> None:
        """Send the latest season and dominance (standard variants) to every stream subscriber."""
        from coinseason.api.views import dominance_latest, season_latest  # views import state: avoid a cycle

        builders: dict[str, Callable[[], BaseModel]] = {
            "season": lambda: season_latest(self, source=None, top=50, window=90),
            "dominance": lambda: dominance_latest(self, source=None, universe="all", exclude="default"),
        }
        for topic, build in builders.items():
            try:
                data = build().model_dump(mode="json")
            except CoinseasonError as exc:
                log.info("no %s update pushed: %s", topic, exc)
                continue
            self.hub.publish(topic, orjson.dumps({"topic": topic, "data": data}))
