"""The fault suite under load: real ``coinseason serve`` processes, one fault at a time, a table of what each cost.

Run ``python bench/faults.py`` (``--quick`` for a smaller market and load). Two setups over real rows of the shared
CoinGecko set (``../shared/data``):

* PostgreSQL + Redis, ``--workers 2``: a private PostgreSQL cluster (``initdb``/``pg_ctl`` in a temporary directory,
  a free port of 127.0.0.1) and a private ``redis-server``; faults: backends terminated (3 rounds a second apart),
  the server stopped for 10 s (connections refused), Redis stopped for 5 s and restarted empty, ``kill -9`` of one
  worker, ``kill -9`` of ``coinseason import`` while its transaction writes, ``kill -9`` of ``coinseason ingest
  backfill`` (against the local fake CoinGecko server) while its second batch is written, each then run again;
* DuckDB, one worker, its ingestion loop taking a snapshot every second from the fake server: ``kill -9`` of the
  server, then a restart (one file has one writer process: the writer here is the server itself).

The load: ``--threads`` threads on 127.0.0.1, each sending one request at a time, half of them keyed store reads
that miss the response cache (a coin's history), half in-memory reads (season and dominance series); bounded in
time. For each fault: requests sent and failed from the fault until no request failed for 2 s, the recovery time
(from the cause's removal: the database accepting connections again, Redis back, the kill; to the last failed
answer), rows lost or twice (against the uninterrupted run, or the rows before the fault), wrong answers (a 200
whose body differs from the one the healthy service gave before any fault), failures that were not problem+json or
named the database server, the slowest answer. Exit status 1 when a fault loses or repeats a row, serves a wrong
answer, fails without problem+json, or (where the issue states the bound) recovers in more than 5 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the setups, load loop and fakes live with the tests; the bench reuses them

from tests.fakes.provider_server import Fault, ProviderData, fake_provider  # noqa: E402
from tests.faults.load import LoadLoop  # noqa: E402
from tests.faults.scenarios import (  # noqa: E402
    LAST_DAY,
    RECOVERY_BOUND,
    FaultResult,
    Setup,
    duckdb_setup,
    kill_backends,
    kill_import,
    kill_ingestion,
    kill_server_mid_ingestion,
    kill_worker,
    make_market,
    postgres_setup,
    reference_backfill,
    reference_import,
    refuse_connections,
    restart_redis,
)

BOUNDED = {"kill PostgreSQL backends", "PostgreSQL refuses connections 10 s", "Redis stopped 5 s, restarted"}
"""Faults whose recovery the issue bounds (5 s after the cause is gone)."""


def baseline(setup: Setup, load: LoadLoop, seconds: float) -> FaultResult:
    """The load with no fault, for comparison."""
    start = time.monotonic()
    time.sleep(seconds)
    window = load.window(start, time.monotonic())
    return FaultResult(
        setup=setup.name,
        fault=f"none ({seconds:g} s of load)",
        sent=window.sent,
        failed=window.failed,
        recovery=0.0,
        lost=0,
        duplicated=0,
        wrong=window.wrong,
        plain=window.plain,
        leaks=window.leaks,
        slowest=window.slowest,
        statuses=window.statuses(),
    )


def table(results: list[FaultResult]) -> str:
    head = "| setup | fault | sent | failed | recovery | lost | twice | wrong | plain/leaking | slowest | statuses |"
    head += " note |"
    lines = [head, "|" + "---|" * 12]
    for r in results:
        recovery = "not recovered" if r.recovery is None else f"{r.recovery:.2f} s"
        statuses = ", ".join(f"{'none' if k == 0 else k}: {v}" for k, v in r.statuses.items())
        lines.append(
            f"| {r.setup} | {r.fault} | {r.sent:,} | {r.failed:,} | {recovery} | {r.lost} | {r.duplicated} |"
            f" {r.wrong} | {r.plain}/{r.leaks} | {r.slowest:.2f} s | {statuses} | {r.note} |"
        )
    return "\n".join(lines)


def verdict(r: FaultResult) -> bool:
    if not r.sound:
        return False
    if r.fault in BOUNDED:
        return r.recovery is not None and r.recovery <= RECOVERY_BOUND
    return r.recovery is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller market and load")
    parser.add_argument("--threads", type=int, default=None, help="load threads (default 6, --quick 2)")
    args = parser.parse_args()
    threads = args.threads or (2 if args.quick else 6)
    size = (
        {"coins": 20, "days": 200, "extra_coins": 40} if args.quick else {"coins": 60, "days": 730, "extra_coins": 150}
    )
    results: list[FaultResult] = []
    with tempfile.TemporaryDirectory(prefix="coinseason-faults-") as tmp:
        root = Path(tmp)
        market = make_market(root / "market", **size)
        print(f"market: {len(market.coins)} coins x {len(market.days)} days served; import of {market.extra.name}")
        imported = reference_import(root, market)
        print(f"reference import: {imported.height:,} rows")
        data = ProviderData.from_frames(market.provider, as_of=LAST_DAY)
        slow = [Fault("slow", delay=0.02, path="market_chart", times=10**6)]
        with postgres_setup(root / "postgres", market) as setup, fake_provider(data, faults=slow) as provider:
            backfilled = reference_backfill(setup, provider)
            print(f"reference backfill: {backfilled.height:,} rows")
            faults: list[Callable[[Setup, LoadLoop], FaultResult]] = [
                lambda s, load: baseline(s, load, 5.0),
                kill_backends,
                refuse_connections,
                restart_redis,
                kill_worker,
                lambda s, load: kill_import(s, load, imported),
                lambda s, load: kill_ingestion(s, load, provider, backfilled),
            ]
            with setup.load(threads=threads, max_seconds=900) as load:
                load.wait_for_requests(50)
                for fault in faults:
                    results.append(fault(setup, load))
                    print(table(results[-1:]).splitlines()[-1], flush=True)
        with duckdb_setup(root / "duckdb", market) as setup, setup.load(threads=threads, max_seconds=300) as load:
            load.wait_for_requests(50)
            for fault in (lambda s, lo: baseline(s, lo, 5.0), kill_server_mid_ingestion):
                results.append(fault(setup, load))
                print(table(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(results))
    failed = [r for r in results if not verdict(r)]
    print()
    for r in failed:
        print(f"FAIL: {r.setup}, {r.fault}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
