"""What sharing the embedded DuckDB store between ``coinseason serve`` and the CLI costs the API, per store read.

Run ``python bench/store.py`` (``--db FILE`` to reuse a store that holds the CoinGecko history, else it is imported
into a temporary file first; ``--quick`` for a smoke run). Every figure is information (no target): the point is the
cost of each store read the API makes, measured in the same run as the reads that do not touch the store. Run it on
two checkouts to compare (``PYTHONPATH=OTHER/src python OTHER/bench/store.py``): a store that holds its file between
operations, and one that opens it for each.

Figures
-------
1. ``api_key(prefix)`` (what an uncached key check reads): p50 over lookups of known keys with no write between,
   and p50 of the first lookup after a write elsewhere (the store must read the file again)
2. ``sources()`` (``/readyz``): p50, no write between, and right after a write
3. a read that always reads the file: one coin's history (``coin_observations``), p50
4. the reload after data landed, nothing changed in the store (``AnalyticsService.refreshed`` on a loaded source,
   which reads every observation to find what changed): p50
5. HTTP, a real ``coinseason serve`` with anonymous reads off and 200 keys made before it started: the first
   request of each key (the front layer checks it in the store) and the second (its check cached): p50 and p99 of
   each, sequential
6. ``data_version()`` (what the store watch polls every second), when the store has it: p50 with no write between
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from report import Figure, Report, section  # bench/report.py, beside this script

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PARQUET = Path("coingecko") / "coingecko_daily_2013-04-28_2025-07-19.parquet"
LATEST = "/v1/season/latest"
KEYS = 200


def ms(run: Callable[[], object], times: int) -> list[float]:
    found = []
    for _ in range(times):
        t0 = time.perf_counter()
        run()
        found.append((time.perf_counter() - t0) * 1000)
    return found


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * q / 100))]


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("COINSEASON_")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def touch(db: Path) -> None:
    """A write by another process, as ``coinseason keys create`` would make (a row that changes nothing served)."""
    code = (
        "import sys, duckdb; c = duckdb.connect(sys.argv[1]);"
        " c.execute(\"INSERT INTO ingest_leases VALUES ('bench', 'x', now()) ON CONFLICT (name) DO UPDATE"
        ' SET expires_at = now()"); c.close()'
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True, env=child_env())  # noqa: S603


@contextlib.contextmanager
def served(db: Path, log: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "coinseason", "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)]
    env = {**child_env(), "COINSEASON_ALLOW_ANONYMOUS": "false", "COINSEASON_ACCESS_LOG": "false",
           "COINSEASON_RATE_LIMIT_PER_MINUTE": "1000000"}  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(log.read_text(errors="replace"))
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{url}/healthz").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def in_process(report: Report, db: Path, *, quick: bool) -> None:
    from coinseason.services.analytics import AnalyticsService
    from coinseason.services.keys import KeyService
    from coinseason.store import DuckDBStore

    section("in-process store reads (the API's worker threads make these)")
    store = DuckDBStore(db)
    prefixes = [k.prefix for k in store.api_keys()]
    n = 50 if quick else 300
    steady = ms(lambda: store.api_key(prefixes[len(prefixes) // 2]), n)
    store.close()
    after_write = []
    for _ in range(5 if quick else 20):
        if hasattr(DuckDBStore, "let_go"):  # a store that lets its file go: open before the write, as a server is
            fresh = DuckDBStore(db)
            fresh.let_go()
            touch(db)
        else:  # a store that holds its file: the other process could not write while it is open
            touch(db)
            fresh = DuckDBStore(db)
        t0 = time.perf_counter()
        fresh.api_key(prefixes[0])
        after_write.append((time.perf_counter() - t0) * 1000)
        fresh.close()
    time.sleep(1.2)  # reads made within a second of a write are not kept (RACY_SECONDS): measure after it
    report.add(
        Figure("api_key(prefix), no write between, p50", p(steady, 50), "ms", ratio=f"p99 {p(steady, 99):.3f} ms")
    )
    report.add(Figure("api_key(prefix), first after another process wrote, p50", p(after_write, 50), "ms",
                      ratio=f"max {max(after_write):.2f} ms"))  # fmt: skip

    store = DuckDBStore(db)
    sources = ms(store.sources, 5 if quick else 20)
    report.add(Figure("sources() (/readyz), no write between, p50", p(sources, 50), "ms",
                      ratio=f"first {sources[0]:.1f} ms"))  # fmt: skip
    history = ms(lambda: store.coin_observations("coingecko", "bitcoin"), 10 if quick else 40)
    report.add(Figure("coin_observations (one coin's history), p50", p(history, 50), "ms",
                      ratio=f"p99 {p(history, 99):.2f} ms"))  # fmt: skip
    if hasattr(store, "data_version"):
        version = ms(store.data_version, 100 if quick else 1000)
        report.add(Figure("data_version() (the watch's look), p50", p(version, 50), "ms",
                          ratio=f"p99 {p(version, 99):.3f} ms"))  # fmt: skip

    analytics = AnalyticsService(store)
    analytics.loaded("coingecko")
    reloads = ms(lambda: analytics.refreshed().loaded("coingecko"), 2 if quick else 3)
    report.add(Figure("reload after data landed, nothing changed, p50", statistics.median(reloads), "ms",
                      ratio=" / ".join(f"{r:.0f}" for r in reloads) + " ms"))  # fmt: skip
    store.close()
    del KeyService


def over_http(report: Report, db: Path, tmp: Path, *, quick: bool) -> None:
    from coinseason.clock import utc_now
    from coinseason.services.keys import KeyService
    from coinseason.store import DuckDBStore

    section(f"HTTP: coinseason serve, anonymous reads off, {KEYS} keys")
    store = DuckDBStore(db)
    keys = [KeyService(store, clock=utc_now).create(f"bench-{i}")[1] for i in range(KEYS)]
    store.close()
    with served(db, tmp / "serve.log") as url, httpx.Client(base_url=url, timeout=30) as client:
        client.get(LATEST, headers={"X-API-Key": keys[0]}).raise_for_status()  # the answer cached
        first, second = [], []
        for key in keys[1 : 60 if quick else None]:
            for into in (first, second):
                t0 = time.perf_counter()
                answer = client.get(LATEST, headers={"X-API-Key": key})
                into.append((time.perf_counter() - t0) * 1000)
                answer.raise_for_status()
        report.add(Figure(f"{LATEST}, a key's first request (checked in the store), p50", p(first, 50), "ms",
                          ratio=f"p99 {p(first, 99):.2f} ms, of {len(first)}"))  # fmt: skip
        report.add(Figure(f"{LATEST}, the same key's second request (check cached), p50", p(second, 50), "ms",
                          ratio=f"p99 {p(second, 99):.2f} ms"))  # fmt: skip
        ready = ms(lambda: client.get("/readyz"), 10 if quick else 30)
        report.add(Figure("/readyz, p50", p(ready, 50), "ms", ratio=f"p99 {p(ready, 99):.2f} ms"))
        t0 = time.perf_counter()
        listed = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "coinseason", "keys", "list", "--db", str(db)],
            capture_output=True, text=True, env=child_env(), check=False, timeout=120,
        )  # fmt: skip
        took = (time.perf_counter() - t0) * 1000
        report.note(
            f"coinseason keys list beside the server: exit {listed.returncode} in {took:.0f} ms"
            + ("" if listed.returncode == 0 else f" ({listed.stderr.strip()[:160]})")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", type=Path, help="a store holding the CoinGecko history (copied, not changed)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args()
    report = Report()
    print(f"coinseason store-sharing benchmark: load {os.getloadavg()[0]:.2f}, {dt.datetime.now(dt.UTC):%H:%M} UTC")
    with tempfile.TemporaryDirectory(prefix="coinseason-bench-store-") as name:
        tmp = Path(name)
        db = tmp / "store.duckdb"
        if args.db:
            shutil.copy(args.db, db)
        else:
            parquet = args.data_dir / PARQUET
            if not parquet.is_file():
                print(f"the CoinGecko history is not at {parquet}: give --data-dir or --db")
                return 2
            command = [sys.executable, "-m", "coinseason", "import", str(parquet), "--format", "coingecko-daily"]
            subprocess.run([*command, "--db", str(db)], check=True, env=child_env(), capture_output=True)  # noqa: S603
        over_http(report, db, tmp, quick=args.quick)  # makes the keys the in-process figures look up
        in_process(report, db, quick=args.quick)
    report.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
