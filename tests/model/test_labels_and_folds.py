"""Transition labels, walk-forward folds and forecast scores, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from coinseason.core.labels import (
    debounced_entries,
    dominance_move_label,
    entries,
    event_within,
    reentry_gaps,
    season_entry_label,
)
from coinseason.core.season import ALTCOIN_SEASON as A
from coinseason.core.season import BITCOIN_SEASON as B
from coinseason.core.season import NEUTRAL as N
from coinseason.core.season import NO_VALUE as X
from coinseason.core.walkforward import (
    brier_score,
    brier_skill,
    lead_times,
    precision_at_rate,
    reliability_curve,
    walk_forward_folds,
)

NAN = np.nan


def codes(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int8)


def test_entries_need_a_known_day_before() -> None:
    code = codes(X, A, N, A, A, B, N, B)
    assert entries(code, A).tolist() == [False, False, False, True, False, False, False, False]
    assert entries(code, B).tolist() == [False, False, False, False, False, True, False, True]


def test_debounced_entries_skip_quick_reentries() -> None:
    # day:         0  1  2  3  4  5  6  7  8  9 10 11
    code = codes(N, N, N, B, N, B, N, N, N, B, X, B)
    # raw: entries on 3, 5, 9 (11 follows an unknown day: not an entry at all)
    assert np.flatnonzero(entries(code, B)).tolist() == [3, 5, 9]
    # k = 3: day 3 follows 3 neutral days (counts), day 5 follows 1 (a flicker), day 9 follows 3 (counts)
    assert np.flatnonzero(debounced_entries(code, B, 3)).tolist() == [3, 9]
    # k = 4: day 3 has only 3 known days before it, day 9 only 3 outside since day 5
    assert np.flatnonzero(debounced_entries(code, B, 4)).tolist() == []
    assert np.flatnonzero(debounced_entries(code, B, 1)).tolist() == [3, 5, 9]
    # days outside before each raw entry: first entry -1 (never in it before), then 1 and 3
    assert reentry_gaps(code, B).tolist() == [-1, 1, 3]
    # H = 2 label with k = 3: day 1 sees day 3, day 7 day 9; days 3 and 4 see only the flicker (not counted);
    # day 8's horizon holds the unknown day 10
    np.testing.assert_array_equal(
        season_entry_label(code, B, 2, gap=3)[:9], [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, NAN]
    )
    np.testing.assert_array_equal(season_entry_label(code, B, 2)[:9], [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, NAN])
    with pytest.raises(ValueError, match="gap"):
        debounced_entries(code, B, 0)


def test_event_within_horizon() -> None:
    events = np.array([False, False, True, False, False, False])
    # H = 2: days 0 and 1 see day 2; days 4 and 5 have no full horizon
    np.testing.assert_array_equal(event_within(events, 2), [1.0, 1.0, 0.0, 0.0, NAN, NAN])


def test_season_entry_label() -> None:
    code = codes(N, N, N, A, A, N, N, N)
    np.testing.assert_array_equal(season_entry_label(code, A, 3), [1.0, 1.0, 1.0, 0.0, 0.0, NAN, NAN, NAN])
    # an unknown day in the horizon makes the label unknown
    code = codes(N, N, X, N, A, N)
    np.testing.assert_array_equal(season_entry_label(code, A, 2), [NAN, NAN, 1.0, 1.0, NAN, NAN])
    with pytest.raises(ValueError, match="season"):
        season_entry_label(code, N, 2)


def test_dominance_move_label() -> None:
    dom = np.array([60.0, 61.0, 62.9, 63.0, 58.0, NAN, 58.0])
    # X = 3 points, H = 2: day 0 sees 61, 62.9 (max move 2.9: no); day 1 sees 62.9, 63 (2: no);
    # day 2 sees 63, 58 (4.9: yes); day 3 sees 58 and a missing day (unknown); day 4 sees a missing day
    np.testing.assert_array_equal(dominance_move_label(dom, 2, 3.0), [0.0, 0.0, 1.0, NAN, NAN, NAN, NAN])


def test_folds_purge_and_embargo() -> None:
    folds = walk_forward_folds(100, horizon=5, embargo=7, min_train=20, test_size=30, first=10)
    assert [(f.train_start, f.train_end, f.test_start, f.test_end) for f in folds] == [
        (10, 30, 42, 72),
        (10, 60, 72, 100),
    ]
    for fold in folds:  # the last training label (row train_end - 1) resolves before the embargo starts
        assert fold.train_end - 1 + 5 < fold.test_start - 7 + 1
    with pytest.raises(ValueError, match="at least the horizon"):
        walk_forward_folds(100, horizon=10, embargo=5, min_train=20, test_size=30)


def test_scores_by_hand() -> None:
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.8, 0.4, 0.6, 0.0])
    assert brier_score(y, p) == pytest.approx((0.04 + 0.16 + 0.16 + 0.0) / 4)
    assert brier_skill(0.09, 0.25) == pytest.approx(0.64)
    # alerts on the top half: days 0 and 2, both positive
    assert precision_at_rate(y, p, 0.5) == (1.0, 0.6)
    # top 3: 0.8, 0.6, 0.4 -> 2 of 3
    assert precision_at_rate(y, p, 0.75)[0] == pytest.approx(2 / 3)
    # a constant forecast cannot choose days
    assert np.isnan(precision_at_rate(y, np.full(4, 0.3), 0.5)[0])


def test_lead_times() -> None:
    events = np.zeros(20, bool)
    events[[8, 15, 19]] = True
    alert = np.zeros(20, bool)
    alert[[3, 4, 5, 6, 7]] = True  # uninterrupted up to the day before the first event
    alert[13] = True  # on, then off the day before the second event: missed
    alert[[16, 17, 18]] = True
    # H = 4 caps the first lead at 4 days
    assert lead_times(events, alert, 4).tolist() == [4, -1, 3]


def test_reliability_curve() -> None:
    p = np.array([0.05, 0.15, 0.12, 0.95, 0.91])
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    mean_p, freq, count = reliability_curve(y, p, bins=10)
    np.testing.assert_allclose(mean_p, [0.05, 0.135, 0.93])
    np.testing.assert_allclose(freq, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(count, [1, 2, 2])


def test_linear_logistic_matches_scikit_learn() -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from coinseason.model.estimators import fit_logistic

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 5))
    x[rng.random((300, 5)) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 1]) + rng.normal(size=300) > 0.5).astype(np.float64)
    ours = fit_logistic(x, y, (1, 3, 4))
    pipe = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=1.0))
    pipe.fit(x[:, [1, 3, 4]], y.astype(int))
    np.testing.assert_allclose(ours.predict(x), pipe.predict_proba(x[:, [1, 3, 4]])[:, 1], rtol=1e-12)
