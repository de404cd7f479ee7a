"""Price-peg tests: golden values worked out by hand, plus invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinseason.core.peg import (
    ASSET_BAND,
    ASSET_MEDIAN_BAND,
    MIN_OBS,
    USD_BAND,
    USD_MEDIAN_BAND,
    Band,
    is_pegged_stats,
    peg_stats,
)


def is_pegged(ratio: np.ndarray, *, band: Band, median_band: Band, min_obs: int = MIN_OBS) -> bool:
    """The two steps the classification takes: the stats in ``band``, then the decision on them."""
    return is_pegged_stats(peg_stats(ratio, band=band), median_band=median_band, min_obs=min_obs)


def test_bands_are_those_of_the_coingecko_readme() -> None:
    assert USD_BAND == (0.95, 1.05)
    assert USD_MEDIAN_BAND == (0.98, 1.02)
    assert ASSET_BAND == (0.9, 1.35)
    assert ASSET_MEDIAN_BAND == (0.95, 1.25)


def test_peg_share_counts_finite_ratios_in_band() -> None:
    # in band: 1.0, 0.95 (bound), 1.05 (bound); out: 0.9, 2.0; NaN and inf are ignored -> 3 of 5
    ratio = np.array([1.0, 0.95, 1.05, 0.9, 2.0, np.nan, np.inf])
    stats = peg_stats(ratio, band=(0.95, 1.05))
    assert stats.share == pytest.approx(0.6)
    assert stats.n_obs == 5


def test_peg_share_without_finite_ratio_is_nan() -> None:
    for ratio in (np.array([]), np.array([np.nan, np.nan])):
        stats = peg_stats(ratio, band=(0.95, 1.05))
        assert math.isnan(stats.share) and math.isnan(stats.median) and stats.n_obs == 0


def test_an_inverted_band_is_refused() -> None:
    with pytest.raises(ValueError, match="above"):
        peg_stats(np.ones(3), band=(1.05, 0.95))
    with pytest.raises(ValueError, match="above"):
        is_pegged_stats(peg_stats(np.ones(3), band=USD_BAND), median_band=(1.02, 0.98))


def test_peg_stats_golden() -> None:
    stats = peg_stats(np.array([1.0, 1.2, 0.99, np.nan, 1.01]), band=USD_BAND)
    assert stats.n_obs == 4
    assert stats.share == pytest.approx(0.75)
    assert stats.median == pytest.approx(1.005)


def test_usd_stablecoin_is_pegged() -> None:
    ratio = np.full(100, 1.0)
    ratio[:20] = 0.8  # a 20 % depeg episode still leaves 80 % in band and the median at 1
    assert is_pegged(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND)


def test_share_threshold_is_inclusive() -> None:
    ratio = np.array([1.0] * 7 + [2.0] * 3)  # exactly 70 % in band, median 1.0
    assert is_pegged(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND, min_obs=10)
    ratio = np.array([1.0] * 69 + [2.0] * 31)  # 69 %
    assert not is_pegged(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND, min_obs=10)


def test_median_must_lie_in_the_median_band() -> None:
    ratio = np.full(50, 1.04)  # every day in [0.95, 1.05] but the median 1.04 is outside [0.98, 1.02]
    assert not is_pegged(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND)


def test_too_few_finite_days_is_not_a_peg() -> None:
    ratio = np.full(29, 1.0)
    assert not is_pegged(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND)
    assert is_pegged(np.full(30, 1.0), band=USD_BAND, median_band=USD_MEDIAN_BAND)
    # NaN days do not count towards min_obs
    padded = np.concatenate([np.full(29, 1.0), np.full(100, np.nan)])
    assert not is_pegged(padded, band=USD_BAND, median_band=USD_MEDIAN_BAND)


def test_liquid_staking_drift_is_an_asset_peg_not_a_usd_peg() -> None:
    ratio = np.linspace(1.0, 1.2, 400)  # an LST accruing rewards against ETH: median 1.1
    assert is_pegged(ratio, band=ASSET_BAND, median_band=ASSET_MEDIAN_BAND)
    assert not is_pegged(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND)


def test_unrelated_coin_is_not_pegged() -> None:
    rng = np.random.default_rng(7)
    ratio = np.exp(np.cumsum(rng.normal(0.0, 0.05, 500)))  # a random walk starting near 1
    assert not is_pegged(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND)


ratios = st.lists(st.floats(0.5, 1.5, allow_nan=False), min_size=30, max_size=200)


@given(ratios)
def test_nan_days_never_change_the_answer(values: list[float]) -> None:
    ratio = np.array(values)
    with_gaps = np.concatenate([ratio, np.full(17, np.nan)])
    for band, median_band in ((USD_BAND, USD_MEDIAN_BAND), (ASSET_BAND, ASSET_MEDIAN_BAND)):
        assert is_pegged(ratio, band=band, median_band=median_band) == is_pegged(
            with_gaps, band=band, median_band=median_band
        )


@given(ratios, st.data())
def test_order_of_days_does_not_matter(values: list[float], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(values))
    assert is_pegged(np.array(values), band=ASSET_BAND, median_band=ASSET_MEDIAN_BAND) == is_pegged(
        np.array(shuffled), band=ASSET_BAND, median_band=ASSET_MEDIAN_BAND
    )


@given(ratios)
def test_far_from_one_is_never_pegged(values: list[float]) -> None:
    ratio = np.array(values) * 10.0  # every ratio in [5, 15]
    assert not is_pegged(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND)
    assert not is_pegged(ratio, band=ASSET_BAND, median_band=ASSET_MEDIAN_BAND)
