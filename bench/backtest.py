"""Benchmark of the vectorised rotation backtester on the full CoinGecko history.

Run ``python bench/backtest.py`` (``--quick`` for a smoke run). The figures:

1. 10,000 parameter sets of ``season-rotation`` (5 universe sizes × 5 windows × 4 altcoin and 4 Bitcoin
   thresholds × 5 confirmation lengths × 5 rebalance thresholds) over every day of the data: the inputs
   (season indices, baskets, signal states) and the simulation with its metrics, target ≤ 60 s in all.
2. A per-day Python loop baseline (independent code: one parameter set at a time, one day at a time, plain
   floats), run on a sample of the sets in the same process and extrapolated to 10,000; the speed ratio, and
   the largest difference of final equity between the two on the sample.
3. The headline report: season-rotation, top 50, 90 days, on the whole history, against buy-and-hold BTC and
   the alt basket (equal- and cap-weighted; rebalanced every 30 days, coins with at least 100,000 USD of volume;
   benchmarks after the same costs, and the basket before costs), and the same with the basket re-formed every
   day without a volume filter (the first version's design) for comparison.

Machine load from other work makes the seconds noisy; the baseline, measured in the same run, keeps the ratio
meaningful.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from coinseason.core import performance as metrics
from coinseason.core.backtest import BacktestResult, Liquidity, Market, Strategy, run_backtest
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from coinseason.services.trading import BacktestParams, TradingService
from coinseason.store import DuckDBStore
from coinseason.vocab import Weighting
from report import Figure, Report, section  # bench/report.py, beside this script

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PARQUET = Path("coingecko") / "coingecko_daily_2013-04-28_2025-07-19.parquet"
TARGET_SECONDS = 60.0
CHUNK = 2500


def grid(quick: bool) -> list[BacktestParams]:
    tops = (25, 50, 100, 150, 200)
    windows = (30, 60, 90, 180, 365)
    alt_at, btc_at = (65.0, 70.0, 75.0, 80.0), (20.0, 25.0, 30.0, 35.0)
    confirms, thresholds = (1, 3, 7, 14, 30), (0.0, 0.02, 0.05, 0.1, 0.2)
    if quick:
        tops, windows, confirms = tops[:2], windows[:2], confirms[:2]
    return [
        BacktestParams(top=n, window=w, altcoin_at=a, bitcoin_at=b, confirm_days=c, threshold=t)
        for n, w, a, b, c, t in itertools.product(tops, windows, alt_at, btc_at, confirms, thresholds)
    ]


def coin_by_coin(liq: Liquidity, t: int, leg: int, traded: float, k: float) -> float:
    """Slippage of ``traded`` USD in a leg, summed coin by coin: ``sum w_i min(1, k √(w_i X / v_i))``, the
    weights and volumes read back from the table's prefix sums (``v = w³ / root²``)."""
    lo, hi = int(liq.start[leg]), int(liq.stop[leg])
    cum_w, cum_root = liq.cum_weight[t, lo : hi + 1].tolist(), liq.cum_root[t, lo : hi + 1].tolist()
    total = 0.0
    for j in range(hi - lo):
        w, root = cum_w[j + 1] - cum_w[j], cum_root[j + 1] - cum_root[j]
        if w > 1e-15 and root > 0:
            total += w * min(1.0, k * math.sqrt(w * traded / (w**3 / root**2)))
    return total


