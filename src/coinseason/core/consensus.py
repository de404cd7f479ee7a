"""Consensus across definitions: the season index of many variants at once, and how far the variants agree.

The published Altcoin Season Indices differ in N (top 50, top 100, …), W (30, 90 days, …), whether BTC takes one of
the N places and which coins are left out. A variant's index only depends on the first altcoins of each day's
ranking that have a W-day return (the ``fill`` rule of :mod:`coinseason.core.season`), so one :class:`Ladder` per
exclusion set and W — those altcoins in rank order, ``depth`` deep, with whether each beats BTC — gives every N up
to ``depth``, BTC inside or not, by a cumulative count: the grid of variants costs a few series, not one per
variant.

:func:`consensus` then reads, per day, the variants' values: the share in each season, the median and a band of
quantiles, the season most variants hold and whether a headline variant agrees with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.core.panel import FloatMatrix, IntMatrix
from coinseason.core.season import (
    ALTCOIN_SEASON,
    BITCOIN_SEASON,
    NEUTRAL,
    NO_VALUE,
    SeasonIndex,
    classify_season,
)


@dataclass(frozen=True, slots=True)
class Ladder:
    """Per day, the altcoins a ``fill`` universe takes in rank order (BTC left out), up to ``depth`` of them.

    The top-N universe of a day takes the first ``N`` of them (``N - 1`` when BTC is inside and ranked that day),
    or all when there are fewer: the same coins as :meth:`coinseason.core.engine.SeasonEngine.universe` with
    ``fill_window`` W.
    """

    places: IntMatrix
    """``(n_rows, depth)`` coin positions, NO_COIN past the last altcoin with a W-day return."""
    returns: FloatMatrix
    """``(n_rows, depth)`` W-day returns of :attr:`places` (NaN past the last)."""
    caps: FloatMatrix
    """``(n_rows, depth)`` market caps of :attr:`places` on the day (gap-filled, NaN past the last)."""
    beats: NDArray[np.bool_]
    """``(n_rows, depth)`` whether the place's return beats BTC's (:func:`coinseason.core.season.outperforms`)."""
    n_alts: NDArray[np.int32]
    """Per row, the places taken."""
    btc_ranked: NDArray[np.bool_]
    """Per row, whether BTC is in the day's ranking (so it takes a place when inside)."""
    btc_return: NDArray[np.float64]

    @property
    def depth(self) -> int:
        return int(self.places.shape[1])

    def n_eligible(self, top: int, *, btc_inside: bool) -> NDArray[np.int32]:
        """Per row, the altcoins of the top-``top`` universe (before BTC's return is asked about)."""
        if not 1 <= top <= self.depth:
            raise ValueError(f"the ladder is {self.depth} deep: it has no top {top}")
        places = np.full(self.n_alts.shape, top, dtype=np.int32)
        if btc_inside:
            places -= self.btc_ranked
        return np.minimum(self.n_alts, places)

    def season_index(self, top: int, *, btc_inside: bool, cum_beats: IntMatrix | None = None) -> SeasonIndex:
        """The top-``top`` Altcoin Season Index, as :meth:`coinseason.core.engine.SeasonEngine.season_index` with
        ``fill`` gives it. ``cum_beats`` is :meth:`cumulative_beats`, when the caller asks for many N."""
        n = self.n_eligible(top, btc_inside=btc_inside)
        cum = self.cumulative_beats() if cum_beats is None else cum_beats
        beating = cum[np.arange(n.size), n]
        has_btc = np.isfinite(self.btc_return)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = 100.0 * beating / n
        value = np.where((n > 0) & has_btc, value, np.nan)
        return SeasonIndex(
            value=value,
            n_eligible=np.where(has_btc, n, 0).astype(np.int32),
            n_outperforming=np.where(has_btc, beating, 0).astype(np.int32),
            btc_return=self.btc_return,
        )

    def cumulative_beats(self) -> IntMatrix:
        """``(n_rows, depth + 1)``: column k counts the altcoins among the first k places that beat BTC."""
        cum = np.zeros((self.beats.shape[0], self.depth + 1), dtype=np.int32)
        np.cumsum(self.beats, axis=1, dtype=np.int32, out=cum[:, 1:])
        return cum

    def cap_weighted(self, top: int, *, btc_inside: bool) -> NDArray[np.float64]:
        """Cap-weighted Altcoin Season Index: the percentage of the eligible altcoins' market cap (each coin's
        cap as of the day) held by those that beat BTC; NaN where the count-based index has no value."""
        n = self.n_eligible(top, btc_inside=btc_inside)
        taken = np.arange(self.depth)[None, :] < n[:, None]
        caps = np.where(taken, self.caps, 0.0)
        total = caps.sum(axis=1)
        beating = np.where(self.beats, caps, 0.0).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = 100.0 * beating / total
        ok = (n > 0) & np.isfinite(self.btc_return) & (total > 0)
        return np.where(ok, value, np.nan)


