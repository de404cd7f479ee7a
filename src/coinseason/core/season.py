"""Altcoin Season Index, Bitcoin Season Index, season classification and season periods.

Definitions (after blockchaincenter.net's Altcoin Season Index, generalised to any N, W and exclusion set):

* Universe on day d: the top N coins by market cap as of d, excluded classes removed first
  (:func:`coinseason.core.universe.rank_order`), BTC counted inside the N by default.
* Return of coin c over W days: ``r_c = p_c(d) / p_c(d - W) - 1`` on gap-filled prices
  (:func:`coinseason.core.panel.forward_fill`: a price missing on a day is taken from at most ``gap`` days before).
* Eligible altcoins: coins of the universe other than BTC with a positive price on d and on d - W.
  A coin listed after d - W (fewer than W days of history) is never eligible. Two rules for its place:
  ``fill`` (default, :func:`fill_places`) gives it to the next-ranked coin that has W days of history, so
  the index is always over N places as blockchaincenter's published values imply (their whole numbers fit
  49 altcoins beside BTC, e.g. 47 = 23/49, not the 46 a top 50 with young coins left out would give);
  ``strict`` (:func:`coinseason.core.universe.top_n`) leaves it empty.
* A coin beats BTC when ``r_c > r_btc`` by more than a relative 1e-12 (returns equal to float precision do not
  beat BTC, so the index cannot move on rounding noise).
* ``ASI(d) = 100 * n_beating / n_eligible``; NaN when BTC has no W-day return or no altcoin is eligible.
  ``BSI(d) = 100 - ASI(d)``: the share that did not beat BTC. Values are exact ratios; the published-style
  integer is ``floor(ASI + 0.5)`` (half up), as blockchaincenter shows whole numbers.
* Minimum universe (:func:`with_minimum`): a day with fewer than ``min(M, altcoin places)`` eligible altcoins has
  no value (NaN), so an index over a handful of coins (2013–14) is not presented as a fact; the altcoin places
  are N, less BTC's when it is inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.core.panel import CoinMajor, FloatMatrix, IntMatrix, gather
from coinseason.core.universe import NO_COIN

BITCOIN_SEASON = -1
NEUTRAL = 0
ALTCOIN_SEASON = 1
NO_VALUE = 9
"""Season codes, as int8."""

SEASON_NAMES = {BITCOIN_SEASON: "bitcoin", NEUTRAL: "neutral", ALTCOIN_SEASON: "altcoin", NO_VALUE: "none"}

TIE_TOLERANCE = 1e-12


@dataclass(frozen=True, slots=True)
class SeasonIndex:
    """One value per requested day."""

    value: NDArray[np.float64]
    """Altcoin Season Index, 0-100, NaN where undefined."""
    n_eligible: NDArray[np.int32]
    n_outperforming: NDArray[np.int32]
    btc_return: NDArray[np.float64]

    @property
    def bitcoin_season_index(self) -> NDArray[np.float64]:
        """Share of eligible altcoins that did not beat BTC: ``100 - ASI``."""
        return 100.0 - self.value


def window_returns(
    price: FloatMatrix,
    coins: IntMatrix,
    *,
    window: int,
    rows: NDArray[np.intp],
    by_coin: CoinMajor | None = None,
) -> NDArray[np.float64]:
    """``(len(rows), k)`` W-day simple returns of the coins in ``coins`` (positions, NO_COIN → NaN).

    ``by_coin`` is an optional copy of (some of) ``price`` stored coin by coin, to pick the prices faster.
    """
    lag = rows - window
    valid_lag = lag >= 0
    lag = np.where(valid_lag, lag, 0)
    listed = coins != NO_COIN
    picked = None if by_coin is None else by_coin.gather(coins, rows, lag)  # NO_COIN reads a placeholder
    if picked is None:
        safe_cols = np.where(listed, coins, 0)
        picked = [gather(price, rows, safe_cols), gather(price, lag, safe_cols)]
    now, then = picked
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.divide(now, then)
        ret -= 1.0
        ok = listed & valid_lag[:, None] & (now > 0) & (then > 0)
    np.copyto(ret, np.nan, where=~ok)
    return ret


def coin_returns(price: FloatMatrix, coin: int, *, window: int, rows: NDArray[np.intp]) -> NDArray[np.float64]:
    """``(len(rows),)`` W-day simple returns of one coin (NaN throughout for NO_COIN)."""
    return window_returns(price, np.full((rows.size, 1), coin, dtype=np.int32), window=window, rows=rows)[:, 0]


@dataclass(frozen=True, slots=True)
class FilledUniverse:
    """A universe of N places under the ``fill`` rule, filled rank block by rank block (:func:`fill_places`)."""

    with_btc: NDArray[np.bool_]
    """Per row, whether BTC holds the first place."""
    btc_return: NDArray[np.float64]
    filled: NDArray[np.int32]
    """Places taken per row, BTC's included."""
    beating: NDArray[np.int32]
    """Altcoins taken whose return beats BTC's (:func:`outperforms`)."""
    coins: IntMatrix | None
    """``(n_rows, N)`` coin positions, NO_COIN in places not taken; None when only counted."""
    returns: FloatMatrix | None = None
    """``(n_rows, N)`` W-day returns of :attr:`coins` (NaN in places not taken and BTC's); None when only
    counted."""

    @classmethod
    def start(
        cls,
        btc_ranked: NDArray[np.bool_],
        btc_return: NDArray[np.float64],
        *,
        top: int,
        btc: int,
        btc_inside: bool,
        with_coins: bool = True,
    ) -> FilledUniverse:
        """Empty universes of ``top`` places; BTC takes the first where it is ranked that day and ``btc_inside``.
        ``with_coins=False`` keeps only the counts (enough for :meth:`season_index`)."""
        with_btc = btc_ranked & btc_inside & (btc >= 0)
        coins = returns = None
        if with_coins:
            coins = np.full((btc_ranked.size, top), NO_COIN, dtype=np.int32)
            coins[with_btc, 0] = btc
            returns = np.full((btc_ranked.size, top), np.nan)
        counts = with_btc.astype(np.int32)
        return cls(with_btc, btc_return, filled=counts, beating=np.zeros_like(counts), coins=coins, returns=returns)

    @property
    def places(self) -> IntMatrix:
        """:attr:`coins`, for a universe started ``with_coins``."""
        if self.coins is None:
            raise ValueError("this universe was only counted: start it with with_coins=True")
        return self.coins

    def season_index(self) -> SeasonIndex:
        """The Altcoin Season Index of the universe from its counts, ``100 * beating / (filled - with_btc)``:
        every altcoin taken has a W-day return, so it is eligible, and :func:`altcoin_season_index` on
        :attr:`places` gives the same values (NaN and zero counts where BTC has no return)."""
        has_btc = np.isfinite(self.btc_return)
        n_eligible = self.filled - self.with_btc
        with np.errstate(divide="ignore", invalid="ignore"):
            value = 100.0 * self.beating / n_eligible
        value = np.where((n_eligible > 0) & has_btc, value, np.nan)
        n_eligible = np.where(has_btc, n_eligible, 0).astype(np.int32)
        n_beating = np.where(has_btc, self.beating, 0).astype(np.int32)
        return SeasonIndex(value=value, n_eligible=n_eligible, n_outperforming=n_beating, btc_return=self.btc_return)


