"""The vectorised backtester: hand-computed cases, costs, thresholds, invariants and no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinseason.core.backtest import Liquidity, Market, Strategy, allocation_table, run_backtest
from coinseason.core.basket import build_basket
from coinseason.core.signals import ALT, BTC, NEUTRAL
from coinseason.core.universe import NO_COIN

ALL_BTC, ALL_ALT, HALF = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]


def market(btc: list[float], alt: list[float], *, volume: float = 1e9, alt_coins: tuple[float, ...] = ()) -> Market:
    """Legs: 0 BTC, 1 cash, 2 alt (one coin, or equal weights of coins with the volumes ``alt_coins``)."""
    n = len(btc)
    returns = np.column_stack([btc, np.zeros(n), alt])
    volumes = np.array(alt_coins or (volume,))
    coins = [
        (np.ones((n, 1)), np.full((n, 1), volume)),
        (np.zeros((n, 0)), np.zeros((n, 0))),
        (np.full((n, volumes.size), 1 / volumes.size), np.tile(volumes, (n, 1))),
    ]
    return Market(returns, Liquidity.of(coins), np.zeros_like(returns), np.array([False, True, False]))


def strategy(p: int = 1, *, fee: float = 10.0, spread: float = 0.0, impact: float = 0.0, threshold: float = 0.0,
             capital: float = 1e6, neutral: list[float] = HALF) -> Strategy:  # fmt: skip
    return Strategy(
        legs=np.tile(np.array([0, 2, 1]), (p, 1)),
        series=np.zeros(p, dtype=np.intp),
        allocation=np.repeat(allocation_table(ALL_BTC, ALL_ALT, neutral), p, axis=0),
        threshold=np.full(p, threshold),
        fee_bps=np.full(p, fee),
        spread_bps=np.full(p, spread),
        impact=np.full(p, impact),
        capital=np.full(p, capital),
    )


def states(*codes: int) -> np.ndarray:
    return np.array(codes, dtype=np.int8)[:, None]


def test_hand_computed_rotation() -> None:
    # day 0's BTC signal is traded on day 1 (10 bp on the BTC buy); day 2 holds BTC (+20 %); day 2's ALT signal
    # is traded on day 3: BTC's −10 % that day is still ours, then BTC sold and alts bought (2 × 10 bp).
    # The alts' +50 % on day 1 came before any ALT signal: it is not ours.
    mk = market([0.0, 0.1, 0.2, -0.1], [0.0, 0.5, 0.0, 0.0])
    res = run_backtest(mk, states(BTC, BTC, ALT, ALT), strategy(), keep_weights=True)
    r = res.returns[:, 0]
    assert r.tolist() == pytest.approx([0.0, -0.001, 0.2, 0.9 * 0.998 - 1])
    assert res.turnover is not None
    assert res.turnover[:, 0].tolist() == pytest.approx([0.0, 1.0, 0.0, 1.0])
    assert res.mean_turnover[0] == pytest.approx(2 / 3)  # days 1 to 3
    assert res.mean_exposure[0] == pytest.approx(1.0)
    assert res.total_cost[0] == pytest.approx(0.003)
    assert res.weights is not None
    assert res.weights[:, 0, :].tolist() == [[0, 0, 1], [1, 0, 0], [1, 0, 0], [0, 1, 0]]
    assert res.trades.tolist() == [2]
    assert np.prod(1 + r) == pytest.approx(0.999 * 1.2 * 0.8982)


def test_spread_and_square_root_impact() -> None:
    # buying 1e6 USD of BTC against a volume of 1e8: impact 0.5 × √(1e6 / 1e8) = 5 %, plus half of a 20 bp spread
    mk = market([0.0, 0.0], [0.0, 0.0], volume=1e8)
    res = run_backtest(mk, states(BTC, BTC), strategy(fee=0.0, spread=20.0, impact=0.5, capital=1e6))
    assert res.cost is not None and res.cost[1, 0] == pytest.approx(0.05 + 0.001)
    # a quarter of the capital: impact 0.5 × √(0.25e6 / 1e8) = 2.5 %
    res = run_backtest(mk, states(BTC, BTC), strategy(fee=0.0, impact=0.5, capital=0.25e6))
    assert res.cost is not None and res.cost[1, 0] == pytest.approx(0.025)
    # a trade larger than the market can take loses at most what was traded
    res = run_backtest(market([0.0, 0.0], [0.0, 0.0], volume=1.0), states(BTC, BTC), strategy(fee=0, impact=0.5))
    assert res.cost is not None and res.cost[1, 0] == pytest.approx(1.0)


def test_impact_is_capped_coin_by_coin() -> None:
    """Buying 1e6 USD of a two-coin basket: 5e5 into a coin trading 1e8 (0.5 × √(5e5 / 1e8) = 3.54 %) and 5e5
    into one trading 1 USD a day (capped: the whole 5e5 is lost). Neither coin's cap spills onto the other."""
    mk = market([0.0, 0.0], [0.0, 0.0], alt_coins=(1e8, 1.0))
    res = run_backtest(mk, states(ALT, ALT), strategy(fee=0.0, impact=0.5, capital=1e6))
    assert res.cost is not None
    assert res.cost[1, 0] == pytest.approx(0.5 * 0.5 * np.sqrt(5e5 / 1e8) + 0.5 * 1.0)
    liquid = run_backtest(market([0.0, 0.0], [0.0, 0.0], alt_coins=(1e8, 1e8)), states(ALT, ALT),
                          strategy(fee=0.0, impact=0.5, capital=1e6))  # fmt: skip
    assert liquid.cost is not None and liquid.cost[1, 0] == pytest.approx(0.5 * np.sqrt(5e5 / 1e8))


