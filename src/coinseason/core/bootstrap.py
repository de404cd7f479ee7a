"""Event-level bootstrap of forecast scores: confidence intervals that know how few transitions there are.

Pure numpy. The days of a test span are not independent: the H days before one season entry all carry its label,
so a day-level bootstrap would count one event thirty times and give intervals far too narrow. Here the scored days
(in time order) are cut into *episodes* — a run of days labelled 0 and the run of days labelled 1 that ends it; the
0s after the last 1 are an episode of their own — and the bootstrap resamples whole episodes with replacement
(a block bootstrap whose blocks are events; Efron and Tibshirani's percentile interval). An interval then reflects
the number of events, not of days. Forecasts of the same days are compared on the same resamples (paired), which
is what an interval of a difference needs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
CHUNK = 256
"""Resamples scored at once by :func:`weighted_auc` (bounds the memory of a (resamples x days) weight matrix)."""


def episodes(y: FloatArray) -> NDArray[np.int64]:
    """Episode number of each day of a time-ordered 0/1 series: a new episode starts after the last 1 of every run
    of 1s. ``[0, 0, 1, 1, 0, 1, 0, 0]`` → ``[0, 0, 0, 0, 1, 1, 2, 2]``."""
    positive = np.asarray(y) == 1
    ends = positive & ~np.concatenate([positive[1:], [False]])
    return np.concatenate([[0], np.cumsum(ends)[:-1]]).astype(np.int64) if y.size else np.zeros(0, np.int64)


def weighted_auc(y: FloatArray, p: FloatArray, weights: FloatArray) -> FloatArray:
    """ROC AUC with frequency weights: the chance that a positive day has a higher forecast than a negative one,
    ties counting one half (the Mann-Whitney U), each day counted ``weight`` times. ``weights`` is one row of
    day weights per resample ((resamples, days), or (days,)); one AUC per row, NaN for a row without a weighted
    positive or negative day."""
    w_all = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    order = np.argsort(p, kind="stable")
    ps, ys = p[order], y[order].astype(np.float64)
    starts = np.flatnonzero(np.concatenate([[True], ps[1:] != ps[:-1]])) if ps.size else np.zeros(0, np.int64)
    out = np.full(w_all.shape[0], np.nan)
    if ps.size == 0:
        return out
    for lo in range(0, w_all.shape[0], CHUNK):
        w = w_all[lo : lo + CHUNK][:, order]
        pos = np.add.reduceat(w * ys, starts, axis=1)  # weight of positive days per distinct forecast value
        neg = np.add.reduceat(w * (1.0 - ys), starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg  # negatives with a strictly lower forecast
        u = (pos * (below + 0.5 * neg)).sum(axis=1)
        pairs = pos.sum(axis=1) * neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[lo : lo + CHUNK] = np.where(pairs > 0, u / pairs, np.nan)
    return out


def percentile_interval(samples: FloatArray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap ``samples`` (NaN samples dropped; NaN when none is left)."""
    kept = samples[np.isfinite(samples)]
    if kept.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(kept, [tail, 100.0 - tail])
    return float(lo), float(hi)


class EventBootstrap:
    """Resamples of the episodes of one scored series ``y`` (time-ordered 0/1), drawn once: every score of a
    forecast of those days is computed on the same resamples, so differences are paired."""

    def __init__(self, y: FloatArray, *, n_boot: int, seed: int) -> None:
        if n_boot < 1:
            raise ValueError(f"the bootstrap needs at least one resample, not {n_boot}")
        self.y = np.asarray(y, dtype=np.float64)
        self.episode = episodes(self.y)
        self.n_episodes = int(self.episode.max()) + 1 if self.y.size else 0
        self.n_events = int(np.unique(self.episode[self.y == 1]).size)
        rng = np.random.default_rng(seed)
        if self.n_episodes:
            draws = rng.integers(0, self.n_episodes, size=(n_boot, self.n_episodes))
            self.counts = np.stack([np.bincount(row, minlength=self.n_episodes) for row in draws]).astype(np.float64)
        else:
            self.counts = np.zeros((n_boot, 0))
        self._days = self._sums(np.ones(self.y.size))

    def _sums(self, values: FloatArray) -> FloatArray:
        """Per-episode sums of ``values``."""
        return np.bincount(self.episode, weights=values, minlength=self.n_episodes).astype(np.float64)

    def brier(self, p: FloatArray) -> FloatArray:
        """Brier score of forecast ``p`` on each resample."""
        err = self._sums((np.asarray(p, dtype=np.float64) - self.y) ** 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray((self.counts @ err) / (self.counts @ self._days), dtype=np.float64)

    def brier_skill(self, p: FloatArray, reference: FloatArray) -> FloatArray:
        """``1 - BS(p) / BS(reference)`` on each resample (NaN where the reference is perfect)."""
        ref = self.brier(reference)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.where(ref > 0, 1.0 - self.brier(p) / ref, np.nan), dtype=np.float64)

    def auc(self, p: FloatArray) -> FloatArray:
        """AUC of forecast ``p`` on each resample: :func:`weighted_auc` with each day weighted by the count of
        its episode, computed from the episode-by-episode matrix of (positive, negative) pair wins, so a resample
        costs (episodes)² operations instead of a sort of every day."""
        c = self.counts
        if self.n_episodes == 0:
            return np.full(c.shape[0], np.nan)
        p = np.asarray(p, dtype=np.float64)
        if self.n_episodes**2 > 4 * self.y.size:  # many short episodes: weighting the days is cheaper
            out = np.full(c.shape[0], np.nan)
            for lo in range(0, out.size, CHUNK):
                out[lo : lo + CHUNK] = weighted_auc(self.y, p, c[lo : lo + CHUNK][:, self.episode])
            return out
        pos, neg = self.y == 1, self.y == 0
        order = np.argsort(p[neg], kind="stable")
        p_neg, e_neg = p[neg][order], self.episode[neg][order]
        # negatives seen so far, per episode, along the sorted negative forecasts
        seen = np.zeros((p_neg.size + 1, self.n_episodes))
        seen[1:] = np.cumsum(np.eye(self.n_episodes)[e_neg], axis=0)
        left = np.searchsorted(p_neg, p[pos], side="left")
        right = np.searchsorted(p_neg, p[pos], side="right")
        wins = seen[left] + 0.5 * (seen[right] - seen[left])  # per positive day: wins against each episode
        pairs = np.zeros((self.n_episodes, self.n_episodes))
        np.add.at(pairs, self.episode[pos], wins)
        n_pos = np.bincount(self.episode[pos], minlength=self.n_episodes).astype(np.float64)
        n_neg = np.bincount(self.episode[neg], minlength=self.n_episodes).astype(np.float64)
        u = np.einsum("be,ef,bf->b", c, pairs, c)
        total = (c @ n_pos) * (c @ n_neg)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.where(total > 0, u / total, np.nan), dtype=np.float64)
