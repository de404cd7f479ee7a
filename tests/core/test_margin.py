"""The margin to the next season and the close coins: hand-computed cases and properties."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from coinseason.core.margin import NO_CHANGE, close_calls, season_margin
from coinseason.core.season import ALTCOIN_SEASON, BITCOIN_SEASON, NEUTRAL, NO_VALUE


def one(b: int, n: int, **thresholds: float) -> dict[str, int]:
    m = season_margin(np.array([b]), np.array([n]), **thresholds)
    return {
        "season": int(m.season[0]),
        "to_altcoin": int(m.to_altcoin[0]),
        "to_neutral": int(m.to_neutral[0]),
        "to_bitcoin": int(m.to_bitcoin[0]),
        "margin": int(m.margin[0]),
        "next": int(m.next_season[0]),
    }


def test_neutral_day_of_a_top_50() -> None:
    # 22 of 49 beat BTC (44.9, neutral). Altcoin season needs 100·c/49 ≥ 75, c ≥ 36.75: 37, so 15 coins more;
    # Bitcoin season needs 100·c/49 ≤ 25, c ≤ 12.25: 12, so 10 coins fewer. The nearer is Bitcoin season.
    assert one(22, 49) == {
        "season": NEUTRAL,
        "to_altcoin": 15,
        "to_neutral": NO_CHANGE,
        "to_bitcoin": 10,
        "margin": 10,
        "next": BITCOIN_SEASON,
    }


def test_altcoin_season_one_coin_above_the_threshold() -> None:
    # 37 of 49 = 75.5: one coin fewer (36 = 73.5) is neutral; Bitcoin season needs 12: 25 coins fewer.
    assert one(37, 49) == {
        "season": ALTCOIN_SEASON,
        "to_altcoin": NO_CHANGE,
        "to_neutral": 1,
        "to_bitcoin": 25,
        "margin": 1,
        "next": NEUTRAL,
    }


def test_a_value_exactly_at_a_threshold_holds_its_season() -> None:
    # 3 of 4 = 75 exactly: altcoin season (≥ 75). 2 of 4 = 50 is neutral, 1 of 4 = 25 is Bitcoin season (≤ 25).
    assert one(3, 4) == {
        "season": ALTCOIN_SEASON,
        "to_altcoin": NO_CHANGE,
        "to_neutral": 1,
        "to_bitcoin": 2,
        "margin": 1,
        "next": NEUTRAL,
    }
    assert one(1, 4)["season"] == BITCOIN_SEASON
    assert one(1, 4)["to_neutral"] == 1
    assert one(1, 4)["to_altcoin"] == 2


def test_a_universe_too_small_for_a_neutral_index_jumps_seasons() -> None:
    # One eligible altcoin: 100 (altcoin) or 0 (Bitcoin); no count is neutral.
    assert one(1, 1) == {
        "season": ALTCOIN_SEASON,
        "to_altcoin": NO_CHANGE,
        "to_neutral": NO_CHANGE,
        "to_bitcoin": 1,
        "margin": 1,
        "next": BITCOIN_SEASON,
    }


def test_other_thresholds() -> None:
    # Thresholds 60/40 on 10 coins: 5 beat (50, neutral); 6 → 60 altcoin (1 more), 4 → 40 Bitcoin (1 fewer). A tie
    # between the two: altcoin season is named.
    got = one(5, 10, altcoin_at=60.0, bitcoin_at=40.0)
    assert (got["to_altcoin"], got["to_bitcoin"], got["margin"], got["next"]) == (1, 1, 1, ALTCOIN_SEASON)


def test_a_day_without_a_value_has_no_margin() -> None:
    m = season_margin(np.array([3, 0]), np.array([5, 0]), valued=np.array([False, True]))
    assert m.season.tolist() == [NO_VALUE, NO_VALUE]
    assert m.margin.tolist() == [NO_CHANGE, NO_CHANGE]
    assert m.next_season.tolist() == [NO_VALUE, NO_VALUE]


def test_close_coins_by_hand() -> None:
    # BTC +10 %; the altcoins +12 % (beats, 2 points: close), +30 % (beats, far), +9 % (behind, 1 point: close),
    # -40 % (behind, far), NaN (not eligible). 2 of 4 beat: 50, neutral; altcoin season needs 3 of 4 (one of the
    # close coins behind must flip: a close call with a 5-point band); Bitcoin season needs 1 (one coin fewer).
    returns = np.array([[0.12, 0.30, 0.09, -0.40, np.nan]])
    eligible = np.array([[True, True, True, True, False]])
    beats = np.array([[True, True, False, False, False]])
    btc = np.array([0.10])
    margin = season_margin(np.array([2]), np.array([4]))
    assert (int(margin.margin[0]), int(margin.to_altcoin[0]), int(margin.to_bitcoin[0])) == (1, 1, 1)
    calls = close_calls(returns, eligible, beats, btc, band=0.05, margin=margin)
    assert calls.close.tolist() == [[True, False, True, False, False]]
    assert (int(calls.n_above[0]), int(calls.n_below[0])) == (1, 1)
    assert bool(calls.close_call[0])
    narrow = close_calls(returns, eligible, beats, btc, band=0.005, margin=margin)
    assert (int(narrow.n_above[0]), int(narrow.n_below[0]), bool(narrow.close_call[0])) == (0, 0, False)


def classify_count(c: int, n: int) -> int:
    """The season of ``c`` of ``n`` beating BTC, from the thresholds written out (75/25)."""
    value = 100.0 * c / n
    return ALTCOIN_SEASON if value >= 75 else BITCOIN_SEASON if value <= 25 else NEUTRAL


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_margin_is_the_fewest_flips_that_change_the_season(case: tuple[int, int]) -> None:
    b, n = case
    m = season_margin(np.array([b]), np.array([n]))
    now = classify_count(b, n)
    assert int(m.season[0]) == now
    margin = int(m.margin[0])
    assert margin >= 1  # a valued day always needs a coin to flip
    for c in range(max(0, b - margin + 1), min(n, b + margin - 1) + 1):  # fewer flips keep the season
        assert classify_count(c, n) == now
    landed = {classify_count(c, n) for c in (b - margin, b + margin) if 0 <= c <= n}
    assert int(m.next_season[0]) in landed
    for season, to in ((ALTCOIN_SEASON, m.to_altcoin), (NEUTRAL, m.to_neutral), (BITCOIN_SEASON, m.to_bitcoin)):
        k = int(to[0])
        reachable = [abs(c - b) for c in range(n + 1) if classify_count(c, n) == season]
        if season == now or not reachable:
            assert k == NO_CHANGE
        else:
            assert k == min(reachable)