@given(st.lists(st.floats(1.0, 1e10), min_size=1, max_size=8), st.floats(0.0, 1e9), st.floats(0.0, 2.0))
def test_liquidity_table_prices_each_coin(volumes: list[float], traded: float, k: float) -> None:
    """The binary-search pricing equals the sum over coins of ``w_i * min(1, k √(w_i X / v_i))``."""
    v = np.array(volumes)
    w = np.arange(1.0, v.size + 1)
    w /= w.sum()
    table = Liquidity.of([(np.ones((1, 1)), np.ones((1, 1))), (w[None, :], v[None, :])])
    got = table.slippage(0, np.array([1]), np.array([traded]), np.array([k]))[0]
    want = float((w * np.minimum(1.0, k * np.sqrt(w * traded / v))).sum())
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_threshold_lets_weights_drift() -> None:
    # 50/50 after day 1; BTC +10 % on day 2 drifts BTC to 0.55 / 1.05 = 0.5238 (2.38 points off)
    mk = market([0.0, 0.0, 0.1], [0.0, 0.0, 0.0])
    drift = 0.55 / 1.05 - 0.5
    held = run_backtest(mk, states(NEUTRAL, NEUTRAL, NEUTRAL), strategy(threshold=0.05), keep_weights=True)
    assert held.turnover[2, 0] == 0.0
    assert held.weights is not None and held.weights[2, 0, 0] == pytest.approx(0.55 / 1.05)
    traded = run_backtest(mk, states(NEUTRAL, NEUTRAL, NEUTRAL), strategy(threshold=0.01))
    assert traded.turnover[2, 0] == pytest.approx(drift)  # sell 2.38 points of BTC, buy as much of alts
    assert traded.cost[2, 0] == pytest.approx(2 * drift * 0.001)


def test_many_parameter_sets_match_one_at_a_time() -> None:
    rng = np.random.default_rng(4)
    n = 300
    mk = market(list(rng.normal(0, 0.04, n)), list(rng.normal(0, 0.06, n)), volume=1e7)
    sig = rng.integers(-1, 3, size=(n, 2)).astype(np.int8)
    base = strategy(4, spread=5.0, impact=0.3, threshold=0.02)
    strat = Strategy(
        base.legs,
        np.array([0, 1, 0, 1]),
        base.allocation,
        np.array([0.0, 0.02, 0.1, 0.05]),
        np.array([0.0, 10.0, 25.0, 5.0]),
        base.spread_bps,
        base.impact,
        np.array([1e4, 1e6, 1e5, 1e7]),
    )
    together = run_backtest(mk, sig, strat)
    for j in range(4):
        alone = run_backtest(mk, sig, strat.take(np.array([j])))
        np.testing.assert_allclose(together.returns[:, j], alone.returns[:, 0], rtol=1e-12, atol=1e-15)


daily = st.lists(st.floats(-0.5, 1.0), min_size=3, max_size=40)


@settings(max_examples=60, deadline=None)
@given(daily, daily, st.lists(st.integers(-1, 2), min_size=40, max_size=40), st.floats(0.0, 100.0),
       st.floats(0.0, 0.2))  # fmt: skip