def fill_places(
    price: FloatMatrix,
    universe: FilledUniverse,
    ranked: IntMatrix,
    *,
    window: int,
    top: int,
    btc: int,
    rows: NDArray[np.intp],
    at: NDArray[np.intp],
    by_coin: CoinMajor | None = None,
) -> NDArray[np.bool_]:
    """Give the empty places of rows ``at`` of a ``top``-place ``universe`` (days ``rows``), in rank order, to the
    altcoins of ``ranked`` that have a W-day return (a price on d and on d - W). Updates ``universe`` in place.

    ``ranked`` is ``(len(at), b)``: the next ``b`` ranks of each day's ranking by market cap after those given
    before (see :func:`coinseason.core.universe.rank_order`). Returns, per row, whether places are still empty.
    The universe is the same whatever the blocks: BTC's place is set by :meth:`FilledUniverse.start`, and each
    block only appends altcoins after the places already taken. ``by_coin`` as in :func:`window_returns`.
    """
    ret = window_returns(price, ranked, window=window, rows=rows, by_coin=by_coin)
    usable = np.isfinite(ret)
    usable &= ranked != btc
    place = np.cumsum(usable, axis=1, dtype=np.intp)
    place += (universe.filled[at] - 1)[:, None]  # the place each usable coin would take
    if place.shape[1]:
        universe.filled[at] = np.minimum(place[:, -1] + 1, top)
    usable &= place < top  # now: taken
    universe.beating[at] += (usable & outperforms(ret, universe.btc_return[at])).sum(axis=1, dtype=np.int32)
    if universe.coins is not None:
        place += (at * top)[:, None]  # as a flat position in the universe
        cells = np.flatnonzero(usable)
        at_place = place.ravel().take(cells)
        np.put(universe.coins, at_place, np.ravel(ranked).take(cells))
        if universe.returns is not None:
            np.put(universe.returns, at_place, np.ravel(ret).take(cells))
    short: NDArray[np.bool_] = universe.filled[at] < top
    return short


