"""Market-cap dominance and TOTAL-style totals for any universe.

``dominance_X(d) = 100 * mcap_X(d) / TOTAL(d)``, where TOTAL is the summed market cap of the universe on d:
every ranked coin that is not excluded (universe ``all``), or the top N of them as of d (universe ``top:N``,
as TradingView's TOTAL uses the top 125). TOTAL2 = TOTAL - BTC, TOTAL3 = TOTAL - BTC - ETH, counting BTC and
ETH only when they are members of the universe that day.

Point in time: a coin leaves the universe from its ``until`` row on, and counts as a stablecoin from its
``stable_from`` row on (both per coin; :data:`coinseason.core.universe.NEVER` for never).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.core.panel import FloatMatrix, IntMatrix, gather
from coinseason.core.universe import NO_COIN, mask_ended, member_blocks


@dataclass(frozen=True, slots=True)
class Dominance:
    """Totals (USD) and shares (percent) per requested day."""

    total: NDArray[np.float64]
    btc_cap: NDArray[np.float64]
    eth_cap: NDArray[np.float64]
    stable_cap: NDArray[np.float64]
    n_coins: NDArray[np.int32]

    def _share(self, cap: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.total > 0, 100.0 * cap / self.total, np.nan)

    @property
    def btc(self) -> NDArray[np.float64]:
        return self._share(self.btc_cap)

    @property
    def eth(self) -> NDArray[np.float64]:
        return self._share(self.eth_cap)

    @property
    def stablecoin(self) -> NDArray[np.float64]:
        return self._share(self.stable_cap)

    @property
    def total2(self) -> NDArray[np.float64]:
        return self.total - self.btc_cap

    @property
    def total3(self) -> NDArray[np.float64]:
        return self.total - self.btc_cap - self.eth_cap


def dominance_all(
    market_cap: FloatMatrix,
    *,
    members: NDArray[np.bool_],
    btc: int,
    eth: int,
    stable: NDArray[np.bool_],
    rows: NDArray[np.intp] | None = None,
    chunk_rows: int = 64,
    until: NDArray[np.int32] | None = None,
    stable_from: NDArray[np.int32] | None = None,
) -> Dominance:
    """Dominance over every member coin with a positive market cap that day.

    ``until`` (optional, per coin): a member counts only on the rows before it; ``stable_from`` (optional, per
    coin): a coin of ``stable`` counts as a stablecoin only from that row on. Each block of ``chunk_rows`` days
    sums only the member columns with a positive cap on one of its days.
    """
    day = np.arange(market_cap.shape[0]) if rows is None else np.asarray(rows)
    total = np.zeros(day.size)
    stable_cap = np.zeros(day.size)
    counted = np.zeros(day.size, dtype=np.int32)
    for lo in range(0, day.size, chunk_rows):
        days = day[lo : lo + chunk_rows]
        block = market_cap[lo : lo + chunk_rows] if rows is None else market_cap[days]
        _, some, ending = member_blocks(members, until, int(days.min()), int(days.max()))
        with np.errstate(invalid="ignore"):
            cols = np.flatnonzero(some & np.greater(block, 0.0).any(axis=0))
            caps = block[:, cols]
            if ending.size and until is not None:
                mask_ended(caps, days, cols, until, ending)
            positive = caps > 0
        np.copyto(caps, 0.0, where=~positive)
        span = slice(lo, lo + block.shape[0])
        total[span] = caps.sum(axis=1)
        counted[span] = positive.sum(axis=1)
        is_stable = stable[cols]
        if is_stable.any():
            held = caps[:, is_stable]
            if stable_from is not None:
                held = np.where(days[:, None] >= stable_from[cols[is_stable]][None, :], held, 0.0)
            stable_cap[span] = held.sum(axis=1)

    def own(col: int) -> NDArray[np.float64]:
        if col < 0 or not members[col]:
            return np.zeros(day.size)
        cap = market_cap[day, col]
        counts = cap > 0 if until is None else (cap > 0) & (day < until[col])
        return np.where(counts, cap, 0.0)

    return Dominance(total=total, btc_cap=own(btc), eth_cap=own(eth), stable_cap=stable_cap, n_coins=counted)


def dominance_top(
    market_cap: FloatMatrix,
    universe: IntMatrix,
    *,
    btc: int,
    eth: int,
    stable: NDArray[np.bool_],
    rows: NDArray[np.intp] | None = None,
    stable_from: NDArray[np.int32] | None = None,
) -> Dominance:
    """Dominance over a ranked universe: ``universe`` is ``(n_rows, N)`` coin positions per day, each coin at most
    once per day; ``stable_from`` as in :func:`dominance_all`."""
    day = np.arange(universe.shape[0]) if rows is None else np.asarray(rows)
    present = universe != NO_COIN
    cols = np.where(present, universe, 0)
    caps = gather(market_cap, day, cols)
    np.copyto(caps, 0.0, where=~present)
    is_stable = stable[cols]
    is_stable &= present
    if stable_from is not None:
        is_stable &= day[:, None] >= stable_from[cols]

    def own(col: int) -> NDArray[np.float64]:  # the coin's cap where it is in the day's universe
        if col < 0:
            return np.zeros(day.size)
        return np.where((universe == col).any(axis=1), market_cap[day, col], 0.0)

    return Dominance(
        total=caps.sum(axis=1),
        btc_cap=own(btc),
        eth_cap=own(eth),
        stable_cap=np.where(is_stable, caps, 0.0).sum(axis=1),
        n_coins=present.sum(axis=1, dtype=np.int32),
    )
