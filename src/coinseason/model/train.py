"""Labels, walk-forward validation and the final fit of the early-warning models.

``walk_forward`` scores every model out of sample: each test block is predicted by models trained only on rows
before it, with the purge (H days) and embargo (E >= H days) of :func:`coinseason.core.walkforward.walk_forward_folds`.
``fit_final`` then trains on every labelled day for the outlook.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from coinseason.core.labels import (
    RAW_TARGETS,
    TARGETS,
    debounced_entries,
    dominance_move_label,
    entries,
    reentry_gaps,
    season_entry_label,
)
from coinseason.core.season import ALTCOIN_SEASON, BITCOIN_SEASON, classify_season
from coinseason.core.walkforward import (
    Fold,
    brier_score,
    brier_skill,
    lead_times,
    precision_at_rate,
    reliability_curve,
    walk_forward_folds,
)
from coinseason.errors import DataError
from coinseason.features.dataset import FeaturePanel
from coinseason.features.market import MarketSeries
from coinseason.model.config import TrainConfig
from coinseason.model.estimators import MODELS, Fitted, Forecaster, fit, one_thread

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Labels:
    values: dict[str, FloatArray]
    """Target -> 0/1 per day, NaN where not yet known."""
    events: dict[str, NDArray[np.bool_]]
    """Target -> days the transition happens (season entries; for dominance: none)."""
    reentry_gaps: dict[str, tuple[NDArray[np.int64], NDArray[np.int64]]] = field(default_factory=dict)
    """Season -> (day of each raw entry, days spent outside the season before it; -1 for a first entry)."""


def make_labels(market: MarketSeries, config: TrainConfig) -> Labels:
    """Headline targets (entries debounced by ``config.entry_gap``, dominance move) and the raw entry targets."""
    code = classify_season(market.asi[config.window], altcoin_at=config.altcoin_at, bitcoin_at=config.bitcoin_at)
    h, k = config.horizon, config.entry_gap
    values = {
        "altcoin_season_entry": season_entry_label(code, ALTCOIN_SEASON, h, gap=k),
        "bitcoin_season_entry": season_entry_label(code, BITCOIN_SEASON, h, gap=k),
        "dominance_move": dominance_move_label(market.btc_dominance, h, config.dominance_points),
        "altcoin_season_entry_raw": season_entry_label(code, ALTCOIN_SEASON, h),
        "bitcoin_season_entry_raw": season_entry_label(code, BITCOIN_SEASON, h),
    }
    events = {
        "altcoin_season_entry": debounced_entries(code, ALTCOIN_SEASON, k),
        "bitcoin_season_entry": debounced_entries(code, BITCOIN_SEASON, k),
        "dominance_move": np.zeros(code.size, bool),
        "altcoin_season_entry_raw": entries(code, ALTCOIN_SEASON),
        "bitcoin_season_entry_raw": entries(code, BITCOIN_SEASON),
    }
    gaps = {
        season: (np.flatnonzero(entries(code, c)), reentry_gaps(code, c))
        for season, c in (("altcoin", ALTCOIN_SEASON), ("bitcoin", BITCOIN_SEASON))
    }
    return Labels(values, events, gaps)


def first_usable_row(panel: FeaturePanel, config: TrainConfig) -> int:
    """The first day every logistic-baseline feature has a value (earlier days have too little history)."""
    ok = np.ones(panel.n_days, bool)
    for name in config.logistic_features:
        ok &= np.isfinite(panel.column(name))
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        raise DataError("no day has the season index and dominance history the models need")
    return int(rows[0])


@dataclass
class TargetReport:
    """Out-of-sample figures of one target."""

    n_test_days: int = 0
    n_positive: int = 0
    base_rate: float = float("nan")
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    """Model -> auc, brier, bss_persistence, bss_climatology, precision_at_rate, alert_threshold."""
    lead_time_median: float = float("nan")
    events: int = 0
    events_warned: int = 0
    reliability: dict[str, tuple[list[float], list[float], list[float]]] = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)
    changepoint_alert: dict[str, float] = field(default_factory=dict)
    reentries: dict[str, int] = field(default_factory=dict)
    """Raw entries in the test span, and how many came within 3, 10 and 30 days of leaving the season."""


@dataclass
class Evaluation:
    config: TrainConfig
    folds: list[Fold]
    first_row: int
    predictions: dict[str, dict[str, FloatArray]]
    """Target -> model -> out-of-sample probability per day (NaN outside test blocks)."""
    reports: dict[str, TargetReport]

    def fold_of_row(self, n_days: int) -> NDArray[np.int16]:
        """Per day, the walk-forward fold whose test block holds it (0-based; -1 outside every test block)."""
        out = np.full(n_days, -1, np.int16)
        for i, fold in enumerate(self.folds):
            out[fold.test_start : fold.test_end] = i
        return out


def _auc(y: FloatArray, p: FloatArray) -> float:
    # imported here: scikit-learn takes about a second to load; only training needs it
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    if y.size == 0 or y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, p))


def _importance(model: Forecaster, x: FloatArray, y: FloatArray, repeats: int, seed: int) -> FloatArray:
    """Permutation importance: the rise of the Brier score when one column is shuffled (mean of ``repeats``)."""
    if not isinstance(model, Fitted) or y.size == 0:
        return np.zeros(x.shape[1])
    rng = np.random.default_rng(seed)
    base = brier_score(y, model.predict(x))
    out = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        col = x[:, j].copy()
        for _ in range(repeats):
            x[:, j] = rng.permutation(col)
            out[j] += (brier_score(y, model.predict(x)) - base) / repeats
        x[:, j] = col
    return out


def walk_forward(panel: FeaturePanel, labels: Labels, config: TrainConfig) -> Evaluation:
    """Out-of-sample predictions and figures of every model for every target."""
    with one_thread():
        return _walk_forward(panel, labels, config)


def config_folds(panel: FeaturePanel, config: TrainConfig) -> tuple[int, list[Fold]]:
    """The first usable row of ``panel`` and the walk-forward folds ``config`` asks for from it."""
    first = first_usable_row(panel, config)
    folds = walk_forward_folds(
        panel.n_days,
        horizon=config.horizon,
        embargo=config.embargo_days,
        min_train=config.min_train_days,
        test_size=config.test_days,
        first=first,
    )
    return first, folds


def _walk_forward(panel: FeaturePanel, labels: Labels, config: TrainConfig) -> Evaluation:
    first, folds = config_folds(panel, config)
    if not folds:
        raise DataError(
            f"too little history for walk-forward validation: {panel.n_days - first} usable days, and the first"
            f" test day needs {config.min_train_days} training days plus {config.horizon + config.embargo_days}"
        )
    x_all = panel.values
    logistic_columns = tuple(panel.names.index(n) for n in config.logistic_features)
    predictions: dict[str, dict[str, FloatArray]] = {}
    reports: dict[str, TargetReport] = {}
    for target in TARGETS + RAW_TARGETS:
        y_all = labels.values[target]
        scored_importance = target in TARGETS
        preds = {m: np.full(panel.n_days, np.nan) for m in MODELS}
        importance = np.zeros(len(panel.names))
        weight = 0
        for i, fold in enumerate(folds):
            train = np.arange(fold.train_start, fold.train_end)
            train = train[np.isfinite(y_all[train])]
            test = np.arange(fold.test_start, fold.test_end)
            for kind in MODELS:
                model = fit(kind, x_all[train], y_all[train], config, logistic_columns=logistic_columns)
                preds[kind][test] = model.predict(x_all[test])
                if scored_importance and kind == "gbm" and i >= len(folds) - config.importance_folds:
                    scored = test[np.isfinite(y_all[test])]
                    if scored.size:
                        x_test = x_all[scored].copy()
                        imp = _importance(model, x_test, y_all[scored], config.importance_repeats, config.seed + i)
                        importance += imp * scored.size
                        weight += scored.size
        predictions[target] = preds
        reports[target] = _report(target, preds, labels, panel, config, folds, importance / max(weight, 1))
    return Evaluation(config, folds, first, predictions, reports)


def _report(
    target: str,
    preds: dict[str, FloatArray],
    labels: Labels,
    panel: FeaturePanel,
    config: TrainConfig,
    folds: list[Fold],
    importance: FloatArray,
) -> TargetReport:
    y_all = labels.values[target]
    tested = np.zeros(panel.n_days, bool)
    for fold in folds:
        tested[fold.test_start : fold.test_end] = True
    scored = tested & np.isfinite(y_all)
    y = y_all[scored]
    rep = TargetReport(n_test_days=int(scored.sum()), n_positive=int(y.sum()), base_rate=float(y.mean()))
    ref_persistence = brier_score(y, preds["persistence"][scored])
    ref_climatology = brier_score(y, preds["climatology"][scored])
    for kind in MODELS:
        p = preds[kind][scored]
        bs = brier_score(y, p)
        precision, threshold = precision_at_rate(y, p, config.alert_rate)
        rep.metrics[kind] = {
            "auc": _auc(y, p),
            "brier": bs,
            "bss_persistence": brier_skill(bs, ref_persistence),
            "bss_climatology": brier_skill(bs, ref_climatology),
            "precision_at_rate": precision,
            "alert_threshold": threshold,
        }
        mean_p, freq, count = reliability_curve(y, p)
        rep.reliability[kind] = (mean_p.tolist(), freq.tolist(), count.tolist())
    # lead time: events inside the tested span, alert = gbm probability at or above its fixed-rate threshold
    threshold = rep.metrics["gbm"]["alert_threshold"]
    alert = tested & (np.nan_to_num(preds["gbm"], nan=-1.0) >= threshold)
    events = labels.events[target] & tested
    leads = lead_times(events, alert, config.horizon)
    rep.events = int(leads.size)
    rep.events_warned = int((leads > 0).sum())
    rep.lead_time_median = float(np.median(leads[leads > 0])) if (leads > 0).any() else float("nan")
    rep.importance = {n: float(v) for n, v in zip(panel.names, importance, strict=True)}
    if "cp_alert" in panel.names:
        cp = panel.column("cp_alert")[scored]
        on = cp == 1.0
        rep.changepoint_alert = {
            "alert_rate": float(on.mean()) if on.size else float("nan"),
            "precision": float(y[on].mean()) if on.any() else float("nan"),
            "recall": float(on[y == 1].mean()) if (y == 1).any() else float("nan"),
        }
    season = target.split("_", 1)[0]
    if target.endswith("season_entry") and season in labels.reentry_gaps:
        days, gaps = labels.reentry_gaps[season]
        gaps = gaps[tested[days]]
        rep.reentries = {
            "raw_entries": int(gaps.size),
            "within_3_days": int(((gaps >= 0) & (gaps <= 3)).sum()),
            "within_10_days": int(((gaps >= 0) & (gaps <= 10)).sum()),
            "within_30_days": int(((gaps >= 0) & (gaps <= 30)).sum()),
            "counted_entries": int((labels.events[target] & tested).sum()),
        }
    return rep


@dataclass(frozen=True, slots=True)
class FinalModels:
    """Models fitted on every labelled day, for the outlook."""

    models: dict[str, dict[str, Forecaster]]
    """Target -> model -> fitted forecaster."""
    names: tuple[str, ...]
    medians: FloatArray
    """Training median of each feature: the reference value of the contribution of each feature."""
    train_start: dt.date
    train_end: dt.date
    """Last day whose label was known when training."""
    start: dt.date | None = None
    """Day of row 0 of ``oos``."""
    oos: dict[str, dict[str, NDArray[np.float32]]] = field(default_factory=dict)
    """Headline target -> model -> walk-forward out-of-sample probability per day from ``start`` (NaN outside
    every test block): what each fold's model, trained on earlier days only, said."""
    oos_fold: NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, np.int16))
    """Per day from ``start``, the 0-based walk-forward fold that predicted it (-1: none)."""


