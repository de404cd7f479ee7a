"""The out-of-sample figures of a walk-forward, on the reported blocks and the days each event is possible: per
model AUC and Brier skill with event-bootstrap 95 % intervals, the strong simple baselines, the ablation with
paired intervals, alerts at the nested thresholds, lead times, and the skill verdict of the served model."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from coinseason.core.bootstrap import EventBootstrap, percentile_interval
from coinseason.core.walkforward import brier_score, brier_skill, lead_times, reliability_curve
from coinseason.model.families import REFERENCE
from coinseason.model.train import FinalChoice, TargetRun, Walk

FloatArray = NDArray[np.float64]
LEVEL = 0.95
ABLATION = ("gbm_engine", "gbm_engine_sentiment", "gbm_engine_sentiment_onchain", "gbm_all")


def auc_score(y: FloatArray, p: FloatArray) -> float:
    # imported here: scikit-learn takes about a second to load; only training needs it
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    if y.size == 0 or y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, p))


@dataclass
class Score:
    """One model's out-of-sample figures (intervals: event bootstrap, 95 %)."""

    auc: float
    auc_ci: tuple[float, float]
    brier: float
    bss_climatology: float
    bss_ci: tuple[float, float]
    bss_persistence: float
    precision: float
    """Share of alert days followed by the event (alerts above the nested threshold)."""
    alert_rate: float
    recall: float


@dataclass
class Delta:
    """``model`` minus ``against`` on the same days and the same resamples (paired)."""

    model: str
    against: str
    auc: float
    auc_ci: tuple[float, float]
    bss: float
    bss_ci: tuple[float, float]


@dataclass
class TargetReport:
    n_test_days: int = 0
    n_positive: int = 0
    base_rate: float = float("nan")
    n_events: int = 0
    """Independent events the intervals rest on: runs of positive days (episodes of the bootstrap)."""
    scores: dict[str, Score] = field(default_factory=dict)
    baselines: list[Delta] = field(default_factory=list)
    """Every richer model against the logistic baseline."""
    ablation: list[Delta] = field(default_factory=list)
    """Each family added, against the engine-only model and against the step before."""
    transitions: int = 0
    warned: int = 0
    lead_time_median: float = float("nan")
    chosen_gaps: dict[int, int] = field(default_factory=dict)
    chosen_served: dict[str, int] = field(default_factory=dict)
    chosen_sizes: dict[str, dict[int, int]] = field(default_factory=dict)
    final: FinalChoice | None = None
    skill: bool = False
    skill_note: str = ""
    reliability: dict[str, tuple[list[float], list[float], list[float]]] = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)
    changepoint_alert: dict[str, float] = field(default_factory=dict)
    reentries: dict[str, int] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    """Filled by ``model train --check``: the permutation null and the leak canary."""


def _score(y: FloatArray, p: FloatArray, alert: NDArray[np.bool_], boot: EventBootstrap, clim: FloatArray) -> Score:
    bs = brier_score(y, p)
    on = alert
    return Score(
        auc=auc_score(y, p),
        auc_ci=percentile_interval(boot.auc(p), LEVEL),
        brier=bs,
        bss_climatology=brier_skill(bs, brier_score(y, clim)),
        bss_ci=percentile_interval(boot.brier_skill(p, clim), LEVEL),
        bss_persistence=brier_skill(bs, brier_score(y, np.zeros_like(y))),
        precision=float(y[on].mean()) if on.any() else float("nan"),
        alert_rate=float(on.mean()) if on.size else float("nan"),
        recall=float(on[y == 1].mean()) if (y == 1).any() else float("nan"),
    )


def _delta(
    model: str, against: str, y: FloatArray, preds: dict[str, FloatArray], boot: EventBootstrap, clim: FloatArray
) -> Delta:
    a, b = preds[model], preds[against]
    ref = brier_score(y, clim)
    return Delta(
        model=model,
        against=against,
        auc=auc_score(y, a) - auc_score(y, b),
        auc_ci=percentile_interval(boot.auc(a) - boot.auc(b), LEVEL),
        bss=brier_skill(brier_score(y, a), ref) - brier_skill(brier_score(y, b), ref),
        bss_ci=percentile_interval(boot.brier_skill(a, clim) - boot.brier_skill(b, clim), LEVEL),
    )