def baseline_one(market: Market, states: np.ndarray, s: Strategy, j: int) -> float:
    """Final equity of parameter set ``j`` by a plain per-day loop (no numpy inside the loop)."""
    rets = np.nan_to_num(market.returns).tolist()
    liq = market.liquidity
    inner_turn = market.turnover.tolist()
    inner_root = market.inner_impact.tolist() if market.inner_impact is not None else None
    legs = [int(x) for x in s.legs[j]]
    risky = [not bool(market.is_cash[x]) for x in legs]
    column = [int(x) for x in states[:, int(s.series[j])]]
    alloc = s.allocation[j].tolist()
    linear = (float(s.fee_bps[j]) + float(s.spread_bps[j]) / 2) * 1e-4
    k, threshold, capital = float(s.impact[j]), float(s.threshold[j]), float(s.capital[j])
    w = [0.0, 0.0, 1.0]
    equity, last = 1.0, -1
    for t in range(1, len(rets)):
        r = [rets[t][x] for x in legs]
        gross = sum(w[i] * r[i] for i in range(3))
        drift = [w[i] * (1 + r[i]) / (1 + gross) for i in range(3)] if gross != -1 else w
        state = column[t - 1] + 1
        target = alloc[state]
        move = state != last or max(abs(target[i] - drift[i]) for i in range(3)) > threshold
        new = target if move else drift
        if move:
            last = state
        cost, inner = 0.0, 0.0
        for i in range(3):
            if not risky[i]:
                continue
            dw = abs(new[i] - drift[i]) if move else 0.0
            if dw > 0:
                cost += dw * (linear + coin_by_coin(liq, t, legs[i], dw * equity * capital * (1 + gross), k))
            inner += drift[i] * inner_turn[t][legs[i]]
            if inner_root is not None and drift[i] > 0:  # the basket's own re-weighting, square-root impact
                size = drift[i] * equity * capital * (1 + gross)
                cost += drift[i] * min(inner_turn[t][legs[i]], k * math.sqrt(size) * inner_root[t][legs[i]])
        cost = min(cost + inner * linear, 1.0)
        equity *= (1 + gross) * (1 - cost)
        w = new
    return equity


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--quick", action="store_true", help="a small grid, for a smoke run")
    parser.add_argument("--sample", type=int, default=12, help="parameter sets the baseline runs")
    args = parser.parse_args(argv)
    path = args.data_dir / PARQUET
    if not path.is_file():
        print(f"data file not found: {path}", file=sys.stderr)
        return 2
    report = Report()
    print(f"load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        t0 = time.perf_counter()
        ImportService(store, clock=lambda: dt.datetime.now(dt.UTC)).import_file(path, FileFormat.COINGECKO_DAILY)
        analytics = AnalyticsService(store)
        trading = TradingService(analytics)
        loaded = trading.inputs.loaded(None)
        trading.inputs.volume(loaded)
        setup = time.perf_counter() - t0
        n_days = loaded.engine.n_days
        print(f"import + engine + volumes: {setup:.1f} s ({n_days:,} days, {loaded.engine.coin_ids.size:,} coins)")

        params = grid(args.quick)
        section(f"1. {len(params):,} season-rotation parameter sets over {n_days:,} days")
        t0 = time.perf_counter()
        prepared = trading.prepare(params, source=None, start=None, end=None)
        market, states, strategy = prepared.market, prepared.states, prepared.strategy
        prep = time.perf_counter() - t0
        t0 = time.perf_counter()
        finals = np.empty(strategy.size)
        sharpe = np.empty(strategy.size)
        for lo in range(0, strategy.size, CHUNK):
            part = strategy.take(slice(lo, lo + CHUNK))
            result: BacktestResult = run_backtest(market, states, part, daily=False)
            stats = metrics.summary(result.returns)
            finals[lo : lo + part.size] = 1 + stats["total_return"]
            sharpe[lo : lo + part.size] = stats["sharpe"]
        sim = time.perf_counter() - t0
        total = prep + sim
        report.note(f"inputs (season indices for {len({(p.top, p.window) for p in params})} (N, W), baskets, "
                    f"{states.shape[1]:,} signal series): {prep:.1f} s; simulation + metrics: {sim:.1f} s")  # fmt: skip
        report.add(Figure(f"{len(params):,} sets, inputs + simulation + metrics", total, "s", TARGET_SECONDS))
        per_set = sim / strategy.size
        report.add(Figure("simulation + metrics per set", per_set * 1e3, "ms"))

        section(f"2. per-day Python loop baseline on {args.sample} sets, extrapolated to {len(params):,}")
        rng = np.random.default_rng(1)
        sample = rng.choice(strategy.size, size=min(args.sample, strategy.size), replace=False)
        t0 = time.perf_counter()
        base = [baseline_one(market, states, strategy, int(j)) for j in sample]
        loop = (time.perf_counter() - t0) / sample.size
        extrapolated = loop * strategy.size
        report.note(f"baseline: {loop:.2f} s per set; {extrapolated:,.0f} s for {strategy.size:,} sets (extrapolated)")
        report.add(
            Figure(
                "vectorised speed-up over the per-day loop (simulation + metrics)",
                loop / per_set,
                "×",
                10.0,
                at_least=True,
                ratio=f"{loop * 1e3:.0f} ms vs {per_set * 1e3:.2f} ms per set",
            )
        )
        ours, theirs = finals[sample], np.array(base)
        scale = np.maximum(np.abs(ours), np.abs(theirs))
        rel = np.where(scale > 0, np.abs(ours - theirs) / np.where(scale > 0, scale, 1.0), 0.0)
        report.note(f"final equity of the sampled sets: {', '.join(f'{x:.4g}' for x in ours)}")
        report.note(f"largest relative difference of final equity: {rel.max():.2e}")
        report.add(Figure("final equity, baseline vs vectorised (relative difference)", float(rel.max()), "rel.",
                          1e-6))  # fmt: skip
        best = int(np.nanargmax(sharpe))
        report.note(f"best Sharpe of the grid {sharpe[best]:.2f}: {params[best]} (in-sample: an optimum of "
                    f"{strategy.size:,} tries, not a forecast)")  # fmt: skip

        section("3. headline: season-rotation, top 50, 90 days, the whole history")
        designs = {  # rebalance days, least volume (USD)
            "monthly, >= 100k USD volume": (30, 100_000.0),
            "daily, no volume filter": (1, 0.0),
        }
        for (design, (every, least)), weighting in itertools.product(designs.items(), Weighting):
            params_set = BacktestParams(
                top=50, window=90, weighting=weighting, rebalance_days=every, min_volume_usd=least
            )
            rep = trading.backtest(params_set)
            first, last = rep.daily["date"][0], rep.daily["date"][-1]
            print(f"  {weighting}-weighted alt basket re-formed {design}, {first} to {last}")
            for name, row in rep.metrics.items():
                print(
                    f"    {name:14} CAGR {row['cagr']:8.1%}  Sharpe {row['sharpe']:5.2f}  "
                    f"max drawdown {row['max_drawdown']:7.1%}  ({row['max_drawdown_days']:,.0f} days)"
                )
        store.close()
    report.summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
