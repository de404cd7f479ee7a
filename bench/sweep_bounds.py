"""What bounding a backtest sweep costs and holds: the issue's 64 parameter sets of different ``top``/``window`` over
the full CoinGecko history, run by the bounded worker (as ``POST /v1/backtests`` runs them) and, for comparison in
the same run, in this process chunk by chunk (as the API did before).

Run ``python bench/sweep_bounds.py`` (``--quick`` for 8 sets; ``--seconds``/``--memory-mb`` to change the bounds;
``--db FILE`` keeps the imported store there and reuses it on the next run).

Figures
-------
1. bounded worker: wall-clock time to the answer (target: within the bound plus 1 s, whatever the sweep needs),
   sets done, and how much this process (the server's) grew (target ≤ 50 MiB: the work is in the worker)
2. in this process, chunks of 16 (the former way): wall-clock time and how much this process grew and kept
   (information)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

from coinseason.api.sweep_worker import SweepBounds, SweepJob, resident_bytes, run_bounded_sweep
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from coinseason.services.trading import BacktestParams, TradingService
from coinseason.settings import PostgresSettings
from coinseason.store import DuckDBStore
from report import Figure, Report, section  # bench/report.py, beside this script

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PARQUET = Path("coingecko") / "coingecko_daily_2013-04-28_2025-07-19.parquet"
MIB = 2**20


def sets(count: int) -> tuple[BacktestParams, ...]:
    """``count`` parameter sets, each with its own top and window (each prepares its own inputs)."""
    return tuple(BacktestParams(top=50 + 10 * (n % 8), window=30 + 15 * (n // 8)) for n in range(count))


def rss() -> float:
    return (resident_bytes(os.getpid()) or 0) / MIB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 sets instead of 64")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--seconds", type=float, default=20.0, help="the sweep's time bound")
    parser.add_argument("--memory-mb", type=int, default=1024, help="the sweep's memory bound")
    parser.add_argument("--db", type=Path, default=None, help="a store file to reuse (imported first if missing)")
    args = parser.parse_args(argv)
    path = args.data_dir / PARQUET
    if not path.is_file():
        print(f"real data not found: {path}", file=sys.stderr)
        return 2
    params = sets(8 if args.quick else 64)
    report = Report()
    with tempfile.TemporaryDirectory() as folder:
        db = str(args.db or Path(folder) / "bench.duckdb")
        t0 = time.perf_counter()
        store = DuckDBStore(db)
        if not store.sources():
            ImportService(store, clock=lambda: dt.datetime.now(dt.UTC)).import_file(path, FileFormat.COINGECKO_DAILY)
        source = store.sources()[0].source
        store.close()
        print(f"store ready: {time.perf_counter() - t0:.1f} s; {len(params)} sets")

        section(f"1. bounded worker ({args.seconds:g} s, {args.memory_mb} MB)")
        before = rss()
        bounds = SweepBounds(seconds=args.seconds, memory_bytes=args.memory_mb * MIB, chunk=8)
        job = SweepJob(db=db, pool=PostgresSettings(), params=params, source=source, start=None, end=None)
        t0 = time.perf_counter()
        outcome = run_bounded_sweep(job, bounds)
        took = time.perf_counter() - t0
        report.add(Figure("bounded sweep: time to the answer", took, "s", limit=args.seconds + 1.0))
        report.note(f"{outcome.done} of {outcome.total} sets done; stopped by: {outcome.stopped or 'nothing'}")
        report.add(Figure("bounded sweep: the worker's peak resident memory", outcome.peak_bytes / MIB, "MiB"))
        report.add(Figure("bounded sweep: this process grew", rss() - before, "MiB", limit=50.0))

        section("2. in this process, chunks of 16 (the former way)")
        before = rss()
        store = DuckDBStore(db)
        service = TradingService(AnalyticsService(store))
        t0 = time.perf_counter()
        for lo in range(0, len(params), 16):
            service.sweep(list(params[lo : lo + 16]), source=source)
        took = time.perf_counter() - t0
        report.add(Figure("in-process sweep: time", took, "s"))
        report.add(Figure("in-process sweep: this process grew", rss() - before, "MiB"))
        store.close()
    report.summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
