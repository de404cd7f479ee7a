"""Trailing-window feature math: hand-computed values, and the invariant that day d never reads later days."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coinseason.core import feature_math as f

NAN = np.nan


def test_changes_by_hand() -> None:
    x = np.array([100.0, 110.0, 99.0, NAN, 120.0])
    np.testing.assert_allclose(f.change(x, 1), [NAN, 10.0, -11.0, NAN, NAN])
    np.testing.assert_allclose(f.pct_change(x, 2), [NAN, NAN, -0.01, NAN, 120 / 99 - 1])
    np.testing.assert_allclose(f.log_returns(np.array([1.0, np.e, np.e])), [NAN, 1.0, 0.0])


def test_rolling_mean_and_std_need_a_full_window() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, NAN, 6.0, 7.0, 8.0])
    np.testing.assert_allclose(f.rolling_mean(x, 3), [NAN, NAN, 2.0, 3.0, NAN, NAN, NAN, 7.0])
    # sample std of (1, 2, 3) is 1; of (6, 7, 8) also 1
    np.testing.assert_allclose(f.rolling_std(x, 3), [NAN, NAN, 1.0, 1.0, NAN, NAN, NAN, 1.0])
    with pytest.raises(ValueError, match="at least 1"):
        f.rolling_mean(x, 0)


def test_slope_of_a_line_and_of_a_step() -> None:
    np.testing.assert_allclose(f.rolling_slope(3.0 * np.arange(6) + 5, 4)[3:], [3.0, 3.0, 3.0])
    # (0, 0, 1, 1): least-squares slope = sum((t - 1.5) * y) / sum((t - 1.5)^2) = (0.5 + 1.5) / 5 = 0.4
    assert f.rolling_slope(np.array([0.0, 0.0, 1.0, 1.0]), 4)[-1] == pytest.approx(0.4)


def test_correlation_by_hand() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    np.testing.assert_allclose(f.rolling_corr(a, 2 * a + 1, 4)[3:], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(f.rolling_corr(a, -a, 4)[3:], [-1.0, -1.0, -1.0])
    # (1, 2, 3) against (1, 3, 2): r = 0.5
    assert f.rolling_corr(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0]), 3)[-1] == pytest.approx(0.5)
    # a constant side has no correlation
    assert np.isnan(f.rolling_corr(a, np.ones(6), 4)[-1])


def test_breadth_by_hand() -> None:
    price = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 9.0], [1.0, 12.0]])
    members = np.ones_like(price, dtype=bool)
    # window 2: day 1: coin 0 above its mean (2 > 1.5), coin 1 equal (not above) -> 0.5
    # day 2: coin 0 above (3 > 2.5), coin 1 below -> 0.5; day 3: coin 0 below, coin 1 above -> 0.5
    np.testing.assert_allclose(f.share_above_average(price, members, 2), [NAN, 0.5, 0.5, 0.5])
    members[3, 1] = False
    assert f.share_above_average(price, members, 2)[3] == 0.0


def test_asof_takes_the_newest_published_observation() -> None:
    days = np.array([0, 1, 2, 2])
    usable = np.array([1, 2, 3, 6])  # day 2's value is revised, the revision usable on day 6
    values = np.array([10.0, 11.0, 12.0, 13.0])
    np.testing.assert_allclose(f.asof_values(days, usable, values, n_days=8), [NAN, 10, 11, 12, 12, 12, 13, 13])
    # a late-published old observation does not replace a newer one
    late = f.asof_values(np.array([5, 3]), np.array([6, 7]), np.array([1.0, 2.0]), n_days=9)
    np.testing.assert_allclose(late, [NAN] * 6 + [1.0, 1.0, 1.0])
    # a series that stopped is not carried on for ever
    stale = f.asof_values(np.array([0]), np.array([1]), np.array([5.0]), n_days=6, max_age=3)
    np.testing.assert_allclose(stale, [NAN, 5.0, 5.0, 5.0, NAN, NAN])


series = arrays(np.float64, st.integers(40, 80), elements=st.floats(0.5, 100.0) | st.just(np.nan))


@settings(max_examples=60, deadline=None)
@given(x=series, y=series, cut=st.integers(0, 39), data=st.data())
def test_day_d_reads_no_later_day(x: np.ndarray, y: np.ndarray, cut: int, data: st.DataObject) -> None:
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    x2, y2 = x.copy(), y.copy()
    x2[cut + 1 :] = data.draw(arrays(np.float64, n - cut - 1, elements=st.floats(0.5, 100.0)))
    y2[cut + 1 :] = x2[cut + 1 :] * 2
    for fn in (
        lambda a, b: f.rolling_mean(a, 7),
        lambda a, b: f.rolling_std(a, 7),
        lambda a, b: f.rolling_slope(a, 7),
        lambda a, b: f.pct_change(a, 5),
        lambda a, b: f.rolling_corr(a, b, 10),
    ):
        np.testing.assert_array_equal(fn(x, y)[: cut + 1], fn(x2, y2)[: cut + 1])
