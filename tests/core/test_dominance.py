"""Dominance and totals: hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from coinseason.core.dominance import dominance_all, dominance_top
from coinseason.core.universe import NO_COIN, rank_order

# columns: BTC, ETH, USDT, X
CAPS = np.array(
    [
        [600.0, 300.0, 80.0, 20.0],
        [500.0, 250.0, 100.0, np.nan],
    ]
)
STABLE = np.array([False, False, True, False])
ALL = np.ones(4, dtype=bool)


def test_all_coins_no_exclusion() -> None:
    d = dominance_all(CAPS, members=ALL, btc=0, eth=1, stable=STABLE)
    np.testing.assert_allclose(d.total, [1000.0, 850.0])
    np.testing.assert_allclose(d.btc, [60.0, 100 * 500 / 850])
    np.testing.assert_allclose(d.eth, [30.0, 100 * 250 / 850])
    np.testing.assert_allclose(d.stablecoin, [8.0, 100 * 100 / 850])
    np.testing.assert_allclose(d.total2, [400.0, 350.0])
    np.testing.assert_allclose(d.total3, [100.0, 100.0])
    assert d.n_coins.tolist() == [4, 3]


def test_excluding_the_stablecoin() -> None:
    d = dominance_all(CAPS, members=~STABLE, btc=0, eth=1, stable=STABLE)
    np.testing.assert_allclose(d.btc, [100 * 600 / 920, 100 * 500 / 750])
    np.testing.assert_allclose(d.stablecoin, [0.0, 0.0])


def test_top_n_universe() -> None:
    order = rank_order(CAPS, members=ALL, depth=2)
    assert order.tolist() == [[0, 1], [0, 1]]
    d = dominance_top(CAPS, order, btc=0, eth=1, stable=STABLE)
    np.testing.assert_allclose(d.btc, [100 * 600 / 900, 100 * 500 / 750])
    top3 = rank_order(CAPS, members=ALL, depth=5)
    assert top3[1].tolist() == [0, 1, 2, NO_COIN, NO_COIN]
    d3 = dominance_top(CAPS, top3, btc=0, eth=1, stable=STABLE)
    np.testing.assert_allclose(d3.total, [1000.0, 850.0])
    np.testing.assert_allclose(d3.stablecoin, [8.0, 100 * 100 / 850])


def test_top_n_when_eth_drops_out() -> None:
    caps = np.array([[600.0, 10.0, 80.0, 20.0]])
    order = rank_order(caps, members=ALL, depth=2)  # BTC, USDT
    d = dominance_top(caps, order, btc=0, eth=1, stable=STABLE)
    assert d.eth_cap.tolist() == [0.0]
    np.testing.assert_allclose(d.btc, [100 * 600 / 680])


def test_rank_order_skips_non_members_and_bad_caps() -> None:
    caps = np.array([[5.0, -1.0, np.nan, 7.0, 0.0, 3.0]])
    members = np.array([True, True, True, True, True, False])
    assert rank_order(caps, members=members, depth=4).tolist() == [[3, 0, NO_COIN, NO_COIN]]


def test_rank_order_breaks_ties_by_column() -> None:
    caps = np.array([[5.0, 7.0, 5.0, 5.0]])
    assert rank_order(caps, members=np.ones(4, bool), depth=3).tolist() == [[1, 0, 2]]


def test_rank_order_rows_subset_and_chunks_agree() -> None:
    rng = np.random.default_rng(7)
    caps = rng.lognormal(10, 3, size=(50, 40))
    caps[rng.random(caps.shape) < 0.3] = np.nan
    members = rng.random(40) < 0.9
    full = rank_order(caps, members=members, depth=10, chunk_rows=7)
    part = rank_order(caps, members=members, depth=10, rows=np.array([3, 49]))
    np.testing.assert_array_equal(full[[3, 49]], part)
    # compare with a plain sort
    for day in range(50):
        key = np.where(members & (caps[day] > 0), caps[day], -np.inf)
        expect = [int(i) for i in np.argsort(-key, kind="stable")[:10] if np.isfinite(key[i])]
        got = [int(i) for i in full[day] if i != NO_COIN]
        assert got == expect


@pytest.mark.parametrize("top", [1, 3])
def test_dominance_top_rows_subset(top: int) -> None:
    order = rank_order(CAPS, members=ALL, depth=top)
    whole = dominance_top(CAPS, order, btc=0, eth=1, stable=STABLE)
    one = dominance_top(CAPS, order[[1]], btc=0, eth=1, stable=STABLE, rows=np.array([1]))
    assert one.total.tolist() == whole.total[[1]].tolist()