def with_oos(final: FinalModels, evaluation: Evaluation, start: dt.date, n_days: int) -> FinalModels:
    """``final`` carrying the walk-forward out-of-sample predictions of the headline targets (served for past
    days instead of the final model, which saw them)."""
    oos = {
        t: {m: evaluation.predictions[t][m].astype(np.float32) for m in ("climatology", "logistic", "gbm")}
        for t in TARGETS
    }
    return FinalModels(
        final.models,
        final.names,
        final.medians,
        final.train_start,
        final.train_end,
        start=start,
        oos=oos,
        oos_fold=evaluation.fold_of_row(n_days),
    )


def fit_final(panel: FeaturePanel, labels: Labels, config: TrainConfig, first: int) -> FinalModels:
    with one_thread():
        return _fit_final(panel, labels, config, first)


def _fit_final(panel: FeaturePanel, labels: Labels, config: TrainConfig, first: int) -> FinalModels:
    x_all = panel.values
    logistic_columns = tuple(panel.names.index(n) for n in config.logistic_features)
    models: dict[str, dict[str, Forecaster]] = {}
    last = first
    for target in TARGETS:
        y_all = labels.values[target]
        rows = np.arange(first, panel.n_days)
        rows = rows[np.isfinite(y_all[rows])]
        last = max(last, int(rows[-1])) if rows.size else last
        models[target] = {
            kind: fit(kind, x_all[rows], y_all[rows], config, logistic_columns=logistic_columns) for kind in MODELS
        }
    with np.errstate(all="ignore"):
        medians = np.array(
            [np.nanmedian(c) if np.isfinite(c).any() else np.nan for c in x_all[first:].T], dtype=np.float64
        )
    return FinalModels(
        models=models,
        names=panel.names,
        medians=medians,
        train_start=panel.start + dt.timedelta(days=first),
        train_end=panel.start + dt.timedelta(days=last),
    )
