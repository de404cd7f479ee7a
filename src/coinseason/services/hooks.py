"""What a background job running inside the API process (the ingestion loop, the live exchange feed) may ask of the
app: a small protocol the API's state implements, so the jobs never import the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from coinseason.services.analytics import AnalyticsService

StatusReport = Callable[[], Mapping[str, Any] | None]
"""A job's heartbeat for ``/readyz``: its state as JSON-able values, None before it started."""


class AppHooks(Protocol):
    @property
    def analytics(self) -> AnalyticsService:
        """The app's loaded analytics (the standard series, the engines), read-only."""
        ...

    def clock(self) -> dt.datetime:
        """The app's clock: now, tz-aware UTC."""
        ...

    async def announce_data_landed(self) -> None:
        """New data was written to the store: every replica (this one included) reloads, drops its cached
        responses and pushes the new latest values to ``WS /v1/stream`` subscribers."""
        ...

    def push_intraday(self, payload: Mapping[str, Any]) -> None:
        """Push an intraday update to the subscribers of the ``intraday`` topic."""
        ...

    def register_status(self, name: str, report: StatusReport) -> None:
        """Show the job's state under ``jobs.<name>`` in ``/readyz``."""
        ...


Job = Callable[[AppHooks], Any]
"""A background job: a coroutine function of the app's hooks, started with the app and cancelled at shutdown."""
