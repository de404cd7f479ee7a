"""Metrics against hand-computed cases (empyrical's definitions) and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coinseason.core import performance as m

# 1.1 × 0.8 × 1.05 × 1.0 × 1.1 = 1.0164; peak 1.1 on day 1, then 0.88 (−20 %), never back above 1.1
R = np.array([0.1, -0.2, 0.05, 0.0, 0.1])


def test_total_return_and_cagr() -> None:
    assert m.cum_returns_final(R) == pytest.approx(0.0164)
    # five days in a "year" of five days: CAGR is the total return; of ten days: squared
    assert m.annual_return(R, annualization=5) == pytest.approx(0.0164)
    assert m.annual_return(R, annualization=10) == pytest.approx(1.0164**2 - 1)


def test_volatility_sharpe_sortino() -> None:
    # mean 0.01; squared deviations 0.0081 + 0.0441 + 0.0016 + 0.0001 + 0.0081 = 0.062; / 4 → std √0.0155
    std = math.sqrt(0.0155)
    assert m.annual_volatility(R, annualization=4) == pytest.approx(std * 2)
    assert m.sharpe_ratio(R, annualization=1) == pytest.approx(0.01 / std)
    assert m.sharpe_ratio(R, annualization=365) == pytest.approx(0.01 / std * math.sqrt(365))
    assert m.sharpe_ratio(R, risk_free=0.01, annualization=1) == pytest.approx(0.0)
    # downside deviation: only −0.2 is below 0 → √(0.04 / 5)
    assert m.downside_risk(R, annualization=1) == pytest.approx(math.sqrt(0.008))
    assert m.sortino_ratio(R, annualization=1) == pytest.approx(0.01 / math.sqrt(0.008))
    assert m.sortino_ratio(R, annualization=365) == pytest.approx(0.01 * 365 / (math.sqrt(0.008) * math.sqrt(365)))


def test_drawdown_duration_and_calmar() -> None:
    assert m.max_drawdown(R) == pytest.approx(-0.2)
    assert m.max_drawdown_duration(R) == 4  # days 2 to 5 all below the peak of day 1
    assert m.max_drawdown_duration(np.array([0.1, -0.1, 0.5, -0.01, 0.02])) == 1
    assert m.calmar_ratio(R, annualization=5) == pytest.approx(0.0164 / 0.2)
    # a first-day loss is a drawdown from the starting capital (empyrical prepends the start value)
    assert m.max_drawdown(np.array([-0.5, 1.0])) == pytest.approx(-0.5)
    assert math.isnan(float(m.calmar_ratio(np.array([0.01, 0.02]))))


def test_var_and_cvar_follow_empyrical() -> None:
    # sorted: −0.2, 0, 0.05, 0.1, 0.1; the 5th percentile interpolates 0.2 of the way from −0.2 to 0
    assert m.value_at_risk(R, cutoff=0.05) == pytest.approx(-0.16)
    assert m.conditional_value_at_risk(R, cutoff=0.05) == pytest.approx(-0.2)  # int(4 × 0.05) = 0: worst one
    assert m.conditional_value_at_risk(R, cutoff=0.5) == pytest.approx(-0.05)  # worst three: (−0.2 + 0 + 0.05) / 3


def test_hit_rate() -> None:
    assert m.hit_rate(R) == pytest.approx(0.75)  # 3 of the 4 days that moved


def test_columns_are_independent_series() -> None:
    both = np.column_stack([R, R[::-1]])
    stats = m.summary(both, annualization=5)
    single = m.summary(R[::-1], annualization=5)
    for name in m.METRIC_NAMES:
        assert stats[name][1] == pytest.approx(single[name], nan_ok=True)
    assert stats["max_drawdown"][0] == pytest.approx(-0.2)


def test_empty_and_short_series_are_nan() -> None:
    empty = np.array([])
    for name, value in m.summary(empty).items():
        if name != "max_drawdown_days":
            assert math.isnan(float(value)), name
    assert math.isnan(float(m.sharpe_ratio(np.array([0.1]))))
    assert math.isnan(float(m.sharpe_ratio(np.zeros(5))))  # no variation: undefined, not infinite


finite = arrays(np.float64, st.integers(1, 60), elements=st.floats(-0.95, 2.0, allow_nan=False))


@given(finite, st.floats(0.0, 0.5))
def test_shifting_returns_down_never_improves_drawdown(r: np.ndarray, shift: float) -> None:
    assert m.max_drawdown(r - shift) <= m.max_drawdown(r) + 1e-12


@given(finite)
def test_drawdown_bounds(r: np.ndarray) -> None:
    dd = m.drawdown(r)
    assert np.all(dd <= 1e-12)
    assert np.all(dd >= -1.0)
    assert m.max_drawdown_duration(r) <= r.size


@given(arrays(np.float64, st.tuples(st.integers(2, 50), st.integers(1, 3)), elements=st.floats(-0.95, 2.0)))
def test_summary_agrees_with_each_metric(r: np.ndarray) -> None:
    """The one-pass summary (used for sweeps) gives what each metric function gives."""
    fast = m.summary(r, annualization=365)
    assert fast["max_drawdown"] == pytest.approx(m.max_drawdown(r), nan_ok=True)
    assert fast["max_drawdown_days"] == pytest.approx(m.max_drawdown_duration(r))
    assert fast["var_95"] == pytest.approx(m.value_at_risk(r), nan_ok=True)
    assert fast["cvar_95"] == pytest.approx(m.conditional_value_at_risk(r), nan_ok=True)
    assert fast["sharpe"] == pytest.approx(m.sharpe_ratio(r), nan_ok=True, rel=1e-9, abs=1e-12)
    assert fast["sortino"] == pytest.approx(m.sortino_ratio(r), nan_ok=True, rel=1e-9, abs=1e-12)
    assert fast["cagr"] == pytest.approx(m.annual_return(r), nan_ok=True, rel=1e-9)
    assert fast["calmar"] == pytest.approx(m.calmar_ratio(r), nan_ok=True, rel=1e-9)
    assert fast["hit_rate"] == pytest.approx(m.hit_rate(r), nan_ok=True)
