"""The live loop: feed → board → snapshot, recomputed once per burst of frames, pushed at most once per interval.

Frames are applied to the board as they arrive; the index is recomputed by a separate task when the board moved,
so a burst of frames queued on the socket is applied whole before one recompute (every tick of the burst is then
in the index at once). The state is also recomputed every ``refresh_every`` seconds without ticks, so coins age
out and a silent feed shows as stale. ``publish`` gets the latest snapshot at most once per ``min_interval``
seconds; a change inside the interval is sent when it ends, so the last state always goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from coinseason.aio import raise_if_cancelled
from coinseason.live.binance import BinanceFeed, Ticker
from coinseason.live.intraday import IntradayBoard, IntradaySnapshot
from coinseason.live.reference import ExchangeReference

Publisher = Callable[[IntradaySnapshot], None]


class LiveIndex:
    """Runs a :class:`BinanceFeed` into an :class:`IntradayBoard` and keeps :attr:`latest` current."""

    def __init__(
        self,
        board: IntradayBoard,
        url: str,
        *,
        publish: Publisher | None = None,
        min_interval: float = 1.0,
        refresh_every: float = 1.0,
        heartbeat: float = 10.0,
        per_tick: bool = False,
        on_snapshot: Publisher | None = None,
        clock: Callable[[], float] = time.monotonic,
        reference: ExchangeReference | None = None,
    ) -> None:
        """``per_tick=True`` recomputes after every ticker instead of once per burst (the naive way, kept as the
        benchmark's baseline). ``on_snapshot`` sees every recompute; ``publish`` only the throttled ones.
        ``reference`` also gets every ticker, for the ingestion's cross-check."""
        self.board = board
        self.reference = reference
        self.feed = BinanceFeed(url, self._on_tickers, on_stale=self._on_stale, heartbeat=heartbeat, clock=clock)
        self.latest: IntradaySnapshot | None = None
        self.recomputes = 0
        self._publish = publish
        self._on_snapshot = on_snapshot
        self._min_interval = min_interval
        self._refresh_every = refresh_every
        self._per_tick = per_tick
        self._clock = clock
        self._dirty = asyncio.Event()
        self._last_push = -float("inf")
        self._trailing: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Until cancelled."""
        feed = asyncio.create_task(self.feed.run(), name="coinseason-live-feed")
        try:
            await self._refresher()
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
            if self._trailing is not None:
                self._trailing.cancel()

    def _on_tickers(self, tickers: list[Ticker], now: float) -> None:
        if self.reference is not None:
            self.reference.apply(tickers, now)
        if self._per_tick:
            for tick in tickers:
                self.board.apply((tick,), now, self.reference)
                self.refresh()
        else:
            self.board.apply(tickers, now, self.reference)
            self._dirty.set()

    def _on_stale(self, stale: bool) -> None:
        self.board.feed_stale = stale
        self._dirty.set()

    async def _refresher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), timeout=self._refresh_every)
            raise_if_cancelled()
            self._dirty.clear()
            self.refresh()

    def refresh(self) -> IntradaySnapshot:
        """Recompute the snapshot now, and publish it if the interval allows."""
        snap = self.board.snapshot(self._clock())
        self.latest = snap
        self.recomputes += 1
        if self._on_snapshot is not None:
            self._on_snapshot(snap)
        self._maybe_publish()
        return snap

    def _maybe_publish(self) -> None:
        if self._publish is None or self.latest is None:
            return
        wait = self._last_push + self._min_interval - self._clock()
        if wait <= 0:
            self._push()
        elif self._trailing is None:
            self._trailing = asyncio.get_running_loop().call_later(wait, self._push)

    def _push(self) -> None:
        self._trailing = None
        if self._publish is not None and self.latest is not None:
            self._last_push = self._clock()
            self._publish(self.latest)
