"""New data in, new answers out: the reload after data landed, the warm-up, and the pushes to ``WS /v1/stream``.

:class:`Publisher` is also what the background jobs (the ingestion loop, the live feed) get: it implements
:class:`coinseason.services.hooks.AppHooks` over the app's :class:`~coinseason.api.state.ApiState`.

* ``await hooks.announce_data_landed()`` after writing new data to the store: every replica (this one included)
  reloads, drops its cached responses and pushes the new latest values to ``WS /v1/stream`` subscribers.
* ``hooks.push_intraday(payload)`` to push an intraday update to the subscribers of the ``intraday`` topic.
* ``hooks.register_status(name, report)`` to show the job's state in ``/readyz``.

Writes by other processes (a CLI import, another replica's ingestion) are found by
:class:`~coinseason.api.watching.StoreWatch`, which compares the store's data version with :attr:`Publisher.version`
and runs the same reload.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

from coinseason.api.gauges import refresh_gauges
from coinseason.api.state import ApiState
from coinseason.api.views import JSON, dominance_latest, season_latest
from coinseason.errors import CoinseasonError, InvalidationUnavailable
from coinseason.services.analytics import AnalyticsService
from coinseason.services.hooks import StatusReport
from coinseason.store.records import DataVersion
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW

__all__ = ["LATEST_PATHS", "Prepared", "Publisher", "latest_bodies", "stream_message", "warm_up"]

log = logging.getLogger("coinseason.api")

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


def warm_up(state: ApiState) -> None:
    """Load each source and compute the standard series, so that first requests are fast."""
    for summary in state.analytics.sources():
        try:
            season_latest(state, source=summary.source, top=DEFAULT_TOP, window=DEFAULT_WINDOW)
            dominance_latest(state, source=summary.source, universe="all", exclude="default")
        except CoinseasonError as exc:
            log.info("source %s not warmed up: %s", summary.source, exc)


def latest_bodies(state: ApiState) -> dict[str, bytes]:
    """Each topic's standard ``/latest`` body (a topic without data is left out, and logged)."""
    builders: dict[str, Callable[[], BaseModel]] = {
        "season": lambda: season_latest(state, source=None, top=DEFAULT_TOP, window=DEFAULT_WINDOW),
        "dominance": lambda: dominance_latest(state, source=None, universe="all", exclude="default"),
    }
    bodies: dict[str, bytes] = {}
    for topic, build in builders.items():
        try:
            bodies[topic] = orjson.dumps(build().model_dump(mode="json"))
        except CoinseasonError as exc:
            log.info("no %s update: %s", topic, exc)
    return bodies


