"""The stored models: the served model of each target fitted on every labelled day, and the walk-forward's
as-of forecasts of past days.

A forecast for day t must come from a model trained only on labels resolved by t (the label of day d resolves at
d + H). The final models used labels up to ``trained_through`` = the last day minus H, so they answer the last day
of the data and any later day. Every earlier day is answered from what its walk-forward block said — a model
trained on labels resolved before the block began, with k, size and served model chosen from the record of that
time — stored here per day, so a past answer never changes when later data arrive or change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.features.dataset import FeaturePanel
from coinseason.model.estimators import Forecaster, fit_climatology, fit_gbm, fit_logistic, one_thread
from coinseason.model.families import logistic_features
from coinseason.model.report import TargetReport
from coinseason.model.train import NO_GAP, Walk

FloatArray = NDArray[np.float64]
STORED = ("served", "logistic", "climatology")
"""The as-of forecasts kept per day: the served model's (whichever it was in that block) and the two baselines."""


@dataclass(frozen=True, slots=True)
class TargetModel:
    served: str
    """The candidate served (see :func:`coinseason.model.selection.simplest_adequate`)."""
    models: dict[str, Forecaster]
    """``served``, ``logistic`` and ``climatology`` fitted on every labelled day where the event is possible."""
    features: tuple[str, ...]
    """The served model's features (the ones its answer can be attributed to)."""
    entry_gap: int | None
    trees: int | None
    trained_through: dt.date
    """Last day whose label the models used."""
    skill: bool
    skill_note: str


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """One walk-forward block, for answers from it."""

    fold: int
    test_start: dt.date
    test_end: dt.date
    """Last day of the block."""
    reported: bool
    served: dict[str, str]
    skill: dict[str, bool | None]
    """Whether the block's record showed skill (None: too thin to judge)."""
    entry_gap: dict[str, int | None]
    trained_through: dict[str, dt.date | None]


@dataclass(frozen=True, slots=True)
class FinalModels:
    targets: dict[str, TargetModel]
    names: tuple[str, ...]
    """The design's columns (panel features and derived flags)."""
    medians: FloatArray
    """Training median of each column: the reference value of each feature's contribution."""
    start: dt.date
    """Day of row 0 of the panel the models were trained on."""
    n_days: int
    """Days of that panel: its last day is the first the final models answer."""
    horizon: int
    oos: dict[str, dict[str, NDArray[np.float32]]]
    """Target -> ``served`` / ``logistic`` / ``climatology`` -> the walk-forward forecast per day (NaN outside
    every block)."""
    block_of_day: NDArray[np.int16]
    """Per day, the block that forecast it (-1: none)."""
    blocks: tuple[BlockInfo, ...]

    @property
    def last_day(self) -> dt.date:
        return self.start + dt.timedelta(days=self.n_days - 1)

    @property
    def trained_through(self) -> dt.date:
        return max(t.trained_through for t in self.targets.values())


def _day(start: dt.date, row: int) -> dt.date:
    return start + dt.timedelta(days=row)


def fit_final(walk: Walk, reports: dict[str, TargetReport], panel: FeaturePanel) -> FinalModels:
    """Fit each target's served model and the baselines on every labelled day, with the choices the record of
    every block makes, and keep the walk-forward's as-of forecasts."""
    cfg, d = walk.config, walk.design
    x = d.values
    n = x.shape[0]
    targets: dict[str, TargetModel] = {}
    with one_thread():
        for target, run in walk.runs.items():
            choice = run.final
            y = walk.labels.values[target][choice.gap]
            days = np.arange(walk.first, n)
            rows = days[walk.labels.possible[target][days] & np.isfinite(y[days])]
            logistic = fit_logistic(x[rows], y[rows], d.columns(logistic_features(cfg.window)))
            models: dict[str, Forecaster] = {"logistic": logistic, "climatology": fit_climatology(y[rows])}
            candidate = next(c for c in walk.candidates if c.name == choice.served)
            trees = choice.sizes.get(choice.served)
            if candidate.kind == "gbm" and trees is not None:
                models["served"] = fit_gbm(x[rows], y[rows], d.columns(candidate.features), cfg, trees)
            else:
                models["served"] = models[candidate.kind]
            rep = reports[target]
            targets[target] = TargetModel(
                served=choice.served,
                models=models,
                features=candidate.features,
                entry_gap=None if choice.gap == NO_GAP else choice.gap,
                trees=trees if candidate.kind == "gbm" else None,
                trained_through=_day(panel.start, int(rows[-1])),
                skill=rep.skill,
                skill_note=rep.skill_note,
            )
    with np.errstate(all="ignore"):
        medians = np.array(
            [np.nanmedian(c) if np.isfinite(c).any() else np.nan for c in x[walk.first :].T], dtype=np.float64
        )
    blocks = tuple(
        BlockInfo(
            fold=i,
            test_start=_day(panel.start, b.test_start),
            test_end=_day(panel.start, b.test_end - 1),
            reported=b.reported,
            served={t: r.served[i] for t, r in walk.runs.items()},
            skill={t: r.skill[i] for t, r in walk.runs.items()},
            entry_gap={t: None if r.gap[i] == NO_GAP else r.gap[i] for t, r in walk.runs.items()},
            trained_through={
                t: None if r.trained_through[i] < 0 else _day(panel.start, r.trained_through[i])
                for t, r in walk.runs.items()
            },
        )
        for i, b in enumerate(walk.blocks)
    )
    oos = {t: {k: r.preds[k].astype(np.float32) for k in STORED} for t, r in walk.runs.items()}
    return FinalModels(
        targets=targets,
        names=d.names,
        medians=medians,
        start=panel.start,
        n_days=n,
        horizon=cfg.horizon,
        oos=oos,
        block_of_day=walk.block_of_day(),
        blocks=blocks,
    )
