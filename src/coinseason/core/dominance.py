"""Market-cap dominance and TOTAL-style totals for any universe.

``dominance_X(d) = 100 * mcap_X(d) / TOTAL(d)``, where TOTAL is the summed market cap of the universe on d:
every ranked coin that is not excluded (universe ``all``), or the top N of them as of d (universe ``top:N``,
as TradingView's TOTAL uses the top 125). TOTAL2 = TOTAL - BTC, TOTAL3 = TOTAL - BTC - ETH, counting BTC and
ETH only when they are members of the universe that day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.core.panel import FloatMatrix, IntMatrix, gather
from coinseason.core.universe import NO_COIN


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
) -> Dominance:
    """Dominance over every member coin with a positive market cap that day.

    Each block of ``chunk_rows`` days sums only the member columns with a positive cap on one of its days.
    """
    day = np.arange(market_cap.shape[0]) if rows is None else np.asarray(rows)
    total = np.zeros(day.size)
    stable_cap = np.zeros(day.size)
    counted = np.zeros(day.size, dtype=np.int32)
    for lo in range(0, day.size, chunk_rows):
        block = market_cap[lo : lo + chunk_rows] if rows is None else market_cap[day[lo : lo + chunk_rows]]
        with np.errstate(invalid="ignore"):
            cols = np.flatnonzero(members & np.greater(block, 0.0).any(axis=0))
            caps = block[:, cols]
            positive = caps > 0
        np.copyto(caps, 0.0, where=~positive)
        span = slice(lo, lo + block.shape[0])
        total[span] = caps.sum(axis=1)
        counted[span] = positive.sum(axis=1)
        if stable[cols].any():
            stable_cap[span] = caps[:, stable[cols]].sum(axis=1)

    def own(col: int) -> NDArray[np.float64]:
        if col < 0 or not members[col]:
            return np.zeros(day.size)
        cap = market_cap[day, col]
        return np.where(cap > 0, cap, 0.0)

    return Dominance(total=total, btc_cap=own(btc), eth_cap=own(eth), stable_cap=stable_cap, n_coins=counted)


def dominance_top(
    market_cap: FloatMatrix,
    universe: IntMatrix,
    *,
    btc: int,
    eth: int,
    stable: NDArray[np.bool_],
    rows: NDArray[np.intp] | None = None,
) -> Dominance:
    """Dominance over a ranked universe: ``universe`` is ``(n_rows, N)`` coin positions per day, each coin at most
    once per day."""
    day = np.arange(universe.shape[0]) if rows is None else np.asarray(rows)
    present = universe != NO_COIN
    cols = np.where(present, universe, 0)
    caps = gather(market_cap, day, cols)
    np.copyto(caps, 0.0, where=~present)
    is_stable = stable[cols]
    is_stable &= present

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
