"""The intraday board: golden values on the real recorded frame, staleness, quote preference, the store, and the
live loop end to end through the replay server."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from coinseason.errors import NoDataError
from coinseason.live.binance import Ticker, parse_frame
from coinseason.live.intraday import IntradayBoard, IntradaySnapshot, board_from_store
from coinseason.live.job import rebuild
from coinseason.live.runner import LiveIndex
from coinseason.live.symbols import build_symbol_map
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock, shared_file, small_market_csv
from tests.fakes.ws_replay import RECORDED_FRAME, ReplayServer, Silence

# coin, symbol, circulating supply, price W days before. Live prices are the recorded frame's (2022-10-14):
# BTCUSDT 19182.1, ETHUSDT 1300, BNBUSDT 269.6, XLMUSDT 0.1128, TRXUSDT 0.06377, SOLUSDT 30.14, BUSDUSDT 1.
COINS = [
    ("bitcoin", "btc", 19_180_000.0, 20_000.0),  # cap 367,912,678,000   return -4.0895 %
    ("ethereum", "eth", 122_000_000.0, 1_400.0),  # cap 158,600,000,000  return -7.14 %: below BTC
    ("binancecoin", "bnb", 161_000_000.0, 250.0),  # cap 43,405,600,000  return +7.84 %: beats BTC
    ("solana", "sol", 360_000_000.0, 32.0),  # cap 10,850,400,000        return -5.81 %: below BTC
    ("tron", "trx", 92_000_000_000.0, 0.06),  # cap 5,866,840,000        return +6.28 %: beats BTC
    ("stellar", "xlm", 25_500_000_000.0, 0.12),  # cap 2,876,400,000     return -6.00 %: below BTC
    ("binance-usd", "busd", 21_000_000_000.0, 1.0),  # a stablecoin, excluded
]
TOTAL = 367_912_678_000 + 158_600_000_000 + 43_405_600_000 + 10_850_400_000 + 5_866_840_000 + 2_876_400_000


def board(top: int = 6, stale_after: float = 60.0) -> IntradayBoard:
    ids = [c[0] for c in COINS]
    symbols = build_symbol_map(pl.DataFrame({"coin_id": ids, "symbol": [c[1] for c in COINS]}))
    b = IntradayBoard(
        coin_ids=ids,
        supply=np.array([c[2] for c in COINS]),
        price_then=np.array([c[3] for c in COINS]),
        excluded=np.array([c == "binance-usd" for c in ids]),
        symbols=symbols,
        btc_id="bitcoin",
        eth_id="ethereum",
        stable=np.array([c == "binance-usd" for c in ids]),
        top=top,
        stale_after=stale_after,
    )
    b.feed_stale = False
    return b


@pytest.fixture(scope="module")
def recorded() -> list[Ticker]:
    return parse_frame(shared_file(RECORDED_FRAME).read_bytes())


def test_golden_index_and_dominance_on_the_recorded_frame(recorded: list[Ticker]) -> None:
    b = board(top=6)
    assert b.apply(recorded, now=100.0) == 7  # the seven USDT pairs of the mapped coins
    snap = b.snapshot(now=100.0)
    idx = snap.index
    # universe by live cap: BTC, ETH, BNB, SOL, TRX, XLM; BNB and TRX beat BTC's -4.09 %: 2 of 5
    assert (idx.n_eligible, idx.n_outperforming) == (5, 2)
    assert idx.value == pytest.approx(40.0)
    assert idx.btc_return == pytest.approx(19182.1 / 20000 - 1)
    assert idx.total == pytest.approx(TOTAL)
    assert idx.btc_dominance == pytest.approx(100 * 367_912_678_000 / TOTAL)  # 62.41 %
    assert idx.eth_dominance == pytest.approx(100 * 158_600_000_000 / TOTAL)
    assert snap.season == "neutral"
    assert not snap.stale
    assert snap.n_live == 7
    assert snap.as_of == dt.datetime(2022, 10, 14, 20, 16, 38, 345000, tzinfo=dt.UTC)  # latest E, XLMUSDT's
    top4 = board(top=4)
    top4.apply(recorded, now=0.0)
    assert top4.snapshot(now=0.0).index.value == pytest.approx(100 / 3)  # BTC, ETH, BNB, SOL: BNB only
    out = snap.to_dict()
    assert out["value"] == pytest.approx(40.0)
    assert out["value_rounded"] == 40.0
    assert out["stablecoin_dominance"] == 0.0


def test_a_coin_whose_tick_went_stale_is_carried_at_its_last_tick(recorded: list[Ticker]) -> None:
    b = board(top=6, stale_after=60.0)
    b.apply(recorded, now=0.0)
    b.apply([Ticker("BTCUSDT", 19182.1, 1), Ticker("BNBUSDT", 269.6, 1)], now=50.0)
    snap = b.snapshot(now=61.0)  # only BTC and BNB ticked in the last 60 s: the four others are carried
    assert snap.n_live == 2
    assert (snap.n_counted_live, snap.n_carried) == (2, 4)
    assert (snap.index.n_eligible, snap.index.n_outperforming) == (5, 2)  # the same universe, at the last ticks
    assert snap.index.value == pytest.approx(40.0)
    assert snap.index.total == pytest.approx(TOTAL)
    assert snap.live_cap_share == pytest.approx(100 * (367_912_678_000 + 43_405_600_000) / TOTAL)
    assert snap.universe_live == 2
    assert not snap.stale
    gone = b.snapshot(now=111.0)
    assert gone.stale  # BTC has no fresh price: the values stand on carried prices and say so
    assert gone.index.value == pytest.approx(40.0)
    assert (gone.n_counted_live, gone.n_carried, gone.live_cap_share) == (0, 6, 0.0)
    out = gone.to_dict()
    assert (out["n_carried"], out["carried_cap_share"], out["universe_carried"]) == (6, 100.0, 6)


# A hand-computed market where one coin (LEO) has no exchange pair. Top 5. Per coin: supply, price W days before,
# last daily price and market cap, live price. Live caps: BTC 19e6 × 22000 = 418e9 (+10 %), ETH 120e6 × 1050 =
# 126e9 (+5 %), BNB 150e6 × 240 = 36e9 (+20 %), LEO carried at its daily cap 5.4e9 (6 / 5: +20 %), TRX 90e9 ×
# 0.054 = 4.86e9 (+8 %), XLM 25e9 × 0.105 = 2.625e9 (+5 %).
CARRY = [
    ("bitcoin", "btc", 19e6, 20_000.0, 21_000.0, 399e9, 22_000.0),
    ("ethereum", "eth", 120e6, 1_000.0, 1_000.0, 120e9, 1_050.0),
    ("binancecoin", "bnb", 150e6, 200.0, 230.0, 34.5e9, 240.0),
    ("leo-token", "leo", 900e6, 5.0, 6.0, 5.4e9, None),
    ("tron", "trx", 90e9, 0.05, 0.052, 4.68e9, 0.054),
    ("stellar", "xlm", 25e9, 0.1, 0.1, 2.5e9, 0.105),
]
CARRY_TOTAL = 418e9 + 126e9 + 36e9 + 5.4e9 + 4.86e9 + 2.625e9  # 592.885e9


def carry_board(*, carry: bool = True) -> IntradayBoard:
    ids = [c[0] for c in CARRY]
    symbols = build_symbol_map(
        pl.DataFrame({"coin_id": ids[:3] + ids[4:], "symbol": ["btc", "eth", "bnb", "trx", "xlm"]})
    )
    daily = {"carry_price": np.array([c[4] for c in CARRY]), "carry_cap": np.array([c[5] for c in CARRY])}
    b = IntradayBoard(
        coin_ids=ids,
        supply=np.array([c[2] for c in CARRY]),
        price_then=np.array([c[3] for c in CARRY]),
        excluded=np.zeros(len(ids), dtype=bool),
        symbols=symbols,
        btc_id="bitcoin",
        eth_id="ethereum",
        top=5,
        stale_after=60.0,
        **(daily if carry else {}),  # type: ignore[arg-type]
    )
    b.feed_stale = False
    return b


CARRY_TICKS = [Ticker(f"{c[1].upper()}USDT", c[6], 1) for c in CARRY if c[6] is not None]


def test_golden_a_coin_without_a_pair_keeps_its_daily_market_cap_in_the_universe_and_dominance() -> None:
    b = carry_board()
    assert b.apply(CARRY_TICKS, now=0.0) == 5
    snap = b.snapshot(now=0.0)
    # universe: BTC, ETH, BNB, LEO, TRX (XLM is 6th); beating BTC's +10 %: BNB and LEO, not ETH nor TRX: 2 of 4
    assert (snap.index.n_eligible, snap.index.n_outperforming) == (4, 2)
    assert snap.index.value == pytest.approx(50.0)
    assert snap.index.total == pytest.approx(CARRY_TOTAL)
    assert snap.index.btc_dominance == pytest.approx(100 * 418e9 / CARRY_TOTAL)  # 70.50 %
    assert (snap.n_counted_live, snap.n_carried, snap.universe_live) == (5, 1, 4)
    assert snap.live_cap_share == pytest.approx(100 * (CARRY_TOTAL - 5.4e9) / CARRY_TOTAL)
    assert not snap.stale
    # without the carried coin (the board before): XLM takes LEO's place and BTC's dominance is inflated
    without = carry_board(carry=False)
    without.apply(CARRY_TICKS, now=0.0)
    old = without.snapshot(now=0.0)
    assert (old.index.n_eligible, old.index.n_outperforming) == (4, 1)  # ETH, BNB, TRX, XLM: BNB only
    assert old.index.btc_dominance == pytest.approx(100 * 418e9 / (CARRY_TOTAL - 5.4e9))  # 71.15 %


def test_golden_a_stale_tick_is_carried_at_the_tick_and_a_coin_never_ticked_at_its_daily_value() -> None:
    b = carry_board()
    b.apply(CARRY_TICKS, now=0.0)
    b.apply([t for t in CARRY_TICKS if t.symbol != "TRXUSDT"], now=50.0)
    snap = b.snapshot(now=70.0)  # TRX's tick (t=0) is stale: carried at 0.054, not at its daily 0.052
    assert (snap.n_counted_live, snap.n_carried) == (4, 2)
    assert snap.index.total == pytest.approx(CARRY_TOTAL)
    assert snap.index.value == pytest.approx(50.0)
    assert snap.live_cap_share == pytest.approx(100 * (CARRY_TOTAL - 5.4e9 - 4.86e9) / CARRY_TOTAL)
    fresh = carry_board()  # nothing ticked yet: every coin at its daily value, BTC's too, and stale
    first = fresh.snapshot(now=0.0)
    assert first.stale
    assert first.index.total == pytest.approx(399e9 + 120e9 + 34.5e9 + 5.4e9 + 4.68e9 + 2.5e9)
    assert first.index.btc_return == pytest.approx(21_000 / 20_000 - 1)
    # BTC +5 %; ETH 0 %, BNB +15 %, LEO +20 %, TRX +4 %: 2 of 4
    assert first.index.value == pytest.approx(50.0)
    assert first.n_carried == 6


def test_a_rebuilt_board_keeps_the_fresh_ticks_and_drops_the_stale_ones() -> None:
    old = carry_board()
    old.apply(CARRY_TICKS, now=0.0)
    old.apply([Ticker("BTCUSDT", 23_100.0, 2)], now=40.0)
    new = carry_board()  # the next day's board (same daily values here)
    assert new.adopt(old, now=70.0) == 1  # only BTC's tick is fresh at 70 s
    snap = new.snapshot(now=70.0)
    assert snap.index.btc_return == pytest.approx(23_100 / 20_000 - 1)
    assert (snap.n_counted_live, snap.n_carried) == (1, 5)
    assert snap.index.total == pytest.approx(19e6 * 23_100 + 120e9 + 34.5e9 + 5.4e9 + 4.68e9 + 2.5e9)
    assert snap.as_of is not None and not snap.stale


def test_the_state_is_stale_while_the_feed_is(recorded: list[Ticker]) -> None:
    b = board()
    b.apply(recorded, now=0.0)
    b.feed_stale = True
    assert b.snapshot(now=0.0).stale


def test_the_preferred_quote_wins_while_fresh() -> None:
    b = board(stale_after=60.0)
    b.apply([Ticker("BTCUSDT", 20_000.0, 1)], now=0.0)
    b.apply([Ticker("BTCUSDC", 20_100.0, 2)], now=10.0)  # USDT's price is fresh: USDC ignored
    b.apply([Ticker("ETHUSDC", 1_300.0, 2)], now=10.0)  # ETH has no USDT price: USDC counts
    snap = b.snapshot(now=10.0)
    assert snap.index.btc_return == pytest.approx(0.0)
    b.apply([Ticker("BTCUSDC", 20_100.0, 3)], now=70.0)  # USDT stale now: USDC takes over
    assert b.snapshot(now=70.0).index.btc_return == pytest.approx(20_100 / 20_000 - 1)
    assert b.unmapped == 0
    b.apply([Ticker("ETHBTC", 0.07, 4), Ticker("GBPUSDT", 1.1, 4)], now=70.0)
    assert b.unmapped == 2


def test_board_from_a_store(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    try:
        ImportService(store, clock=fixed_clock).import_file(small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY)
        analytics = AnalyticsService(store)
        b = board_from_store(analytics, today=dt.date(2024, 1, 11), top=3, window=3, stale_after=60.0)
        # the small market: supply = cap / price = 1e7 for bitcoin, fast and slow; tether is a stablecoin
        # (excluded). Prices 3 days before 2024-01-11 (2024-01-08, day 7): bitcoin 100 × 1.1^7, fast 10 × 1.2^7,
        # slow 5.
        b.feed_stale = False
        ticks = [Ticker("BTCUSDT", 200.0, 1), Ticker("FSTUSDT", 40.0, 1), Ticker("SLWUSDT", 5.0, 1)]
        assert b.apply([*ticks, Ticker("USDTUSDC", 1.0, 1)], now=0.0) == 4
        snap = b.snapshot(now=0.0)
        assert snap.index.btc_return == pytest.approx(200 / (100 * 1.1**7) - 1)  # +2.6 %
        assert (snap.index.n_eligible, snap.index.n_outperforming) == (2, 1)  # fast +11.6 %, slow 0 %
        assert snap.index.value == pytest.approx(50.0)
        assert snap.index.btc_dominance == pytest.approx(100 * 2e9 / (2e9 + 4e8 + 5e7))
        assert snap.method["base_date"] == "2024-01-08"
        assert snap.method["exclusion"] == "default"
        with pytest.raises(NoDataError, match="needs daily prices of 2024-03-01"):
            board_from_store(analytics, today=dt.date(2024, 3, 4), window=3)
    finally:
        store.close()


def test_board_from_a_store_carries_the_coins_without_a_tick_at_their_daily_value(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    try:
        ImportService(store, clock=fixed_clock).import_file(small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY)
        analytics = AnalyticsService(store)
        b = board_from_store(analytics, today=dt.date(2024, 1, 11), top=3, window=3, stale_after=60.0)
        b.feed_stale = False
        b.apply([Ticker("BTCUSDT", 200.0, 1), Ticker("FSTUSDT", 40.0, 1)], now=0.0)  # no SLWUSDT tick
        snap = b.snapshot(now=0.0)
        # slow is carried at its last daily value (2024-01-10, one day before: within the gap fill): price 5, cap
        # 5e7; it still counts: return 0 % against BTC's +2.6 %, fast +11.6 %: 1 of 2, and TOTAL keeps its 5e7
        assert (snap.index.n_eligible, snap.index.n_outperforming) == (2, 1)
        assert snap.index.btc_dominance == pytest.approx(100 * 2e9 / (2e9 + 4e8 + 5e7))
        assert (snap.n_counted_live, snap.n_carried) == (2, 1)
        assert snap.live_cap_share == pytest.approx(100 * 2.4e9 / 2.45e9)
        assert snap.method["carry_date"] == "2024-01-10"

        # midnight: the board of 2024-01-12 (base day 2024-01-09) takes over the fresh ticks of the old one
        nxt = rebuild(b, board_from_store(analytics, today=dt.date(2024, 1, 12), top=3, window=3), now=30.0)
        after = nxt.snapshot(now=30.0)
        assert after.method["base_date"] == "2024-01-09"
        assert after.index.btc_return == pytest.approx(200 / (100 * 1.1**8) - 1)  # -6.7 %
        # fast 40 / (10 × 1.2^8) = -7.0 % does not beat it; slow 0 % does: 1 of 2
        assert (after.index.n_eligible, after.index.n_outperforming) == (2, 1)
        assert (after.n_counted_live, after.n_carried) == (2, 1)
        assert not after.stale
        far = board_from_store(analytics, today=dt.date(2024, 1, 15), top=3, window=7)  # 5 days past the data
        assert far.snapshot(now=0.0).n_carried == 0  # nothing carried past the gap fill's reach
    finally:
        store.close()


@pytest.mark.anyio
async def test_the_live_loop_recomputes_and_throttles_pushes(recorded: list[Ticker]) -> None:
    raw = shared_file(RECORDED_FRAME).read_text()
    pushed: list[IntradaySnapshot] = []
    async with ReplayServer([[raw] * 30], interval=0.01) as server:
        live = LiveIndex(board(), server.url, publish=pushed.append, min_interval=0.2, heartbeat=5)
        task = asyncio.create_task(live.run())
        try:
            async with asyncio.timeout(10):
                while server.sent < 30 or live.board.version < 30 * 7:  # noqa: ASYNC110 - polling the test's goal
                    await asyncio.sleep(0.01)
                while not pushed or pushed[-1] is not live.latest:  # noqa: ASYNC110 - the trailing push goes out
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert live.latest is not None
    assert live.latest.index.value == pytest.approx(40.0)
    assert not live.latest.stale
    assert 1 <= len(pushed) < live.recomputes  # throttled: fewer pushes than recomputes
    assert pushed[-1] is live.latest  # the last state went out


@pytest.mark.anyio
async def test_a_silent_feed_shows_as_stale_until_frames_come_back() -> None:
    raw = shared_file(RECORDED_FRAME).read_text()
    seen: list[IntradaySnapshot] = []
    async with ReplayServer([[raw, Silence(30)], [raw] * 5]) as server:
        live = LiveIndex(board(), server.url, on_snapshot=seen.append, heartbeat=0.3, refresh_every=0.05)
        task = asyncio.create_task(live.run())
        try:
            async with asyncio.timeout(10):
                await server.wait_connections(2)
                while live.board.version < 6 * 7 or seen[-1].stale:  # noqa: ASYNC110 - polling the test's goal
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    flags = [snap.stale for snap in seen]
    first_live = flags.index(False)
    went_stale = flags.index(True, first_live)  # the silence
    assert False in flags[went_stale:]  # and back once frames came again
    assert seen[went_stale].index.value == pytest.approx(40.0)  # the last prices stay, marked stale
    assert live.feed.stats.silences == 1
    assert not seen[-1].stale


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class WakesAsCancelled:
    """The loop's "board moved" flag, whose first wait ends just as the loop's task is cancelled: on Python 3.11
    ``asyncio.wait_for`` then returns the result and swallows the cancel, leaving the task marked as cancelling.
    Later waits wait for ever (a cancel reaches them)."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.waits = 0

    async def wait(self) -> bool:
        self.waits += 1
        if self.waits > 1:
            await asyncio.Event().wait()
        assert self.task is not None
        self.task.cancel()
        return True

    def set(self) -> None:
        return None

    def clear(self) -> None:
        return None


@pytest.mark.anyio
async def test_the_live_loop_stops_when_a_wait_swallowed_its_cancel() -> None:
    live = LiveIndex(board(), "ws://127.0.0.1:1/ws", heartbeat=5)  # no server: the feed retries meanwhile
    flag = WakesAsCancelled()
    live._dirty = flag  # type: ignore[assignment]
    task = flag.task = asyncio.create_task(live.run())
    done, _ = await asyncio.wait({task}, timeout=2.0)
    assert done, "the live loop went on after its cancel"
    assert task.cancelled() and flag.waits == 1
