"""Price pegs: does a token trade at a fixed ratio to a reference (the US dollar, BTC, ETH, ...)?

A token is *pegged* to a reference when at least ``min_share`` of its daily price ratios to the reference lie
in ``band`` and the median ratio lies in ``median_band``. The ratio is the token's price divided by the
reference's price on the same UTC day (for the US dollar, the USD price itself).

The bands are those of the coinseason CoinGecko classification (``shared/data/coingecko/README.md``, section 2):

- US dollar: band [0.95, 1.05], median band [0.98, 1.02] (:data:`USD_BAND`, :data:`USD_MEDIAN_BAND`);
- another asset (BTC, ETH, SOL, BNB, ...): band [0.9, 1.35], median band [0.95, 1.25]
  (:data:`ASSET_BAND`, :data:`ASSET_MEDIAN_BAND`). The upper side is wide because liquid-staking tokens that
  accrue rewards in their price drift above 1 (rETH, wstETH trade at 1.1-1.2 ETH).

NaN and infinite ratios are ignored. Fewer than ``min_obs`` finite ratios is not enough evidence: not pegged.

Point in time (:func:`trailing_peg`): the same test on each day over the trailing :data:`TRAILING_DAYS` days only,
plus one condition a peg meets and a coincidence does not: the ratio moves with the reference (its median
day-to-day move is at most :data:`MAX_MOVE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

Band = tuple[float, float]

USD_BAND: Final[Band] = (0.95, 1.05)
USD_MEDIAN_BAND: Final[Band] = (0.98, 1.02)
ASSET_BAND: Final[Band] = (0.9, 1.35)
ASSET_MEDIAN_BAND: Final[Band] = (0.95, 1.25)
MIN_SHARE: Final = 0.7
MIN_OBS: Final = 30


@dataclass(frozen=True, slots=True)
class PegStats:
    """What a peg test saw: ``share`` of the ``n_obs`` finite ratios inside the band, and their ``median``."""

    share: float
    median: float
    n_obs: int


def _finite(ratio: ArrayLike) -> NDArray[np.float64]:
    values = np.asarray(ratio, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def _check_band(name: str, band: Band) -> None:
    low, high = band
    if not low <= high:
        raise ValueError(f"{name}: low {low} is above high {high}")


def peg_stats(ratio: ArrayLike, *, band: Band) -> PegStats:
    """Share in ``band``, median and count of the finite ratios (NaN share and median when there is none)."""
    _check_band("band", band)
    values = _finite(ratio)
    if values.size == 0:
        return PegStats(share=float("nan"), median=float("nan"), n_obs=0)
    low, high = band
    share = float(np.count_nonzero((values >= low) & (values <= high)) / values.size)
    return PegStats(share=share, median=float(np.median(values)), n_obs=int(values.size))


def is_pegged_stats(
    stats: PegStats,
    *,
    median_band: Band,
    min_share: float = MIN_SHARE,
    min_obs: int = MIN_OBS,
) -> bool:
    """True when the ratios summarised by ``stats`` (:func:`peg_stats`) show a peg to the reference.

    Pegged means: at least ``min_share`` of the finite ratios lie in the band the stats were taken with (bounds
    included) **and** their median lies in ``median_band``. Use ``USD_BAND`` and ``USD_MEDIAN_BAND`` ([0.95,
    1.05] and [0.98, 1.02]) for a US-dollar peg, ``ASSET_BAND`` and ``ASSET_MEDIAN_BAND`` ([0.9, 1.35] and
    [0.95, 1.25]) for a peg to BTC, ETH or another asset, as in the CoinGecko data README. With fewer than
    ``min_obs`` finite ratios the answer is False: too few days to tell a peg from a coincidence.
    """
    _check_band("median_band", median_band)
    if stats.n_obs < min_obs or stats.n_obs == 0:
        return False
    low, high = median_band
    return bool(stats.share >= min_share and low <= stats.median <= high)


# -- point in time: the test over a trailing window, day by day ---------------------------------------------

TRAILING_DAYS: Final = 180
"""Days the point-in-time test looks back over: the day itself and the 179 before."""
MAX_MOVE: Final = 0.01
"""Largest median day-to-day move of the ratio, ``|Δ ln ratio|``, of a peg: a token pegged to a reference moves
with it (a wrapped or staked token by under 0.5 % a day, a stablecoin against the dollar by less), while two
unrelated coins whose prices happen to lie close for months move apart by several percent a day."""
MIN_MOVES: Final = 20
"""Fewest day-to-day moves (two consecutive priced days) the window must hold to judge the moves."""


@dataclass(frozen=True, slots=True)
class TrailingPeg:
    """The point-in-time peg test of each column on each day (:func:`trailing_peg`)."""

    pegged: NDArray[np.bool_]
    """``(n_days, k)``: the test passes on the window ending that day."""
    share: NDArray[np.float64]
    """``(n_days, k)``: share of the window's finite ratios inside the band (NaN with none)."""


