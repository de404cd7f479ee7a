"""The model card: what the early-warning models are, how they were validated and chosen, and every out-of-sample
figure with its event-bootstrap interval, as markdown with PNG plots (reliability curves, probabilities over time,
permutation importance)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np

from coinseason.core.labels import TARGETS
from coinseason.features.dataset import FeaturePanel
from coinseason.model.families import FAMILIES, REFERENCE, family
from coinseason.model.report import Delta, Score, TargetReport
from coinseason.model.train import Walk

TITLES = {
    "altcoin_season_entry": "Altcoin season starts within H days",
    "bitcoin_season_entry": "Bitcoin season starts within H days",
    "dominance_move": "BTC dominance moves by at least X points within H days",
}


def _fmt(value: float | None, digits: int = 3, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _ci(ci: tuple[float, float], sign: bool = False) -> str:
    if any(math.isnan(v) for v in ci):
        return ""
    return f" [{_fmt(ci[0], sign=sign)}, {_fmt(ci[1], sign=sign)}]"


def _plots(walk: Walk, reports: dict[str, TargetReport], panel: FeaturePanel, out: Path) -> dict[str, list[str]]:
    import matplotlib  # imported here: matplotlib loads only when a model card is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files: dict[str, list[str]] = {}
    dates = np.datetime64(panel.start, "D") + np.arange(panel.n_days).astype("timedelta64[D]")
    for target in TARGETS:
        rep, run = reports[target], walk.runs[target]
        names = []
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
        for kind, (mean_p, freq, _) in rep.reliability.items():
            ax.plot(mean_p, freq, marker="o", label=kind)
        ax.set(xlabel="forecast probability", ylabel="observed frequency", title=f"Reliability: {target}")
        ax.legend()
        fig.tight_layout()
        name = f"reliability_{target}.png"
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        names.append(name)

        fig, ax = plt.subplots(figsize=(10, 3.5))
        ax.plot(dates, run.preds["served"], linewidth=0.8, label="served, as of each block (out of sample)")
        ax.plot(dates, run.preds["logistic"], linewidth=0.8, alpha=0.7, label="logistic (out of sample)")
        ax.fill_between(dates, 0, np.nan_to_num(run.label), step="mid", alpha=0.15, color="black", label="label = 1")
        ax.set(ylim=(0, 1), ylabel="probability", title=f"{target}: out-of-sample probabilities")
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        name = f"timeline_{target}.png"
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        names.append(name)

        if rep.importance:
            top = sorted(rep.importance.items(), key=lambda kv: -kv[1])[:15]
            fig, ax = plt.subplots(figsize=(6, 5))
            ax.barh([k for k, _ in reversed(top)], [v for _, v in reversed(top)])
            ax.set(xlabel="rise of the Brier score when shuffled", title=f"Permutation importance: {target}")
            fig.tight_layout()
            name = f"importance_{target}.png"
            fig.savefig(out / name, dpi=90)
            plt.close(fig)
            names.append(name)
        files[target] = names
    return files


def _score_row(name: str, s: Score, served: str) -> str:
    mark = " **(served)**" if name == served else ""
    return (
        f"| {name}{mark} | {_fmt(s.auc)}{_ci(s.auc_ci)} | {_fmt(s.bss_climatology, sign=True)}{_ci(s.bss_ci, True)} |"
        f" {_fmt(s.bss_persistence, sign=True)} | {_fmt(s.brier)} | {_fmt(s.precision)} / {_fmt(s.alert_rate)} /"
        f" {_fmt(s.recall)} |"
    )


def _delta_row(d: Delta) -> str:
    return (
        f"| {d.model} − {d.against} | {_fmt(d.auc, sign=True)}{_ci(d.auc_ci, True)} |"
        f" {_fmt(d.bss, sign=True)}{_ci(d.bss_ci, True)} |"
    )


def _target_section(walk: Walk, target: str, rep: TargetReport, plots: list[str]) -> list[str]:
    cfg = walk.config
    final = rep.final
    served = final.served if final else "climatology"
    lines = [
        f"### {TITLES[target]} (`{target}`)",
        "",
        f"Scored days {rep.n_test_days}"
        + (" (days already in that season left out: the entry is not possible)" if target != "dominance_move" else "")
        + f", positives {rep.n_positive} (base rate {_fmt(rep.base_rate)}), in **{rep.n_events} independent"
        " events** (runs of positive days): the intervals rest on those.",
        "",
        f"**Served: `{served}`**"
        + (f" ({final.sizes[served]} trees)" if final and served in final.sizes else "")
        + (f", k = {final.gap}" if final and final.gap else "")
        + f". Skill: {'yes' if rep.skill else '**no**'} — {rep.skill_note}.",
        "",
    ]
    if final and final.comparisons:
        lines.append(
            "How it was chosen (every block's record; a richer model replaces the current choice only when its"
            " Brier score is lower with the whole 95 % interval below 0): "
            + "; ".join(
                f"`{c.challenger}` vs `{c.incumbent}` ΔBrier {_fmt(c.delta_brier, 4, True)}"
                f" [{_fmt(c.low, 4, True)}, {_fmt(c.high, 4, True)}] → {'adopted' if c.adopted else 'kept'}"
                for c in final.comparisons
            )
            + "."
        )
        lines.append("")
    lines += [
        "| model | AUC [95 % CI] | Brier skill vs climatology [95 % CI] | BSS vs persistence | Brier |"
        " precision / alert rate / recall |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_score_row(name, s, served) for name, s in rep.scores.items()]
    lines += [
        "",
        "`served` is the forecast of the model each block chose from its own record (as of the block): the honest"
        " figure of the selection itself. Strong simple baselines against the logistic one (paired):",
        "",
        "| difference | ΔAUC [95 % CI] | ΔBrier skill [95 % CI] |",
        "|---|---|---|",
        *[_delta_row(d) for d in rep.baselines],
        "",
    ]
    if rep.ablation:
        lines += [
            "Ablation, one feature family at a time (paired, same days and resamples):",
            "",
            "| difference | ΔAUC [95 % CI] | ΔBrier skill [95 % CI] |",
            "|---|---|---|",
            *[_delta_row(d) for d in rep.ablation],
            "",
        ]
    gaps = ", ".join(f"k = {k}: {n}" for k, n in sorted(rep.chosen_gaps.items()) if k)
    served_counts = ", ".join(f"`{k}` {n}" for k, n in sorted(rep.chosen_served.items(), key=lambda kv: -kv[1]))
    sizes = "; ".join(
        f"`{m}` " + ", ".join(f"{t} trees: {n}" for t, n in sorted(c.items())) for m, c in rep.chosen_sizes.items()
    )
    lines += [
        "Chosen inside the reported blocks' training windows: "
        + (f"debounce {gaps}; " if gaps else "")
        + f"served model {served_counts}; gradient-boosting size {sizes}.",
        "",
    ]
    if target != "dominance_move":
        lines.append(
            f"Transitions in the reported span: {rep.transitions}; warned by the served alert: {rep.warned};"
            f" median lead time of those: {_fmt(rep.lead_time_median, 1)} days."
        )
    if rep.changepoint_alert:
        c = rep.changepoint_alert
        lines.append(
            f"Change-point alert as a forecast: on {_fmt(c['alert_rate'])} of days, precision"
            f" {_fmt(c['precision'])}, recall {_fmt(c['recall'])}."
        )
    if rep.reentries:
        r = rep.reentries
        lines.append(
            f"Re-entries: of {r['raw_entries']} raw entries in the reported span, {r['within_3_days']} came within"
            f" 3 days of leaving the season, {r['within_10_days']} within 10 and {r['within_30_days']} within 30;"
            f" {r['counted_entries']} count as transitions with the k of their block."
        )
    lines.append("")
    checks = rep.checks
    if checks:
        null, canary = checks["null"], checks["canary"]
        lines += [
            f"**Permutation null** (`{null['model']}`, {null['runs']} runs with the labels shifted by a year or"
            f" more): AUC {_fmt(null['mean_auc'])} on average, 95th percentile {_fmt(null['p95_auc'])}, best Brier"
            f" skill {_fmt(null['max_bss'], sign=True)}; the real labels give AUC {_fmt(null['observed_auc'])}"
            f" (Brier skill {_fmt(null['observed_bss'], sign=True)}), p = {_fmt(null['p_value'], 2)}.",
            f"**Leak canary** (`{canary['model']}` with the future label added as a feature): AUC"
            f" {_fmt(canary['auc'])}, Brier skill {_fmt(canary['bss'], sign=True)} —"
            f" {'the harness shows a leak at once' if canary['passed'] else '**the harness did not show the leak**'}.",
            "",
        ]
    else:
        lines += ["Permutation null and leak canary: not run (`coinseason model train --check`).", ""]
    if rep.importance:
        top = sorted(rep.importance.items(), key=lambda kv: -kv[1])[:8]
        lines += [
            f"Permutation importance (`{served}`, last {cfg.importance_folds} blocks; rise of the Brier score): "
            + ", ".join(f"`{k}` {v:.4f}" for k, v in top)
            + ".",
            "",
        ]
    lines += [f"![{name}]({name})" for name in plots]
    lines.append("")
    return lines


def write_model_card(
    walk: Walk, reports: dict[str, TargetReport], panel: FeaturePanel, meta: dict[str, Any], out: Path
) -> Path:
    """Write ``model_card.md`` and its plots into ``out``; returns the markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(walk, reports, panel, out)
    cfg = walk.config
    reported = [b for b in walk.blocks if b.reported]
    first_test = panel.start + dt.timedelta(days=reported[0].test_start)
    last_test = panel.start + dt.timedelta(days=reported[-1].test_end - 1)
    by_family: dict[str, list[str]] = {f: [] for f in FAMILIES}
    for n in walk.design.names:
        by_family[family(n)].append(n)
    lines = [
        f"# coinseason early-warning model card — version {meta['version']}",
        "",
        "## What it predicts",
        "",
        f"For each day d, the probability that within the next **H = {cfg.horizon} days**:",
        "",
        f"* the Altcoin Season Index (top {cfg.top}, {cfg.window}-day window) enters altcoin season"
        f" (>= {cfg.altcoin_at:g}) after at least k days outside it — `altcoin_season_entry`;",
        f"* it enters Bitcoin season (<= {cfg.bitcoin_at:g}) after at least k days outside it —"
        " `bitcoin_season_entry`;",
        f"* BTC dominance moves by at least **X = {cfg.dominance_points:g} points** from day d's level — "
        "`dominance_move`.",
        "",
        "The entry labels are debounced (the index flickers around 25 and 75; a return into a season after a dip"
        f" shorter than k days is not a transition), with k chosen from {{{', '.join(map(str, cfg.entry_gaps))}}}"
        " inside each training window. An entry is scored only on days it is possible: not already in that season.",
        "",
        "## Data and features",
        "",
        f"Source `{meta['source']}`; {len(walk.design.names)} features per day, each computed from data known at"
        " the end of that day (trailing windows; external series aligned on their publication time: a US close is"
        " used the next day, Coin Metrics values the morning after, the weekly FRED dollar index from its Monday"
        " release). Families: "
        + "; ".join(f"**{f}** ({len(v)}): " + ", ".join(f"`{n}`" for n in v) for f, v in by_family.items() if v)
        + ".",
        f"Training window of the stored models: {meta['training_window']['start']} to"
        f" {meta['training_window']['end']} (the last day whose label was known).",
        "",
        "## Models",
        "",
        f"* **{REFERENCE}** — the season stays: probability 0 of any transition (a reference, never served);",
        *[f"* **{c.name}** — {c.summary};" for c in walk.candidates],
        f"* gradient boosting: scikit-learn's HistGradientBoostingClassifier, learning rate {cfg.learning_rate},"
        f" {cfg.max_leaf_nodes} leaves, >= {cfg.min_samples_leaf} days per leaf, L2 1.0, seed {cfg.seed}; its size"
        f" chosen from {{{', '.join(map(str, cfg.trees))}}} trees inside each training window; the logistic"
        " regression has C = 1 (not tuned);",
        "* **change-point alert** — PELT (ruptures) on the trailing year of BTC dominance; alert while the last"
        " change point is at most 30 days old.",
        "",
        "## Validation and selection",
        "",
        f"Walk-forward, expanding window: {len(reported)} reported test blocks of {cfg.test_days} days from"
        f" {first_test} to {last_test}, preceded by {len(walk.blocks) - len(reported)} warm-up blocks (from"
        f" {cfg.warmup_days} training days) that only give the first reported block a record. Each block's"
        f" models are trained on days before it, minus a purge of {cfg.horizon} days (labels not yet known) and an"
        f" embargo of {cfg.embargo_days} days.",
        "",
        "**Nested choices.** Everything a block depends on is chosen inside its training window, from its record:"
        " the earlier blocks' out-of-sample forecasts on days whose labels were known before the window ends."
        " There, k is the grid value whose label the logistic baseline forecasts with the best Brier skill; the"
        " gradient-boosting size the one with the lowest Brier score; the served model the simplest candidate no"
        " richer one beats (a richer one replaces it only with its Brier score lower and the whole event-bootstrap"
        " 95 % interval of the difference below 0); the alert threshold the"
        f" {1 - cfg.alert_rate:.0%} quantile of the model's own record. A record with fewer than"
        f" {cfg.min_record_events} transitions chooses nothing (k = {cfg.default_entry_gap}, the fewest trees, the"
        " logistic baseline, no alert). No choice reads a reported figure; the stored model makes the same choices"
        " over every block's record.",
        "",
        "**Intervals.** Days are not independent (the H days before one entry share its label), so the 95 %"
        f" intervals come from an event bootstrap ({cfg.bootstrap} resamples of whole episodes: a run of negative"
        " days and the run of positive days that ends it) — they reflect the number of events, not of days;"
        " differences between models are paired (same resamples).",
        "",
        "**Skill.** A target has skill when its served model is not climatology, its AUC interval lies above 0.5,"
        " its Brier-skill interval above 0 and, after `--check`, the permutation null rejects chance at 5 %. The"
        " outlook marks a target without skill as such.",
        "",
        "## Results",
        "",
        "| target | served | AUC [95 % CI] | Brier skill [95 % CI] | logistic AUC | logistic Brier skill | events |"
        " skill |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target in TARGETS:
        rep = reports[target]
        served = rep.final.served if rep.final else "climatology"
        s, lg = rep.scores[served], rep.scores["logistic"]
        lines.append(
            f"| `{target}` | `{served}` | {_fmt(s.auc)}{_ci(s.auc_ci)} |"
            f" {_fmt(s.bss_climatology, sign=True)}{_ci(s.bss_ci, True)} | {_fmt(lg.auc)} |"
            f" {_fmt(lg.bss_climatology, sign=True)} | {rep.n_events} | {'yes' if rep.skill else 'no'} |"
        )
    lines.append("")
    for target in TARGETS:
        lines += _target_section(walk, target, reports[target], plots[target])
    lines += [
        "## Limits",
        "",
        "* Few transitions: a few dozen season entries in twelve years; the intervals say how little that is.",
        "* Several external series start late (Fear & Greed 2018, news 2021-2024, funding 2019) or stop early"
        " (Coin Metrics addresses 2024, ETH flows 2023); the gradient boosting treats the gaps as missing values.",
        "* The season index and dominance are coinseason's own, from one market-data source, so labels inherit"
        " its coverage.",
        "* The served model is chosen on every block's record, and the figures of its own row above are on those"
        " same days: that row is mildly optimistic. The `served` row (each block's choice, as of the block) is not.",
        "",
    ]
    path = out / "model_card.md"
    path.write_text("\n".join(lines))
    return path
