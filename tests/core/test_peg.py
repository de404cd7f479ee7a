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
    median_move,
    peg_stats,
    trailing_peg,
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


# -- the point-in-time test, day by day over a trailing window ----------------------------------------------


def test_trailing_peg_passes_from_the_day_with_enough_days_and_while_the_window_holds() -> None:
    # 1.0 on rows 0-99, then 2.0: row d (< 180, the whole history so far) has d + 1 ratios, 100 of them in band:
    # at least 30 from row 29; a share of 70 % while 100 ≥ 0.7 (d + 1), up to row 141; the median in band
    # while fewer than half are 2.0 (d - 99 < (d + 1) / 2, up to row 198); every move 0 but one
    ratio = np.array([1.0] * 100 + [2.0] * 60)
    test = trailing_peg(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND)
    assert np.flatnonzero(test.pegged[:, 0]).tolist() == list(range(29, 142))
    assert test.share[141, 0] == pytest.approx(100 / 142)
    assert math.isnan(trailing_peg(np.full(5, np.nan), band=USD_BAND, median_band=USD_MEDIAN_BAND).share[0, 0])


def test_trailing_peg_forgets_what_left_the_window() -> None:
    # 2.0 for 20 rows, then 1.0: with a 30-row window and at least 10 ratios, row d holds 1.0 on d - 19 of its
    # min(d + 1, 30) rows: 70 % of 30 = 21 from row 40 (the median from row 34, half the moves small from row 34)
    ratio = np.array([2.0] * 20 + [1.0] * 40)
    test = trailing_peg(ratio, band=USD_BAND, median_band=USD_MEDIAN_BAND, window=30, min_obs=10, min_moves=5)
    assert np.flatnonzero(test.pegged[:, 0]).tolist() == list(range(40, 60))


def test_trailing_peg_needs_the_ratio_to_move_with_the_reference() -> None:
    # 0.985 and 1.015 in turn: all in [0.95, 1.05], the median between them in [0.98, 1.02], but every move is
    # |ln(1.015 / 0.985)| = 3.0 %: not a peg; the same values drifting 0.1 % a day are one
    swinging = np.array([0.985, 1.015] * 50)
    assert not trailing_peg(swinging, band=USD_BAND, median_band=USD_MEDIAN_BAND).pegged.any()
    drifting = np.linspace(0.985, 1.015, 30)
    assert trailing_peg(drifting, band=USD_BAND, median_band=USD_MEDIAN_BAND, min_moves=29).pegged[29, 0]


def test_median_move() -> None:
    assert median_move(np.array([1.0, 1.1, np.nan, 1.0, 1.0])) == pytest.approx(math.log(1.1) / 2)
    assert math.isnan(median_move(np.array([1.0, np.nan, 2.0])))
