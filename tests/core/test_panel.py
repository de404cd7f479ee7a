"""Gap filling, pivoting and resampling."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coinseason.core.panel import fill_next_row, forward_fill, last_seen_age, pivot_daily
from coinseason.core.resample import period_mean, period_start

NAN = np.nan


def test_forward_fill_limit() -> None:
    col = np.array([[NAN], [1.0], [NAN], [NAN], [NAN], [NAN], [2.0], [NAN]])
    out = forward_fill(col.copy(), limit=3)
    np.testing.assert_array_equal(out[:, 0], [NAN, 1.0, 1.0, 1.0, 1.0, NAN, 2.0, 2.0])


def test_forward_fill_never_uses_later_rows() -> None:
    col = np.array([[NAN], [NAN], [5.0]])
    np.testing.assert_array_equal(forward_fill(col.copy(), limit=3)[:, 0], [NAN, NAN, 5.0])


def naive_fill(values: np.ndarray, limit: int) -> np.ndarray:
    out = values.copy()
    for c in range(values.shape[1]):
        last, age = NAN, 10**9
        for r in range(values.shape[0]):
            if np.isfinite(values[r, c]):
                last, age = values[r, c], 0
            else:
                age += 1
                if age <= limit:
                    out[r, c] = last
    return out


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.integers(1, 5)),
        elements=st.one_of(st.just(NAN), st.floats(-5, 5)),
    ),
    st.integers(0, 5),
)
def test_forward_fill_matches_a_plain_loop(values: np.ndarray, limit: int) -> None:
    np.testing.assert_array_equal(forward_fill(values.copy(), limit=limit), naive_fill(values, limit))


@settings(max_examples=100, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 20), st.integers(1, 5)),
        elements=st.one_of(st.just(NAN), st.floats(-5, 5)),
    ),
    st.integers(1, 5),
)
def test_fill_next_row_continues_forward_fill(values: np.ndarray, limit: int) -> None:
    head = values[:-1]
    filled_head = forward_fill(head.copy(), limit=limit)
    age = last_seen_age(np.isfinite(head))
    row, _ = fill_next_row(filled_head[-1], values[-1], age, limit=limit)
    np.testing.assert_array_equal(row, forward_fill(values.copy(), limit=limit)[-1])


def test_pivot_daily() -> None:
    m = pivot_daily(np.array([0, 2, 1]), np.array([1, 0, 1]), np.array([1.0, 2.0, 3.0]), n_days=3, n_coins=2)
    np.testing.assert_array_equal(m, [[NAN, 1.0], [NAN, 3.0], [2.0, NAN]])


def test_period_start_week_is_monday_and_month_first_day() -> None:
    days = np.array(["2024-01-01", "2024-01-07", "2024-01-08", "2024-02-29"], dtype="datetime64[D]")
    assert period_start(days, "week").astype(str).tolist() == [
        "2024-01-01",
        "2024-01-01",
        "2024-01-08",
        "2024-02-26",
    ]
    assert period_start(days, "month").astype(str).tolist() == [
        "2024-01-01",
        "2024-01-01",
        "2024-01-01",
        "2024-02-01",
    ]


def test_period_mean_ignores_nan() -> None:
    days = np.arange(np.datetime64("2024-01-29"), np.datetime64("2024-02-03"))
    values = np.array([1.0, NAN, 3.0, 10.0, 20.0])
    starts, means, counts = period_mean(days, values, "month")
    assert starts.astype(str).tolist() == ["2024-01-01", "2024-02-01"]
    np.testing.assert_array_equal(means, [2.0, 15.0])
    assert counts.tolist() == [2, 2]
