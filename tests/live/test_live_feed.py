"""The mini-ticker parser on the real recorded frame, and the feed client against a local replay server:
drops, silences and malformed frames."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import orjson
import pytest

from coinseason.errors import ConfigError, DataError
from coinseason.live.binance import BinanceFeed, Ticker, backoff_delays, parse_frame, parse_tickers
from tests.conftest import shared_file
from tests.fakes.ws_replay import DROP, RECORDED_FRAME, ReplayServer, Silence, encode, replay_frames

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    shared_file(RECORDED_FRAME)
    return [encode(f) for f in replay_frames(6)]


def quick() -> Iterator[float]:
    while True:
        yield 0.02


def btc(tickers: list[Ticker]) -> float:
    return next(t.price for t in tickers if t.symbol == "BTCUSDT")


# -- parser ----------------------------------------------------------------------------------------------------


def test_the_recorded_frame_parses_whole() -> None:
    raw = shared_file(RECORDED_FRAME).read_bytes()
    tickers = parse_frame(raw)
    assert len(tickers) == 41
    assert tickers[2] == Ticker("BTCUSDT", 19182.1, 1665778598188)  # the README's BTC price of that evening
    assert parse_frame(orjson.dumps({"stream": "!miniTicker@arr", "data": orjson.loads(raw)})) == tickers
    assert parse_frame(orjson.dumps(orjson.loads(raw)[2])) == [tickers[2]]  # a single-symbol stream


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b'"text"', "JSON str, not an array"),
        (b"[1]", "ticker 0 of the frame is a JSON int"),
        (b'[{"e": "trade", "E": 1, "s": "BTCUSDT", "c": "1"}]', "event type 'trade'"),
        (b'[{"e": "24hrMiniTicker", "E": 1, "c": "1"}]', "no symbol"),
        (b'[{"e": "24hrMiniTicker", "s": "BTCUSDT", "c": "1"}]', "no event time"),
        (b'[{"e": "24hrMiniTicker", "E": 1, "s": "BTCUSDT", "c": "abc"}]', "'abc', not a number"),
        (b'[{"e": "24hrMiniTicker", "E": 1, "s": "BTCUSDT", "c": "0.0"}]', "positive and finite"),
        (b'[{"e": "24hrMiniTicker", "E": 1, "s": "BTCUSDT", "c": "nan"}]', "positive and finite"),
    ],
)
def test_malformed_frames_are_refused_naming_the_fault(raw: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_frame(raw)


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    import random

    delays = backoff_delays(base=1.0, cap=8.0, rng=random.Random(1))
    got = [next(delays) for _ in range(8)]
    bounds = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(0 <= d <= b for d, b in zip(got, bounds, strict=True))
    assert max(got[4:]) > 2  # not stuck at the first step


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ws:// or wss://"):
        BinanceFeed("http://example.org", lambda t, now: None)


# -- feed against the replay server -------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.frames: list[list[Ticker]] = []
        self.stale: list[bool] = []

    def tickers(self, tickers: list[Ticker], now: float) -> None:
        self.frames.append(tickers)

    def on_stale(self, stale: bool) -> None:
        self.stale.append(stale)


async def run_until(feed: BinanceFeed, done: Callable[[], bool]) -> None:
    """Run ``feed`` until ``done()`` (polled), at most 10 s."""
    task = asyncio.create_task(feed.run())
    try:
        async with asyncio.timeout(10.0):
            while not done():  # noqa: ASYNC110 - polling a plain condition of the test
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_dropped_connection_reconnects_and_resumes(frames: list[bytes]) -> None:
    rec = Recorder()
    schedules: list[int] = []

    def counted() -> Iterator[float]:
        schedules.append(1)
        return quick()

    async with ReplayServer([[*frames[:3], DROP], frames[3:]]) as server:
        feed = BinanceFeed(server.url, rec.tickers, on_stale=rec.on_stale, backoff=counted, heartbeat=5)
        await run_until(feed, lambda: len(rec.frames) == 6)
    assert server.connections == 2
    assert feed.stats.reconnects == 1
    assert len(schedules) == 2  # the connection had worked: the backoff started over after the drop
    assert (feed.stats.frames, feed.stats.tickers, feed.stats.malformed) == (6, 6 * 41, 0)
    assert rec.stale == [False, True, False]  # fresh, dropped (stale), fresh again
    assert [btc(f) for f in rec.frames] == [btc(parse_frame(f)) for f in frames]  # every frame, in order
    assert not feed.stats.stale


async def test_a_silent_stream_is_marked_stale_and_reconnected(frames: list[bytes]) -> None:
    rec = Recorder()
    async with ReplayServer([[frames[0], Silence(30)], [frames[1]]]) as server:
        feed = BinanceFeed(server.url, rec.tickers, on_stale=rec.on_stale, backoff=quick, heartbeat=0.3)
        await run_until(feed, lambda: len(rec.frames) == 2)
    assert server.connections == 2
    assert feed.stats.silences == 1
    assert "no frame for 0.3 s" in feed.stats.last_error
    assert rec.stale == [False, True, False]


async def test_malformed_frames_are_counted_and_skipped(frames: list[bytes]) -> None:
    rec = Recorder()
    bad = [b"not json", b'{"e": "x"}', b'[{"e": "24hrMiniTicker", "s": "BTCUSDT", "c": "abc", "E": 1}]']
    async with ReplayServer([[frames[0], *bad, frames[1]]]) as server:
        feed = BinanceFeed(server.url, rec.tickers, on_stale=rec.on_stale, backoff=quick, heartbeat=5)
        await run_until(feed, lambda: len(rec.frames) == 2)
    assert (feed.stats.frames, feed.stats.malformed, feed.stats.connects) == (2, 3, 1)
    assert [btc(f) for f in rec.frames] == [btc(parse_frame(frames[0])), btc(parse_frame(frames[1]))]
    assert rec.stale == [False]


async def test_an_unreachable_server_keeps_retrying_and_stays_stale() -> None:
    rec = Recorder()
    attempts = 0

    def counted() -> Iterator[float]:
        nonlocal attempts
        while True:
            attempts += 1
            yield 0.01

    feed = BinanceFeed("ws://127.0.0.1:1/ws", rec.tickers, on_stale=rec.on_stale, backoff=counted, heartbeat=1)
    await run_until(feed, lambda: attempts >= 3)
    assert feed.stats.connects == 0
    assert feed.stats.stale
    assert rec.stale == []  # stale from the start: no change to report
    assert feed.stats.last_error


@pytest.mark.parametrize("url", ["ws://[not-a-host/ws", "ws://"])
def test_an_invalid_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="is not valid"):
        BinanceFeed(url, lambda t, now: None)


async def test_one_bad_ticker_costs_only_itself_and_faults_are_logged(
    frames: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    good = orjson.loads(frames[0])
    mixed = encode([*good[:3], {**good[3], "c": "abc"}, *good[4:]])  # the fourth ticker's price is no number
    async with ReplayServer([[mixed, b"not json", frames[1]]]) as server:
        feed = BinanceFeed(server.url, rec.tickers, on_stale=rec.on_stale, backoff=quick, heartbeat=5)
        with caplog.at_level("WARNING", logger="coinseason.live"):
            await run_until(feed, lambda: len(rec.frames) == 2)
    assert len(rec.frames[0]) == len(good) - 1
    assert [t.symbol for t in rec.frames[0]] == [g["s"] for i, g in enumerate(good) if i != 3]
    assert (feed.stats.frames, feed.stats.bad_tickers, feed.stats.malformed) == (2, 1, 1)
    assert "not a number" in caplog.text  # the dropped ticker, with its fault
    assert "exchange frame skipped" in caplog.text  # the malformed frame
    assert parse_tickers(mixed)[1] == [f"ticker 3 ({good[3]['s']}) has last price 'c' 'abc', not a number"]


class ReadAsCancelled:
    """A connection whose first read ends just as the reading task is cancelled: on Python 3.11
    ``asyncio.wait_for`` then hands back the read's outcome (a frame, or the heartbeat's TimeoutError) and swallows
    the cancel. Later reads wait for ever (a cancel reaches them)."""

    def __init__(self, outcome: bytes | None) -> None:
        self.outcome = outcome
        self.task: asyncio.Task[None] | None = None
        self.reads = 0

    async def recv(self) -> bytes:
        self.reads += 1
        if self.reads > 1:
            await asyncio.Event().wait()
        assert self.task is not None
        self.task.cancel()
        if self.outcome is None:
            raise TimeoutError
        return self.outcome


@pytest.mark.parametrize("outcome", ["frame", "heartbeat"])
async def test_a_read_that_swallowed_its_cancel_ends_the_feed(frames: list[bytes], outcome: str) -> None:
    rec = Recorder()
    feed = BinanceFeed("ws://127.0.0.1:1/ws", rec.tickers, on_stale=rec.on_stale, heartbeat=5)
    ws = ReadAsCancelled(frames[0] if outcome == "frame" else None)
    task = ws.task = asyncio.create_task(feed._read(ws))  # type: ignore[arg-type]
    done, _ = await asyncio.wait({task}, timeout=2.0)
    assert done, "the feed went on reading after its cancel"
    assert task.cancelled() and ws.reads == 1
    assert rec.frames == [] and feed.stats.silences == 0  # nothing taken after the cancel