def test_doubling_fees_never_raises_net_return(btc: list[float], alt: list[float], codes: list[int], fee: float,
                                               threshold: float) -> None:  # fmt: skip
    n = min(len(btc), len(alt))
    mk = market(btc[:n], alt[:n], volume=1e7)
    sig = np.array(codes[:n], dtype=np.int8)[:, None]
    once = run_backtest(mk, sig, strategy(fee=fee, spread=10.0, impact=0.1, threshold=threshold))
    twice = run_backtest(mk, sig, strategy(fee=2 * fee, spread=10.0, impact=0.1, threshold=threshold))
    assert np.prod(1 + twice.returns) <= np.prod(1 + once.returns) * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 58), st.integers(0, 10_000))
def test_no_look_ahead(cut: int, seed: int) -> None:
    """Changing returns and signals after day d leaves every weight, trade and return up to d unchanged."""
    rng = np.random.default_rng(seed)
    n = 60
    btc, alt = rng.normal(0, 0.05, n), rng.normal(0, 0.08, n)
    sig = rng.integers(-1, 3, size=(n, 1)).astype(np.int8)
    btc2, alt2, sig2 = btc.copy(), alt.copy(), sig.copy()
    btc2[cut + 1 :] = rng.normal(0, 0.05, n - cut - 1)
    alt2[cut + 1 :] = -alt2[cut + 1 :]
    sig2[cut + 1 :] = (sig2[cut + 1 :] + 1) % 3
    strat = strategy(spread=5.0, impact=0.2, threshold=0.03)
    a = run_backtest(market(list(btc), list(alt), volume=1e7), sig, strat, keep_weights=True)
    b = run_backtest(market(list(btc2), list(alt2), volume=1e7), sig2, strat, keep_weights=True)
    assert a.weights is not None and b.weights is not None
    np.testing.assert_array_equal(a.weights[: cut + 1], b.weights[: cut + 1])
    np.testing.assert_array_equal(a.returns[: cut + 1], b.returns[: cut + 1])
    np.testing.assert_array_equal(a.turnover[: cut + 1], b.turnover[: cut + 1])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 58), st.integers(0, 10_000))
def test_a_signal_trades_the_next_day_at_the_earliest(cut: int, seed: int) -> None:
    """Changing the signal from day d on leaves the weights held after day d's trades (and every return up to d)
    unchanged: day d's signal is traded on day d + 1."""
    rng = np.random.default_rng(seed)
    n = 60
    btc, alt = rng.normal(0, 0.05, n), rng.normal(0, 0.08, n)
    sig = rng.integers(-1, 3, size=(n, 1)).astype(np.int8)
    sig2 = sig.copy()
    sig2[cut:] = (sig2[cut:] + 1) % 3
    strat = strategy(spread=5.0, impact=0.2)
    mk = market(list(btc), list(alt), volume=1e7)
    a = run_backtest(mk, sig, strat, keep_weights=True)
    b = run_backtest(mk, sig2, strat, keep_weights=True)
    assert a.weights is not None and b.weights is not None
    np.testing.assert_array_equal(a.weights[: cut + 1], b.weights[: cut + 1])
    np.testing.assert_array_equal(a.returns[: cut + 1], b.returns[: cut + 1])
    assert not np.array_equal(a.weights[cut + 1], b.weights[cut + 1])  # the change is traded the next day


def test_bad_strategy_is_refused() -> None:
    mk = market([0.0, 0.1], [0.0, 0.1])
    bad = strategy()
    bad = Strategy(bad.legs, bad.series, bad.allocation * 2, bad.threshold, bad.fee_bps, bad.spread_bps,
                   bad.impact, bad.capital)  # fmt: skip
    with pytest.raises(ValueError, match="sum to 1"):
        run_backtest(mk, states(BTC, BTC), bad)
    with pytest.raises(ValueError, match="T, Q"):
        run_backtest(mk, states(BTC), strategy())


