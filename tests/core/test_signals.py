"""Signal rules on hand-made series, and no look-ahead."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from coinseason.core.signals import (
    ALT,
    BTC,
    NEUTRAL,
    NO_SIGNAL,
    confirmed,
    contrarian_state,
    momentum_state,
    season_state,
    transitions,
)

N, B, A, X = NEUTRAL, BTC, ALT, NO_SIGNAL


def test_season_state_uses_inclusive_thresholds() -> None:
    index = np.array([np.nan, 0.0, 25.0, 25.1, 74.9, 75.0, 100.0])
    assert season_state(index).tolist() == [X, B, B, N, N, A, A]
    # one threshold pair per column
    two = season_state(np.column_stack([index, index]), altcoin_at=[75.0, 50.0], bitcoin_at=[25.0, 10.0])
    assert two[:, 1].tolist() == [X, B, N, N, A, A, A]


def test_momentum_compares_dominance_with_lookback_days_before() -> None:
    dom = np.array([50.0, 50.5, 52.0, 49.0, 49.0])
    # changes over 2 days: -, -, +2.0, -1.5, -3.0
    assert momentum_state(dom, lookback=2, band=1.0).tolist() == [X, X, B, A, A]
    assert momentum_state(dom, lookback=2, band=2.0).tolist() == [X, X, N, N, A]


def test_contrarian_buys_alts_at_extremes() -> None:
    index = np.array([5.0, 50.0, 50.0, 95.0, np.nan])
    dom = np.array([40.0, 70.0, 40.0, 40.0, 40.0])
    assert contrarian_state(index, dom).tolist() == [A, A, N, B, X]


def test_confirmation_waits_for_consecutive_days() -> None:
    raw = np.array([X, B, B, A, B, A, A, A, N, N], dtype=np.int8)
    assert confirmed(raw, days=1).tolist() == raw.tolist()
    assert confirmed(raw, days=2).tolist() == [X, X, B, B, B, B, A, A, A, N]
    # hold: a neutral day keeps the season confirmed before it
    assert confirmed(raw, days=1, hold_neutral=True).tolist() == [X, B, B, A, B, A, A, A, A, A]
    # columns with their own rule
    both = confirmed(np.column_stack([raw, raw]), days=np.array([1, 3]))
    assert both[:, 1].tolist() == [X, X, X, X, X, X, X, A, A, A]
    assert transitions(confirmed(raw, days=2)).tolist() == [2, 6, 9]


@given(st.lists(st.floats(0, 100), min_size=5, max_size=80), st.integers(0, 79), st.integers(1, 5))
def test_no_look_ahead(values: list[float], cut: int, days: int) -> None:
    """Changing every value after day d leaves every state up to d unchanged."""
    index = np.array(values)
    d = min(cut, index.size - 1)
    changed = index.copy()
    changed[d + 1 :] = 100.0 - changed[d + 1 :]
    dom = index / 2 + 30
    dom_changed = changed / 2 + 30
    for make in (
        lambda i, _: confirmed(season_state(i), days=days, hold_neutral=True),
        lambda _, dm: confirmed(momentum_state(dm, lookback=3), days=days),
        lambda i, dm: contrarian_state(i, dm),
    ):
        assert make(index, dom)[: d + 1].tolist() == make(changed, dom_changed)[: d + 1].tolist()
