"""The live feed as a background job of the server (``coinseason serve --live``): intraday pushes on
``WS /v1/stream``.

The job builds the board of the standard index (top 50, 90 days, default exclusions) from the app's loaded
analytics, runs the feed, and pushes each snapshot to the ``intraday`` topic at most once per
``COINSEASON_LIVE_PUSH_SECONDS``. At each new UTC day it rebuilds the board (the W-day base prices and the daily
values move), keeping the connection and the fresh ticks (:func:`rebuild`). A store without the data it needs is
logged and retried every ``retry_seconds``; the app goes on. The job sees the app only through
:class:`~coinseason.services.hooks.AppHooks`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time

from coinseason.errors import CoinseasonError
from coinseason.live.intraday import IntradayBoard, board_from_store
from coinseason.live.reference import ExchangeReference
from coinseason.live.runner import LiveIndex
from coinseason.services.hooks import AppHooks
from coinseason.settings import Settings
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW

log = logging.getLogger("coinseason.live")

RETRY_SECONDS = 300.0
"""How long the job waits before it tries again to build the board from a store lacking the data."""


class LiveJob:
    """The live feed as a :data:`~coinseason.services.hooks.Job`: call it with the app's hooks; runs until
    cancelled. ``reference`` (optional) is fed every ticker, for the ingestion's cross-check (give the same one to
    :func:`coinseason.services.ingestion.factory.ingestion_job`). ``top`` and ``window`` choose the index pushed."""

    def __init__(
        self,
        settings: Settings,
        *,
        reference: ExchangeReference | None = None,
        top: int = DEFAULT_TOP,
        window: int = DEFAULT_WINDOW,
        exclude: str = "default",
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.settings = settings
        self.reference = reference
        self.top = top
        self.window = window
        self.exclude = exclude
        self.retry_seconds = retry_seconds

    def __repr__(self) -> str:
        return "live_feed"

    async def __call__(self, hooks: AppHooks) -> None:
        settings = self.settings
        board = await self._board(hooks)
        if self.reference is not None:
            self.reference.use(board.symbols)
        log.info(
            "live feed: %s of %d coins mapped to exchange pairs (the others carried), reading %s",
            board.method.get("n_mapped_coins"),
            len(board.coin_ids),
            settings.live.exchange_ws_url,
        )
        live = LiveIndex(
            board,
            settings.live.exchange_ws_url,
            publish=lambda snap: hooks.push_intraday(snap.to_dict()),
            min_interval=settings.live.push_seconds,
            heartbeat=settings.live.heartbeat_seconds,
            reference=self.reference,
        )
        task = asyncio.create_task(live.run(), name="coinseason-live")
        try:
            while True:
                day = _today(hooks)
                await asyncio.sleep(seconds_to_midnight(hooks.clock()))
                if _today(hooks) != day:
                    live.board = rebuild(live.board, await self._board(hooks), time.monotonic())
                    if self.reference is not None:
                        self.reference.use(live.board.symbols)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _board(self, hooks: AppHooks) -> IntradayBoard:
        """The board of today, retried until the store can give one."""
        while True:
            try:
                return board_from_store(  # on the loop: the store is the app's, used from its thread
                    hooks.analytics,
                    today=_today(hooks),
                    source=self.settings.api.default_source,
                    top=self.top,
                    window=self.window,
                    exclude=self.exclude,
                    stale_after=self.settings.live.stale_after_seconds,
                )
            except CoinseasonError as exc:
                log.warning("live feed not started: %s (retrying in %.0f s)", exc, self.retry_seconds)
                await asyncio.sleep(self.retry_seconds)


def live_job(settings: Settings, *, reference: ExchangeReference | None = None) -> LiveJob:
    """The live feed of the standard index as a background job (see :class:`LiveJob`)."""
    return LiveJob(settings, reference=reference)


def rebuild(old: IntradayBoard, fresh: IntradayBoard, now: float) -> IntradayBoard:
    """``fresh`` (the board of the new day: new base prices and daily values) with the ticks of ``old`` that are
    fresh at monotonic ``now``, so the index goes on without waiting for every pair to tick again."""
    taken = fresh.adopt(old, now)
    log.info("live board rebuilt for the new UTC day: %d coins, %d fresh ticks kept", len(fresh.coin_ids), taken)
    return fresh


def _today(hooks: AppHooks) -> dt.date:
    return hooks.clock().astimezone(dt.UTC).date()


def seconds_to_midnight(now: dt.datetime) -> float:
    """Seconds from ``now`` to the next UTC midnight, at least one."""
    now = now.astimezone(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return max((midnight - now).total_seconds(), 1.0)
