"""How fragile a season call is: the coins that would have to change sides for the season to change, and the
coins whose return sits close to BTC's.

An index of ``b`` coins beating BTC among ``n`` eligible becomes ``100 * c / n`` when ``|c - b|`` coins change
sides (from behind BTC to ahead of it, or back). For each season the margin is the smallest such change that
lands in it, found by trying every ``c`` from 0 to ``n`` with the same classification as the index itself
(:func:`coinseason.core.season.classify_season`), so thresholds, ties at a threshold and small universes (where
one coin jumps over the neutral band) need no special case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.core.panel import FloatMatrix
from coinseason.core.season import ALTCOIN_SEASON, BITCOIN_SEASON, NEUTRAL, NO_VALUE, classify_season

NO_CHANGE = -1
"""A margin that does not apply: the day is already in that season, has no value, or cannot reach it."""


@dataclass(frozen=True, slots=True)
class Margin:
    """Per day, the coins that must change sides to reach each other season (:data:`NO_CHANGE` where it does not
    apply), the smallest of them and the season it leads to."""

    season: NDArray[np.int8]
    to_altcoin: NDArray[np.int32]
    to_neutral: NDArray[np.int32]
    to_bitcoin: NDArray[np.int32]
    margin: NDArray[np.int32]
    """The fewest coins that change the season (:data:`NO_CHANGE` on a day without a value)."""
    next_season: NDArray[np.int8]
    """The season that change leads to (NO_VALUE on a day without a value)."""


def season_margin(
    n_beating: NDArray[np.integer],
    n_eligible: NDArray[np.integer],
    *,
    valued: NDArray[np.bool_] | None = None,
    altcoin_at: float = 75.0,
    bitcoin_at: float = 25.0,
) -> Margin:
    """The margin of each day with ``n_beating`` of ``n_eligible`` altcoins ahead of BTC; ``valued`` False for
    days without an index value (default: days with an eligible altcoin)."""
    b = np.asarray(n_beating, dtype=np.int64)
    n = np.asarray(n_eligible, dtype=np.int64)
    ok = (n > 0) if valued is None else (np.asarray(valued, dtype=bool) & (n > 0))
    size = int(n.max(initial=0)) + 1
    c = np.arange(size, dtype=np.int64)[None, :]
    reachable = ok[:, None] & (c <= n[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(reachable, 100.0 * c / np.where(n > 0, n, 1)[:, None], np.nan)
    codes = classify_season(value, altcoin_at=altcoin_at, bitcoin_at=bitcoin_at)
    with np.errstate(divide="ignore", invalid="ignore"):
        now = classify_season(
            np.where(ok, 100.0 * b / np.where(n > 0, n, 1), np.nan), altcoin_at=altcoin_at, bitcoin_at=bitcoin_at
        )
    distance = np.abs(c - b[:, None])
    far = np.iinfo(np.int64).max
    to: dict[int, NDArray[np.int32]] = {}
    for season in (ALTCOIN_SEASON, NEUTRAL, BITCOIN_SEASON):
        nearest = np.where(codes == season, distance, far).min(axis=1, initial=far)
        apply = ok & (now != season) & (nearest < far)
        to[season] = np.where(apply, nearest, NO_CHANGE).astype(np.int32)
    stacked = np.stack(
        [np.where(to[s] >= 0, to[s].astype(np.int64), far) for s in (NEUTRAL, ALTCOIN_SEASON, BITCOIN_SEASON)]
    )
    best = stacked.min(axis=0)
    which = np.array([NEUTRAL, ALTCOIN_SEASON, BITCOIN_SEASON], dtype=np.int8)[stacked.argmin(axis=0)]
    found = ok & (best < far)
    return Margin(
        season=now,
        to_altcoin=to[ALTCOIN_SEASON],
        to_neutral=to[NEUTRAL],
        to_bitcoin=to[BITCOIN_SEASON],
        margin=np.where(found, best, NO_CHANGE).astype(np.int32),
        next_season=np.where(found, which, NO_VALUE).astype(np.int8),
    )


@dataclass(frozen=True, slots=True)
class CloseCalls:
    """Per day, the eligible altcoins whose W-day return is within the band of BTC's."""

    close: NDArray[np.bool_]
    """``(n_rows, k)``: the coin is eligible and within the band."""
    n_above: NDArray[np.int32]
    """Close coins that beat BTC: they would flip first if the index fell."""
    n_below: NDArray[np.int32]
    """Close coins behind BTC: they would flip first if the index rose."""
    close_call: NDArray[np.bool_]
    """The close coins alone could change the season: at least ``margin`` of them on the side that must flip."""


def close_calls(
    returns: FloatMatrix,
    eligible: NDArray[np.bool_],
    beats: NDArray[np.bool_],
    btc_return: NDArray[np.float64],
    *,
    band: float,
    margin: Margin,
) -> CloseCalls:
    """The coins whose return is at most ``band`` (a return difference: 0.05 is 5 percentage points) from BTC's.
    ``returns``, ``eligible`` and ``beats`` are ``(n_rows, k)`` over each day's universe, ``margin`` that universe's
    :func:`season_margin`."""
    if not band >= 0:
        raise ValueError(f"the band must be a non-negative return difference, not {band}")
    with np.errstate(invalid="ignore"):
        close = eligible & np.isfinite(returns) & (np.abs(returns - btc_return[:, None]) <= band)
    n_above = (close & beats).sum(axis=1, dtype=np.int32)
    n_below = (close & ~beats).sum(axis=1, dtype=np.int32)
    rises = margin.next_season == ALTCOIN_SEASON
    rises |= (margin.next_season == NEUTRAL) & (margin.season == BITCOIN_SEASON)
    falls = margin.next_season == BITCOIN_SEASON
    falls |= (margin.next_season == NEUTRAL) & (margin.season == ALTCOIN_SEASON)
    need = margin.margin
    close_call = (need > 0) & ((rises & (n_below >= need)) | (falls & (n_above >= need)))
    return CloseCalls(close=close, n_above=n_above, n_below=n_below, close_call=close_call)
