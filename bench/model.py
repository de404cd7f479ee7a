"""Benchmark of the early-warning models over the whole real history (CoinGecko market + shared feature data).

Run ``python bench/model.py`` (``--quick`` for a smoke run with few trees). Each figure is printed with its target
and a ratio against a baseline measured in the same run; the exit status is 1 when any target is missed.

Figures
-------
1. full walk-forward training (every fold, target and model, permutation importance, final fit, artifact stored,
   model card): target <= 300 s on 2 cores; baseline: the walk-forward of the logistic baseline alone
2. one outlook on a warm service (inputs and model loaded): target <= 5 ms (median); baseline: a cold outlook
   (engine, features and model read from the store)
The out-of-sample figures of the trained model are printed after them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from coinseason.core.labels import TARGETS
from coinseason.features.files import read_feature_file
from coinseason.model.config import TrainConfig
from coinseason.model.estimators import fit, one_thread
from coinseason.model.train import config_folds, make_labels
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.services.outlook import OutlookService
from coinseason.store import DuckDBStore
from report import Figure, Report, section  # bench/report.py, beside this script

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MARKET = DATA / "coingecko" / "coingecko_daily_2013-04-28_2025-07-19.parquet"
FEATURE_FILES = {
    "fear-greed": "fear_greed_index.csv",
    "coinmetrics-btc": "btc_onchain_coinmetrics.csv",
    "coinmetrics-eth": "eth_onchain_coinmetrics.csv",
    "blockchaincom": "btc_onchain_blockchaincom.csv",
    "yahoo-macro": "macro_yahoo_daily.csv",
    "fred": "macro_fred_daily.csv",
    "gld": "gold_gld_etf_stooq.csv",
    "stablecoins": "stablecoin_mcap_rwaxyz.csv",
    "funding": "btc_funding_rate_binance.csv",
    "news": "btc_news_sentiment.csv",
}


def load(store: DuckDBStore, report: Report) -> None:
    section("0. data: CoinGecko daily market and the shared feature files into a fresh DuckDB store")
    start = time.perf_counter()
    ImportService(store, clock=lambda: dt.datetime.now(dt.UTC)).import_file(MARKET, FileFormat.COINGECKO_DAILY)
    for fmt, name in FEATURE_FILES.items():
        store.write_features(read_feature_file(DATA / "features" / name, fmt))
    report.add(Figure("import market + features (once)", time.perf_counter() - start, "s"))


def logistic_walk_forward(service: OutlookService, config: TrainConfig) -> float:
    """Seconds to walk forward the logistic baseline alone (inputs already built)."""
    market, panel = service.inputs(source=None, top=config.top, window=config.window)
    labels = make_labels(market, config)
    _, folds = config_folds(panel, config)
    columns = tuple(panel.names.index(n) for n in config.logistic_features)
    start = time.perf_counter()
    with one_thread():
        for target in TARGETS:
            y = labels.values[target]
            for fold in folds:
                rows = np.arange(fold.train_start, fold.train_end)
                rows = rows[np.isfinite(y[rows])]
                model = fit("logistic", panel.values[rows], y[rows], config, logistic_columns=columns)
                model.predict(panel.values[fold.test_start : fold.test_end])
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few trees, one importance fold")
    parser.add_argument("--card", type=Path, default=None, help="write the model card here")
    args = parser.parse_args()
    if not MARKET.is_file():
        print(f"real data not found: {MARKET}")
        return 2
    config = TrainConfig(trees=20, importance_folds=1) if args.quick else TrainConfig()
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        load(store, report)

        section("1. full walk-forward training over the whole history")
        service = OutlookService(store)
        start = time.perf_counter()
        service.inputs(source=None, top=config.top, window=config.window)
        inputs = time.perf_counter() - start
        report.add(Figure("features: engine series + feature panel (cold)", inputs, "s"))
        baseline = logistic_walk_forward(service, config)
        report.add(Figure("baseline: logistic-only walk-forward", baseline, "s"))
        card = args.card or Path(tmp) / "card"
        start = time.perf_counter()
        result = service.train(config, card_dir=card)
        seconds = time.perf_counter() - start + inputs
        report.add(
            Figure(
                "full training (features, walk-forward, final fit, artifact, card)",
                seconds,
                "s",
                limit=300,
                ratio=f"{seconds / baseline:,.0f}× the logistic-only walk-forward",
            )
        )
        report.note(f"{len(result.evaluation.folds)} folds; model {result.artifact.version}; card {result.card}")

        section("2. one outlook")
        start = time.perf_counter()
        cold_service = OutlookService(store)
        cold_service.outlook()
        cold = time.perf_counter() - start
        report.add(Figure("baseline: cold outlook (store → engine, features, model)", cold * 1000, "ms"))
        times = []
        for _ in range(200):
            start = time.perf_counter()
            cold_service.outlook()
            times.append(time.perf_counter() - start)
        warm = statistics.median(times) * 1000
        report.add(
            Figure("warm outlook (median of 200)", warm, "ms", limit=5, ratio=f"{cold * 1000 / warm:,.0f}× faster")
        )
        store.close()

    section("out-of-sample figures (walk-forward)")
    for target, rep in result.evaluation.reports.items():
        report.note(f"{target}: {rep.n_test_days} test days, base rate {rep.base_rate:.3f}")
        for kind, m in rep.metrics.items():
            report.note(
                f"  {kind:12} AUC {m['auc']:.3f}  Brier {m['brier']:.3f}  BSS/persistence {m['bss_persistence']:+.3f}"
                f"  BSS/climatology {m['bss_climatology']:+.3f}  precision@{config.alert_rate:.0%} "
                f"{m['precision_at_rate']:.3f}"
            )
        if target != "dominance_move":
            report.note(
                f"  transitions {rep.events}, warned {rep.events_warned}, median lead {rep.lead_time_median:.1f} days"
            )
    report.summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