def test_basket_holds_a_coin_while_it_ranks_and_takes_its_crash() -> None:
    """Survivorship: coin 1 ranks first on days 0-1, crashes 90 % on day 2 and has no price on day 3 (it died).
    The basket holds it and takes the crash, then loses what was left of it."""
    price = np.array([[10.0, 5.0, 2.0], [10.0, 5.0, 2.0], [10.0, 0.5, 2.2], [10.0, np.nan, 2.2]])
    cap = np.array([[1e9, 9e8, 1e8], [1e9, 9e8, 1e8], [1e9, 9e7, 1e8], [1e9, np.nan, 1e8]])
    members = np.array([[1, 2], [1, 2], [2, 1], [2, NO_COIN]], dtype=np.int32)  # the ranking of each day
    vol = np.full(price.shape, 1e7)
    # formed on day 0, held all along (monthly): day 2 is ½ × −90 % + ½ × +10 % = −40 %; on day 3 coin 1's
    # 0.05 of the 0.6 left is lost: 0.55 / 0.6 − 1
    b = build_basket(members, price, cap, vol, weighting="equal", rebalance_days=30)
    assert b.returns.tolist() == pytest.approx([0.0, 0.0, -0.4, 0.55 / 0.6 - 1])
    assert b.turnover.tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0])  # bought on day 0, nothing traded after
    assert b.members.tolist() == [[1, 2], [1, 2], [1, 2], [NO_COIN, 2]]
    assert b.weights[2].tolist() == pytest.approx([0.05 / 0.6, 0.55 / 0.6])
    # re-formed every day: day 2's basket is ½ coin 1 again, and all of that half is lost on day 3
    d = build_basket(members, price, cap, vol, weighting="equal", rebalance_days=1)
    assert d.returns.tolist() == pytest.approx([0.0, 0.0, -0.4, -0.5])
    drifted = np.array([0.05, 0.55]) / 0.6
    assert d.turnover.tolist() == pytest.approx([1.0, 0.0, np.abs(drifted - 0.5).sum(), 0.0])
    cw = build_basket(members, price, cap, vol, weighting="cap", rebalance_days=1)
    assert cw.returns[2] == pytest.approx(0.9 * -0.9 + 0.1 * 0.1)
    # impact factor of two equal halves with a volume of 1e7 each: 2 × 0.5^1.5 / √1e7
    assert d.impact_factor[0] == pytest.approx(2 * 0.5**1.5 / np.sqrt(1e7))


def test_basket_drifts_then_sells_a_coin_that_left_the_ranking() -> None:
    """Coin 0 doubles on day 1; on day 2 (the rebalance) the ranking is coins 1 and 2: coin 0 is sold there."""
    price = np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 1.0], [2.0, 1.0, 1.0], [2.0, 1.0, 2.0]])
    members = np.array([[0, 1], [0, 1], [1, 2], [1, 2]], dtype=np.int32)
    vol = np.full(price.shape, 1e6)
    b = build_basket(members, price, price, vol, weighting="equal", rebalance_days=2)
    assert b.rebalanced.tolist() == [True, False, True, False]
    assert b.returns.tolist() == pytest.approx([0.0, 0.5, 0.0, 0.5])  # day 1 from ½ × +100 %; day 3 ½ × +100 %
    assert b.weights[1].tolist() == pytest.approx([2 / 3, 1 / 3])  # drifted, not re-weighted on day 1
    assert b.members[1].tolist() == [0, 1] and b.members[2].tolist() == [1, 2]
    dw = [2 / 3, 0.5 - 1 / 3, 0.5]  # sell coin 0, top up coin 1, buy coin 2
    assert b.turnover[2] == pytest.approx(sum(dw))
    assert b.inner_impact[2] == pytest.approx(sum(x**1.5 for x in dw) / 1e3)
    # a drift trigger of 0.1: coin 0's weight is 1/6 off on day 1, so the basket re-forms that day
    t = build_basket(members, price, price, vol, weighting="equal", rebalance_days=30, drift=0.1)
    assert t.rebalanced.tolist() == [True, True, False, False]
    assert t.weights[1].tolist() == pytest.approx([0.5, 0.5])