def outperforms(ret: NDArray[np.float64], btc_ret: NDArray[np.float64]) -> NDArray[np.bool_]:
    """True where a finite return ``ret`` (``(n, k)``) beats the row's BTC return ``btc_ret`` (``(n,)``) by more
    than the relative tie tolerance; False where either is NaN."""
    threshold = btc_ret + TIE_TOLERANCE * np.maximum(np.abs(btc_ret), 1.0)
    with np.errstate(invalid="ignore"):
        return np.isfinite(ret) & (ret > threshold[:, None])


def altcoin_season_index(
    price: FloatMatrix,
    universe: IntMatrix,
    *,
    window: int,
    btc: int,
    rows: NDArray[np.intp] | None = None,
    by_coin: CoinMajor | None = None,
) -> SeasonIndex:
    """Altcoin Season Index for each day of ``rows`` (default: every row of ``universe``).

    ``universe`` is ``(n_rows, N)`` coin positions for those days (see :func:`coinseason.core.universe.top_n`),
    ``price`` the gap-filled ``(n_days, n_coins)`` price matrix, ``btc`` Bitcoin's column; ``by_coin`` as in
    :func:`window_returns`.
    """
    if window < 1:
        raise ValueError("window must be at least 1 day")
    day = np.arange(universe.shape[0]) if rows is None else np.asarray(rows)
    ret = window_returns(price, universe, window=window, rows=day, by_coin=by_coin)
    btc_ret = coin_returns(price, btc, window=window, rows=day)
    eligible = (universe != btc) & np.isfinite(ret)
    beats = eligible & outperforms(ret, btc_ret)
    n_eligible = eligible.sum(axis=1, dtype=np.int32)
    n_beating = beats.sum(axis=1, dtype=np.int32)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 * n_beating / n_eligible
    value = np.where((n_eligible > 0) & np.isfinite(btc_ret), value, np.nan)
    n_eligible = np.where(np.isfinite(btc_ret), n_eligible, 0).astype(np.int32)
    n_beating = np.where(np.isfinite(btc_ret), n_beating, 0).astype(np.int32)
    return SeasonIndex(value=value, n_eligible=n_eligible, n_outperforming=n_beating, btc_return=btc_ret)


