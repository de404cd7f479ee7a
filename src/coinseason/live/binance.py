"""Binance's public all-market mini-ticker stream, ``!miniTicker@arr``: frame parser and reconnecting client.

The stream (``wss://stream.binance.com:9443/ws/!miniTicker@arr``) sends, once a second, a JSON array with one
mini-ticker per symbol whose ticker changed::

    [{"e": "24hrMiniTicker", "E": 1665778598188, "s": "BTCUSDT", "c": "19182.10000000", "o": "19478.02000000",
      "h": "19951.87000000", "l": "19100.01000000", "v": "363872.29609000", "q": "7119945056.15496440"}, ...]

``e`` event type, ``E`` event time (ms), ``s`` symbol, ``c`` last price, ``o`` open 24 h before, ``h``/``l`` 24 h
high/low, ``v``/``q`` base/quote volume over 24 h; numbers are strings. A combined-stream connection
(``/stream?streams=…``) wraps the same payload as ``{"stream": …, "data": …}``; both are accepted.

Connection rules of the exchange: the server sends a ping frame every 20 seconds and drops a client that does not
answer with a pong (the ``websockets`` library answers for us); a connection lasts at most 24 hours, so a drop is
normal and the client reconnects. The client also sends its own pings, reconnects with exponential backoff and
full jitter, and treats a stream silent for ``heartbeat`` seconds as dead: it marks the feed stale, drops the
connection and reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidURI, WebSocketException
from websockets.uri import parse_uri

from coinseason.aio import raise_if_cancelled
from coinseason.errors import ConfigError, DataError

__all__ = ["DEFAULT_URL", "BinanceFeed", "FeedStats", "Ticker", "backoff_delays", "parse_frame", "parse_tickers"]

log = logging.getLogger("coinseason.live")

DEFAULT_URL = "wss://stream.binance.com:9443/ws/!miniTicker@arr"
EVENT_TYPE = "24hrMiniTicker"
CLOSE_TIMEOUT = 2.0
"""Seconds the client waits for the close handshake of a connection it drops (a dead server never answers)."""


@dataclass(frozen=True, slots=True)
class Ticker:
    """One mini-ticker: the pair, its last price and the exchange's event time (ms since the epoch, UTC)."""

    symbol: str
    price: float
    event_ms: int


def parse_frame(raw: str | bytes) -> list[Ticker]:
    """The tickers of one stream message (an array of mini-tickers, one mini-ticker, or a combined-stream wrapper).

    :class:`~coinseason.errors.DataError` naming what is wrong when the message is not JSON, not of that shape, or
    a ticker lacks a symbol, a positive finite last price or an event time; a frame is taken whole or not at all.
    """
    tickers, bad = parse_tickers(raw)
    if bad:
        raise DataError(bad[0])
    return tickers


def parse_tickers(raw: str | bytes) -> tuple[list[Ticker], list[str]]:
    """The good tickers of one stream message and, for each bad one, what is wrong with it: one bad ticker does
    not cost the others. :class:`~coinseason.errors.DataError` when the message itself is not JSON or not of the
    shape (see :func:`parse_frame`)."""
    try:
        message: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DataError(f"ticker frame is not JSON: {exc}") from None
    if isinstance(message, dict) and "data" in message and "e" not in message:
        message = message["data"]
    items = [message] if isinstance(message, dict) else message
    if not isinstance(items, list):
        raise DataError(f"ticker frame is a JSON {type(message).__name__}, not an array of mini-tickers")
    tickers: list[Ticker] = []
    bad: list[str] = []
    for i, item in enumerate(items):
        try:
            tickers.append(_ticker(item, i))
        except DataError as exc:
            bad.append(str(exc))
    return tickers, bad


def _ticker(item: Any, i: int) -> Ticker:
    if not isinstance(item, dict):
        raise DataError(f"ticker {i} of the frame is a JSON {type(item).__name__}, not an object")
    if item.get("e") != EVENT_TYPE:
        raise DataError(f"ticker {i} has event type {item.get('e')!r}, not {EVENT_TYPE!r}")
    symbol, last, event = item.get("s"), item.get("c"), item.get("E")
    if not isinstance(symbol, str) or not symbol:
        raise DataError(f"ticker {i} has no symbol 's'")
    if not isinstance(event, int) or isinstance(event, bool) or event < 0:
        raise DataError(f"ticker {i} ({symbol}) has no event time 'E' in ms")
    try:
        price = float(last)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(f"ticker {i} ({symbol}) has last price 'c' {last!r}, not a number") from None
    if not 0.0 < price < float("inf"):
        raise DataError(f"ticker {i} ({symbol}) has last price 'c' {last!r}: it must be positive and finite")
    return Ticker(symbol, price, event)


