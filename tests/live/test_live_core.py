"""The intraday index and dominance of one moment on a hand-computed market."""

from __future__ import annotations

import numpy as np
import pytest

from coinseason.core.intraday import intraday_index
from coinseason.core.universe import NO_COIN

BTC, ETH, AAA, BBB, USDT, YOUNG = range(6)
# live price, price W days before, supply → cap: BTC 110 × 10 = 1100 (+10 %), ETH 12 × 50 = 600 (+20 %),
# AAA 1.05 × 400 = 420 (+5 %), BBB 2.5 × 100 = 250 (+25 %), USDT 1 × 500 = 500 (flat), YOUNG 3 × 100 = 300 (no
# price W days before: listed since).
NOW = np.array([110.0, 12.0, 1.05, 2.5, 1.0, 3.0])
THEN = np.array([100.0, 10.0, 1.0, 2.0, 1.0, np.nan])
SUPPLY = np.array([10.0, 50.0, 400.0, 100.0, 500.0, 100.0])
CAP = NOW * SUPPLY
STABLE = np.array([False, False, False, False, True, False])
NOT_STABLE = ~STABLE


def index(top: int, counted: np.ndarray = NOT_STABLE, **kw: object):  # type: ignore[no-untyped-def]
    return intraday_index(NOW, THEN, CAP, counted, top=top, btc=BTC, eth=ETH, stable=STABLE, **kw)  # type: ignore[arg-type]


def test_top_three_is_btc_eth_aaa_and_half_beat_btc() -> None:
    # ranked: BTC 1100, ETH 600, AAA 420, YOUNG 300, BBB 250 (USDT excluded); top 3 = BTC, ETH, AAA
    got = index(3)
    assert got.universe.tolist() == [BTC, ETH, AAA]
    assert (got.n_eligible, got.n_outperforming) == (2, 1)  # ETH +20 % beats BTC +10 %, AAA +5 % does not
    assert got.value == pytest.approx(50.0)
    assert got.bitcoin_season_index == pytest.approx(50.0)
    assert got.btc_return == pytest.approx(0.10)


def test_a_coin_without_w_days_gives_its_place_to_the_next() -> None:
    # top 4: YOUNG (rank 4) has no return, so BBB (rank 5) takes the place; ETH and BBB beat BTC: 2 / 3
    got = index(4)
    assert got.universe.tolist() == [BTC, ETH, AAA, BBB]
    assert (got.n_eligible, got.n_outperforming) == (3, 2)
    assert got.value == pytest.approx(200.0 / 3.0)


def test_dominance_over_the_counted_coins() -> None:
    got = index(3)
    assert got.total == pytest.approx(2670.0)  # 1100 + 600 + 420 + 250 + 300
    assert got.btc_dominance == pytest.approx(100 * 1100 / 2670)
    assert got.eth_dominance == pytest.approx(100 * 600 / 2670)
    assert got.stablecoin_dominance == pytest.approx(0.0)
    assert got.n_ranked == 5
    everything = index(3, np.ones(6, dtype=bool))
    assert everything.total == pytest.approx(3170.0)
    assert everything.stablecoin_dominance == pytest.approx(100 * 500 / 3170)


def test_btc_outside_takes_three_altcoins() -> None:
    got = index(3, btc_inside=False)
    assert got.universe.tolist() == [ETH, AAA, BBB]
    assert got.value == pytest.approx(200.0 / 3.0)


def test_without_a_live_btc_there_is_no_index() -> None:
    counted = NOT_STABLE.copy()
    counted[BTC] = False
    got = index(3, counted)
    assert np.isnan(got.value)
    assert got.n_eligible == 0
    assert got.btc_dominance == pytest.approx(0.0)  # BTC is not counted in TOTAL either
    assert got.total == pytest.approx(1570.0)


def test_missing_eth_and_bad_input() -> None:
    got = intraday_index(NOW, THEN, CAP, NOT_STABLE, top=3, btc=BTC, eth=NO_COIN)
    assert got.eth_dominance == pytest.approx(0.0)
    with pytest.raises(ValueError, match="top"):
        intraday_index(NOW, THEN, CAP, NOT_STABLE, top=0, btc=BTC)
    with pytest.raises(ValueError, match="one entry per coin"):
        intraday_index(NOW, THEN[:3], CAP, NOT_STABLE, top=3, btc=BTC)
