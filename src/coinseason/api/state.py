"""Everything one API process holds, built once in :func:`coinseason.api.app.create_app` and injected.

Hooks for code running inside the API process (the ingestion loop, the live exchange feed), started through
``create_app(background=...)``:

* ``await state.announce_data_landed()`` after writing new data to the store: every replica (this one included)
  reloads, drops its cached responses and pushes the new latest values to ``WS /v1/stream`` subscribers.
* ``state.push_intraday(payload)`` to push an intraday update to the subscribers of the ``intraday`` topic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel

from coinseason.api.cache import Invalidation, InvalidationUnavailable, ResponseCache
from coinseason.api.limits import RateLimiter
from coinseason.api.metrics import Metrics
from coinseason.api.stream import StreamHub
from coinseason.errors import CoinseasonError
from coinseason.services.analytics import AnalyticsService
from coinseason.services.keys import KeyService
from coinseason.settings import Settings
from coinseason.store.protocols import Store

log = logging.getLogger("coinseason.api")

JSON = "application/json"
LATEST_PATHS = {"season": "/v1/season/latest", "dominance": "/v1/dominance/latest"}
"""The cache entry (no query string) of each pushed topic's standard variant."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a reload made off the event loop: the loaded service and each topic's ready payload."""

    analytics: AnalyticsService
    bodies: dict[str, bytes]
    """Topic -> the ``/latest`` response body of the standard variant."""


def stream_message(topic: str, data: bytes, sent_at: dt.datetime) -> bytes:
    """The bytes every subscriber of ``topic`` receives: ``{"topic", "sent_at", "data"}``; ``data`` is JSON."""
    head = orjson.dumps({"topic": topic, "sent_at": sent_at.isoformat(timespec="microseconds")})
    return head[:-1] + b',"data":' + data + b"}"


@dataclass
class ApiState:
    settings: Settings
    store: Store
    analytics: AnalyticsService
    keys: KeyService
    cache: ResponseCache
    limiter: RateLimiter
    invalidation: Invalidation
    hub: StreamHub
    metrics: Metrics
    clock: Callable[[], dt.datetime]
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    """The serving event loop, set at startup: calls from other threads are handed to it."""
    reloads: int = 0
    """Reloads after new data landed that completed (for tests and metrics)."""
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _newest: AnalyticsService | None = field(default=None, repr=False)
    """The service the last reload made, until it is swapped in: the next reload builds on it, never twice on the
    same one (an engine appended to shares its rows with the engine it came from)."""
    statuses: dict[str, Callable[[], Mapping[str, Any] | None]] = field(default_factory=dict, repr=False)
    """Name -> a function giving a background job's status (e.g. ``ingestion``), shown by ``/readyz``."""

    def register_status(self, name: str, status: Callable[[], Mapping[str, Any] | None]) -> None:
        """Let a background job report its state under ``name`` in ``/readyz`` (and, for ``ingestion``, the
        ``coinseason_ingestion_lag_seconds`` gauge). ``status`` is called on the event loop and must be cheap; it
        returns None while the job has nothing to say yet."""
        self.statuses[name] = status

    def job_statuses(self) -> dict[str, dict[str, Any]]:
        """Every registered job's current status (jobs with none yet left out)."""
        found: dict[str, dict[str, Any]] = {}
        for name, status in self.statuses.items():
            value = status()
            if value is not None:
                found[name] = dict(value)
        return found

    def source(self, requested: str | None) -> str:
        return self.analytics.source(requested or self.settings.default_source)

    def is_stale(self, as_of: dt.datetime) -> bool:
        return (self.clock() - as_of).total_seconds() > self.settings.stale_after_hours * 3600

    # -- new data ------------------------------------------------------------------------------------------------

    async def announce_data_landed(self) -> None:
        """Say that new data was written to the store by this process (e.g. the ingestion loop).

        The signal goes through the invalidation channel, so every replica sharing it (this one included) runs
        :meth:`data_landed`. When the channel (Redis) does not take it, this replica still reloads and the failure is
        logged: the other replicas then serve their caches until the next signal. Call it from the event loop.
        """
        try:
            await self.invalidation.publish()
        except InvalidationUnavailable as exc:
            log.warning("%s; reloading this replica only", exc)
            await self.data_landed()

    async def data_landed(self) -> None:
        """New data is in the store (here or, through the invalidation channel, in another replica).

        The store is read and the engines brought up to date (incrementally when only the last days changed, see
        :meth:`_prepare`) in a worker thread while requests are still answered from the engines loaded before;
        then, on the event loop, the new engines replace the old ones, the response cache is emptied (the standard
        ``/latest`` answers are put back ready) and the new latest values are pushed to stream subscribers,
        serialised once. If the reload fails the engines are simply dropped, so each request
        reads the store again.
        """
        try:
            prepared = await asyncio.to_thread(self._prepare)
        except Exception:
            log.exception("reloading after new data failed: requests will read the store")
            self._newest = None
            self.analytics.invalidate()
            self.cache.clear()
            return
        self.analytics = prepared.analytics
        if self._newest is prepared.analytics:  # no later reload built on it yet
            self._newest = None
        self.cache.clear()
        for topic, body in prepared.bodies.items():
            self.cache.put(f"{LATEST_PATHS[topic]}?", body, JSON, route=LATEST_PATHS[topic])
        self.reloads += 1
        self.update_gauges()
        self._publish_latest(prepared.bodies)

    def _prepare(self) -> Prepared:
        """A service up to date with the store, and the pushed payloads (in a worker thread).

        Each loaded source is brought up to date by taking back the last days the store rewrote and appending the
        new ones (the ingestion loop's usual writes: today's row refreshed, a new day added) on a copy of its
        engine, with its cached series extended; one whose history changed further back, or gained coins, is
        loaded afresh (:meth:`AnalyticsService.refreshed`)."""
        with self._reload_lock:  # two landings close together: one reload at a time
            fresh = (self._newest or self.analytics).refreshed()
            self._newest = fresh
            view = dataclasses.replace(self, analytics=fresh)
            view.warm_up()  # every source, so that no request loads one after the swap
            return Prepared(fresh, view._latest_bodies())

    def _latest_bodies(self) -> dict[str, bytes]:
        """Each topic's standard ``/latest`` body (a topic without data is left out, and logged)."""
        from coinseason.api.views import dominance_latest, season_latest  # views import state: avoid a cycle

        builders: dict[str, Callable[[], BaseModel]] = {
            "season": lambda: season_latest(self, source=None, top=50, window=90),
            "dominance": lambda: dominance_latest(self, source=None, universe="all", exclude="default"),
        }
        bodies: dict[str, bytes] = {}
        for topic, build in builders.items():
            try:
                bodies[topic] = orjson.dumps(build().model_dump(mode="json"))
            except CoinseasonError as exc:
                log.info("no %s update: %s", topic, exc)
        return bodies

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
        ingestion = self.job_statuses().get("ingestion")
        if ingestion is not None and ingestion.get("last_success"):
            landed = dt.datetime.fromisoformat(ingestion["last_success"])
            self.metrics.set_ingestion_lag(str(ingestion["source"]), max((now - landed).total_seconds(), 0.0))

    # -- stream ----------------------------------------------------------------------------------------------------

    def push_latest(self) -> None:
        """Send the latest season and dominance (standard variants) to every stream subscriber (on the loop)."""
        self._publish_latest(self._latest_bodies())

    def _publish_latest(self, bodies: Mapping[str, bytes]) -> None:
        sent_at = self.clock()
        for topic, body in bodies.items():
            self.hub.publish(topic, stream_message(topic, body, sent_at))

    def push_intraday(self, payload: BaseModel | Mapping[str, Any]) -> None:
        """Push an intraday update to every subscriber of the ``intraday`` topic of ``WS /v1/stream``.

        ``payload`` (a pydantic model or a JSON-able mapping) is serialised once, here, and sent as
        ``{"topic": "intraday", "sent_at": ..., "data": payload}``. It never blocks: from the event loop's thread the
        message is queued at once; from any other thread it is handed to the loop. Reaches the subscribers of this
        process only. Raises TypeError when the payload cannot be written as JSON.
        """
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        message = stream_message("intraday", orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), self.clock())
        loop = self.loop
        if loop is not None and not loop.is_closed() and not _on_loop(loop):
            loop.call_soon_threadsafe(self.hub.publish, "intraday", message)
        else:
            self.hub.publish("intraday", message)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
