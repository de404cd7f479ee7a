"""The checks of ``coinseason model train --check``: a permutation null and a leak canary, on the served model.

* **Permutation null** — the label series is shifted in time against the features by a random offset (at least a
  year each way, circularly), which keeps its autocorrelation and base rate but breaks any link to the features;
  the served model (its final k and size) is walked forward on it ``null_runs`` times. A model with skill scores
  above nearly all of them: the p-value is ``(1 + runs scoring at least the real AUC) / (1 + runs)``.
* **Leak canary** — the future label itself is added as a feature. A harness that lets a leak through shows it at
  once (AUC near 1); the real model's figures are far from that.
Both rerun the same blocks on the same days as the reported figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from coinseason.core.walkforward import brier_score, brier_skill
from coinseason.model.estimators import Forecaster, fit_climatology, fit_gbm, fit_logistic, one_thread
from coinseason.model.families import Candidate
from coinseason.model.report import TargetReport, auc_score, judge
from coinseason.model.train import Walk

FloatArray = NDArray[np.float64]
MIN_SHIFT = 365
CANARY_PASS = 0.95
"""AUC the canary must reach for the harness to count as able to show a leak."""


def _walk_one(
    walk: Walk, target: str, candidate: Candidate, y: FloatArray, size: int, extra: FloatArray | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``candidate`` walked forward on label ``y`` with a fixed size (and ``extra`` as one more column): the labels,
    its forecasts and climatology's on the reported days where the event is possible."""
    cfg = walk.config
    x = walk.design.values if extra is None else np.column_stack([walk.design.values, extra])
    columns = walk.design.columns(candidate.features) + (() if extra is None else (x.shape[1] - 1,))
    possible = walk.labels.possible[target]
    p = np.full(x.shape[0], np.nan)
    clim = np.full(x.shape[0], np.nan)
    for b in walk.blocks:
        if not b.reported:
            continue
        days = np.arange(walk.first, b.train_end)
        rows = days[possible[days] & np.isfinite(y[days])]
        test = np.arange(b.test_start, b.test_end)
        model: Forecaster
        if candidate.kind == "gbm":
            model = fit_gbm(x[rows], y[rows], columns, cfg, size)
        else:
            model = fit_logistic(x[rows], y[rows], columns)
        p[test] = model.predict(x[test])
        clim[test] = fit_climatology(y[rows]).predict(x[test])
    scored = walk.reported_days() & possible & np.isfinite(y)
    return y[scored], p[scored], clim[scored]


def _scores(y: FloatArray, p: FloatArray, clim: FloatArray) -> tuple[float, float]:
    return auc_score(y, p), brier_skill(brier_score(y, p), brier_score(y, clim))


def run_checks(walk: Walk, reports: dict[str, TargetReport]) -> None:
    """Run the null and the canary for every target and put them (and the verdict they change) in ``reports``."""
    cfg = walk.config
    with one_thread():
        for target, run in walk.runs.items():
            served = run.final.served if run.final.served != "climatology" else "logistic"
            candidate = next(c for c in walk.candidates if c.name == served)
            y = walk.labels.values[target][run.final.gap]
            size = run.final.sizes.get(served, max(cfg.trees))
            auc, bss = _scores(*_walk_one(walk, target, candidate, y, size))
            rng = np.random.default_rng(cfg.seed + 101)
            n = y.size
            null_auc, null_bss = [], []
            for _ in range(cfg.null_runs):
                shift = int(rng.integers(MIN_SHIFT, max(n - MIN_SHIFT, MIN_SHIFT + 1)))
                a, s = _scores(*_walk_one(walk, target, candidate, np.roll(y, shift), size))
                null_auc.append(a)
                null_bss.append(s)
            na, nb = np.asarray(null_auc), np.asarray(null_bss)
            beaten = int(np.sum(np.nan_to_num(na, nan=-np.inf) >= auc))
            canary = np.where(np.isfinite(y), y, 0.5)
            c_auc, c_bss = _scores(*_walk_one(walk, target, candidate, y, size, extra=canary))
            rep = reports[target]
            null: dict[str, Any] = {
                "model": served,
                "runs": cfg.null_runs,
                "observed_auc": auc,
                "observed_bss": bss,
                "mean_auc": float(np.nanmean(na)) if np.isfinite(na).any() else float("nan"),
                "p95_auc": float(np.nanpercentile(na, 95)) if np.isfinite(na).any() else float("nan"),
                "max_bss": float(np.nanmax(nb)) if np.isfinite(nb).any() else float("nan"),
                "p_value": (1 + beaten) / (1 + cfg.null_runs),
            }
            rep.checks = {
                "null": null,
                "canary": {"model": served, "auc": c_auc, "bss": c_bss, "passed": bool(c_auc >= CANARY_PASS)},
            }
            judge(rep)
