"""Risk and liquidity tools against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinseason.core import risk


def test_trailing_volatility_uses_past_days_only() -> None:
    r = np.array([0.01, -0.01, 0.01, -0.01, 0.5])
    vol = risk.trailing_volatility(r, window=4, annualization=1)
    assert math.isnan(vol[2])
    # days 0-3: mean 0, squared deviations 4 × 1e-4, / 3
    assert vol[3] == pytest.approx(math.sqrt(4e-4 / 3))
    assert vol[4] > vol[3]  # the jump of day 4 counts from day 4 on, never before
    exposure = risk.volatility_target(r, target=math.sqrt(4e-4 / 3) / 2, window=4, annualization=1)
    assert exposure[3] == pytest.approx(0.5)
    assert exposure[0] == 0.0


def test_trailing_volatility_skips_a_missing_day() -> None:
    # a NaN on day 2: the windows holding it use their three other days (as annual_volatility does), instead of
    # going blank for a whole window and zeroing the exposure
    r = np.array([0.01, -0.01, np.nan, 0.01, -0.01, 0.01, 0.03])
    vol = risk.trailing_volatility(r, window=4, annualization=1)
    assert math.isnan(vol[2])  # not yet 4 days
    # days 0, 1, 3: mean 1/3 %, squared deviations (2/3)² + (4/3)² + (2/3)² = 24/9 (in %²), / 2 → √(4/3) %
    assert vol[3] == pytest.approx(math.sqrt(4 / 3) / 100)
    # days 1, 3, 4: -1, 1, -1 %: mean -1/3, the same spread
    assert vol[4] == pytest.approx(math.sqrt(4 / 3) / 100)
    # days 3-6: 1, -1, 1, 3 %: mean 1, deviations 0, 4, 0, 4 → 8 / 3
    assert vol[6] == pytest.approx(math.sqrt(8 / 3) / 100)
    exposure = risk.volatility_target(r, target=0.001, window=4, annualization=1)
    assert exposure[3] == pytest.approx(0.1 / math.sqrt(4 / 3)) and exposure[4] > 0
    # fewer than two known returns in the window: unknown, no exposure
    gappy = np.array([0.01, np.nan, np.nan, np.nan, 0.02])
    assert np.isnan(risk.trailing_volatility(gappy, window=4)[3:]).all()
    assert (risk.volatility_target(gappy, target=0.5, window=4) == 0.0).all()


def test_constant_returns_have_zero_volatility() -> None:
    vol = risk.trailing_volatility(np.full(40, 0.01), window=30)
    assert (vol[29:] == 0.0).all()  # float residue (1e-18) is not a volatility
    assert (risk.volatility_target(np.full(40, 0.01), target=0.5, window=30) == 0.0).all()
    assert risk.kelly_fraction(np.full(30, 0.01), cap=0.5) == 0.0


def test_capped_kelly() -> None:
    # returns 0.03, −0.01: mean 0.01, variance (0.02² × 2) / 1 = 8e-4 → Kelly 12.5, capped
    r = np.array([0.03, -0.01])
    assert risk.kelly_fraction(r, cap=100.0) == pytest.approx(12.5)
    assert risk.kelly_fraction(r, cap=0.5) == pytest.approx(0.5)
    assert risk.kelly_fraction(-r, cap=0.5) == 0.0  # a losing edge: no position


def test_concentration() -> None:
    assert risk.herfindahl(np.full(4, 0.25)) == pytest.approx(0.25)
    assert risk.herfindahl(np.array([3.0, 1.0])) == pytest.approx(0.75**2 + 0.25**2)  # normalised first


def test_portfolio_volatility() -> None:
    a = np.array([0.01, -0.02, 0.03, 0.0])
    r = np.column_stack([a, 2 * a, -a])
    # half in a, half in −a: no risk left
    assert risk.portfolio_volatility(r[:, [0, 2]], [0.5, 0.5]) == pytest.approx(0.0, abs=1e-12)
    assert risk.portfolio_volatility(r[:, [0]], [1.0], annualization=1) == pytest.approx(np.std(a, ddof=1))


def test_liquidity() -> None:
    assert risk.volume_turnover(np.array([5e6, 0.0]), np.array([1e8, 1e8])).tolist()[0] == pytest.approx(0.05)
    assert math.isnan(risk.volume_turnover(np.array([0.0]), np.array([1e8]))[0])
    # |r| / volume: 0.02 / 1e6 and 0.01 / 2e6 → mean 1.25e-8 per USD = 0.0125 per million
    assert risk.amihud_illiquidity(np.array([0.02, -0.01, 0.5]), np.array([1e6, 2e6, 0.0])) == pytest.approx(0.0125)
    # 20 bp spread → 10 bp; 1e6 against 1e8 traded with coefficient 0.5 → 5 %
    assert risk.expected_slippage(1e6, 1e8, spread_bps=20.0, impact=0.5) == pytest.approx(0.051)
    assert math.isnan(risk.expected_slippage(1e6, 0.0, spread_bps=20.0, impact=0.5))
