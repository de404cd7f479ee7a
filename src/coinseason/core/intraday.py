"""The season index and dominance of one moment, from live prices and each coin's price W days before.

The day-by-day definitions of :mod:`coinseason.core.season` and :mod:`coinseason.core.dominance` applied to a
single row, the present:

* Market cap now: ``cap_c = price_c(now) * supply_c`` (the caller multiplies; a cap that is NaN or ≤ 0 is not
  ranked).
* Universe: the coins of ``counted`` ranked by ``cap`` (:func:`coinseason.core.universe.rank_order`), BTC taking the
  first place when counted and ``btc_inside``; the other ``top`` places go, in rank order, to the altcoins that have
  a price now and W days before (the ``fill`` rule of :func:`coinseason.core.season.fill_places`).
* No index (NaN) when BTC is not counted (has no price now): its return is the yardstick.
* ``ASI = 100 * (altcoins whose return beats BTC's by more than a relative 1e-12) / (altcoins taken)``, NaN when
  BTC has no return or no altcoin is taken; ``BSI = 100 - ASI``.
* Dominance over every counted coin with a positive cap: ``100 * cap_X / TOTAL``
  (:func:`coinseason.core.dominance.dominance_all`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.core.dominance import dominance_all
from coinseason.core.season import FilledUniverse, fill_places
from coinseason.core.universe import NO_COIN, rank_order


@dataclass(frozen=True, slots=True)
class IntradayIndex:
    """The season index and dominance of one moment; shares in percent, NaN where undefined."""

    value: float
    """Altcoin Season Index."""
    n_eligible: int
    n_outperforming: int
    btc_return: float
    universe: NDArray[np.int32]
    """Positions of the coins taken, BTC's first when it holds a place; at most ``top``."""
    btc_dominance: float
    eth_dominance: float
    stablecoin_dominance: float
    total: float
    """Summed market cap of the counted coins."""
    n_ranked: int
    """Counted coins with a positive market cap."""

    @property
    def bitcoin_season_index(self) -> float:
        return 100.0 - self.value


def intraday_index(
    price_now: NDArray[np.float64],
    price_then: NDArray[np.float64],
    market_cap: NDArray[np.float64],
    counted: NDArray[np.bool_],
    *,
    top: int,
    btc: int,
    eth: int = NO_COIN,
    stable: NDArray[np.bool_] | None = None,
    btc_inside: bool = True,
) -> IntradayIndex:
    """The Altcoin Season Index over the top ``top`` of ``counted`` by ``market_cap``, and dominance over all of
    ``counted``.

    Parameters
    ----------
    price_now, price_then, market_cap : (n_coins,) price now, price W days before (NaN when unknown) and market
        cap now.
    counted : (n_coins,) coins that may be ranked: not excluded and with a price now (live or carried).
    top : places of the universe, BTC's included when ``btc_inside``.
    btc, eth : positions of Bitcoin and Ether (:data:`NO_COIN` when absent).
    stable : (n_coins,) stablecoins, for the stablecoin dominance.
    """
    if top < 1:
        raise ValueError("top must be at least 1")
    n = price_now.size
    if not (price_then.size == market_cap.size == counted.size == n):
        raise ValueError("price_now, price_then, market_cap and counted must have one entry per coin")
    stable = np.zeros(n, dtype=bool) if stable is None else stable
    cap = market_cap.reshape(1, n)
    order = rank_order(cap, members=counted, depth=n)
    price = np.vstack([price_then, price_now])
    rows = np.array([1], dtype=np.intp)
    btc_ranked = np.array([btc >= 0 and bool(np.any(order[0] == btc))])
    btc_return = np.array([np.nan])
    if btc >= 0 and counted[btc]:  # a BTC price that is not live is no yardstick
        now, then = price_now[btc], price_then[btc]
        if now > 0 and then > 0:
            btc_return[0] = now / then - 1.0
    universe = FilledUniverse.start(btc_ranked, btc_return, top=top, btc=btc, btc_inside=btc_inside)
    ranked = order[:, order[0] != NO_COIN]
    fill_places(price, universe, ranked, window=1, top=top, btc=btc, rows=rows, at=np.array([0], dtype=np.intp))
    season = universe.season_index()
    dom = dominance_all(cap, members=counted, btc=btc, eth=eth, stable=stable)
    places = universe.places[0]
    return IntradayIndex(
        value=float(season.value[0]),
        n_eligible=int(season.n_eligible[0]),
        n_outperforming=int(season.n_outperforming[0]),
        btc_return=float(btc_return[0]),
        universe=places[places != NO_COIN],
        btc_dominance=float(dom.btc[0]),
        eth_dominance=float(dom.eth[0]),
        stablecoin_dominance=float(dom.stablecoin[0]),
        total=float(dom.total[0]),
        n_ranked=int(dom.n_coins[0]),
    )
