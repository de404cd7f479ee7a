"""Writes by any process reach this server: a CLI import, another replica's ingestion, a worker of another host.

Each replica asks its store for the :class:`~coinseason.store.records.DataVersion` every second (on DuckDB that is a
``stat`` of the file until it changes; on PostgreSQL one small query) and, when its market part differs from the
version this replica's last load was based on (:attr:`Publisher.version`), reloads as
:meth:`Publisher.data_landed` does on the Redis signal: new engines, new ready bytes and ETags, a push to the stream
subscribers. A write that also came through Redis was reloaded already, and is seen as such: no second reload.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from coinseason.api.publishing import Publisher
from coinseason.errors import CoinseasonError
from coinseason.services.hooks import AppHooks
from coinseason.store.records import DataVersion

__all__ = ["WATCH_INTERVAL_SECONDS", "StoreWatch"]

log = logging.getLogger("coinseason.api")

WATCH_INTERVAL_SECONDS = 1.0
"""Seconds between two looks at the store's data version: a write elsewhere is served within about this long plus
one reload."""


class StoreWatch:
    """The watch as a background job of the API (a :data:`~coinseason.services.hooks.Job`): started with the app,
    cancelled at shutdown. ``sleep`` paces it (tests pass their own). A store that cannot be read is logged once,
    then looked at again on the same schedule; the first look that finds it readable compares as usual."""

    def __init__(
        self,
        *,
        interval: float = WATCH_INTERVAL_SECONDS,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._sleep = sleep
        self.looks = 0
        """Versions read (for tests and /readyz)."""
        self.reloads = 0
        """Reloads this watch started."""
        self.failing: str | None = None
        """Why the last look failed; None when it succeeded."""
        self.last: DataVersion | None = None
        self._publisher: Publisher | None = None

    def __repr__(self) -> str:
        return "store_watch"

    async def __call__(self, hooks: AppHooks) -> None:
        if not isinstance(hooks, Publisher):
            raise TypeError(f"the store watch runs inside the API, whose hooks are a Publisher, not {hooks!r}")
        self._publisher = hooks
        hooks.register_status("store_watch", self.status)
        await self.follow(hooks)

    def status(self) -> dict[str, Any]:
        """For ``/readyz`` (``jobs.store_watch``): the newest import in the store at the last look and the one this
        process serves, its id, and the last failure."""
        serving = None if self._publisher is None else self._publisher.version
        return {
            "pid": os.getpid(),
            "interval_seconds": self.interval,
            "looks": self.looks,
            "reloads": self.reloads,
            "store_imports": None if self.last is None else self.last.imports,
            "serving_imports": None if serving is None else serving.imports,
            "error": self.failing,
        }

    async def follow(self, publisher: Publisher) -> None:
        """Look every ``interval`` seconds until cancelled."""
        while True:
            await self._sleep(self.interval)
            await self.look(publisher)

    async def look(self, publisher: Publisher) -> bool:
        """One look: reload when the store's market data moved past what ``publisher`` serves. True if it did."""
        store = publisher.state.store
        try:
            version = await asyncio.to_thread(store.data_version)
        except CoinseasonError as exc:
            if self.failing is None:
                log.warning("cannot read the data version of %s (%s): looking again every %g s", store.url, exc,
                            self.interval)  # fmt: skip
            self.failing = str(exc)
            return False
        if self.failing is not None:
            log.info("the data version of %s can be read again", store.url)
            self.failing = None
        self.looks += 1
        self.last = version
        seen = publisher.version
        if seen is not None and seen.market == version.market:
            return False
        log.info(
            "the store %s changed (newest import %s, was %s): reloading",
            store.url,
            version.imports,
            None if seen is None else seen.imports,
        )
        self.reloads += 1
        await publisher.data_landed()
        return True