def minimum_for(min_eligible: int, *, top: int, btc_inside: bool) -> int:
    """The eligible altcoins a day of a top-``top`` index needs: ``min_eligible``, but never more than the
    altcoin places of the universe (``top``, less BTC's place when it is inside), so any N can have values."""
    return max(0, min(min_eligible, top - 1 if btc_inside else top))


def with_minimum(index: SeasonIndex, required: int) -> SeasonIndex:
    """``index`` with NaN as the value of every day with fewer than ``required`` eligible altcoins (counts kept,
    so a caller can say why the day has no value)."""
    if required <= 1:  # a valued day has at least one eligible altcoin anyway
        return index
    short = index.n_eligible < required
    if not short.any():
        return index
    return SeasonIndex(
        value=np.where(short, np.nan, index.value),
        n_eligible=index.n_eligible,
        n_outperforming=index.n_outperforming,
        btc_return=index.btc_return,
    )


def published_round(value: NDArray[np.float64]) -> NDArray[np.float64]:
    """Whole-number index as published: half up (``floor(x + 0.5)``), NaN stays NaN."""
    return np.floor(value + 0.5)


def classify_season(
    value: NDArray[np.float64], *, altcoin_at: float = 75.0, bitcoin_at: float = 25.0
) -> NDArray[np.int8]:
    """Season code per value: ALTCOIN_SEASON when ``value >= altcoin_at``, BITCOIN_SEASON when
    ``value <= bitcoin_at``, NEUTRAL between, NO_VALUE for NaN."""
    if not bitcoin_at < altcoin_at:
        raise ValueError("the Bitcoin season threshold must be below the altcoin season threshold")
    code = np.full(value.shape, NEUTRAL, dtype=np.int8)
    code[value >= altcoin_at] = ALTCOIN_SEASON
    code[value <= bitcoin_at] = BITCOIN_SEASON
    code[np.isnan(value)] = NO_VALUE
    return code


@dataclass(frozen=True, slots=True)
class SeasonPeriods:
    """Maximal runs of one season code, as row positions (``end`` inclusive)."""

    start: NDArray[np.intp]
    end: NDArray[np.intp]
    code: NDArray[np.int8]
    peak: NDArray[np.float64]
    """Highest index value in an altcoin season, lowest in a Bitcoin season or neutral run."""
    peak_at: NDArray[np.intp]

    @property
    def length(self) -> NDArray[np.intp]:
        return self.end - self.start + 1


def season_periods(
    value: NDArray[np.float64],
    code: NDArray[np.int8],
    *,
    min_days: int = 1,
    include_neutral: bool = False,
) -> SeasonPeriods:
    """Runs of consecutive days with the same season code.

    A run shorter than ``min_days`` is not a season: it is dropped from the list (it does not join its
    neighbours). Neutral runs are listed only with ``include_neutral``; days without a value end a run.
    """
    n = code.size
    if n == 0:
        empty_i = np.empty(0, dtype=np.intp)
        return SeasonPeriods(empty_i, empty_i, np.empty(0, np.int8), np.empty(0), empty_i)
    change = np.flatnonzero(code[1:] != code[:-1]) + 1
    starts = np.concatenate(([0], change)).astype(np.intp)
    ends = np.concatenate((change - 1, [n - 1])).astype(np.intp)
    codes = code[starts]
    keep = (ends - starts + 1 >= min_days) & (codes != NO_VALUE)
    if not include_neutral:
        keep &= codes != NEUTRAL
    starts, ends, codes = starts[keep], ends[keep], codes[keep]
    peak = np.empty(starts.size)
    peak_at = np.empty(starts.size, dtype=np.intp)
    for i, (s, e, c) in enumerate(zip(starts, ends, codes, strict=True)):
        seg = value[s : e + 1]
        j = int(np.argmax(seg)) if c == ALTCOIN_SEASON else int(np.argmin(seg))
        peak[i] = seg[j]
        peak_at[i] = s + j
    return SeasonPeriods(start=starts, end=ends, code=codes, peak=peak, peak_at=peak_at)