def test_basket_buys_only_liquid_coins_not_trading_as_stablecoins() -> None:
    """Coin 1's volume is below the minimum, coin 2's is unknown, coin 3 stayed within 5 % of 1 USD for 3 days."""
    price = np.array([[5.0, 2.0, 3.0, 1.0], [6.0, 2.0, 3.0, 1.01], [7.0, 2.0, 3.0, 0.99]])
    vol = np.array([[1e6, 1e4, np.nan, 1e9]] * 3)
    members = np.tile(np.array([0, 1, 2, 3], dtype=np.int32), (3, 1))
    b = build_basket(members, price, price, vol, rebalance_days=1, min_volume=1e5, peg_days=3)
    assert b.members[:2, :2].tolist() == [[0, 3], [0, 3]]  # the peg needs 3 days of evidence
    assert b.members[2].tolist() == [0, NO_COIN, NO_COIN, NO_COIN]
    assert b.weights[2].tolist() == [1.0, 0.0, 0.0, 0.0]
    none = build_basket(members, price, price, vol, rebalance_days=1, min_volume=1e12)
    assert (none.members == NO_COIN).all() and not none.returns.any()  # nothing investable: no basket


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    day=st.integers(1, 28),
    rebalance=st.integers(1, 9),
    drift=st.sampled_from([None, 0.05, 0.2]),
)
def test_basket_has_no_look_ahead(seed: int, day: int, rebalance: int, drift: float | None) -> None:
    """Changing prices, caps, volumes and rankings after day d leaves the basket up to d unchanged."""
    rng = np.random.default_rng(seed)
    n_days, n_coins = 30, 8

    def draw() -> tuple[np.ndarray, ...]:
        price = np.exp(np.cumsum(rng.normal(0, 0.2, (n_days, n_coins)), axis=0))
        price[rng.random(price.shape) < 0.1] = np.nan  # coins without a price some days
        members = np.argsort(-rng.random((n_days, n_coins)), axis=1)[:, :4].astype(np.int32)
        return price, price * rng.uniform(1, 3, n_coins), rng.uniform(0, 2e6, (n_days, n_coins)), members

    first, second = draw(), draw()
    mixed = tuple(np.concatenate([a[: day + 1], b[day + 1 :]]) for a, b in zip(first, second, strict=True))
    kw = {"rebalance_days": rebalance, "drift": drift, "min_volume": 5e5, "peg_days": 3}
    a = build_basket(first[3], *first[:3], **kw)  # type: ignore[arg-type]
    b = build_basket(mixed[3], *mixed[:3], **kw)  # type: ignore[arg-type]
    upto = slice(0, day + 1)
    for name in ("returns", "turnover", "inner_impact", "weights", "members", "rebalanced"):
        np.testing.assert_array_equal(getattr(a, name)[upto], getattr(b, name)[upto], err_msg=name)
    # the ranking of day d forms the holdings of d → d + 1, never the return of day d
    ranked = np.concatenate([first[3][:day], second[3][day:]])
    c = build_basket(ranked, *mixed[:3], **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a.returns[upto], c.returns[upto])


def test_basket_rebalancing_costs_include_impact() -> None:
    """Holding all of the alt leg on a day its basket re-weights with ``inner_impact`` = 1e-3 and turnover 1:
    10 bp of fee on the turnover plus 0.5 × √E × 1e-3 of impact, E ≈ 1e6 the equity after day 1's purchase
    (10 bp of fee, a negligible impact against a volume of 1e18)."""
    mk = market([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], volume=1e18)
    inner = np.zeros_like(mk.returns)
    inner[2, 2] = 1e-3
    turn = np.zeros_like(mk.returns)
    turn[2, 2] = 1.0
    with_inner = Market(mk.returns, mk.liquidity, turn, mk.is_cash, inner)
    res = run_backtest(with_inner, states(ALT, ALT, ALT), strategy(fee=10.0, impact=0.5, capital=1e6))
    assert res.cost is not None
    equity = 1e6 * (1 - 0.001 - 0.5 * np.sqrt(1e6 / 1e18))
    assert res.cost[2, 0] == pytest.approx(0.001 + 0.5 * np.sqrt(equity) * 1e-3)
    assert res.cost[1, 0] == pytest.approx(0.001, abs=1e-6)  # no re-weighting on day 1: no inner cost
    # an impact beyond what was re-weighted (0.2 of the leg here) loses at most that
    turn[2, 2], inner[2, 2] = 0.2, 1.0
    res = run_backtest(with_inner, states(ALT, ALT, ALT), strategy(fee=10.0, impact=0.5, capital=1e6))
    assert res.cost is not None and res.cost[2, 0] == pytest.approx(0.2 * 0.001 + 0.2)


@pytest.mark.parametrize("weighting", ["equal", "cap"])
def test_basket_weights_sum_to_one(weighting: str) -> None:
    price = np.array([[1.0, 2.0, 3.0], [1.1, 2.2, 3.3]])
    members = np.array([[0, 2], [1, NO_COIN]], dtype=np.int32)
    b = build_basket(members, price, price * 10, np.ones_like(price), weighting=weighting)
    assert b.weights.sum(axis=1).tolist() == pytest.approx([1.0, 1.0])
    assert b.returns[1] == pytest.approx(0.1)
