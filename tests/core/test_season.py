"""Season index, classification and periods: hand-computed cases and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coinseason.core.panel import forward_fill
from coinseason.core.season import (
    ALTCOIN_SEASON,
    BITCOIN_SEASON,
    NEUTRAL,
    NO_VALUE,
    altcoin_season_index,
    classify_season,
    published_round,
    season_periods,
)
from coinseason.core.universe import rank_order, top_n

NAN = np.nan

# columns: BTC, A, B, STABLE
PRICE = np.array(
    [
        [100.0, 10.0, 1.0, 1.0],
        [110.0, 10.0, 2.0, 1.0],
        [120.0, 15.0, 2.0, 1.0],
        [130.0, 15.0, 2.0, 1.0],
        [140.0, 20.0, 1.0, 1.0],
    ]
)
MCAP = np.array(
    [
        [1000.0, 500.0, 100.0, 700.0],
        [1000.0, 500.0, 100.0, 700.0],
        [1000.0, 500.0, 100.0, 700.0],
        [1000.0, 500.0, 100.0, 700.0],
        [1000.0, 500.0, 100.0, 700.0],
    ]
)
ALL = np.ones(4, dtype=bool)
NO_STABLE = np.array([True, True, True, False])


def asi(
    price: np.ndarray,
    mcap: np.ndarray,
    members: np.ndarray,
    *,
    top: int,
    window: int,
    btc_inside: bool = True,
) -> np.ndarray:
    order = rank_order(mcap, members=members, depth=top + 1)
    universe = top_n(order, n=top, btc=0, btc_inside=btc_inside)
    return altcoin_season_index(price, universe, window=window, btc=0).value


def test_hand_computed_top3_window2() -> None:
    # day 2: BTC +20 %, A +50 %, B +100 % -> both beat: 100
    # day 3: BTC +18.2 %, A +50 %, B 0 % -> 1 of 2: 50
    # day 4: BTC +16.7 %, A +33 %, B -50 % -> 1 of 2: 50
    value = asi(PRICE, MCAP, NO_STABLE, top=3, window=2)
    np.testing.assert_array_equal(value, [NAN, NAN, 100.0, 50.0, 50.0])


def test_top_n_counts_btc_inside_by_default() -> None:
    # top 2 with BTC inside = BTC and A only; A beats BTC on days 2-4
    np.testing.assert_array_equal(asi(PRICE, MCAP, NO_STABLE, top=2, window=2), [NAN, NAN, 100.0, 100.0, 100.0])
    # BTC outside: BTC plus 2 others = A and B
    np.testing.assert_array_equal(
        asi(PRICE, MCAP, NO_STABLE, top=2, window=2, btc_inside=False), [NAN, NAN, 100.0, 50.0, 50.0]
    )


def test_excluded_stablecoin_would_otherwise_take_a_place() -> None:
    # without exclusion the stablecoin (cap 700) is in the top 3 and never beats BTC: A counts, stable does not
    value = asi(PRICE, MCAP, ALL, top=3, window=2)
    np.testing.assert_array_equal(value, [NAN, NAN, 50.0, 50.0, 50.0])


def test_counts_and_bitcoin_season_index() -> None:
    order = rank_order(MCAP, members=NO_STABLE, depth=3)
    index = altcoin_season_index(PRICE, order[:, :3], window=2, btc=0)
    np.testing.assert_array_equal(index.n_eligible, [0, 0, 2, 2, 2])
    np.testing.assert_array_equal(index.n_outperforming, [0, 0, 2, 1, 1])
    np.testing.assert_array_equal(index.bitcoin_season_index[2:], [0.0, 50.0, 50.0])


def test_coin_listed_inside_the_window_is_not_eligible() -> None:
    price = PRICE.copy()
    price[:3, 2] = NAN  # B first priced on day 3
    mcap = MCAP.copy()
    mcap[:3, 2] = NAN
    value = asi(price, mcap, NO_STABLE, top=3, window=2)
    # day 3 and 4: B has no price 2 days earlier (day 1, day 2) -> only A counts, and A beats BTC
    np.testing.assert_array_equal(value, [NAN, NAN, 100.0, 100.0, 100.0])


def test_gap_tolerance_uses_a_recent_price_only() -> None:
    # 8 days; A misses days 1-3 (3-day gap, filled) and B misses days 1-4 (4-day gap, not filled at day 4)
    btc = np.array([100.0, 100, 100, 100, 100, 100, 100, 100])
    a = np.array([10.0, NAN, NAN, NAN, 12, 12, 12, 12])
    b = np.array([10.0, NAN, NAN, NAN, NAN, 12, 12, 12])
    price = forward_fill(np.column_stack([btc, a, b]), limit=3)
    assert price[3, 1] == 10.0 and np.isnan(price[4, 2])
    mcap = np.tile([1000.0, 500.0, 400.0], (8, 1))
    value = asi(price, mcap, np.ones(3, bool), top=3, window=5)
    # day 5 looks back to day 0 for both (observed): both +20 % > BTC 0 %
    # day 7 looks back to day 2: A filled from day 0 (2 days), B filled from day 0 (2 days) -> both count
    assert value[5] == 100.0 and value[7] == 100.0
    value9 = asi(price, mcap, np.ones(3, bool), top=3, window=3)
    # window 3, day 7 looks back to day 4: A observed 12 -> 0 % (not beating); B at day 4 is a 4-day gap -> ineligible
    assert value9[7] == 0.0


def test_no_btc_return_gives_no_value() -> None:
    price = PRICE.copy()
    price[0, 0] = NAN
    value = asi(price, MCAP, NO_STABLE, top=3, window=2)
    assert np.isnan(value[2]) and value[3] == 50.0


def test_equal_returns_do_not_beat_btc() -> None:
    price = np.array([[100.0, 10.0], [200.0, 20.0]])
    mcap = np.array([[10.0, 5.0], [10.0, 5.0]])
    assert asi(price, mcap, np.ones(2, bool), top=2, window=1)[1] == 0.0


def test_classify_thresholds_are_inclusive() -> None:
    value = np.array([75.0, 74.99, 25.0, 25.01, NAN, 100.0, 0.0])
    code = classify_season(value)
    assert code.tolist() == [
        ALTCOIN_SEASON,
        NEUTRAL,
        BITCOIN_SEASON,
        NEUTRAL,
        NO_VALUE,
        ALTCOIN_SEASON,
        BITCOIN_SEASON,
    ]
    assert classify_season(np.array([60.0]), altcoin_at=60, bitcoin_at=40).tolist() == [ALTCOIN_SEASON]
    with pytest.raises(ValueError, match="below"):
        classify_season(value, altcoin_at=20, bitcoin_at=30)


def test_published_round_is_half_up() -> None:
    np.testing.assert_array_equal(published_round(np.array([47.5, 47.49, 95.918, NAN])), [48.0, 47.0, 96.0, NAN])


def test_season_periods_with_minimum_length() -> None:
    value = np.array([80, 90, 85, 50, 20, 10, 30, 76, 50, 20, 15, 5, 22.0])
    code = classify_season(value)
    runs = season_periods(value, code)
    assert runs.code.tolist() == [ALTCOIN_SEASON, BITCOIN_SEASON, ALTCOIN_SEASON, BITCOIN_SEASON]
    assert runs.start.tolist() == [0, 4, 7, 9]
    assert runs.end.tolist() == [2, 5, 7, 12]
    assert runs.peak.tolist() == [90.0, 10.0, 76.0, 5.0]
    assert runs.peak_at.tolist() == [1, 5, 7, 11]
    long_runs = season_periods(value, code, min_days=3)
    assert long_runs.start.tolist() == [0, 9] and long_runs.length.tolist() == [3, 4]
    with_neutral = season_periods(value, code, include_neutral=True)
    assert with_neutral.code.tolist() == [1, 0, -1, 0, 1, 0, -1]


# -- invariants -------------------------------------------------------------------------------------------


@st.composite
def markets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_days = draw(st.integers(3, 30))
    n_coins = draw(st.integers(2, 12))
    prices = draw(arrays(np.float64, (n_days, n_coins), elements=st.floats(0.01, 1e6)))
    caps = draw(arrays(np.float64, (n_days, n_coins), elements=st.floats(1.0, 1e12)))
    holes = draw(arrays(np.bool_, (n_days, n_coins)))
    holes[:, 0] &= draw(st.booleans())  # sometimes BTC is complete
    prices[holes] = np.nan
    caps[holes] = np.nan
    members = draw(arrays(np.bool_, (n_coins,)))
    members[0] = True
    return prices, caps, members


SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(markets(), st.integers(1, 12), st.integers(1, 10))
def test_index_is_a_share(market: tuple[np.ndarray, np.ndarray, np.ndarray], top: int, window: int) -> None:
    price, mcap, members = market
    value = asi(forward_fill(price.copy(), limit=3), mcap, members, top=top, window=window)
    finite = value[np.isfinite(value)]
    assert ((finite >= 0) & (finite <= 100)).all()


@SETTINGS
@given(markets(), st.integers(1, 12), st.integers(1, 10), st.floats(1e-3, 1e3))
def test_scaling_every_price_changes_nothing(
    market: tuple[np.ndarray, np.ndarray, np.ndarray], top: int, window: int, factor: float
) -> None:
    price, mcap, members = market
    base = asi(price, mcap, members, top=top, window=window)
    scaled = asi(price * factor, mcap, members, top=top, window=window)
    np.testing.assert_array_equal(base, scaled)


@SETTINGS
@given(markets(), st.integers(1, 12), st.integers(1, 10), st.data())
def test_adding_an_excluded_coin_changes_nothing(
    market: tuple[np.ndarray, np.ndarray, np.ndarray], top: int, window: int, data: st.DataObject
) -> None:
    price, mcap, members = market
    n_days = price.shape[0]
    extra_p = data.draw(arrays(np.float64, (n_days, 1), elements=st.floats(0.01, 1e6)))
    extra_c = data.draw(arrays(np.float64, (n_days, 1), elements=st.floats(1.0, 1e13)))
    position = data.draw(st.integers(1, price.shape[1]))
    price2 = np.insert(price, [position], extra_p, axis=1)
    mcap2 = np.insert(mcap, [position], extra_c, axis=1)
    members2 = np.insert(members, position, False)
    np.testing.assert_array_equal(
        asi(price, mcap, members, top=top, window=window),
        asi(price2, mcap2, members2, top=top, window=window),
    )


@SETTINGS
@given(markets(), st.integers(1, 12), st.integers(1, 10), st.data())
def test_a_coin_without_w_days_of_history_never_counts(
    market: tuple[np.ndarray, np.ndarray, np.ndarray], top: int, window: int, data: st.DataObject
) -> None:
    price, mcap, members = market
    n_days, n_coins = price.shape
    coin = data.draw(st.integers(1, n_coins - 1))
    listed = data.draw(st.integers(0, n_days - 1))
    price[:listed, coin] = np.nan  # no price before its listing day
    filled = forward_fill(price.copy(), limit=3)
    before = asi(filled, mcap, members, top=top, window=window)
    # remove the coin's prices entirely, keeping its market cap (so it still takes its place in the top N)
    gone = filled.copy()
    gone[:, coin] = np.nan
    after = asi(gone, mcap, members, top=top, window=window)
    young = np.arange(n_days) - window < listed  # days on which it has fewer than W days of history
    np.testing.assert_array_equal(before[young], after[young])


@SETTINGS
@given(markets(), st.integers(1, 12), st.integers(1, 10))
def test_column_order_changes_nothing_but_ties(
    market: tuple[np.ndarray, np.ndarray, np.ndarray], top: int, window: int
) -> None:
    price, mcap, members = market
    n = price.shape[1]
    perm = np.concatenate([[0], 1 + np.random.default_rng(n).permutation(n - 1)])
    base = asi(price, mcap, members, top=top, window=window)
    shuffled = asi(price[:, perm], mcap[:, perm], members[perm], top=top, window=window)
    # ties in market cap may swap which coin takes the last place; caps are drawn from a continuum, so skip those
    tied = np.array([np.unique(row[np.isfinite(row)]).size != np.isfinite(row).sum() for row in mcap])
    np.testing.assert_array_equal(base[~tied], shuffled[~tied])
