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


# -- empyrical's golden cases ------------------------------------------------------------------------------------
# Inputs and expected values from empyrical's own test suite, quantopian/empyrical, empyrical/tests/test_stats.py
# (class TestStats: the fixtures ``mixed_returns``, ``positive_returns``, ``negative_returns``, ``weekly_returns``,
# ``monthly_returns``, ``one_return``, ``df_simple``; the tests named beside each value below). empyrical
# annualises with DAILY = 252, WEEKLY = 52 and MONTHLY = 12 periods a year, so these cases pass
# ``annualization=252`` (or 52, 12) explicitly; coinseason's own default is 365. Where empyrical's answer for a
# degenerate series differs from ours (inf for zero volatility or zero downside), the case is listed apart with the
# reason. empyrical compares to 8 decimal places (DECIMAL_PLACES = 8); so do we.
MIXED = np.array([np.nan, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100
POSITIVE = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / 100
NEGATIVE = np.array([0.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100
WEEKLY = np.array([0.0, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100  # weekly_returns and monthly_returns
DF_ONE = [-0.00171614, 0.01322056, 0.03063862, -0.01422057, -0.00489779, 0.01268925, -0.03357711, 0.01797036]
DF_TWO = [0.01846232, 0.00793951, -0.01448395, 0.00422537, -0.00339611, 0.03756813, 0.0151531, 0.03549769]
GOLDEN = [
    # (metric, returns, keyword arguments, expected, empyrical test)
    ("sharpe_ratio", MIXED, {"annualization": 252}, 1.7238613961706866, "test_sharpe_ratio"),
    ("sharpe_ratio", POSITIVE, {"annualization": 252}, 52.915026221291804, "test_sharpe_ratio"),
    ("sharpe_ratio", NEGATIVE, {"annualization": 252}, -24.406808633910085, "test_sharpe_ratio"),
    ("annual_volatility", MIXED, {"annualization": 252}, 0.9136465399704637, "test_annual_volatility"),
    ("annual_volatility", WEEKLY, {"annualization": 52}, 0.38851569394870583, "test_annual_volatility"),
    ("annual_volatility", WEEKLY, {"annualization": 12}, 0.18663690238892558, "test_annual_volatility"),
    ("downside_risk", MIXED, {"annualization": 252}, 0.60448325038829653, "test_downside_risk"),
    ("downside_risk", MIXED, {"annualization": 252, "required_return": 0.1}, 1.7161730681956295, "test_downside_risk"),
    ("downside_risk", WEEKLY, {"annualization": 52}, 0.25888650451930134, "test_downside_risk"),
    ("downside_risk", WEEKLY, {"annualization": 52, "required_return": 0.1}, 0.7733045971672482, "test_downside_risk"),
    ("downside_risk", WEEKLY, {"annualization": 12}, 0.1243650540411842, "test_downside_risk"),
    ("downside_risk", WEEKLY, {"annualization": 12, "required_return": 0.1}, 0.37148351242013422, "test_downside_risk"),
    ("downside_risk", np.array([0.01]), {"annualization": 252}, 0.0, "test_downside_risk (one_return)"),
    ("sortino_ratio", MIXED, {"annualization": 252}, 2.605531251673693, "test_sortino"),
    # flat_line_1 (0.01 every day) as the required return
    ("sortino_ratio", MIXED, {"annualization": 252, "required_return": 0.01}, -1.3934779588919977, "test_sortino"),
    ("sortino_ratio", NEGATIVE, {"annualization": 252}, -13.532743075043401, "test_sortino"),
    ("sortino_ratio", WEEKLY, {"annualization": 52}, 1.1158901056866439, "test_sortino"),
    ("sortino_ratio", WEEKLY, {"annualization": 12}, 0.53605626741889756, "test_sortino"),
    ("annual_return", MIXED, {"annualization": 252}, 1.9135925373194231, "test_annual_ret"),
    ("annual_return", WEEKLY, {"annualization": 52}, 0.24690830513998208, "test_annual_ret"),
    ("annual_return", WEEKLY, {"annualization": 12}, 0.052242061386048144, "test_annual_ret"),
    ("calmar_ratio", MIXED, {"annualization": 252}, 19.135925373194233, "test_calmar"),
    ("calmar_ratio", WEEKLY, {"annualization": 52}, 2.4690830513998208, "test_calmar"),
    ("calmar_ratio", WEEKLY, {"annualization": 12}, 0.52242061386048144, "test_calmar"),
    ("max_drawdown", MIXED, {}, -0.1, "test_max_drawdown"),
    ("max_drawdown", POSITIVE, {}, 0.0, "test_max_drawdown"),
    ("max_drawdown", np.array([0.1, -0.1, 0.1]), {}, -0.1, "test_max_drawdown"),
    ("max_drawdown", np.array([0.01]), {}, 0.0, "test_max_drawdown (one_return)"),
    ("cum_returns_final", MIXED, {}, 0.03893, "test_cum_returns_final (4 decimals there)"),
    ("cum_returns_final", NEGATIVE, {}, -0.36590, "test_cum_returns_final (4 decimals there)"),
    ("value_at_risk", np.array([1.0, 2.0]), {"cutoff": 0.0}, 1.0, "test_value_at_risk"),
    ("value_at_risk", np.array([1.0, 2.0]), {"cutoff": 0.3}, 1.3, "test_value_at_risk"),
    ("value_at_risk", np.array([1.0, 2.0]), {"cutoff": 1.0}, 2.0, "test_value_at_risk"),
    ("value_at_risk", np.array([1.0, 81, 82, 83, 84, 85]), {"cutoff": 0.1}, 41.0, "test_value_at_risk"),
    ("value_at_risk", np.array([1.0, 81, 82, 83, 84, 85]), {"cutoff": 0.2}, 81.0, "test_value_at_risk"),
    ("value_at_risk", np.array([1.0, 81, 82, 83, 84, 85]), {"cutoff": 0.3}, 81.5, "test_value_at_risk"),
]
NAN_IN_EMPYRICAL = [
    # empyrical's NaN cases, which are ours too: empty, one return, no variation against itself
    ("sharpe_ratio", np.array([]), {}, "test_sharpe_ratio (empty_returns)"),
    ("sharpe_ratio", np.array([0.01]), {}, "test_sharpe_ratio (one_return)"),
    ("sharpe_ratio", MIXED - MIXED, {}, "test_sharpe_ratio (mixed_returns against itself)"),
    ("sortino_ratio", np.array([]), {}, "test_sortino (empty_returns)"),
    ("sortino_ratio", np.array([0.01]), {}, "test_sortino (one_return)"),
    ("downside_risk", np.array([]), {}, "test_downside_risk (empty_returns)"),
    ("calmar_ratio", np.array([]), {}, "test_calmar (empty_returns)"),
    ("calmar_ratio", np.array([0.01]), {}, "test_calmar (one_return)"),
    ("max_drawdown", np.array([]), {}, "test_max_drawdown (empty_returns)"),
    ("cum_returns_final", np.array([]), {}, "test_cum_returns_final (empty_returns)"),
    # where empyrical answers inf, coinseason answers NaN (documented): zero downside (positive_returns), zero
    # volatility (flat_line_1: nine returns of 0.01)
    ("sortino_ratio", POSITIVE, {"annualization": 252}, "test_sortino gives inf"),
    ("sharpe_ratio", np.full(9, 0.01), {"annualization": 252}, "test_sharpe_ratio gives inf"),
]


@pytest.mark.parametrize(("metric", "returns", "kwargs", "expected", "source"), GOLDEN)
def test_empyrical_golden_values(
    metric: str, returns: np.ndarray, kwargs: dict[str, float], expected: float, source: str
) -> None:
    decimals = 4 if "4 decimals" in source else 8
    np.testing.assert_almost_equal(float(getattr(m, metric)(returns, **kwargs)), expected, decimals, err_msg=source)


@pytest.mark.parametrize(("metric", "returns", "kwargs", "source"), NAN_IN_EMPYRICAL)
def test_empyrical_nan_cases(metric: str, returns: np.ndarray, kwargs: dict[str, float], source: str) -> None:
    assert math.isnan(float(getattr(m, metric)(returns, **kwargs))), source


def test_empyrical_golden_columns() -> None:
    # df_simple: two columns of daily returns (test_downside_risk and test_sortino, DAILY = 252)
    df = np.column_stack([DF_ONE, DF_TWO])
    np.testing.assert_almost_equal(
        m.downside_risk(df, annualization=252), [0.20671788246185202, 0.083495680595704475], 8
    )
    np.testing.assert_almost_equal(m.sortino_ratio(df, annualization=252), [3.0639640966566306, 38.090963117002495], 8)


def test_empyrical_cvar_is_the_mean_at_or_below_var() -> None:
    # empyrical's test_conditional_value_at_risk: for 21 returns at cutoffs 0, 0.0499, 0.05, 0.2, 0.999 and 1, CVaR
    # is the mean of the returns at or below VaR; a single return is its own CVaR at any cutoff
    r = np.random.default_rng(1337).normal(0, 0.02, 21)
    for cutoff in (0, 0.0499, 0.05, 0.20, 0.999, 1):
        var = float(m.value_at_risk(r, cutoff=cutoff))
        assert var == pytest.approx(np.percentile(r, cutoff * 100), abs=1e-12)
        assert m.conditional_value_at_risk(r, cutoff=cutoff) == pytest.approx(np.mean(r[r <= var]), abs=1e-12)
    assert m.conditional_value_at_risk(r[:1], cutoff=0) == r[0]
    assert m.conditional_value_at_risk(r[:1], cutoff=1) == r[0]


# -- the edges ----------------------------------------------------------------------------------------------------


def test_var_and_cvar_drop_nans_first() -> None:
    # five returns and forty missing days: T = 5, so the 5 % tail is the single worst return (k = int(4 x 0.05) = 0)
    # and VaR interpolates 0.2 of the way from -0.3 to -0.1. Counting the NaNs (T = 45) made k = 2, a CVaR of
    # (-0.3 - 0.1 + 0) / 3 = -0.133 above the VaR of -0.26.
    r = np.concatenate([[-0.3, -0.1, 0.0, 0.1, 0.2], np.full(40, np.nan)])
    assert m.value_at_risk(r) == pytest.approx(-0.26)
    assert m.conditional_value_at_risk(r) == pytest.approx(-0.3)
    both = np.column_stack([r, np.concatenate([np.full(40, np.nan), [0.2, 0.1, 0.0, -0.1, -0.3]])])
    np.testing.assert_allclose(m.value_at_risk(both), [-0.26, -0.26])
    np.testing.assert_allclose(m.conditional_value_at_risk(both), [-0.3, -0.3])
    assert math.isnan(float(m.value_at_risk(np.full(3, np.nan))))
    assert math.isnan(float(m.conditional_value_at_risk(np.full(3, np.nan))))


with_nans = arrays(
    np.float64, st.integers(1, 80), elements=st.one_of(st.floats(-0.95, 2.0, allow_nan=False), st.just(np.nan))
)


@given(with_nans, st.sampled_from([0.01, 0.05, 0.1, 0.5]))
def test_cvar_never_above_var(r: np.ndarray, cutoff: float) -> None:
    """A loss is negative: the mean of the tail is at or below its boundary, NaNs or not."""
    var, cvar = float(m.value_at_risk(r, cutoff=cutoff)), float(m.conditional_value_at_risk(r, cutoff=cutoff))
    known = r[~np.isnan(r)]
    if known.size == 0:
        assert math.isnan(var) and math.isnan(cvar)
        return
    assert cvar <= var
    # dropping the NaNs first is the same as never having had them
    assert var == float(m.value_at_risk(known, cutoff=cutoff))
    assert cvar == float(m.conditional_value_at_risk(known, cutoff=cutoff))


def test_a_constant_series_has_no_volatility_despite_float_residue() -> None:
    flat = np.full(30, 0.01)
    assert 0 < np.std(flat, ddof=1) < 1e-17  # the residue this is about (1.8e-18)
    assert math.isnan(float(m.sharpe_ratio(flat)))  # not 1e17
    assert m.annual_volatility(flat) == 0.0
    assert math.isnan(float(m.summary(flat)["sharpe"]))
    assert m.summary(flat)["volatility"] == 0.0
    # the same with the risk-free rate taken out, and with missing days
    assert math.isnan(float(m.sharpe_ratio(flat, risk_free=0.003)))
    assert math.isnan(float(m.sharpe_ratio(np.concatenate([flat, [np.nan]]))))
    # a tiny but real variation is still a volatility
    assert m.sharpe_ratio(np.array([0.01, 0.0100001, 0.01, 0.0100001])) > 0


def test_one_return_has_no_sortino() -> None:
    for r in (np.array([-0.05]), np.array([0.05]), np.array([-0.05, np.nan, np.nan])):
        assert math.isnan(float(m.sortino_ratio(r)))  # was -sqrt(365) for any loss
        assert math.isnan(float(m.sharpe_ratio(r)))
    assert math.isnan(float(m.summary(np.array([-0.05]))["sortino"]))


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
