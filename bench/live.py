"""Benchmark of the real-time path: exchange ticks through a local WebSocket server into the live intraday index.

Run ``python bench/live.py`` (``--quick`` for a smoke run). A server in a child process streams mini-ticker frames
(the recorded Binance shape) at a fixed rate to the real client (:class:`coinseason.live.runner.LiveIndex`:
``websockets`` client, frame parser, symbol map, board, recompute). The board is the real CoinGecko market as of its
last day (2025-07-19): every coin with a supply and an unambiguous ``…USDT`` pair, top 50, 90-day window, the
exclusion list applied. Each frame's ticks are a random sample of those pairs, prices walking 0.1 % a frame.

Latency of a tick: from the server's send time (``time.perf_counter``, one clock for both processes on Linux) to
the moment a recomputed snapshot including it is available. Figures:

1. the coalescing client (one recompute per burst of frames): p50 / p99 tick-to-index latency, updates/s achieved
2. baseline, same stream in the same run: a naive full recompute after every tick; the ratio of p99s
3. one recompute (snapshot) of the index on its own: p50 / p99, over the mapped coins, and over the whole market
   of the day (every coin with a market cap: the coins without a tick carried at their daily value, as
   :func:`coinseason.live.intraday.board_from_store` builds it), with the ratio of the two

The machine may be shared: figures are noisy, the baseline from the same run keeps the ratio meaningful.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import multiprocessing as mp
import os
import random
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import orjson
import polars as pl

from coinseason.live.intraday import IntradayBoard, IntradaySnapshot
from coinseason.live.runner import LiveIndex
from coinseason.live.symbols import build_symbol_map
from report import Figure, Report, section  # bench/report.py, beside this script

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PARQUET = Path("coingecko") / "coingecko_daily_2013-04-28_2025-07-19.parquet"
EXCLUSIONS = Path("coingecko") / "exclusion_list_stablecoins_wrapped_staked.csv"
TOP, WINDOW, GAP_DAYS = 50, 90, 3
TARGET_RATE = 2000.0
TARGET_P99_MS = 20.0
WARMUP_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Market:
    coin_ids: list[str]
    symbols: list[str]
    """The ``…USDT`` pair of each coin."""
    price: np.ndarray
    supply: np.ndarray
    price_then: np.ndarray
    excluded: np.ndarray
    stable: np.ndarray


def load_market(data_dir: Path) -> Market:
    """The last day of the CoinGecko set as the live market; prices W days before from the daily history."""
    frame = pl.read_parquet(
        data_dir / PARQUET, columns=["date", "coin_id", "symbol", "price_usd", "market_cap_usd"]
    ).filter(pl.col("price_usd") > 0)
    last_day = frame["date"].max()
    assert isinstance(last_day, dt.date)
    base = last_day - dt.timedelta(days=WINDOW)
    now = frame.filter((pl.col("date") == last_day) & (pl.col("market_cap_usd") > 0))
    then = (
        frame.filter(pl.col("date").is_between(base - dt.timedelta(days=GAP_DAYS), base))
        .sort("date")
        .group_by("coin_id")
        .agg(pl.col("price_usd").last().alias("then"))
    )
    excl = pl.read_csv(data_dir / EXCLUSIONS, columns=["coin_id", "exclusion_class"])
    coins = now.join(then, on="coin_id", how="left").join(excl, on="coin_id", how="left")
    symbol_map = build_symbol_map(coins.select("coin_id", "symbol", pl.col("exclusion_class").alias("token_class")))
    pair_of = {coin: base + "USDT" for base, coin in symbol_map.bases.items()}
    coins = coins.filter(pl.col("coin_id").is_in(list(pair_of)))
    ids = coins["coin_id"].to_list()
    price = coins["price_usd"].to_numpy()
    return Market(
        coin_ids=ids,
        symbols=[pair_of[c] for c in ids],
        price=price,
        supply=coins["market_cap_usd"].to_numpy() / price,
        price_then=coins["then"].fill_null(np.nan).to_numpy().astype(np.float64),
        excluded=coins["exclusion_class"].is_not_null().to_numpy(),
        stable=(coins["exclusion_class"] == "stablecoin").fill_null(False).to_numpy(),
    )


def make_whole_board(data_dir: Path, market: Market) -> IntradayBoard:
    """Every coin of the last day: the mapped ones of ``market`` tick, the others are carried at their daily
    price and market cap."""
    frame = pl.read_parquet(
        data_dir / PARQUET, columns=["date", "coin_id", "symbol", "price_usd", "market_cap_usd"]
    ).filter(pl.col("price_usd") > 0)
    last_day = frame["date"].max()
    assert isinstance(last_day, dt.date)
    base = last_day - dt.timedelta(days=WINDOW)
    now = frame.filter((pl.col("date") == last_day) & (pl.col("market_cap_usd") > 0)).unique("coin_id")
    then = (
        frame.filter(pl.col("date").is_between(base - dt.timedelta(days=GAP_DAYS), base))
        .sort("date")
        .group_by("coin_id")
        .agg(pl.col("price_usd").last().alias("then"))
    )
    excl = pl.read_csv(data_dir / EXCLUSIONS, columns=["coin_id", "exclusion_class"])
    coins = now.join(then, on="coin_id", how="left").join(excl, on="coin_id", how="left").sort("coin_id")
    mapped = pl.DataFrame({"coin_id": market.coin_ids, "symbol": [s.removesuffix("USDT") for s in market.symbols]})
    price = coins["price_usd"].to_numpy().astype(np.float64)
    cap = coins["market_cap_usd"].to_numpy().astype(np.float64)
    board = IntradayBoard(
        coin_ids=coins["coin_id"].to_list(),
        supply=cap / price,
        price_then=coins["then"].fill_null(np.nan).to_numpy().astype(np.float64),
        excluded=coins["exclusion_class"].is_not_null().to_numpy(),
        symbols=build_symbol_map(mapped, overrides={}),
        btc_id="bitcoin",
        eth_id="ethereum",
        stable=(coins["exclusion_class"] == "stablecoin").fill_null(False).to_numpy(),
        top=TOP,
        stale_after=600.0,
        carry_price=price,
        carry_cap=cap,
    )
    board.feed_stale = False
    return board


def make_board(market: Market) -> IntradayBoard:
    frame = pl.DataFrame({"coin_id": market.coin_ids, "symbol": [s.removesuffix("USDT") for s in market.symbols]})
    board = IntradayBoard(
        coin_ids=market.coin_ids,
        supply=market.supply,
        price_then=market.price_then,
        excluded=market.excluded,
        symbols=build_symbol_map(frame, overrides={}),
        btc_id="bitcoin",
        eth_id="ethereum",
        stable=market.stable,
        top=TOP,
        stale_after=600.0,
    )
    board.feed_stale = False
    return board


def make_frames(market: Market, *, n_frames: int, size: int, seed: int) -> list[bytes]:
    """``n_frames`` mini-ticker frames of ``size`` tickers each; event time ``E`` = the frame's number. Bitcoin is in
    every frame so that the index is defined from the first."""
    rng = random.Random(seed)
    price = dict(zip(market.symbols, market.price.tolist(), strict=True))
    others = [s for s in market.symbols if s != "BTCUSDT"]
    frames = []
    for i in range(n_frames):
        chosen = ["BTCUSDT", *rng.sample(others, size - 1)]
        tickers = []
        for symbol in chosen:
            price[symbol] *= float(np.exp(rng.gauss(0.0, 0.001)))
            last = f"{price[symbol]:.10g}"  # a fixed 8 decimals would write some as 0
            tickers.append(
                {
                    "e": "24hrMiniTicker",
                    "E": i,
                    "s": symbol,
                    "c": last,
                    "o": last,
                    "h": last,
                    "l": last,
                    "v": "1.0",
                    "q": last,
                }
            )
        frames.append(orjson.dumps(tickers))
    return frames


# -- the server, in a child process ------------------------------------------------------------------------------


def server_main(frames: list[bytes], rate: float, conn: Connection) -> None:
    """Serve ``frames`` at ``rate`` frames a second to the first client; send back the send times."""
    asyncio.run(_serve(frames, rate, conn))


async def _serve(frames: list[bytes], rate: float, conn: Connection) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    done = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        sent = np.empty(len(frames))
        texts = [f.decode() for f in frames]
        start = time.perf_counter() + 0.05
        for i, text in enumerate(texts):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[i] = time.perf_counter()
            await ws.send(text)
        conn.send(sent)
        done.set()
        with contextlib.suppress(Exception):
            await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        conn.send(next(iter(server.sockets)).getsockname()[1])
        await done.wait()
        await asyncio.sleep(0.5)


# -- the client ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    latency_ms: np.ndarray
    rate: float
    ticks: int
    recomputes: int


def run_client(market: Market, frames: list[bytes], *, rate: float, size: int, per_tick: bool) -> Run:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=server_main, args=(frames, rate, child), daemon=True)
    proc.start()
    try:
        port = parent.recv()
        board = make_board(market)
        done_at: list[float] = []
        versions: list[int] = []

        def seen(snap: IntradaySnapshot) -> None:
            done_at.append(time.perf_counter())
            versions.append(board.version)

        live = LiveIndex(
            board, f"ws://127.0.0.1:{port}/ws/!miniTicker@arr", on_snapshot=seen, per_tick=per_tick, heartbeat=30
        )
        total = len(frames) * size
        asyncio.run(_drive(live, total, len(frames) / rate * 20 + 10))
        sent = parent.recv() if parent.poll(10) else None
    finally:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    if sent is None or board.version < total:
        raise SystemExit(f"the client saw {board.version} of {total} ticks")
    tick = np.arange(total)
    first = np.searchsorted(np.asarray(versions), tick + 1)  # first snapshot whose version includes the tick
    latency = (np.asarray(done_at)[first] - sent[tick // size]) * 1000.0
    warm = sent[tick // size] >= sent[0] + WARMUP_SECONDS
    span = done_at[-1] - sent[0]
    return Run(latency[warm], total / span, total, live.recomputes)


async def _drive(live: LiveIndex, total: int, limit: float) -> None:
    task = asyncio.create_task(live.run())
    try:
        async with asyncio.timeout(limit):
            while live.board.version < total:  # noqa: ASYNC110 - polling the client's progress
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # the last recompute
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def snapshot_times(market: Market, frames: list[bytes], repeats: int, board: IntradayBoard | None = None) -> np.ndarray:
    from coinseason.live.binance import parse_frame

    board = board or make_board(market)
    for frame in frames:
        board.apply(parse_frame(frame), 0.0)
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        board.snapshot(0.0)
        out[i] = time.perf_counter() - t0
    return out * 1000.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="ticker updates a second")
    parser.add_argument("--frame-size", type=int, default=40, help="tickers a frame (the recorded frame has 41)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="3 s runs")
    parser.add_argument("--seed", type=int, default=20_221_014)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("coinseason.live").setLevel(logging.ERROR)  # the server closing at the end is expected
    seconds = 3.0 if args.quick else args.seconds
    if not (args.data_dir / PARQUET).is_file():
        print(f"real data not found: {args.data_dir / PARQUET}")
        return 2
    print(f"load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    market = load_market(args.data_dir)
    frames_per_second = args.rate / args.frame_size
    n_frames = int(seconds * frames_per_second)
    frames = make_frames(market, n_frames=n_frames, size=args.frame_size, seed=args.seed)
    print(
        f"market: {len(market.coin_ids)} coins with a USDT pair ({int(market.excluded.sum())} excluded), top {TOP},"
        f" {WINDOW} days; stream: {args.rate:,.0f} updates/s as {frames_per_second:,.0f} frames/s of"
        f" {args.frame_size}, {seconds:g} s"
    )
    report = Report()

    section("tick-to-index latency through a local WebSocket server")
    ours = run_client(market, frames, rate=frames_per_second, size=args.frame_size, per_tick=False)
    base = run_client(market, frames, rate=frames_per_second, size=args.frame_size, per_tick=True)
    p50, p99 = np.percentile(ours.latency_ms, [50, 99])
    b50, b99 = np.percentile(base.latency_ms, [50, 99])
    ratio = f"baseline p99 {b99:,.1f} ms: {b99 / p99:,.1f}× lower"
    report.add(Figure("latency p50", float(p50), "ms"))
    report.add(Figure("latency p99", float(p99), "ms", limit=TARGET_P99_MS, ratio=ratio))
    report.add(Figure("ticker updates handled", ours.rate, "req/s", limit=TARGET_RATE * 0.98, at_least=True))
    report.note(f"recomputes: {ours.recomputes:,} for {ours.ticks:,} ticks (one per burst of frames)")
    report.add(Figure("baseline (recompute per tick) latency p50", float(b50), "ms"))
    report.add(Figure("baseline (recompute per tick) latency p99", float(b99), "ms"))
    report.add(Figure("baseline ticker updates handled", base.rate, "req/s"))

    section("one recompute of the index (snapshot)")
    snap = snapshot_times(market, frames[:200], repeats=500)
    s50, s99 = np.percentile(snap, [50, 99])
    report.add(Figure("snapshot p50", float(s50), "ms"))
    report.add(Figure("snapshot p99", float(s99), "ms"))
    whole = make_whole_board(args.data_dir, market)
    wsnap = snapshot_times(market, frames[:200], repeats=500, board=whole)
    w50, w99 = np.percentile(wsnap, [50, 99])
    last = whole.snapshot(0.0)
    report.note(
        f"whole market: {len(whole.coin_ids):,} coins, {last.n_counted_live} live and {last.n_carried} carried,"
        f" {last.live_cap_share:.1f} % of the market cap live"
    )
    report.add(Figure("whole-market snapshot p50", float(w50), "ms", ratio=f"{w50 / s50:.1f}× the mapped-only p50"))
    report.add(Figure("whole-market snapshot p99", float(w99), "ms", ratio=f"{w99 / s99:.1f}× the mapped-only p99"))
    report.summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
