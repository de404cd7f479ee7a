"""The event bootstrap: episodes by hand, the weighted AUC against scikit-learn on repeated days, and intervals
that widen with fewer events."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from coinseason.core.bootstrap import EventBootstrap, episodes, percentile_interval, weighted_auc


def test_episodes_end_after_each_run_of_positives() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0], dtype=float)
    assert episodes(y).tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    assert episodes(np.array([1.0, 1.0, 0.0])).tolist() == [0, 0, 1]
    assert episodes(np.zeros(3)).tolist() == [0, 0, 0]
    assert episodes(np.zeros(0)).tolist() == []


def test_weighted_auc_is_the_auc_of_repeated_days() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(300) < 0.2).astype(float)
    p = np.round(rng.random(300) + 0.4 * y, 1)  # rounded: many ties, which count one half
    w = rng.integers(0, 4, 300).astype(float)
    assert weighted_auc(y, p, np.ones(300))[0] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    repeated = roc_auc_score(np.repeat(y, w.astype(int)), np.repeat(p, w.astype(int)))
    assert weighted_auc(y, p, w)[0] == pytest.approx(repeated, abs=1e-12)
    # by hand: positives 0.8 and 0.4, negatives 0.4 and 0.1 → pairs won 1, 1, 0.5 (tie), 1 of 4
    assert weighted_auc(np.array([1.0, 1.0, 0.0, 0.0]), np.array([0.8, 0.4, 0.4, 0.1]), np.ones(4))[0] == 0.875


def test_resampled_scores_weight_whole_episodes() -> None:
    y = np.zeros(400)
    for start in range(30, 400, 45):
        y[start : start + 10] = 1
    rng = np.random.default_rng(1)
    p = np.clip(0.3 * y + rng.random(400) * 0.7, 0, 1)
    boot = EventBootstrap(y, n_boot=300, seed=3)
    assert boot.n_events == 9 and boot.n_episodes == 9  # the last run ends on the last day
    assert (boot.counts.sum(axis=1) == boot.n_episodes).all()
    # each resample's AUC and Brier score equal those of the days repeated by their episode's count
    for b in (0, 1, 2):
        times = boot.counts[b][boot.episode].astype(int)
        yy, pp = np.repeat(y, times), np.repeat(p, times)
        assert boot.auc(p)[b] == pytest.approx(roc_auc_score(yy, pp), abs=1e-12)
        assert boot.brier(p)[b] == pytest.approx(np.mean((pp - yy) ** 2), abs=1e-12)
    # a forecast against itself: every paired difference is exactly 0
    assert (boot.brier_skill(p, p) == 0).all()


def test_fewer_events_give_wider_intervals() -> None:
    """The same days in fewer, longer episodes: the interval of one draw is itself noisy with few events, so the
    widths are averaged over draws; with 16 times the events the interval is about 4 times narrower."""
    rng = np.random.default_rng(2)

    def width(n_events: int) -> float:
        widths = []
        for _ in range(8):
            y = np.zeros(n_events * 60)
            for e in range(n_events):
                y[e * 60 + 40 : e * 60 + 50] = 1
            p = np.clip(0.25 * y + rng.random(y.size) * 0.75, 0, 1)
            low, high = percentile_interval(EventBootstrap(y, n_boot=500, seed=0).auc(p))
            widths.append(high - low)
        return float(np.mean(widths))

    assert width(4) > 2 * width(64)


def test_percentile_interval_ignores_undefined_resamples() -> None:
    assert percentile_interval(np.array([np.nan, 1.0, 2.0, 3.0]), 0.5) == (1.5, 2.5)
    lo, hi = percentile_interval(np.array([np.nan, np.nan]))
    assert np.isnan(lo) and np.isnan(hi)