class Publisher:
    """Reloads the state's analytics when new data lands and pushes what changed; the app's hooks for its jobs."""

    def __init__(self, state: ApiState) -> None:
        self.state = state
        self.loop: asyncio.AbstractEventLoop | None = None
        """The serving event loop, set at startup: pushes from other threads are handed to it."""
        self.reloads = 0
        """Reloads after new data landed that completed (for tests and metrics)."""
        self._reload_lock = threading.Lock()
        self._newest: AnalyticsService | None = None
        """The service the last reload made, until it is swapped in: the next reload builds on it, never twice on
        the same one (an engine appended to shares its rows with the engine it came from)."""
        self.version: DataVersion | None = None
        """The store's data version read just before the last reload (or the start-up load) read the store: what
        this replica serves at least. None when unknown. :class:`~coinseason.api.watching.StoreWatch` reloads when
        the store's version moves past it."""

    # -- AppHooks ----------------------------------------------------------------------------------------------------

    @property
    def analytics(self) -> AnalyticsService:
        return self.state.analytics

    def clock(self) -> dt.datetime:
        return self.state.clock()

    def register_status(self, name: str, report: StatusReport) -> None:
        """Let a background job report its state under ``name`` in ``/readyz`` (and, for ``ingestion``, the
        ``coinseason_ingestion_lag_seconds`` gauge). ``report`` is called on the event loop and must be cheap; it
        returns None while the job has nothing to say yet."""
        self.state.statuses[name] = report

    async def announce_data_landed(self) -> None:
        """Say that new data was written to the store by this process (e.g. the ingestion loop).

        The signal goes through the invalidation channel, so every replica sharing it (this one included) runs
        :meth:`data_landed`. When the channel (Redis) does not take it, this replica still reloads and the failure is
        logged: the other replicas then serve their caches until the next signal. Call it from the event loop.
        """
        try:
            await self.state.invalidation.publish()
        except InvalidationUnavailable as exc:
            log.warning("%s; reloading this replica only", exc)
            await self.data_landed()

    def push_intraday(self, payload: BaseModel | Mapping[str, Any]) -> None:
        """Push an intraday update to every subscriber of the ``intraday`` topic of ``WS /v1/stream``.

        ``payload`` (a pydantic model or a JSON-able mapping) is serialised once, here, and sent as
        ``{"topic": "intraday", "sent_at": ..., "data": payload}``. It never blocks: from the event loop's thread the
        message is queued at once; from any other thread it is handed to the loop. Reaches the subscribers of this
        process only. Raises TypeError when the payload cannot be written as JSON.
        """
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        message = stream_message("intraday", orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), self.clock())
        hub, loop = self.state.hub, self.loop
        if loop is not None and not loop.is_closed() and not _on_loop(loop):
            loop.call_soon_threadsafe(hub.publish, "intraday", message)
        else:
            hub.publish("intraday", message)

    # -- reload --------------------------------------------------------------------------------------------------------

    async def data_landed(self) -> None:
        """New data is in the store (here or, through the invalidation channel, in another replica).

        The store is read and the engines brought up to date (incrementally when only the last days changed, see
        :meth:`_prepare`) in a worker thread while requests are still answered from the engines loaded before;
        then, on the event loop, the new engines replace the old ones, the response cache is emptied (the standard
        ``/latest`` answers are put back ready) and the new latest values are pushed to stream subscribers,
        serialised once. If the reload fails the engines are simply dropped, so each request reads the store again.
        """
        state = self.state
        try:
            prepared = await asyncio.to_thread(self._prepare)
        except Exception:
            log.exception("reloading after new data failed: requests will read the store")
            self._newest = None
            state.analytics.invalidate()
            state.cache.clear()
            return
        state.analytics = prepared.analytics
        if self._newest is prepared.analytics:  # no later reload built on it yet
            self._newest = None
        state.cache.clear()
        for topic, body in prepared.bodies.items():
            state.cache.put(f"{LATEST_PATHS[topic]}?", body, JSON, route=LATEST_PATHS[topic])
        self.reloads += 1
        refresh_gauges(state)
        sent_at = state.clock()
        for topic, body in prepared.bodies.items():
            state.hub.publish(topic, stream_message(topic, body, sent_at))

    def _prepare(self) -> Prepared:
        """A service up to date with the store, and the pushed payloads (in a worker thread).

        Each loaded source is brought up to date by taking back the last days the store rewrote and appending the
        new ones (the ingestion loop's usual writes: today's row refreshed, a new day added) on a copy of its
        engine, with its cached series extended; one whose history changed further back, or gained coins, is
        loaded afresh (:meth:`AnalyticsService.refreshed`)."""
        with self._reload_lock:  # two landings close together: one reload at a time
            self.note_version()  # before reading the data: a write after this shows as a newer version
            fresh = (self._newest or self.state.analytics).refreshed()
            self._newest = fresh
            view = dataclasses.replace(self.state, analytics=fresh)
            warm_up(view)  # every source, so that no request loads one after the swap
            return Prepared(fresh, latest_bodies(view))

    def note_version(self) -> None:
        """Take the store's data version as what this replica serves (call it before the store is read for a
        load); when the store cannot say, the version is unknown, and the next look at it reloads."""
        try:
            self.version = self.state.store.data_version()
        except CoinseasonError as exc:
            log.warning("the store's data version is unknown (%s): the next look at it reloads", exc)
            self.version = None


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
