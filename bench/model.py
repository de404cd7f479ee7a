"""Benchmark of the early-warning models over the whole real history (CoinGecko market + shared feature data).

Run ``python bench/model.py`` (``--quick`` for a smoke run with small grids; ``--check`` to time the permutation
null and the leak canary too). Each figure is printed with its target and a ratio against a baseline measured in
the same run; the exit status is 1 when any target is missed.

Figures
-------
1. full training: the nested walk-forward (every block, target and candidate: climatology, logistic, five gradient
   boostings read at each size of the grid, the k grid for the baselines), the figures with their event-bootstrap
   intervals, permutation importance, final fit, artifact stored, model card: target <= 300 s on 2 cores; baseline:
   the single-model design it replaced (one 50-tree gradient boosting on every feature and the logistic
   baseline per block and target), timed here on the same data
2. (``--check``) the permutation null and the leak canary: information
3. one outlook on a warm service (inputs and model loaded): target <= 5 ms (median); baseline: a cold outlook
   (engine, features and model read from the store)
Wall-clock and CPU seconds are both shown: the CPU seconds (one thread) move less with the machine's load.
The card's headline figures are printed after them.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from coinseason.model.estimators import fit_gbm, fit_logistic, one_thread
from coinseason.model.families import design, logistic_features
from coinseason.model.train import make_labels, plan
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


def single_model_walk_forward(service: OutlookService, config: TrainConfig) -> tuple[float, float]:
    """Wall and CPU seconds of the design the nested walk-forward replaced: per reported block and target, one
    50-tree gradient boosting (learning rate 0.05) on every feature and the logistic baseline, k fixed."""
    market, panel = service.inputs(source=None, top=config.top, window=config.window)
    labels = make_labels(market, config)
    first, blocks = plan(panel, config)
    d = design(panel)
    x = d.values
    old = dataclasses.replace(config, learning_rate=0.05)
    every = d.columns(tuple(n for n in d.names if not n.startswith("in_")))
    wall, cpu = time.perf_counter(), time.process_time()
    with one_thread():
        for target in TARGETS:
            y = labels.values[target][config.default_entry_gap if target != "dominance_move" else 0]
            for b in blocks:
                if not b.reported:
                    continue
                days = np.arange(first, b.train_end)
                rows = days[np.isfinite(y[days])]
                test = slice(b.test_start, b.test_end)
                fit_gbm(x[rows], y[rows], every, old, 50).predict(x[test])
                fit_logistic(x[rows], y[rows], d.columns(logistic_features(config.window))).predict(x[test])
    return time.perf_counter() - wall, time.process_time() - cpu


def _ci(ci: tuple[float, float], sign: bool = False) -> str:
    fmt = "{:+.3f}" if sign else "{:.3f}"
    return "[" + ", ".join(fmt.format(v) for v in ci) + "]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grids and bootstraps, one importance fold")
    parser.add_argument("--check", action="store_true", help="also time the permutation null and the leak canary")
    parser.add_argument("--card", type=Path, default=None, help="write the model card here")
    args = parser.parse_args()
    if not MARKET.is_file():
        print(f"real data not found: {MARKET}")
        return 2
    config = (
        TrainConfig(trees=(25,), entry_gaps=(14,), bootstrap=200, selection_bootstrap=100, importance_folds=1)
        if args.quick
        else TrainConfig()
    )
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        load(store, report)

        section("1. full training over the whole history")
        service = OutlookService(store)
        start = time.perf_counter()
        service.inputs(source=None, top=config.top, window=config.window)
        inputs = time.perf_counter() - start
        report.add(Figure("features: engine series + feature panel (cold)", inputs, "s"))
        base_wall, base_cpu = single_model_walk_forward(service, config)
        report.add(
            Figure("baseline: the single-model walk-forward it replaced", base_wall, "s", ratio=f"{base_cpu:.1f} s CPU")
        )
        card = args.card or Path(tmp) / "card"
        start, cpu = time.perf_counter(), time.process_time()
        result = service.train(config, card_dir=card)
        seconds, cpu = time.perf_counter() - start + inputs, time.process_time() - cpu
        report.add(
            Figure(
                "full training (features, nested walk-forward, intervals, final fit, artifact, card)",
                seconds,
                "s",
                limit=300,
                ratio=f"{cpu:.1f} s CPU, {cpu / base_cpu:,.1f}× the baseline's CPU",
            )
        )
        blocks = result.walk.blocks
        report.note(
            f"{sum(b.reported for b in blocks)} reported + {sum(not b.reported for b in blocks)} warm-up blocks;"
            f" {len(result.walk.candidates)} candidates; grids: k {config.entry_gaps}, trees {config.trees};"
            f" model {result.artifact.version}; card {result.card}"
        )
        if args.check:
            section("2. permutation null and leak canary")
            start, cpu = time.perf_counter(), time.process_time()
            checked = service.train(dataclasses.replace(config), card_dir=card, check=True)
            total, cpu = time.perf_counter() - start, time.process_time() - cpu
            report.add(
                Figure(
                    f"training with --check ({config.null_runs} null runs + canary per target)",
                    total,
                    "s",
                    ratio=f"{cpu:.1f} s CPU",
                )
            )
            result = checked

        section("3. one outlook")
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

    section("out-of-sample figures (reported blocks, days the event is possible; 95 % event-bootstrap intervals)")
    for target, rep in result.reports.items():
        final = rep.final
        assert final is not None
        report.note(
            f"{target}: {rep.n_test_days} days, {rep.n_events} events, base rate {rep.base_rate:.3f}; serves"
            f" {final.served} (k {final.gap or '-'}); skill: {rep.skill_note}"
        )
        for name, s in rep.scores.items():
            report.note(
                f"  {name:29} AUC {s.auc:.3f} {_ci(s.auc_ci)}  BSS/climatology {s.bss_climatology:+.3f}"
                f" {_ci(s.bss_ci, True)}  precision {s.precision:.3f} at alert rate {s.alert_rate:.3f}"
            )
        for d in rep.baselines + rep.ablation:
            report.note(
                f"  {d.model} − {d.against}: ΔAUC {d.auc:+.3f} {_ci(d.auc_ci, True)}, ΔBSS {d.bss:+.3f}"
                f" {_ci(d.bss_ci, True)}"
            )
        if rep.checks:
            null, canary = rep.checks["null"], rep.checks["canary"]
            report.note(
                f"  null ({null['model']}, {null['runs']} runs): mean AUC {null['mean_auc']:.3f}, p95"
                f" {null['p95_auc']:.3f}, max BSS {null['max_bss']:+.3f}; real AUC {null['observed_auc']:.3f},"
                f" p = {null['p_value']:.2f}; canary AUC {canary['auc']:.3f}"
            )
    report.summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
