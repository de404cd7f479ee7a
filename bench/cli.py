"""How fast the command line answers, as ratios to importing numpy, polars and DuckDB measured in the same run.

Run ``python bench/cli.py`` (``--db FILE`` to reuse a store that holds the CoinGecko history, else it is imported
into a temporary file first; ``--runs N`` counted runs per command, default 7; ``--quick`` for a smoke run). Each
command runs as a whole process (``sys.executable -m coinseason …``), in turn with the baseline so drift of the
machine hits both alike; the figures are the CPU seconds the child used (user + system, what the machine's load
changes least) and its wall seconds, min and median, and each command's median over the baseline's median.

Figures
-------
1. baseline: ``python -c "import numpy, polars, duckdb"``
2. ``coinseason --help``: target ≤ 0.5 × the baseline
3. ``coinseason index altseason --from 2025-01-01`` on a warm store (its engine kept beside it): target ≤ 2 ×
4. the same query cold (the kept engine deleted before each run: the store read and the engine rebuilt and written
   again): information
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from report import Figure, Report, section  # bench/report.py, beside this script

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PARQUET = Path("coingecko") / "coingecko_daily_2013-04-28_2025-07-19.parquet"
BASELINE = [sys.executable, "-c", "import numpy, polars, duckdb"]


@dataclass(frozen=True, slots=True)
class Timing:
    cpu: list[float]
    wall: list[float]

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def line(self) -> str:
        return (
            f"cpu min {min(self.cpu):.3f} s, median {self.cpu_median:.3f} s; "
            f"wall min {min(self.wall):.3f} s, median {statistics.median(self.wall):.3f} s"
        )


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + system) the child used, and wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)  # noqa: S603
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def paired(
    command: list[str], runs: int, env: dict[str, str], before_each: Callable[[], None] | None = None
) -> tuple[Timing, Timing]:
    """``command`` and the baseline in turn, one warm-up each, then ``runs`` counted runs of each."""
    mine: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    for i in range(runs + 1):
        if before_each is not None:
            before_each()
        a = run_once(command, env)
        b = run_once(BASELINE, env)
        if i:  # the first pair warms the file cache
            mine.append(a)
            base.append(b)
    return Timing([c for c, _ in mine], [w for _, w in mine]), Timing([c for c, _ in base], [w for _, w in base])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, help="a DuckDB store holding the CoinGecko history")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 runs")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("COINSEASON_DB", None)
    cli = [sys.executable, "-m", "coinseason"]
    with tempfile.TemporaryDirectory(prefix="coinseason-bench-cli-") as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "store.duckdb"
            parquet = args.data_dir / PARQUET
            if not parquet.is_file():
                raise SystemExit(f"{parquet} is missing: give --data-dir or --db")
            section("import (once)")
            t0 = time.perf_counter()
            subprocess.run([*cli, "import", str(parquet), "--format", "coingecko-daily", "--db", str(db)],  # noqa: S603
                           env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            print(f"  imported in {time.perf_counter() - t0:.1f} s", flush=True)
        engines = db.with_name(db.name + ".engines")
        query = [*cli, "index", "altseason", "--from", "2025-01-01", "--db", str(db)]
        report = Report()

        section("coinseason --help")
        helped, base_help = paired([*cli, "--help"], runs, env)
        section("index altseason --from 2025-01-01, warm")
        run_once(query, env)  # the engine is kept beside the store
        warm, base_warm = paired(query, runs, env)
        section("index altseason --from 2025-01-01, cold")
        cold, base_cold = paired(query, max(2, runs // 2), env, lambda: shutil.rmtree(engines, ignore_errors=True))

        baseline = Timing(
            base_help.cpu + base_warm.cpu + base_cold.cpu, base_help.wall + base_warm.wall + base_cold.wall
        )
        print(f"  baseline (import numpy, polars, duckdb): {baseline.line()}")
        for name, timing in (("--help", helped), ("warm query", warm), ("cold query", cold)):
            print(f"  {name}: {timing.line()}")
        report.add(Figure("baseline: import numpy, polars, duckdb (CPU, median)", baseline.cpu_median, "s"))
        for name, timing, base, limit in (
            ("coinseason --help", helped, base_help, 0.5),
            ("warm query / baseline", warm, base_warm, 2.0),
            ("cold query / baseline", cold, base_cold, None),
        ):
            ratio = timing.cpu_median / base.cpu_median
            wall = statistics.median(timing.wall) / statistics.median(base.wall)
            report.add(Figure(name, ratio, "×", limit, ratio=f"CPU {timing.cpu_median:.3f} s; wall ratio {wall:.2f}"))
        report.summary()
        sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
