"""Consensus across definitions: the grid's ladder against the engine's series, the cap-weighted index by hand,
the minimum universe, and the consensus statistics (hand cases and properties)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from coinseason.core.consensus import consensus
from coinseason.core.engine import RankDepths, SeasonEngine
from coinseason.core.grid import DEFAULT_GRID, Variant, grid_values, make_grid
from coinseason.core.margin import season_margin
from coinseason.core.season import (
    ALTCOIN_SEASON,
    BITCOIN_SEASON,
    NEUTRAL,
    NO_VALUE,
    SeasonIndex,
    classify_season,
    minimum_for,
    with_minimum,
)
from coinseason.core.universe import NO_EXCLUSION
from tests.core.test_engine import EXCLUDED, EXCLUDED_IDS, engine, filled_by_hand, market, naive_index

# -- the ladder gives every variant of the grid as the engine does -------------------------------------------------


@pytest.mark.parametrize("seed", [3, 7])
def test_grid_values_equal_the_engine_series_and_a_plain_computation(seed: int) -> None:
    ids, price, mcap = market(n_days=150, n_coins=60, seed=seed)
    eng = engine(ids, price, mcap)
    grid = make_grid(tops=(4, 10, 25), windows=(5, 30, 60), exclusions=("some", "none"))
    got = grid_values(eng, {"some": EXCLUDED, "none": NO_EXCLUSION}, variants=grid)
    filled_price, filled_mcap = filled_by_hand(ids, price, mcap)
    for at, v in enumerate(grid):
        excluded = EXCLUDED if v.exclusion == "some" else NO_EXCLUSION
        series = eng.season_index(excluded, top=v.top, window=v.window, btc_inside=v.btc_inside).value
        np.testing.assert_array_equal(got.values[:, at], series, err_msg=str(v))
        if v.btc_inside:  # the plain computation puts BTC inside
            ids_out = EXCLUDED_IDS if v.exclusion == "some" else frozenset()
            plain = naive_index(ids, filled_price, filled_mcap, ids_out, v.top, v.window, fill=True)
            np.testing.assert_array_equal(got.values[:, at], plain, err_msg=str(v))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_the_ladder_reaches_past_the_cached_and_deep_rankings(seed: int) -> None:
    """With a tiny cached depth and deep ranking, the ladder fills its places from every block of ranks and still
    gives the plain result for every N and both BTC placements."""
    ids, price, mcap = market(n_days=90, n_coins=30, seed=seed)
    eng = engine(ids, price, mcap, RankDepths(cached=3, fill_margin=1, deep=12))
    filled_price, filled_mcap = filled_by_hand(ids, price, mcap)
    for window in (5, 40):
        ladder = eng.ladder(EXCLUDED, window=window, depth=20)
        for top in (2, 7, 20):
            plain = naive_index(ids, filled_price, filled_mcap, EXCLUDED_IDS, top, window, fill=True)
            np.testing.assert_array_equal(ladder.season_index(top, btc_inside=True).value, plain)
            outside = eng.season_index(EXCLUDED, top=top, window=window, btc_inside=False).value
            np.testing.assert_array_equal(ladder.season_index(top, btc_inside=False).value, outside)


def test_one_day_of_the_grid_equals_that_day_of_the_history() -> None:
    ids, price, mcap = market(n_days=120, n_coins=40, seed=5)
    eng = engine(ids, price, mcap)
    exclusions = {"default": EXCLUDED, "none": NO_EXCLUSION}
    grid = make_grid(tops=(3, 8, 20), windows=(7, 30))
    history = grid_values(eng, exclusions, variants=grid).values
    for row in (0, 29, 30, 77, 119):
        day = grid_values(eng, exclusions, variants=grid, rows=np.array([row])).values
        np.testing.assert_array_equal(day[0], history[row])


def test_the_default_grid_holds_the_standard_series() -> None:
    for top, window in ((50, 90), (100, 90)):
        assert Variant(top, window, True, "default") in DEFAULT_GRID
    assert len(DEFAULT_GRID) == len(set(DEFAULT_GRID)) == 64


# -- the cap-weighted index by hand -------------------------------------------------------------------------------


def small_engine(min_eligible: int = 0) -> SeasonEngine:
    """Day 0 and day 1 of BTC and four altcoins; W = 1. Returns day 0 → 1: BTC +10 %, A +50 %, B 0 %, C +20 %, D -10 %.
    Caps on day 1: BTC 1000, A 300, B 100, C 60, D 40."""
    price = np.array([[100.0, 10.0, 10.0, 10.0, 10.0], [110.0, 15.0, 10.0, 12.0, 9.0]])
    cap = np.array([[900.0, 200.0, 100.0, 50.0, 44.0], [1000.0, 300.0, 100.0, 60.0, 40.0]])
    return SeasonEngine(
        start=dt.date(2024, 1, 1),
        coin_ids=["bitcoin", "a", "b", "c", "d"],
        price=price,
        market_cap=cap,
        btc_id="bitcoin",
        min_eligible=min_eligible,
    )


def test_cap_weighted_index_by_hand() -> None:
    eng = small_engine()
    ladder = eng.ladder(NO_EXCLUSION, window=1, depth=5)
    # top 5 with BTC inside: A, B, C, D; A and C beat BTC: count 2/4 = 50; caps (300 + 60) / 500 = 72.
    assert eng.season_index(NO_EXCLUSION, top=5, window=1).value[1] == 50.0
    assert ladder.cap_weighted(5, btc_inside=True)[1] == pytest.approx(72.0)
    # top 3 with BTC inside: A, B: count 1/2 = 50, caps 300 / 400 = 75 (altcoin season by cap, neutral by count).
    assert ladder.cap_weighted(3, btc_inside=True)[1] == pytest.approx(75.0)
    # top 3 with BTC outside: A, B, C: count 2/3, caps 360 / 460.
    assert ladder.season_index(3, btc_inside=False).value[1] == pytest.approx(200.0 / 3)
    assert ladder.cap_weighted(3, btc_inside=False)[1] == pytest.approx(100.0 * 360 / 460)
    assert np.isnan(ladder.cap_weighted(5, btc_inside=True)[0])  # day 0: no 1-day return
    code = classify_season(ladder.cap_weighted(3, btc_inside=True))
    assert code.tolist() == [NO_VALUE, ALTCOIN_SEASON]


def test_cap_weights_are_the_caps_of_the_day() -> None:
    # Day 1's caps, not day 0's: with day 0's (200, 100, 50, 44) the top 5 would give (200 + 50) / 394 = 63.5.
    ladder = small_engine().ladder(NO_EXCLUSION, window=1, depth=5)
    assert ladder.caps[1].tolist() == [300.0, 100.0, 60.0, 40.0, pytest.approx(np.nan, nan_ok=True)]


# -- the minimum universe ----------------------------------------------------------------------------------------


def test_minimum_for_never_asks_more_than_the_altcoin_places() -> None:
    assert minimum_for(20, top=50, btc_inside=True) == 20
    assert minimum_for(20, top=20, btc_inside=True) == 19
    assert minimum_for(20, top=20, btc_inside=False) == 20
    assert minimum_for(20, top=5, btc_inside=True) == 4
    assert minimum_for(0, top=50, btc_inside=True) == 0


def test_with_minimum_blanks_short_days_and_keeps_their_counts() -> None:
    index = SeasonIndex(
        value=np.array([50.0, 100.0, np.nan, 40.0]),
        n_eligible=np.array([4, 2, 0, 5], dtype=np.int32),
        n_outperforming=np.array([2, 2, 0, 2], dtype=np.int32),
        btc_return=np.array([0.1, 0.1, np.nan, 0.1]),
    )
    short = with_minimum(index, 4)
    np.testing.assert_array_equal(short.value, [50.0, np.nan, np.nan, 40.0])
    np.testing.assert_array_equal(short.n_eligible, index.n_eligible)


def test_engine_minimum_universe() -> None:
    # Four eligible altcoins on day 1: a minimum of 4 keeps the value (50), 5 would blank it, but the top 5 with
    # BTC inside has only 4 altcoin places, so the minimum asked is 4 and the value stays.
    assert small_engine(min_eligible=4).season_index(NO_EXCLUSION, top=5, window=1).value[1] == 50.0
    assert small_engine(min_eligible=5).season_index(NO_EXCLUSION, top=5, window=1).value[1] == 50.0
    eng = small_engine(min_eligible=5)
    assert np.isnan(eng.season_index(NO_EXCLUSION, top=10, window=1).value[1])  # 4 of the 5 asked for
    eng.min_eligible = 0  # set at any time: the cached series is unchanged underneath
    assert eng.season_index(NO_EXCLUSION, top=10, window=1).value[1] == 50.0
    values = grid_values(
        small_engine(min_eligible=5), {"none": NO_EXCLUSION}, variants=[Variant(10, 1, True, "none")]
    ).values
    assert np.isnan(values[1, 0])


# -- the consensus statistics ------------------------------------------------------------------------------------


def test_consensus_by_hand() -> None:
    # Four variants: 10 (Bitcoin), 50 (neutral), 80 and 90 (altcoin); one has no value. Shares 1/4, 1/4, 2/4;
    # median (50 + 80) / 2 = 65; the 10 % quantile at 0.3 between 10 and 50: 22; the 90 % at 2.7: 80 + 0.7·10 = 87.
    values = np.array([[10.0, 50.0, 80.0, 90.0, np.nan]])
    c = consensus(values, np.array([60.0]))
    assert c.n_valued.tolist() == [4]
    assert (c.share_bitcoin[0], c.share_neutral[0], c.share_altcoin[0]) == (0.25, 0.25, 0.5)
    assert (c.median[0], c.low[0], c.high[0]) == pytest.approx((65.0, 22.0, 87.0))
    assert c.majority.tolist() == [ALTCOIN_SEASON]
    assert c.agreement[0] == 0.25  # the headline (60) is neutral, as one variant of four
    assert not c.agrees[0]


def test_consensus_ties_and_empty_days() -> None:
    values = np.array([[10.0, 20.0, 80.0, 90.0], [np.nan] * 4, [50.0, 50.0, 80.0, 10.0]])
    c = consensus(values, np.array([85.0, 50.0, 50.0]))
    assert c.majority.tolist() == [NEUTRAL, NO_VALUE, NEUTRAL]  # 2 vs 2: undecided; no value; 2 neutral of 4
    assert c.n_valued.tolist() == [4, 0, 4]
    assert np.isnan(c.median[1]) and np.isnan(c.agreement[1]) and not c.agrees[1]
    assert c.agrees.tolist() == [False, False, True]


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 20)),
        elements=st.one_of(st.just(np.nan), st.floats(0, 100)),
    ),
    st.floats(0, 100),
)
def test_consensus_invariants(values: np.ndarray, headline: float) -> None:
    c = consensus(values, np.full(values.shape[0], headline))
    valued = c.n_valued > 0
    total = c.share_altcoin + c.share_neutral + c.share_bitcoin
    np.testing.assert_allclose(total[valued], 1.0)
    assert (c.low[valued] <= c.median[valued] + 1e-9).all()
    assert (c.median[valued] <= c.high[valued] + 1e-9).all()
    for row in np.flatnonzero(valued):
        finite = values[row][np.isfinite(values[row])]
        assert c.median[row] == pytest.approx(np.quantile(finite, 0.5))
        assert c.low[row] == pytest.approx(np.quantile(finite, 0.1))
        assert c.high[row] == pytest.approx(np.quantile(finite, 0.9))
        assert 0.0 <= c.agreement[row] <= 1.0
    assert (c.majority[~valued] == NO_VALUE).all()


def test_a_day_where_every_variant_agrees_has_a_margin_of_at_least_one_for_each() -> None:
    ids, price, mcap = market(n_days=150, n_coins=60, seed=11)
    eng = engine(ids, price, mcap)
    grid = make_grid(tops=(5, 12, 30), windows=(10, 40))
    exclusions = {"default": EXCLUDED, "none": NO_EXCLUSION}
    values = grid_values(eng, exclusions, variants=grid).values
    codes = classify_season(values)
    unanimous = np.flatnonzero((codes == codes[:, :1]).all(axis=1) & (codes[:, 0] != NO_VALUE))
    assert unanimous.size > 0
    for v in grid:
        excluded = exclusions[v.exclusion]
        index = eng.season_index(excluded, top=v.top, window=v.window, btc_inside=v.btc_inside)
        m = season_margin(index.n_outperforming[unanimous], index.n_eligible[unanimous])
        assert (m.margin >= 1).all(), v
        assert (m.season == codes[unanimous, 0]).all(), v
    assert set(codes[unanimous, 0].tolist()) <= {ALTCOIN_SEASON, NEUTRAL, BITCOIN_SEASON}
