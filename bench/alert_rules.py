"""What the new alert kinds cost per evaluation, on the real CoinGecko history.

One evaluation of one rule of each kind — season (the baseline, measured in the same run), consensus majority,
consensus agreement, margin — over a DuckDB store holding the parquet, each on a fresh analytics service (as after
data lands: the engine is loaded again, the consensus grid computed again), then again on the same one (the grid
kept with the engine). Outlook rules read one day of a trained model and are not measured here.

    python bench/alert_rules.py [--data ../shared/data] [--reps 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from coinseason.providers.files import FileFormat
from coinseason.services.alerts.evaluate import Evaluator
from coinseason.services.alerts.service import AlertService
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from coinseason.services.keys import KeyService
from coinseason.store.duckdb import DuckDBStore

PARQUET = Path("coingecko") / "coingecko_daily_2013-04-28_2025-07-19.parquet"
RULES = {
    "season": ("season", {}),
    "consensus majority": ("consensus", {}),
    "consensus agreement": ("consensus", {"watch": "agreement"}),
    "margin": ("margin", {"level": 2}),
}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        started = time.perf_counter()
        ImportService(store, clock=now).import_file(args.data / PARQUET, FileFormat.COINGECKO_DAILY)
        print(f"import of the parquet: {time.perf_counter() - started:.1f} s (once)")
        prefix = KeyService(store, clock=now).create("bench")[0].prefix
        service = AlertService(store, clock=now)
        rows: dict[str, tuple[float, float]] = {}
        for label, (kind, params) in RULES.items():
            rule = service.add(prefix, name=label, kind=kind, params=params, url="https://example.com/hook").rule
            evaluator = Evaluator(store, clock=now)
            cold, warm = [], []
            for _ in range(args.reps):
                analytics = AnalyticsService(store)
                analytics.loaded(None)  # the engine load is the same for every kind: not counted
                t0 = time.perf_counter()
                report = evaluator.evaluate(analytics)
                t1 = time.perf_counter()
                evaluator.evaluate(analytics)
                t2 = time.perf_counter()
                assert not report.failed, report.failed
                cold.append(t1 - t0)
                warm.append(t2 - t1)
            rows[label] = (statistics.median(cold), statistics.median(warm))
            service.remove(None, rule.id)
        store.close()
    base_cold, base_warm = rows["season"]
    print(f"{'rule':<22}{'new data, s':>12}{'x season':>10}{'same data, s':>14}{'x season':>10}")
    for label, (cold, warm) in rows.items():
        print(f"{label:<22}{cold:>12.3f}{cold / base_cold:>10.1f}{warm:>14.3f}{warm / base_warm:>10.1f}")


if __name__ == "__main__":
    main()
