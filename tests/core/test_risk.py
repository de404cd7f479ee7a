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
