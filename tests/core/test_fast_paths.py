"""The fast paths of core against plain reference implementations: gap filling from gap starts, ranking with
trimmed columns and an unstable sort, dominance over trimmed columns, coin-major gathers and filling a universe
rank block by rank block."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coinseason.core.dominance import dominance_all, dominance_top
from coinseason.core.panel import CoinMajor, forward_fill, gather
from coinseason.core.season import (
    FilledUniverse,
    altcoin_season_index,
    coin_returns,
    fill_places,
    window_returns,
)
from coinseason.core.universe import NO_COIN, rank_order

NAN, INF = np.nan, np.inf
SETTINGS = settings(max_examples=150, deadline=None)


def reference_fill(values: np.ndarray, limit: int) -> np.ndarray:
    """The former implementation: for k = 1..limit, NaN cells take the originally finite value k rows up."""
    out = values.copy()
    valid = np.isfinite(values)
    for k in range(1, min(limit, values.shape[0] - 1) + 1):
        rows, cols = np.nonzero(valid[:-k] & np.isnan(out[k:]))
        out[rows + k, cols] = out[rows, cols]
    return out


def reference_rank(caps: np.ndarray, members: np.ndarray, depth: int) -> np.ndarray:
    """A stable sort of each row: largest cap first, ties by column; only finite positive member caps."""
    out = np.full((caps.shape[0], depth), NO_COIN, dtype=np.int32)
    for day, row in enumerate(caps):
        ok = members & np.isfinite(row) & (row > 0)
        cols = np.flatnonzero(ok)
        ranked = cols[np.argsort(-row[cols], kind="stable")][:depth]
        out[day, : ranked.size] = ranked
    return out


cells = st.one_of(st.just(NAN), st.just(INF), st.floats(-5, 5), st.sampled_from([1.0, 2.0, 0.0]))


@SETTINGS
@given(arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(1, 6)), elements=cells), st.integers(0, 6))
def test_forward_fill_matches_the_former_loop_also_with_infinities(values: np.ndarray, limit: int) -> None:
    expected = reference_fill(values, limit)
    np.testing.assert_array_equal(forward_fill(values.copy(), limit=limit, chunk_rows=4), expected)
    observed = np.isfinite(values)
    np.testing.assert_array_equal(forward_fill(values.copy(), limit=limit, observed=observed), expected)


caps_cells = st.one_of(st.just(NAN), st.just(INF), st.just(-1.0), st.just(0.0), st.integers(1, 6).map(float))


@SETTINGS
@given(
    arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 12)), elements=caps_cells),
    st.integers(1, 14),
    st.integers(1, 9),
    st.data(),
)
def test_rank_order_matches_a_stable_sort(caps: np.ndarray, depth: int, chunk: int, data: st.DataObject) -> None:
    members = data.draw(arrays(np.bool_, (caps.shape[1],)))
    caps[np.isinf(caps)] = NAN  # +inf has no rank in the plain sort; the ranking keeps NO_COIN in its place
    got = rank_order(caps, members=members, depth=depth, chunk_rows=chunk)
    np.testing.assert_array_equal(got, reference_rank(caps, members, depth))
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, caps.shape[0] - 1)))), dtype=np.intp)
    np.testing.assert_array_equal(rank_order(caps, members=members, depth=depth, rows=rows), got[rows])


def test_rank_order_keeps_equal_caps_in_column_order_across_the_cut() -> None:
    caps = np.array([[3.0, 5.0, 5.0, 9.0, 5.0, 5.0, 1.0]] * 3)
    got = rank_order(caps, members=np.ones(7, bool), depth=3, chunk_rows=2)
    assert got.tolist() == [[3, 1, 2]] * 3


def test_rank_order_on_a_long_market_drops_columns_by_the_bound() -> None:
    rng = np.random.default_rng(5)
    caps = np.exp(rng.normal(10, 3, size=(300, 400)) + np.cumsum(rng.normal(0, 0.05, size=(300, 400)), axis=0))
    caps[rng.random(caps.shape) < 0.1] = NAN
    members = rng.random(400) < 0.95
    for depth in (1, 20, 150, 400):
        np.testing.assert_array_equal(
            rank_order(caps, members=members, depth=depth), reference_rank(caps, members, depth)
        )


@SETTINGS
@given(
    arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(1, 8)), elements=caps_cells),
    st.integers(1, 7),
    st.data(),
)
def test_dominance_all_matches_a_plain_sum(caps: np.ndarray, chunk: int, data: st.DataObject) -> None:
    members = data.draw(arrays(np.bool_, (caps.shape[1],)))
    stable = data.draw(arrays(np.bool_, (caps.shape[1],)))
    with np.errstate(invalid="ignore"):
        counted = np.where(members & (caps > 0), caps, 0.0)
    d = dominance_all(caps, members=members, btc=0, eth=caps.shape[1] - 1, stable=stable, chunk_rows=chunk)
    np.testing.assert_allclose(d.total, counted.sum(axis=1))
    np.testing.assert_allclose(d.stable_cap, counted[:, stable & members].sum(axis=1))
    assert d.n_coins.tolist() == (counted > 0).sum(axis=1).tolist()
    np.testing.assert_array_equal(d.btc_cap, counted[:, 0])
    np.testing.assert_array_equal(d.eth_cap, counted[:, -1])


def test_dominance_top_counts_each_coin_once() -> None:
    caps = np.array([[600.0, 300.0, 80.0, 20.0], [500.0, 250.0, 100.0, NAN]])
    universe = np.array([[1, 2, NO_COIN], [0, 1, 2]], dtype=np.int32)
    d = dominance_top(caps, universe, btc=0, eth=1, stable=np.array([False, False, True, False]))
    assert d.total.tolist() == [380.0, 850.0]
    assert d.btc_cap.tolist() == [0.0, 500.0]
    assert d.eth_cap.tolist() == [300.0, 250.0]
    assert d.stable_cap.tolist() == [80.0, 100.0]
    assert d.n_coins.tolist() == [2, 3]


def test_coin_major_gathers_what_the_day_major_matrix_holds() -> None:
    rng = np.random.default_rng(1)
    matrix = rng.random((50, 9))
    kept = np.array([1, 4, 5, 8])
    by_coin = CoinMajor.of(matrix, kept, chunk_rows=7)
    rows = rng.integers(0, 50, 30)
    cols = rng.choice(kept, size=(30, 6))
    picked = by_coin.gather(cols, rows, rows[::-1])
    assert picked is not None
    np.testing.assert_array_equal(picked[0], gather(matrix, rows, cols))
    np.testing.assert_array_equal(picked[1], matrix[rows[::-1][:, None], cols])
    assert by_coin.gather(np.array([[1, 2]]), np.array([0])) is None  # column 2 is not kept
    placeholder = by_coin.gather(np.array([[4, NO_COIN]]), np.array([3]))
    assert placeholder is not None and placeholder[0][0, 0] == matrix[3, 4]
    assert CoinMajor.of(matrix, np.array([], dtype=np.intp)).gather(np.array([[NO_COIN]]), np.array([0])) is None


def market(seed: int, n_days: int = 60, n_coins: int = 25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    price = np.exp(np.cumsum(rng.normal(0, 0.08, size=(n_days, n_coins)), axis=0))
    caps = price * rng.lognormal(8, 2, size=n_coins)
    listed = rng.integers(0, n_days, size=n_coins)
    listed[0] = 0
    for c, day in enumerate(listed):
        price[:day, c] = NAN
        caps[:day, c] = NAN
    price[rng.random(price.shape) < 0.05] = NAN
    members = rng.random(n_coins) < 0.9
    members[0] = True
    return forward_fill(price, limit=3), caps, members


@pytest.mark.parametrize("seed", range(6))
def test_window_returns_by_coin_equal_day_major(seed: int) -> None:
    price, caps, members = market(seed)
    order = rank_order(caps, members=members, depth=12)
    rows = np.arange(price.shape[0])
    by_coin = CoinMajor.of(price, np.unique(order[order != NO_COIN]))
    for window in (1, 7, 59, 70):
        np.testing.assert_array_equal(
            window_returns(price, order, window=window, rows=rows, by_coin=by_coin),
            window_returns(price, order, window=window, rows=rows),
        )


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("blocks", [[25], [3, 25], [1, 2, 3, 9, 25], [12, 13, 25]])
def test_filling_block_by_block_gives_the_universe_and_index(seed: int, blocks: list[int]) -> None:
    price, caps, members = market(seed)
    order = rank_order(caps, members=members, depth=25)
    rows = np.arange(price.shape[0])
    top, window = 6, 10
    btc_ret = coin_returns(price, 0, window=window, rows=rows)
    btc_ranked = (order == 0).any(axis=1)
    whole = FilledUniverse.start(btc_ranked, btc_ret, top=top, btc=0, btc_inside=True)
    fill_places(price, whole, order, window=window, top=top, btc=0, rows=rows, at=np.arange(rows.size))
    parts = FilledUniverse.start(btc_ranked, btc_ret, top=top, btc=0, btc_inside=True)
    at, lo = np.arange(rows.size), 0
    for hi in blocks:
        short = fill_places(price, parts, order[at, lo:hi], window=window, top=top, btc=0, rows=rows[at], at=at)
        at, lo = at[short & (order[at, hi - 1] != NO_COIN)], hi
    np.testing.assert_array_equal(parts.places, whole.places)
    # the universe: BTC where ranked, then the altcoins with a W-day return in rank order
    returns = window_returns(price, order, window=window, rows=rows)
    for day in range(rows.size):
        alts = [int(c) for c, r in zip(order[day], returns[day], strict=True) if c not in (0, NO_COIN) and r == r]
        expected = ([0] if btc_ranked[day] else []) + alts
        expected = expected[:top]
        assert whole.places[day].tolist() == expected + [NO_COIN] * (top - len(expected))
    counted = parts.season_index()
    computed = altcoin_season_index(price, whole.places, window=window, btc=0)
    np.testing.assert_array_equal(counted.value, computed.value)
    np.testing.assert_array_equal(counted.n_eligible, computed.n_eligible)
    np.testing.assert_array_equal(counted.n_outperforming, computed.n_outperforming)
    counted_only = FilledUniverse.start(btc_ranked, btc_ret, top=top, btc=0, btc_inside=True, with_coins=False)
    fill_places(price, counted_only, order, window=window, top=top, btc=0, rows=rows, at=np.arange(rows.size))
    np.testing.assert_array_equal(counted_only.season_index().value, computed.value)
    with pytest.raises(ValueError, match="only counted"):
        _ = counted_only.places
