"""The exchange as a cross-check source for ingestion: each coin's median last price over its stablecoin quotes.

The ingestion gates (:func:`coinseason.data.gates.cross_check`) compare a provider's snapshot with other sources;
:class:`ExchangeReference` is one of them. It keeps, per coin and per quote pair (``USDT``, ``FDUSD``, ``USDC``:
:data:`coinseason.live.symbols.QUOTES`), the last price and when it came; :meth:`ExchangeReference.prices` gives,
for every coin with at least one fresh quote (at most ``stale_after`` seconds old), the median of its fresh quotes,
with the base asset's symbol (the key the cross-check matches sources on). A coin with no fresh quote is left
out: the check is then made with the other sources. A tick more than ``tick_factor``× away from its pair's fresh
last price (up or down) and from the fresh median of the coin's other quotes is dropped and counted
(:attr:`ExchangeReference.dropped`): one bad print does not become the reference. Fed by the live loop
(:class:`coinseason.live.runner.LiveIndex` ``reference=``) or by anything that calls :meth:`ExchangeReference.apply`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from coinseason.errors import ConfigError
from coinseason.live.binance import Ticker
from coinseason.live.symbols import QUOTES, SymbolMap

log = logging.getLogger("coinseason.live")

SOURCE = "exchange"

DEFAULT_TICK_FACTOR = 10.0
"""K of the live tick gate: a tick over K× (or under 1/K×) the price it is checked against is off."""


def off_by(price: float, reference: float, factor: float) -> bool:
    """Whether ``price`` is more than ``factor``× above or below ``reference`` (False when ``reference`` is not a
    positive number: nothing to check against)."""
    return reference > 0 and (price > factor * reference or price * factor < reference)


PRICES_SCHEMA: dict[str, type[pl.DataType]] = {"coin_id": pl.String, "symbol": pl.String, "price": pl.Float64}


class ExchangeReference:
    """Last prices of the mapped coins per quote pair; their fresh median per coin on demand."""

    source = SOURCE

    def __init__(
        self,
        symbols: SymbolMap | None = None,
        *,
        stale_after: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        tick_factor: float = DEFAULT_TICK_FACTOR,
    ) -> None:
        """Without ``symbols`` it maps nothing (and gives no price) until :meth:`use` is called, so it can be
        made before the symbol map is known (the live job builds it from the store)."""
        if stale_after <= 0:
            raise ConfigError(f"stale_after must be positive, not {stale_after}")
        if not tick_factor > 1:
            raise ConfigError(f"the tick factor must be above 1, not {tick_factor}")
        self.stale_after = stale_after
        self.tick_factor = tick_factor
        self.dropped = 0
        """Ticks dropped as off their pair's last price and the coin's other quotes."""
        self._clock = clock
        self._coins: list[str] = []
        self._symbols: list[str] = []
        self._pairs: dict[str, tuple[int, int]] = {}
        self._rows: dict[str, int] = {}
        self._price = np.full((0, len(QUOTES)), np.nan)
        self._last = np.full((0, len(QUOTES)), -np.inf)
        if symbols is not None:
            self.use(symbols)

    def use(self, symbols: SymbolMap) -> None:
        """Map pairs with ``symbols`` from now on, keeping the prices of the coins both maps know."""
        coins = sorted(symbols.coin_ids)
        column = {c: i for i, c in enumerate(coins)}
        base_of = {coin: base for base, coin in sorted(symbols.bases.items())}
        price = np.full((len(coins), len(QUOTES)), np.nan)
        last = np.full((len(coins), len(QUOTES)), -np.inf)
        for i, coin in enumerate(self._coins):
            j = column.get(coin)
            if j is not None:
                price[j], last[j] = self._price[i], self._last[i]
        self._coins, self._price, self._last = coins, price, last
        self._rows = column
        self._symbols = [base_of[c].lower() for c in coins]
        self._pairs = {pair: (column[coin], rank) for pair, (coin, rank) in symbols.pairs.items()}

    def apply(self, tickers: Sequence[Ticker], now: float) -> int:
        """Take the last prices of ``tickers`` received at monotonic time ``now``; returns how many counted (a tick
        off its pair's fresh last price and the coin's other fresh quotes is dropped: see the module)."""
        pairs, price, last, factor = self._pairs, self._price, self._last, self.tick_factor
        fresh_after = now - self.stale_after
        applied = 0
        for tick in tickers:
            hit = pairs.get(tick.symbol)
            if hit is None or not tick.price > 0:
                continue
            if last[hit] >= fresh_after and off_by(tick.price, float(price[hit]), factor):
                others = self.median(hit[0], now, other_than=hit[1])
                if not others > 0 or off_by(tick.price, others, factor):
                    self.dropped += 1
                    log.warning(
                        "exchange tick dropped: %s at %g is over %g× off its last price %g",
                        tick.symbol,
                        tick.price,
                        factor,
                        price[hit],
                    )
                    continue
            price[hit] = tick.price
            last[hit] = now
            applied += 1
        return applied

    def coin_median(self, coin_id: str, now: float, *, other_than: str | None = None) -> float:
        """The median of ``coin_id``'s quotes fresh at ``now``, leaving out pair ``other_than``; NaN when none."""
        row = self._rows.get(coin_id)
        if row is None:
            return float("nan")
        skip = -1 if other_than is None else self._pairs.get(other_than, (row, -1))[1]
        return self.median(row, now, other_than=skip)

    def median(self, row: int, now: float, *, other_than: int = -1) -> float:
        """The median of the fresh quotes of the coin at ``row``, leaving out quote column ``other_than``."""
        fresh = self._last[row] >= now - self.stale_after
        if other_than >= 0:
            fresh[other_than] = False
        return float(np.median(self._price[row][fresh])) if fresh.any() else float("nan")

    def prices(self, now: float | None = None) -> pl.DataFrame:
        """``coin_id, symbol, price``: the median of each coin's quotes at most ``stale_after`` seconds old at
        ``now`` (default: the clock's time), for the coins with one at least."""
        now = self._clock() if now is None else now
        fresh = self._last >= now - self.stale_after
        any_fresh = fresh.any(axis=1)
        if not any_fresh.any():
            return pl.DataFrame(schema=PRICES_SCHEMA)
        rows = np.flatnonzero(any_fresh)
        median = np.nanmedian(np.where(fresh[rows], self._price[rows], np.nan), axis=1)
        return pl.DataFrame(
            {
                "coin_id": [self._coins[i] for i in rows],
                "symbol": [self._symbols[i] for i in rows],
                "price": median,
            },
            schema=PRICES_SCHEMA,
        )
