"""A local WebSocket server replaying an exchange mini-ticker stream, with drops, silences and malformed frames.

The stream is built from the real recorded Binance ``!miniTicker@arr`` frame in ``../shared/data/exchange/``
(:func:`replay_frames`): each next frame moves every last price by a small random step (a log-normal walk, 0.1 %
a frame by default), keeps the 24 h high and low consistent, and advances the event times by one second, as the
exchange sends one frame a second. Numbers stay strings with the recorded number of decimals.

Usage
-----
::

    plans = [[frame0, frame1, DROP], [frame2, frame3]]   # connection 1 gets two frames, then the server drops it
    async with ReplayServer(plans, interval=0.01) as server:
        server.url            # "ws://127.0.0.1:PORT/ws/!miniTicker@arr"
        server.connections    # connections accepted so far
        await server.wait_connections(2)

Each accepted connection plays the next plan (the last plan for every connection past the list): ``bytes`` or
``str`` steps are sent (``interval`` seconds apart), :data:`DROP` aborts the connection without a close frame,
``Silence(seconds)`` holds it open sending nothing. After its plan a connection stays open and idle until the client
leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import random
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.conftest import DATA_DIR

RECORDED_FRAME = DATA_DIR / "exchange" / "binance_miniticker_arr_frame_2022-10-14.json"


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()
"""Abort the connection (no close frame): what a network failure or a server restart looks like."""


@dataclass(frozen=True, slots=True)
class Silence:
    """Keep the connection open and send nothing for ``seconds``."""

    seconds: float


Step = bytes | str | _Drop | Silence


def recorded_frame(path: Path = RECORDED_FRAME) -> list[dict[str, Any]]:
    """The real recorded frame, as parsed JSON."""
    frame: list[dict[str, Any]] = json.loads(path.read_text())
    return frame


def _decimals(text: str) -> int:
    return len(text.partition(".")[2])


def replay_frames(
    n: int,
    *,
    seed: int = 7,
    step: float = 0.001,
    base: Sequence[dict[str, Any]] | None = None,
) -> list[list[dict[str, Any]]]:
    """``n`` frames starting from the recorded one: every last price ``c`` walks by ``exp(N(0, step))`` a frame,
    ``h``/``l`` follow it, and every event time ``E`` moves one second a frame."""
    rng = random.Random(seed)
    frame = copy.deepcopy(list(base if base is not None else recorded_frame()))
    frames = []
    for _ in range(n):
        frames.append(copy.deepcopy(frame))
        for ticker in frame:
            digits = _decimals(ticker["c"])
            price = float(ticker["c"]) * math.exp(rng.gauss(0.0, step))
            price = max(price, 10.0**-digits)
            ticker["c"] = f"{price:.{digits}f}"
            ticker["h"] = f"{max(float(ticker['h']), price):.{digits}f}"
            ticker["l"] = f"{min(float(ticker['l']), price):.{digits}f}"
            ticker["E"] = int(ticker["E"]) + 1000
    return frames


def encode(frame: Sequence[dict[str, Any]]) -> bytes:
    return json.dumps(list(frame), separators=(",", ":")).encode()


class ReplayServer:
    """Serves one plan per connection on ``127.0.0.1`` at a free port; use as an async context manager."""

    def __init__(self, plans: Sequence[Sequence[Step]], *, interval: float = 0.01, path: str = "/ws/!miniTicker@arr"):
        if not plans:
            raise ValueError("give at least one plan")
        self.plans = [list(p) for p in plans]
        self.interval = interval
        self.path = path
        self.connections = 0
        self.sent = 0
        self._server: Server | None = None
        self._changed = asyncio.Condition()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started")
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}{self.path}"

    async def __aenter__(self) -> ReplayServer:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()

    async def wait_connections(self, n: int) -> None:
        """Until ``n`` connections have been accepted (wrap in ``asyncio.timeout``)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.connections >= n)

    async def _handle(self, ws: ServerConnection) -> None:
        plan = self.plans[min(self.connections, len(self.plans) - 1)]
        async with self._changed:
            self.connections += 1
            self._changed.notify_all()
        try:
            for step in plan:
                if isinstance(step, _Drop):
                    ws.transport.abort()
                    return
                if isinstance(step, Silence):  # ends early when the client leaves
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(ws.wait_closed(), step.seconds)
                    continue
                await ws.send(step.decode() if isinstance(step, bytes) else step)  # the exchange sends text
                self.sent += 1
                await asyncio.sleep(self.interval)
            await ws.wait_closed()
        except ConnectionClosed:
            return


@contextlib.contextmanager
def replay_in_thread(plans: Sequence[Sequence[Step]], *, interval: float = 0.01) -> Iterator[ReplayServer]:
    """A :class:`ReplayServer` on its own event loop in a background thread, for code that runs its own loop
    (a CLI command, a test client)."""
    loop = asyncio.new_event_loop()
    server = ReplayServer(plans, interval=interval)
    thread = threading.Thread(target=loop.run_forever, name="ws-replay", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.__aenter__(), loop).result(timeout=10)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
