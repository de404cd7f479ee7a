"""Labels and the nested walk-forward of the early-warning models.

Validation is an expanding walk-forward (:func:`coinseason.core.walkforward.walk_forward_folds`: a purge of H days
and an embargo of E >= H before each test block). Every choice a block depends on is made inside its training
window, from the *record* — the out-of-sample forecasts of the earlier blocks on days whose labels were known before
the window ends (:mod:`coinseason.model.selection`): the debounce k, the gradient-boosting size, the served model
and the alert threshold. The first blocks (``warmup_blocks``) are predicted only to give the first reported block a
record; the card reports the others. A block's forecasts therefore depend on nothing dated after its test days:
they are as of each day, and :mod:`coinseason.model.final` stores them for the outlook of past days.

Entry targets are trained and scored only on days the event is possible: not already in that season.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from coinseason.core.labels import TARGETS, debounced_entries, dominance_move_label, entries, reentry_gaps
from coinseason.core.labels import season_entry_label as entry_label
from coinseason.core.season import ALTCOIN_SEASON, BITCOIN_SEASON, NO_VALUE, classify_season
from coinseason.core.walkforward import Fold, brier_score, walk_forward_folds
from coinseason.errors import DataError
from coinseason.features.dataset import FeaturePanel
from coinseason.features.market import MarketSeries
from coinseason.model.config import TrainConfig
from coinseason.model.estimators import (
    Boosted,
    Forecaster,
    fit_climatology,
    fit_gbm,
    fit_logistic,
    one_thread,
    usable_columns,
)
from coinseason.model.families import REFERENCE, Candidate, Design, candidates, design, logistic_features
from coinseason.model.selection import (
    Comparison,
    alert_threshold,
    choose_gap,
    choose_size,
    simplest_adequate,
)

FloatArray = NDArray[np.float64]
SEASON_OF = {"altcoin_season_entry": ALTCOIN_SEASON, "bitcoin_season_entry": BITCOIN_SEASON}
NO_GAP = 0
"""The k key of a target without debounce (the dominance move)."""
DEFAULT_SERVED = "logistic"
"""The served model of a block whose record is too thin to choose: the simple baseline."""


@dataclass(frozen=True, slots=True)
class Labels:
    code: NDArray[np.int8]
    """Season code per day (the label's index and thresholds)."""
    values: dict[str, dict[int, FloatArray]]
    """Target -> k -> 0/1 per day, NaN where not yet known (k = 0 for the dominance move)."""
    events: dict[str, dict[int, NDArray[np.bool_]]]
    """Target -> k -> days the transition happens (season entries; none for the dominance move)."""
    possible: dict[str, NDArray[np.bool_]]
    """Target -> days the event is possible: not already in that season (every day for the dominance move)."""
    reentries: dict[str, tuple[NDArray[np.int64], NDArray[np.int64]]] = field(default_factory=dict)
    """Season target -> (day of each raw entry, days outside the season before it; -1 for a first entry)."""


def make_labels(market: MarketSeries, config: TrainConfig) -> Labels:
    """Every target under every k of the grid, and the days each event is possible."""
    code = classify_season(market.asi[config.window], altcoin_at=config.altcoin_at, bitcoin_at=config.bitcoin_at)
    h = config.horizon
    values: dict[str, dict[int, FloatArray]] = {}
    events: dict[str, dict[int, NDArray[np.bool_]]] = {}
    possible: dict[str, NDArray[np.bool_]] = {}
    reentries = {}
    for target, season in SEASON_OF.items():
        values[target] = {k: entry_label(code, season, h, gap=k) for k in config.entry_gaps}
        events[target] = {k: debounced_entries(code, season, k) for k in config.entry_gaps}
        possible[target] = (code != season) & (code != NO_VALUE)
        reentries[target] = (np.flatnonzero(entries(code, season)), reentry_gaps(code, season))
    values["dominance_move"] = {NO_GAP: dominance_move_label(market.btc_dominance, h, config.dominance_points)}
    events["dominance_move"] = {NO_GAP: np.zeros(code.size, bool)}
    possible["dominance_move"] = np.ones(code.size, bool)
    return Labels(code, values, events, possible, reentries)


def first_usable_row(panel: FeaturePanel, config: TrainConfig) -> int:
    """The first day the index and its 30-day slope have a value (earlier days have too little history)."""
    ok = np.ones(panel.n_days, bool)
    for name in (f"asi_{config.window}", f"asi_{config.window}_slope_30"):
        ok &= np.isfinite(panel.column(name))
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        raise DataError("no day has the season index history the models need")
    return int(rows[0])


@dataclass(frozen=True, slots=True)
class Block:
    """A walk-forward block: trained on rows before ``train_end``, tested on ``test_start`` .. ``test_end``-1."""

    train_end: int
    test_start: int
    test_end: int
    reported: bool
    """False for the warm-up blocks, predicted only to give later blocks a record."""


def plan(panel: FeaturePanel, config: TrainConfig) -> tuple[int, list[Block]]:
    """The first usable row and the blocks: the reported ones from ``min_train_days`` of training, preceded by
    the warm-up blocks."""
    first = first_usable_row(panel, config)
    warm = config.warmup_blocks
    folds: list[Fold] = walk_forward_folds(
        panel.n_days,
        horizon=config.horizon,
        embargo=config.embargo_days,
        min_train=config.min_train_days - warm * config.test_days,
        test_size=config.test_days,
        first=first,
    )
    blocks = [Block(f.train_end, f.test_start, f.test_end, reported=i >= warm) for i, f in enumerate(folds)]
    if not any(b.reported for b in blocks):
        raise DataError(
            f"too little history for walk-forward validation: {panel.n_days - first} usable days, and the first"
            f" reported test day needs {config.min_train_days} training days plus"
            f" {config.horizon + config.embargo_days}"
        )
    return first, blocks


@dataclass
class FinalChoice:
    """What the record of every block chooses for the model fitted on all the data."""

    gap: int
    sizes: dict[str, int]
    served: str
    comparisons: list[Comparison]


@dataclass
class TargetRun:
    """Everything the walk-forward produced for one target."""

    target: str
    gap: list[int]
    """Per block, the k chosen inside its training window (0 for the dominance move)."""
    sizes: dict[str, list[int]]
    """Per gradient-boosting candidate, the trees chosen per block."""
    served: list[str]
    """Per block, the served candidate chosen inside its training window."""
    skill: list[bool | None]
    """Per block, whether its record showed skill (the served model is not climatology; None: a record too thin
    to judge, the default served)."""
    trained_through: list[int]
    """Per block, the last row whose label its models used."""
    label: FloatArray
    """Per day, the label under its block's k where the event is possible (NaN elsewhere)."""
    events: NDArray[np.bool_]
    """Per day, a transition under its block's k."""
    preds: dict[str, FloatArray]
    """Candidate (and ``persistence``, ``served``) -> out-of-sample forecast per day (NaN outside blocks)."""
    alerts: dict[str, NDArray[np.bool_]]
    """Candidate (and ``served``) -> alert per day, above the block's threshold from its record."""
    final: FinalChoice
    importance: dict[str, float] = field(default_factory=dict)


@dataclass
class Walk:
    config: TrainConfig
    design: Design
    labels: Labels
    first: int
    blocks: list[Block]
    candidates: list[Candidate]
    runs: dict[str, TargetRun]

    def block_of_day(self) -> NDArray[np.int16]:
        out = np.full(self.design.values.shape[0], -1, np.int16)
        for i, b in enumerate(self.blocks):
            out[b.test_start : b.test_end] = i
        return out

    def reported_days(self) -> NDArray[np.bool_]:
        out = np.zeros(self.design.values.shape[0], bool)
        for b in self.blocks:
            if b.reported:
                out[b.test_start : b.test_end] = True
        return out


def _seed(config: TrainConfig, target: str, block: int) -> int:
    return config.seed * 1_000_003 + TARGETS.index(target) * 10_007 + block


class _Run:
    """The walk-forward of one target (state shared by its steps)."""

    def __init__(self, walk: Walk, target: str) -> None:
        self.walk, self.target, self.cfg = walk, target, walk.config
        self.x = walk.design.values
        self.n = self.x.shape[0]
        self.possible = walk.labels.possible[target]
        self.by_gap = walk.labels.values[target]
        self.logistic_columns = walk.design.columns(logistic_features(self.cfg.window))
        self.block_of = walk.block_of_day()
        nan = np.full(self.n, np.nan)
        self.base = {k: (nan.copy(), nan.copy()) for k in self.by_gap}  # k -> (logistic, climatology) forecasts
        self.grid = {c.name: {s: nan.copy() for s in self.cfg.trees} for c in walk.candidates if c.kind == "gbm"}
        self.preds = {c.name: nan.copy() for c in walk.candidates} | {REFERENCE: nan.copy(), "served": nan.copy()}
        self.alerts = {name: np.zeros(self.n, bool) for name in self.preds if name != REFERENCE}
        self.label = nan.copy()
        self.events = np.zeros(self.n, bool)
        self.gap: list[int] = []
        self.sizes: dict[str, list[int]] = {name: [] for name in self.grid}
        self.served: list[str] = []
        self.skill: list[bool | None] = []
        self.trained_through: list[int] = []
        self.kept: dict[int, dict[str, object]] = {}

    def rows(self, y: FloatArray, end: int) -> NDArray[np.int64]:
        days = np.arange(self.walk.first, end)
        return days[self.possible[days] & np.isfinite(y[days])]

    def record(self, i: int, end: int) -> NDArray[np.bool_]:
        """Days of blocks before ``i`` whose label is used and known before row ``end``."""
        days = np.arange(self.n)
        return np.asarray((self.block_of >= 0) & (self.block_of < i) & (days < end) & np.isfinite(self.label))

    def choose_gap(self, i: int, end: int) -> int:
        if len(self.by_gap) == 1:
            return next(iter(self.by_gap))
        days = np.arange(self.n)
        earlier = (self.block_of >= 0) & (self.block_of < i) & (days < end) & self.possible
        records = {}
        for k, y in self.by_gap.items():
            on = earlier & np.isfinite(y)
            records[k] = (y[on], self.base[k][0][on], self.base[k][1][on])
        return choose_gap(records, default=self.cfg.default_entry_gap, min_events=self.cfg.min_record_events)

    def block(self, i: int, b: Block) -> None:
        cfg, x = self.cfg, self.x
        test = np.arange(b.test_start, b.test_end)
        for k, y_k in self.by_gap.items():  # the baselines under every k: the record the choice of k reads
            rows = self.rows(y_k, b.train_end)
            self.base[k][0][test] = fit_logistic(x[rows], y_k[rows], self.logistic_columns).predict(x[test])
            self.base[k][1][test] = fit_climatology(y_k[rows]).predict(x[test])
        k = self.choose_gap(i, b.train_end)
        y = self.by_gap[k]
        rows = self.rows(y, b.train_end)
        self.gap.append(k)
        self.trained_through.append(int(rows[-1]) if rows.size else -1)
        record = self.record(i, b.train_end)
        y_record = self.label[record]
        keep = i >= len(self.walk.blocks) - cfg.importance_folds
        self.kept[i] = {}
        fitted: dict[tuple[int, ...], Forecaster] = {}  # a family without data in this window adds no column
        for c in self.walk.candidates:
            if c.kind == "climatology":
                self.preds[c.name][test] = self.base[k][1][test]
            elif c.kind == "logistic":
                self.preds[c.name][test] = self.base[k][0][test]
                if keep:
                    self.kept[i][c.name] = fit_logistic(x[rows], y[rows], self.logistic_columns)
            else:
                usable = usable_columns(x[rows], self.walk.design.columns(c.features))
                if usable not in fitted:
                    fitted[usable] = fit_gbm(x[rows], y[rows], usable, cfg, max(cfg.trees))
                model = fitted[usable]
                staged = (
                    model.staged(x[test], cfg.trees)
                    if isinstance(model, Boosted)
                    else dict.fromkeys(cfg.trees, model.predict(x[test]))
                )
                for s, p in staged.items():
                    self.grid[c.name][s][test] = p
                size = choose_size(
                    y_record,
                    {s: g[record] for s, g in self.grid[c.name].items()},
                    min_events=cfg.min_record_events,
                )
                self.sizes[c.name].append(size)
                self.preds[c.name][test] = self.grid[c.name][size][test]
                if keep:
                    self.kept[i][c.name] = (model, size)
        self.preds[REFERENCE][test] = 0.0
        served, log = simplest_adequate(
            y_record,
            {c.name: self.preds[c.name][record] for c in self.walk.candidates},
            n_boot=cfg.selection_bootstrap,
            seed=_seed(cfg, self.target, i),
            min_events=cfg.min_record_events,
            default=DEFAULT_SERVED,
        )
        self.served.append(served)
        self.skill.append(served != "climatology" if log else None)
        self.preds["served"][test] = self.preds[served][test]
        for name in self.alerts:  # a constant forecast (climatology) cannot choose days: it never alerts
            if (served if name == "served" else name) != "climatology":
                threshold = alert_threshold(self.preds[name][record], cfg.alert_rate)
                self.alerts[name][test] = self.preds[name][test] >= threshold
        # the label these forecasts answer: this block's k, on the days the event is possible
        self.label[test] = np.where(self.possible[test], y[test], np.nan)
        self.events[test] = self.walk.labels.events[self.target][k][test]

    def final(self) -> FinalChoice:
        """The choices of a model fitted on every labelled day: the same rules over every block's record."""
        cfg = self.cfg
        end = self.n
        k = self.choose_gap(len(self.walk.blocks), end)
        record = self.record(len(self.walk.blocks), end)
        y = self.label[record]
        sizes = {
            name: choose_size(y, {s: g[record] for s, g in grid.items()}, min_events=cfg.min_record_events)
            for name, grid in self.grid.items()
        }
        served, log = simplest_adequate(
            y,
            {c.name: self.preds[c.name][record] for c in self.walk.candidates},
            n_boot=cfg.selection_bootstrap,
            seed=_seed(cfg, self.target, len(self.walk.blocks)),
            min_events=cfg.min_record_events,
            default=DEFAULT_SERVED,
        )
        return FinalChoice(k, sizes, served, log)

    def importance(self, served: str) -> dict[str, float]:
        """Permutation importance of the served candidate on the last blocks' reported days: the rise of the Brier
        score when one of its columns is shuffled (mean of ``importance_repeats``)."""
        cfg, x = self.cfg, self.x
        names = self.walk.design.names
        candidate = next(c for c in self.walk.candidates if c.name == served)
        columns = self.walk.design.columns(candidate.features)
        total = np.zeros(len(names))
        weight = 0
        for i, kept in self.kept.items():
            b = self.walk.blocks[i]
            found = kept.get(served)
            if found is None or not b.reported:
                continue
            test = np.arange(b.test_start, b.test_end)
            test = test[np.isfinite(self.label[test])]
            if test.size == 0:
                continue
            y = self.label[test]
            if isinstance(found, tuple):
                model, size = found
                if not isinstance(model, Boosted):
                    continue

                def predict(m: np.ndarray, model: Boosted = model, size: int = size) -> FloatArray:
                    return model.staged(m, (size,))[size]
            else:
                predict = found.predict  # type: ignore[attr-defined]
            rng = np.random.default_rng(cfg.seed + i)
            sub = x[test].copy()
            base = brier_score(y, predict(sub))
            for j in columns:
                col = sub[:, j].copy()
                for _ in range(cfg.importance_repeats):
                    sub[:, j] = rng.permutation(col)
                    total[j] += (brier_score(y, predict(sub)) - base) / cfg.importance_repeats * test.size
                sub[:, j] = col
            weight += test.size
        return {names[j]: float(total[j] / weight) for j in columns} if weight else {}

    def result(self) -> TargetRun:
        final = self.final()
        return TargetRun(
            target=self.target,
            gap=self.gap,
            sizes=self.sizes,
            served=self.served,
            skill=self.skill,
            trained_through=self.trained_through,
            label=self.label,
            events=self.events,
            preds=self.preds,
            alerts=self.alerts,
            final=final,
            importance=self.importance(final.served) if final.served != "climatology" else {},
        )


def walk_forward(panel: FeaturePanel, labels: Labels, config: TrainConfig) -> Walk:
    """The nested walk-forward of every candidate for every target (native thread pools on one thread)."""
    with one_thread():
        first, blocks = plan(panel, config)
        d = design(panel)
        walk = Walk(config, d, labels, first, blocks, candidates(d.names, config.window), {})
        for target in TARGETS:
            run = _Run(walk, target)
            for i, b in enumerate(blocks):
                run.block(i, b)
            walk.runs[target] = run.result()
        return walk