def report_target(walk: Walk, run: TargetRun, *, changepoint: FloatArray | None = None) -> TargetReport:
    """Every figure of one target on the reported days where the event is possible."""
    cfg = walk.config
    reported = walk.reported_days()
    scored = reported & np.isfinite(run.label)
    y = run.label[scored]
    preds = {name: p[scored] for name, p in run.preds.items()}
    boot = EventBootstrap(y, n_boot=cfg.bootstrap, seed=cfg.seed + 17)
    clim = preds["climatology"]
    rep = TargetReport(
        n_test_days=int(y.size),
        n_positive=int(y.sum()),
        base_rate=float(y.mean()) if y.size else float("nan"),
        n_events=boot.n_events,
    )
    order = [REFERENCE, *[c.name for c in walk.candidates], "served"]
    for name in order:
        alert = run.alerts[name][scored] if name in run.alerts else np.zeros(y.size, bool)
        rep.scores[name] = _score(y, preds[name], alert, boot, clim)
    names = [c.name for c in walk.candidates]
    rep.baselines = [_delta(n, "logistic", y, preds, boot, clim) for n in [*names[2:], "served"]]
    steps = [n for n in ABLATION if n in preds]
    rep.ablation = [_delta(n, "gbm_engine", y, preds, boot, clim) for n in steps[1:]]
    rep.ablation += [_delta(b, a, y, preds, boot, clim) for a, b in zip(steps[1:], steps[2:], strict=False)]
    for kind in ("climatology", "logistic", "served"):
        mean_p, freq, count = reliability_curve(y, preds[kind])
        rep.reliability[kind] = (mean_p.tolist(), freq.tolist(), count.tolist())
    # lead times: transitions of the reported span, the served alert on days the event is possible
    alert = run.alerts["served"] & walk.labels.possible[run.target] & reported
    leads = lead_times(run.events & reported, alert, cfg.horizon)
    rep.transitions = int(leads.size)
    rep.warned = int((leads > 0).sum())
    rep.lead_time_median = float(np.median(leads[leads > 0])) if (leads > 0).any() else float("nan")
    blocks = [i for i, b in enumerate(walk.blocks) if b.reported]
    rep.chosen_gaps = dict(Counter(run.gap[i] for i in blocks))
    rep.chosen_served = dict(Counter(run.served[i] for i in blocks))
    rep.chosen_sizes = {name: dict(Counter(s[i] for i in blocks)) for name, s in run.sizes.items()}
    rep.final = run.final
    rep.importance = run.importance
    if changepoint is not None:
        cp = changepoint[scored]
        on = cp == 1.0
        rep.changepoint_alert = {
            "alert_rate": float(on.mean()) if on.size else float("nan"),
            "precision": float(y[on].mean()) if on.any() else float("nan"),
            "recall": float(on[y == 1].mean()) if (y == 1).any() else float("nan"),
        }
    if run.target in walk.labels.reentries:
        days, gaps = walk.labels.reentries[run.target]
        gaps = gaps[reported[days]]
        rep.reentries = {
            "raw_entries": int(gaps.size),
            "within_3_days": int(((gaps >= 0) & (gaps <= 3)).sum()),
            "within_10_days": int(((gaps >= 0) & (gaps <= 10)).sum()),
            "within_30_days": int(((gaps >= 0) & (gaps <= 30)).sum()),
            "counted_entries": int((run.events & reported).sum()),
        }
    judge(rep)
    return rep


def judge(rep: TargetReport) -> None:
    """The skill verdict of the served model: it is not climatology, its AUC interval lies above 0.5 and its Brier
    skill interval above 0, and (after ``--check``) the permutation null rejects chance at 5 %."""
    final = rep.final
    served = final.served if final else "climatology"
    if served == "climatology":
        rep.skill, rep.skill_note = False, "no candidate beats climatology on the record: no out-of-sample skill"
        return
    s = rep.scores[served]
    reasons = []
    if not s.auc_ci[0] > 0.5:
        reasons.append(f"AUC 95 % interval reaches {s.auc_ci[0]:.3f} (not above 0.5)")
    if not s.bss_ci[0] > 0:
        reasons.append(f"Brier skill 95 % interval reaches {s.bss_ci[0]:+.3f} (not above 0)")
    p_value = rep.checks.get("null", {}).get("p_value")
    if p_value is not None and p_value > 0.05:
        reasons.append(f"the permutation null does not reject chance (p = {p_value:.2f})")
    rep.skill = not reasons
    rep.skill_note = (
        f"{served}: AUC {s.auc:.3f} [{s.auc_ci[0]:.3f}, {s.auc_ci[1]:.3f}], Brier skill {s.bss_climatology:+.3f}"
        f" [{s.bss_ci[0]:+.3f}, {s.bss_ci[1]:+.3f}]"
        if rep.skill
        else f"{served}: no out-of-sample skill — " + "; ".join(reasons)
    )


def report(walk: Walk, *, changepoint: FloatArray | None = None) -> dict[str, TargetReport]:
    return {t: report_target(walk, run, changepoint=changepoint) for t, run in walk.runs.items()}