def _trailing_sum(flags: NDArray[np.bool_], window: int) -> NDArray[np.int32]:
    """Per row, how many of the rows ``row - window + 1`` to ``row`` are True, per column."""
    total = np.cumsum(flags, axis=0, dtype=np.int32)
    if window >= total.shape[0]:
        return total
    out = total.copy()
    out[window:] -= total[:-window]
    return out


def trailing_peg(
    ratio: ArrayLike,
    *,
    band: Band,
    median_band: Band,
    window: int = TRAILING_DAYS,
    min_share: float = MIN_SHARE,
    min_obs: int = MIN_OBS,
    max_move: float = MAX_MOVE,
    min_moves: int = MIN_MOVES,
) -> TrailingPeg:
    """The peg test of each column of ``ratio`` (``(n_days, k)`` daily ratios, NaN where unknown) over the
    trailing ``window`` days of each day: what is known on that day, and nothing later.

    Pegged on day d when, over the finite ratios of days d - window + 1 to d (at least ``min_obs``):

    * at least ``min_share`` of them lie in ``band`` (bounds included);
    * their median lies in ``median_band``: fewer than half lie below it and fewer than half above it (for an
      even count both middle values must lie in it, a hair stricter than their mean);
    * the ratio moves with the reference: of the day-to-day moves ``|ln r(t) - ln r(t - 1)|`` into the days of
      the window (at least ``min_moves``), at least half are at most ``max_move``.
    """
    _check_band("band", band)
    _check_band("median_band", median_band)
    if window < 1:
        raise ValueError(f"window must be at least 1 day, not {window}")
    values = np.asarray(ratio, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    low, high = band
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(values) & (values > 0)
        inside = finite & (values >= low) & (values <= high)
    n = _trailing_sum(finite, window)
    n_inside = _trailing_sum(inside, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, n_inside / np.maximum(n, 1), np.nan)
    pegged = (n >= max(min_obs, 1)) & (n_inside >= min_share * n)
    maybe = np.flatnonzero(pegged.any(axis=0))  # the other conditions only for columns that can still pass
    if maybe.size:
        part, count = values[:, maybe], n[:, maybe]
        with np.errstate(invalid="ignore", divide="ignore"):
            n_below = _trailing_sum(finite[:, maybe] & (part < median_band[0]), window)
            n_above = _trailing_sum(finite[:, maybe] & (part > median_band[1]), window)
            log_ratio = np.log(np.where(finite[:, maybe], part, np.nan))
            move = np.abs(np.diff(log_ratio, axis=0, prepend=np.nan))
        moved = np.isfinite(move)
        n_moves = _trailing_sum(moved, window)
        n_small = _trailing_sum(moved & (move <= max_move), window)
        pegged[:, maybe] &= (
            (2 * n_below < count) & (2 * n_above < count) & (n_moves >= min_moves) & (2 * n_small >= n_moves)
        )
    return TrailingPeg(pegged=pegged, share=share)


def median_move(ratio: ArrayLike) -> float:
    """Median ``|Δ ln ratio|`` between consecutive finite ratios of consecutive days (NaN with none)."""
    values = np.asarray(ratio, dtype=np.float64).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = np.where(np.isfinite(values) & (values > 0), np.log(np.abs(values)), np.nan)
    moves = np.abs(np.diff(log_ratio))
    moves = moves[np.isfinite(moves)]
    return float(np.median(moves)) if moves.size else float("nan")
