"""Benchmark of the live providers' outbound path against the local fake provider server (real data, real HTTP).

Run ``python bench/providers.py`` (``--quick`` for a smoke run). Figures, each with its target and, where there is
one, a ratio against a baseline measured in the same run:

1. cost of the outbound machinery (limiter, breaker, retry loop, vendor checks): ``/global`` fetched through
   :class:`coinseason.providers.http.OutboundClient` against a bare ``httpx.AsyncClient.get`` + ``orjson.loads``
   of the same URL on the same server; rounds alternate and the best round of each counts (the machine is shared)
2. a top-1,000 CoinGecko snapshot (4 pages of 250) into the snapshot frame, and the per-page baseline
3. one-year daily histories through :meth:`CoinGeckoProvider.history`, coins a second (limit raised out of the way)
4. limiter exactness: 2,000 acquisitions at 30 a minute in fake time: the most in any 60 s window, and how close to
   the plan it runs (granted calls over the ideal ``30 × minutes``)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from pathlib import Path

import httpx
import orjson

from coinseason.providers.coingecko import CoinGeckoProvider
from coinseason.providers.http import OutboundClient, OutboundPolicy, SlidingWindowLimiter
from report import Figure, Report, section  # bench/report.py, beside this script

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake server lives with the tests

from tests.fakes.clock import FakeTime  # noqa: E402
from tests.fakes.provider_server import ProviderData, fake_provider  # noqa: E402

AS_OF = dt.datetime(2025, 7, 19, 12, tzinfo=dt.UTC)
FAST = OutboundPolicy(calls_per_minute=10_000_000, margin=0.0)


async def _bare(url: str, n: int) -> float:
    async with httpx.AsyncClient() as client:
        start = time.perf_counter()
        for _ in range(n):
            orjson.loads((await client.get(url)).content)
        return (time.perf_counter() - start) / n


async def _outbound(base: str, n: int) -> float:
    out = OutboundClient("coingecko", base, FAST)
    try:
        start = time.perf_counter()
        for _ in range(n):
            await out.get_json("/global")
        return (time.perf_counter() - start) / n
    finally:
        await out.aclose()


async def _top(base: str, n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        p = CoinGeckoProvider("pro", api_key="k", base_url=base, policy=FAST, clock=lambda: AS_OF)
        try:
            start = time.perf_counter()
            snap = await p.top(n)
            best = min(best, time.perf_counter() - start)
            assert snap.rows.height == n
        finally:
            await p.aclose()
    return best


async def _histories(base: str, coins: list[str]) -> float:
    p = CoinGeckoProvider("pro", api_key="k", base_url=base, policy=FAST, clock=lambda: AS_OF)
    try:
        start = time.perf_counter()
        for coin in coins:
            await p.history(coin, dt.date(2024, 7, 19), dt.date(2025, 7, 18))
        return len(coins) / (time.perf_counter() - start)
    finally:
        await p.aclose()


async def _limiter(calls: int) -> tuple[int, float]:
    fake = FakeTime(0.0)
    limiter = SlidingWindowLimiter(30, 60.0, clock=fake.monotonic, sleep=fake.sleep)
    granted: list[float] = []
    for _ in range(calls):
        await limiter.acquire()
        granted.append(fake.now)
    most, lo = 0, 0
    for hi, t in enumerate(granted):
        while t - granted[lo] >= 60.0:
            lo += 1
        most = max(most, hi - lo + 1)
    minutes = granted[-1] / 60.0 + 1  # the last window is the one that granted the last call
    return most, calls / (30 * minutes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, rounds = (50, 2) if args.quick else (400, 5)
    report = Report()
    data = ProviderData.shared()
    with fake_provider(data) as server:
        base = server.coingecko_url
        section("outbound machinery vs a bare httpx GET (same server, alternating rounds, best of each)")
        bare, ours = float("inf"), float("inf")
        for _ in range(rounds):
            bare = min(bare, asyncio.run(_bare(base + "/global", n)))
            ours = min(ours, asyncio.run(_outbound(base, n)))
        report.add(Figure("bare httpx GET /global (baseline)", bare * 1000, "ms"))
        report.add(
            Figure(
                "OutboundClient.get_json /global",
                ours * 1000,
                "ms",
                limit=bare * 1000 * 1.5,
                ratio=f"{ours / bare:.2f}× baseline",
            )
        )
        section("CoinGecko snapshot and histories")
        page = asyncio.run(_top(base, 250, rounds))
        top = asyncio.run(_top(base, 1000, rounds))
        report.add(Figure("top(250): one page (baseline)", page * 1000, "ms"))
        report.add(Figure("top(1000): four pages", top * 1000, "ms", limit=2000.0, ratio=f"{top / page:.1f}× one page"))
        coins = [row["id"] for row in data.markets[: (20 if args.quick else 200)]]
        report.add(Figure("1-year daily histories", asyncio.run(_histories(base, coins)), "coins/s"))
    section("limiter, fake time")
    most, use = asyncio.run(_limiter(2000))
    report.add(Figure("most calls in any 60 s window (plan 30/min)", most, "", limit=30))
    report.add(Figure("calls granted / plan allowance", use * 100, "%", limit=95.0, at_least=True))
    report.summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
