"""The live feed as a background job of the API (``coinseason serve --live``): intraday pushes on ``WS /v1/stream``.

The job builds the board for the standard index (top 50, 90 days, default exclusions) from the API's loaded
source, runs the feed, and pushes each snapshot to the ``intraday`` topic at most once per
``COINSEASON_LIVE_PUSH_SECONDS``. At each new UTC day it rebuilds the board (the W-day base prices and the daily
values move), keeping the connection and the fresh ticks (:func:`rebuild`). A store without the data it needs is
logged and retried every ``RETRY_SECONDS``; the API goes on.

:func:`background_jobs` is what ``coinseason serve`` runs: the live job when ``COINSEASON_LIVE`` is on, the
ingestion loop when a provider is set, and, when both run, one :class:`ExchangeReference` fed by the live feed
and read by the ingestion's cross-check (the exchange median).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from coinseason.errors import CoinseasonError
from coinseason.live.intraday import IntradayBoard, board_from_store
from coinseason.live.reference import ExchangeReference
from coinseason.live.runner import LiveIndex
from coinseason.settings import Settings

if TYPE_CHECKING:
    from coinseason.api.state import ApiState

log = logging.getLogger("coinseason.live")

RETRY_SECONDS = 300.0
TOP, WINDOW, EXCLUDE = 50, 90, "default"


def live_job(
    settings: Settings, *, reference: ExchangeReference | None = None
) -> Callable[[ApiState], Awaitable[None]]:
    """The background job for ``create_app(background=...)``. ``reference`` (optional) is fed every ticker, for
    the ingestion's cross-check (give the same one to
    :func:`coinseason.services.ingestion.factory.ingestion_job`)."""

    async def run_live(state: ApiState) -> None:
        board = await _board(state, settings)
        if reference is not None:
            reference.use(board.symbols)
        log.info(
            "live feed: %s of %d coins mapped to exchange pairs (the others carried), reading %s",
            board.method.get("n_mapped_coins"),
            len(board.coin_ids),
            settings.exchange_ws_url,
        )
        live = LiveIndex(
            board,
            settings.exchange_ws_url,
            publish=lambda snap: state.push_intraday(snap.to_dict()),
            min_interval=settings.live_push_seconds,
            heartbeat=settings.live_heartbeat_seconds,
            reference=reference,
        )
        task = asyncio.create_task(live.run(), name="coinseason-live")
        try:
            while True:
                day = _today(state)
                await asyncio.sleep(_seconds_to_midnight(state.clock()))
                if _today(state) != day:
                    live.board = rebuild(live.board, await _board(state, settings), time.monotonic())
                    if reference is not None:
                        reference.use(live.board.symbols)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return run_live


def background_jobs(settings: Settings) -> list[Callable[[ApiState], Awaitable[None]]]:
    """The background jobs of ``coinseason serve`` for ``settings`` (see the module); ``reference`` of the live job
    and ``exchange`` of the ingestion job are one object."""
    jobs: list[Callable[[ApiState], Awaitable[None]]] = []
    reference = ExchangeReference(stale_after=settings.live_stale_after_seconds) if settings.live else None
    if reference is not None:
        jobs.append(live_job(settings, reference=reference))
    if settings.ingest and settings.ingest_provider:
        from coinseason.services.ingestion.factory import ingestion_job

        jobs.append(ingestion_job(settings, exchange=reference))
    return jobs


def rebuild(old: IntradayBoard, fresh: IntradayBoard, now: float) -> IntradayBoard:
    """``fresh`` (the board of the new day: new base prices and daily values) with the ticks of ``old`` that are
    fresh at monotonic ``now``, so the index goes on without waiting for every pair to tick again."""
    taken = fresh.adopt(old, now)
    log.info("live board rebuilt for the new UTC day: %d coins, %d fresh ticks kept", len(fresh.coin_ids), taken)
    return fresh


def _today(state: ApiState) -> dt.date:
    return state.clock().astimezone(dt.UTC).date()


def _seconds_to_midnight(now: dt.datetime) -> float:
    now = now.astimezone(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return max((midnight - now).total_seconds(), 1.0)


async def _board(state: ApiState, settings: Settings) -> IntradayBoard:
    """The board of today, retried until the store can give one."""
    while True:
        try:
            return board_from_store(  # on the loop: the store is the API's, used from its thread
                state.analytics,
                today=_today(state),
                source=settings.default_source,
                top=TOP,  # read here, not bound at import: tests set them
                window=WINDOW,
                exclude=EXCLUDE,
                stale_after=settings.live_stale_after_seconds,
            )
        except CoinseasonError as exc:
            log.warning("live feed not started: %s (retrying in %.0f s)", exc, RETRY_SECONDS)
            await asyncio.sleep(RETRY_SECONDS)