@dataclass(frozen=True, slots=True)
class Consensus:
    """Per day, how a set of variants of the index agree."""

    n_valued: NDArray[np.int32]
    """Variants with a value that day: the shares and quantiles are over these."""
    share_altcoin: NDArray[np.float64]
    share_neutral: NDArray[np.float64]
    share_bitcoin: NDArray[np.float64]
    median: NDArray[np.float64]
    low: NDArray[np.float64]
    """The ``low_q`` quantile of the valued variants' index."""
    high: NDArray[np.float64]
    majority: NDArray[np.int8]
    """The season most valued variants hold (a tie: NEUTRAL); NO_VALUE when none has a value."""
    agreement: NDArray[np.float64]
    """Share of the valued variants in the headline's season (NaN when the headline or every variant has none)."""
    agrees: NDArray[np.bool_]
    """The headline's season is the majority's."""


def consensus(
    values: FloatMatrix,
    headline: NDArray[np.float64],
    *,
    altcoin_at: float = 75.0,
    bitcoin_at: float = 25.0,
    low_q: float = 0.10,
    high_q: float = 0.90,
) -> Consensus:
    """The agreement of ``values`` (``(n_rows, n_variants)`` index values, NaN where a variant has none) per row,
    and of the ``headline`` index (``(n_rows,)``) with the majority. Quantiles are linear between order
    statistics (numpy's default ``linear`` method over the valued variants)."""
    if not 0.0 <= low_q <= 0.5 <= high_q <= 1.0:
        raise ValueError("the band's quantiles must be 0 ≤ low ≤ 0.5 ≤ high ≤ 1")
    code = classify_season(values, altcoin_at=altcoin_at, bitcoin_at=bitcoin_at)
    n_valued = (code != NO_VALUE).sum(axis=1, dtype=np.int32)
    counts = {c: (code == c).sum(axis=1, dtype=np.int32) for c in (ALTCOIN_SEASON, NEUTRAL, BITCOIN_SEASON)}
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = {c: np.where(n_valued > 0, k / n_valued, np.nan) for c, k in counts.items()}
    ordered = np.sort(values, axis=1)  # NaN last
    median, low, high = (_quantile(ordered, n_valued, q) for q in (0.5, low_q, high_q))
    majority = _majority(counts, n_valued)
    head = classify_season(headline, altcoin_at=altcoin_at, bitcoin_at=bitcoin_at)
    held = np.zeros(n_valued.shape, dtype=np.int32)
    for c, k in counts.items():
        held[head == c] = k[head == c]
    with np.errstate(divide="ignore", invalid="ignore"):
        agreement = np.where((n_valued > 0) & (head != NO_VALUE), held / n_valued, np.nan)
    return Consensus(
        n_valued=n_valued,
        share_altcoin=shares[ALTCOIN_SEASON],
        share_neutral=shares[NEUTRAL],
        share_bitcoin=shares[BITCOIN_SEASON],
        median=median,
        low=low,
        high=high,
        majority=majority,
        agreement=agreement,
        agrees=(head == majority) & (head != NO_VALUE),
    )


def _quantile(ordered: FloatMatrix, n: NDArray[np.int32], q: float) -> NDArray[np.float64]:
    """The ``q`` quantile of each row's first ``n`` values (sorted ascending), linear between them."""
    pos = q * np.maximum(n - 1, 0)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    rows = np.arange(n.size)
    a, b = ordered[rows, lo], ordered[rows, hi]
    value = a + (b - a) * (pos - lo)
    value = np.where(hi == lo, a, value)  # no 0 × inf: exact at an order statistic
    return np.where(n > 0, value, np.nan)


def _majority(counts: dict[int, NDArray[np.int32]], n_valued: NDArray[np.int32]) -> NDArray[np.int8]:
    """The season with the most variants; a tie for the most (any two seasons) is NEUTRAL, an undecided call."""
    alt, neu, btc = counts[ALTCOIN_SEASON], counts[NEUTRAL], counts[BITCOIN_SEASON]
    out = np.full(n_valued.shape, NEUTRAL, dtype=np.int8)
    out[(alt > neu) & (alt > btc)] = ALTCOIN_SEASON
    out[(btc > neu) & (btc > alt)] = BITCOIN_SEASON
    out[n_valued == 0] = NO_VALUE
    return out