def backoff_delays(*, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> Iterator[float]:
    """Reconnection delays: exponential (``base * 2**k``, at most ``cap``) with full jitter, so that many clients
    dropped at once do not come back at once."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    attempt = 0
    while True:
        yield rng.uniform(0.0, min(cap, base * 2.0**attempt))
        attempt += 1


@dataclass
class FeedStats:
    """What the feed has seen since it started."""

    connects: int = 0
    reconnects: int = 0
    frames: int = 0
    tickers: int = 0
    malformed: int = 0
    """Frames skipped because they could not be parsed, or held no good ticker."""
    bad_tickers: int = 0
    """Tickers dropped from frames that held good ones too (the good ones were taken)."""
    silences: int = 0
    """Connections dropped because no frame came for ``heartbeat`` seconds."""
    stale: bool = True
    """True until the first frame, and from a silence or a drop until the next frame."""
    last_error: str = ""
    last_frame_at: float = field(default=float("nan"))
    """Monotonic time of the last frame."""


TickerHandler = Callable[[list[Ticker], float], None]
"""Called with each frame's tickers and the monotonic time it was received."""
StaleHandler = Callable[[bool], None]


class BinanceFeed:
    """Reads the mini-ticker stream at ``url`` until cancelled, handing each parsed frame to ``on_tickers``.

    ``on_stale(True)`` is called when the connection drops or falls silent, ``on_stale(False)`` at the first frame
    after that. Malformed frames are counted in :attr:`stats` and skipped; the connection stays.
    """

    def __init__(
        self,
        url: str,
        on_tickers: TickerHandler,
        *,
        on_stale: StaleHandler | None = None,
        heartbeat: float = 10.0,
        backoff: Callable[[], Iterator[float]] = backoff_delays,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        max_frame_bytes: int = 8 * 2**20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not url.startswith(("ws://", "wss://")):
            raise ConfigError(f"the exchange stream URL must start with ws:// or wss://, not {url!r}")
        try:
            parse_uri(url)
        except (InvalidURI, ValueError) as exc:
            raise ConfigError(f"the exchange stream URL {url!r} is not valid: {exc}") from None
        if heartbeat <= 0:
            raise ConfigError(f"the heartbeat must be positive, not {heartbeat}")
        self.url = url
        self.stats = FeedStats()
        self._on_tickers = on_tickers
        self._on_stale = on_stale
        self._heartbeat = heartbeat
        self._backoff = backoff
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._max_frame_bytes = max_frame_bytes
        self._clock = clock

    async def run(self) -> None:
        """Connect, read, reconnect with backoff; returns only when cancelled."""
        delays = self._backoff()
        while True:
            frames_before = self.stats.frames
            try:
                async with connect(
                    self.url,
                    open_timeout=self._open_timeout,
                    ping_interval=self._ping_interval,
                    ping_timeout=self._ping_interval,
                    max_size=self._max_frame_bytes,
                    close_timeout=CLOSE_TIMEOUT,
                    compression=None,
                ) as ws:
                    self.stats.connects += 1
                    if self.stats.connects > 1:
                        self.stats.reconnects += 1
                    log.info("exchange stream connected: %s", self.url)
                    await self._read(ws)
            except (OSError, TimeoutError, WebSocketException) as exc:  # refused, reset, closed, bad handshake…
                raise_if_cancelled()
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("exchange stream %s lost: %s", self.url, self.stats.last_error)
            self._mark_stale()
            if self.stats.frames > frames_before:  # the connection worked: the backoff starts over
                delays = self._backoff()
            await asyncio.sleep(next(delays))

    async def _read(self, ws: ClientConnection) -> None:
        """Read frames until the connection falls silent (returns) or closes (ConnectionClosed)."""
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=self._heartbeat)
                raise_if_cancelled()
            except TimeoutError:
                raise_if_cancelled()
                self.stats.silences += 1
                self.stats.last_error = f"no frame for {self._heartbeat:g} s"
                log.warning("exchange stream %s silent for %g s: reconnecting", self.url, self._heartbeat)
                self._mark_stale()
                return
            now = self._clock()
            try:
                tickers, bad = parse_tickers(raw)
                if bad and not tickers:
                    raise DataError(bad[0])
            except DataError as exc:
                self.stats.malformed += 1
                self.stats.last_error = str(exc)
                if _worth_logging(self.stats.malformed):
                    log.warning("exchange frame skipped (%d so far): %s", self.stats.malformed, exc)
                continue
            if bad:
                self.stats.bad_tickers += len(bad)
                if _worth_logging(self.stats.bad_tickers):
                    log.warning(
                        "exchange tickers dropped from a frame (%d so far), the frame's %d good ones taken: %s",
                        self.stats.bad_tickers,
                        len(tickers),
                        bad[0],
                    )
            self.stats.frames += 1
            self.stats.tickers += len(tickers)
            self.stats.last_frame_at = now
            if self.stats.stale:
                self.stats.stale = False
                if self._on_stale is not None:
                    self._on_stale(False)
            self._on_tickers(tickers, now)

    def _mark_stale(self) -> None:
        if not self.stats.stale:
            self.stats.stale = True
            if self._on_stale is not None:
                self._on_stale(True)


def _worth_logging(count: int) -> bool:
    """Log the first ten of a kind of fault, then every thousandth: a broken stream does not flood the log."""
    return count <= 10 or count % 1000 == 0
