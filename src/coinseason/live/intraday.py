"""The intraday season index and dominance, kept current in memory from exchange tickers.

Market cap now = live price × the coin's last known circulating supply (the store's latest observation of the
source: its ``circulating_supply``, else ``market_cap / price``). The W-day return of a coin is its price now over
its gap-filled daily price on the day W days before today (UTC) from the store's history.

**Live and carried coins.** Every coin of the source with a market cap on the board's day counts, not only those
traded on the exchange, so that coins without a pair (LEO, …) stay in the universe and in TOTAL and do not inflate
Bitcoin's dominance. A coin is *live* while its last tick is at most ``stale_after`` seconds old. Any other coin is
*carried*, by one rule: a coin that ticked since the board was built (or had a fresh tick when it was rebuilt at
midnight) is carried at its **last tick** (price, and price × supply), the newest price known of it; a coin that
never ticked is carried at its **last daily value** (the store's gap-filled price and market cap of the board's
day, flagged market caps left out as the engine leaves them out). A carried coin counts in the universe and in
dominance like a live one; the snapshot says how many coins and what share of TOTAL are live and carried. The
universe is the top N of the counted coins by market cap (:func:`coinseason.core.intraday.intraday_index`). The
state is stale while the feed is (dropped or silent) or while Bitcoin has no fresh tick; its values are then
computed on carried prices and say so.

**The tick gate.** A tick that is not a positive number, or more than ``tick_factor``× (up or down) away from the
coin's last tick (its carried daily price before the first tick), is dropped, counted (:attr:`IntradayBoard.dropped`)
and logged, unless the exchange median of the coin's other fresh quotes (:class:`ExchangeReference`, when given)
is within ``tick_factor``× of it, or the same level comes :data:`HOLD_TICKS` times in a row (a level that holds is
a real move). One bad print never reaches the index.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core.engine import MAX_WINDOW
from coinseason.core.intraday import IntradayIndex, intraday_index
from coinseason.core.season import SEASON_NAMES, classify_season, published_round
from coinseason.core.universe import NO_COIN
from coinseason.data.tidy import TokenClass
from coinseason.errors import ConfigError, NoDataError
from coinseason.live.binance import Ticker
from coinseason.live.reference import DEFAULT_TICK_FACTOR, ExchangeReference, off_by
from coinseason.live.symbols import SymbolMap, build_symbol_map
from coinseason.services.analytics import AnalyticsService

log = logging.getLogger("coinseason.live")

HOLD_TICKS = 3
"""Ticks in a row at one level (within a factor 2 of each other) that make an off tick a real move."""

DEFAULT_STALE_AFTER = 120.0
"""Seconds after which a coin's last tick no longer counts (the stream sends a symbol only when it traded)."""


@dataclass(frozen=True, slots=True)
class IntradaySnapshot:
    """The intraday state at one moment, and how it was made."""

    as_of: dt.datetime | None
    """Exchange time of the latest tick applied (None before the first)."""
    index: IntradayIndex
    season: str
    stale: bool
    n_live: int
    """Mapped coins with a fresh tick (excluded ones included)."""
    method: dict[str, object]
    n_counted_live: int = 0
    """Counted coins (not excluded, with a market cap) whose price is a fresh tick."""
    n_carried: int = 0
    """Counted coins carried at their last tick or last daily value (see the module)."""
    live_cap_share: float = float("nan")
    """Percent of TOTAL that is live market cap; the rest is carried."""
    universe_live: int = 0
    """Places of the index's universe held by live coins (the others by carried ones)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: NaN becomes None."""

        def number(x: float) -> float | None:
            return None if np.isnan(x) else x

        idx = self.index
        value = number(idx.value)
        return {
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "stale": self.stale,
            "value": value,
            "value_rounded": None if value is None else float(published_round(np.array([idx.value]))[0]),
            "bitcoin_season_index": number(idx.bitcoin_season_index),
            "season": self.season,
            "n_eligible": idx.n_eligible,
            "n_outperforming": idx.n_outperforming,
            "btc_return_pct": None if np.isnan(idx.btc_return) else 100.0 * idx.btc_return,
            "btc_dominance": number(idx.btc_dominance),
            "eth_dominance": number(idx.eth_dominance),
            "stablecoin_dominance": number(idx.stablecoin_dominance),
            "total": idx.total,
            "n_ranked": idx.n_ranked,
            "n_live": self.n_live,
            "n_counted_live": self.n_counted_live,
            "n_carried": self.n_carried,
            "live_cap_share": number(self.live_cap_share),
            "carried_cap_share": number(100.0 - self.live_cap_share),
            "universe_live": self.universe_live,
            "universe_carried": int(idx.universe.size) - self.universe_live,
            "method": self.method,
        }


class IntradayBoard:
    """Live prices of the mapped coins, and the intraday index over them.

    ``apply`` takes a frame's tickers (cheap: a dict lookup and three stores per ticker); ``snapshot`` computes the
    index over the current prices. ``carry_price`` and ``carry_cap`` are each coin's last daily price and market
    cap (NaN when unknown; default: none, so only coins with a tick count). Not thread-safe: call both from one
    thread (the event loop's).
    """

    def __init__(
        self,
        *,
        coin_ids: Sequence[str],
        supply: NDArray[np.float64],
        price_then: NDArray[np.float64],
        excluded: NDArray[np.bool_],
        symbols: SymbolMap,
        btc_id: str,
        eth_id: str | None = None,
        stable: NDArray[np.bool_] | None = None,
        top: int = 50,
        btc_inside: bool = True,
        stale_after: float = DEFAULT_STALE_AFTER,
        method: dict[str, object] | None = None,
        carry_price: NDArray[np.float64] | None = None,
        carry_cap: NDArray[np.float64] | None = None,
        tick_factor: float = DEFAULT_TICK_FACTOR,
    ) -> None:
        n = len(coin_ids)
        carry_price = np.full(n, np.nan) if carry_price is None else np.asarray(carry_price, dtype=np.float64)
        carry_cap = np.full(n, np.nan) if carry_cap is None else np.asarray(carry_cap, dtype=np.float64)
        if not (supply.size == price_then.size == excluded.size == carry_price.size == carry_cap.size == n):
            raise ValueError("supply, price_then, excluded and carried values must have one entry per coin")
        if stale_after <= 0:
            raise ConfigError(f"stale_after must be positive, not {stale_after}")
        if not tick_factor > 1:
            raise ConfigError(f"the tick factor must be above 1, not {tick_factor}")
        self.tick_factor = tick_factor
        self.dropped = 0
        """Ticks dropped by the tick gate (see the module)."""
        self._held: dict[int, tuple[float, int]] = {}
        column = {c: i for i, c in enumerate(coin_ids)}
        if btc_id not in column:
            raise NoDataError(f"Bitcoin ({btc_id!r}) has no known supply: the intraday index needs it")
        self.coin_ids = list(coin_ids)
        self.top = top
        self.btc_inside = btc_inside
        self.stale_after = stale_after
        self.method = dict(method or {})
        self.symbols = symbols
        self._btc = column[btc_id]
        self._eth = column.get(eth_id, NO_COIN) if eth_id else NO_COIN
        self._supply = np.asarray(supply, dtype=np.float64)
        self._then = np.asarray(price_then, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            self._carry_price = np.where(carry_price > 0, carry_price, np.nan)
            self._carry_cap = np.where((carry_cap > 0) & np.isfinite(self._carry_price), carry_cap, np.nan)
            self._members = ~np.asarray(excluded, dtype=bool) & ((self._supply > 0) | (self._carry_cap > 0))
        self._stable = np.zeros(n, dtype=bool) if stable is None else np.asarray(stable, dtype=bool)
        self._pairs = {pair: (column[coin], pref) for pair, (coin, pref) in symbols.pairs.items() if coin in column}
        self._price = np.full(n, np.nan)
        self._last = np.full(n, -np.inf)
        self._pref = np.zeros(n, dtype=np.int64)
        self._event_ms = -1
        """Exchange event time (ms) of the latest tick applied (the snapshot's ``as_of``); -1 before the first."""
        self.feed_stale = True
        self.version = 0
        """Ticks applied so far: a snapshot is out of date when this moved."""
        self.unmapped = 0
        """Tickers of pairs that do not count (other quotes, unknown or ambiguous bases)."""

    @property
    def pairs(self) -> frozenset[str]:
        """Exchange pairs whose ticks count."""
        return frozenset(self._pairs)

    def apply(self, tickers: Sequence[Ticker], now: float, reference: ExchangeReference | None = None) -> int:
        """Take the last prices of ``tickers`` received at monotonic time ``now``; returns how many counted.

        A coin quoted in several stablecoins keeps the price of its most preferred quote while that one is fresh.
        A tick that fails the tick gate (see the module; ``reference`` gives the exchange median) is dropped.
        """
        pairs, price, last, pref, carry = self._pairs, self._price, self._last, self._pref, self._carry_price
        factor = self.tick_factor
        held = self._held
        fresh_after = now - self.stale_after
        applied = 0
        for tick in tickers:
            hit = pairs.get(tick.symbol)
            if hit is None:
                self.unmapped += 1
                continue
            col, rank = hit
            if rank > pref[col] and last[col] >= fresh_after:
                continue
            base = price[col] if last[col] > -np.inf else carry[col]
            if not tick.price > 0 or off_by(tick.price, float(base), factor):
                if not self._real_move(col, tick, float(base), now, reference):
                    continue
            elif held:  # a good tick ends a run of off ones
                held.pop(col, None)
            price[col] = tick.price
            last[col] = now
            pref[col] = rank
            applied += 1
            if tick.event_ms > self._event_ms:
                self._event_ms = tick.event_ms
        self.version += applied
        return applied

    def _real_move(self, col: int, tick: Ticker, base: float, now: float, reference: ExchangeReference | None) -> bool:
        """Whether a tick off ``base`` is a real move (the exchange median or a held level confirms it); when not,
        it is counted and logged as dropped."""
        if tick.price > 0:
            held_price, times = self._held.get(col, (float("nan"), 0))
            times = times + 1 if held_price > 0 and not off_by(tick.price, held_price, 2.0) else 1
            median = (
                float("nan")
                if reference is None
                else reference.coin_median(self.coin_ids[col], now, other_than=tick.symbol)
            )
            if times >= HOLD_TICKS or (median > 0 and not off_by(tick.price, median, self.tick_factor)):
                self._held.pop(col, None)
                return True
            self._held[col] = (tick.price, times)
        self.dropped += 1
        log.warning(
            "live tick dropped: %s at %g (the coin's last price %g; over %g× off, or not a positive price)",
            tick.symbol,
            tick.price,
            base,
            self.tick_factor,
        )
        return False

    def adopt(self, old: IntradayBoard, now: float) -> int:
        """Take the ticks of ``old`` (the board this one replaces, e.g. at midnight) that are fresh at ``now``, for
        the coins and pairs both boards know; returns how many. Older ticks are dropped: this board's daily values
        are newer than them."""
        fresh_after = now - old.stale_after
        column = {c: i for i, c in enumerate(self.coin_ids)}
        taken = 0
        for i, coin in enumerate(old.coin_ids):
            j = column.get(coin)
            if j is None or not old._last[i] >= fresh_after:
                continue
            self._price[j], self._last[j], self._pref[j] = old._price[i], old._last[i], old._pref[i]
            taken += 1
        self._event_ms = max(self._event_ms, old._event_ms)
        self.feed_stale = old.feed_stale
        self.unmapped = old.unmapped
        self.version += taken
        return taken

    def snapshot(self, now: float) -> IntradaySnapshot:
        """The index over the counted coins: live ones at their tick, the others carried (see the module)."""
        fresh = self._last >= now - self.stale_after
        ticked = self._last > -np.inf
        price = np.where(ticked, self._price, self._carry_price)
        with np.errstate(invalid="ignore"):
            cap = np.where(ticked & (self._supply > 0), self._price * self._supply, self._carry_cap)
            counted = self._members & (cap > 0) & (price > 0)
        index = intraday_index(
            price,
            self._then,
            cap,
            counted,
            top=self.top,
            btc=self._btc,
            eth=self._eth,
            stable=self._stable,
            btc_inside=self.btc_inside,
        )
        code = classify_season(np.array([index.value]))
        as_of = None if self._event_ms < 0 else dt.datetime.fromtimestamp(self._event_ms / 1000, dt.UTC)
        live = counted & fresh
        live_cap = float(cap[live].sum())
        return IntradaySnapshot(
            as_of=as_of,
            index=index,
            season=SEASON_NAMES[int(code[0])],
            stale=self.feed_stale or not bool(fresh[self._btc]),
            n_live=int(fresh.sum()),
            method=self.method,
            n_counted_live=int(live.sum()),
            n_carried=int((counted & ~fresh).sum()),
            live_cap_share=100.0 * live_cap / index.total if index.total > 0 else float("nan"),
            universe_live=int(live[index.universe].sum()),
        )


def board_from_store(
    analytics: AnalyticsService,
    *,
    today: dt.date,
    source: str | None = None,
    top: int = 50,
    window: int = 90,
    exclude: str = "default",
    btc_inside: bool = True,
    stale_after: float = DEFAULT_STALE_AFTER,
    symbols: SymbolMap | None = None,
) -> IntradayBoard:
    """A board over the coins of ``source``: those with an exchange pair (``symbols``, default: built from the
    source's coins) and a supply, and every coin with a market cap on ``today`` (the gap-filled daily value of
    ``today``, or of the source's last day when ``today`` is at most the gap-fill reach past it), carried until it
    ticks. The price W days before ``today`` is the gap-filled daily price of that day."""
    if not 1 <= window <= MAX_WINDOW:
        raise ConfigError(f"--window must be between 1 and {MAX_WINDOW} days, not {window}")
    if not 1 <= top <= 500:
        raise ConfigError(f"--top must be between 1 and 500, not {top}")
    loaded = analytics.loaded(source)
    engine = loaded.engine
    if engine.btc == NO_COIN:
        raise NoDataError(f"source {loaded.source!r} has no Bitcoin: the season index is measured against it")
    symbols = symbols or build_symbol_map(loaded.coins)
    excl = analytics.exclusion(loaded.source, exclude)
    base = today - dt.timedelta(days=window)
    late = (base - engine.end).days
    if base < engine.start or late > engine.gap_days:
        raise NoDataError(
            f"the {window}-day index needs daily prices of {base}, and source {loaded.source!r} holds"
            f" {engine.start} to {engine.end}: import newer data"
        )
    then_row = engine.price[engine.row_of(base) if late <= 0 else engine.n_days - 1]
    behind = (today - engine.end).days
    if behind <= engine.gap_days:  # the daily values of today, gap-filled as the engine fills them
        day_row = engine.row_of(today) if behind <= 0 else engine.n_days - 1
        day_price, day_cap = engine.price[day_row], engine.market_cap[day_row]
    else:  # the store is too far behind: nothing is carried, only ticks count
        day_price = day_cap = np.full(engine.coin_ids.size, np.nan)
    supply = _supply(analytics.store.last_observations(loaded.source))
    known = dict(zip(supply["coin_id"].to_list(), supply["supply"].to_list(), strict=True))
    column = {str(c): i for i, c in enumerate(engine.coin_ids)}
    wanted = symbols.coin_ids
    ids = sorted(
        c
        for c in set(column) | (wanted & set(known))
        if (c in wanted and known.get(c, 0.0) > 0) or (c in column and day_cap[column[c]] > 0)
    )
    cols = np.array([column.get(c, -1) for c in ids], dtype=np.intp)
    at = np.maximum(cols, 0)
    price_then = np.where(cols >= 0, then_row[at], np.nan)
    carry_price = np.where(cols >= 0, day_price[at], np.nan)
    carry_cap = np.where(cols >= 0, day_cap[at], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):  # no stored supply: the one the daily values imply
        implied = carry_cap / carry_price
    coin_supply = np.array([known.get(c, np.nan) for c in ids], dtype=np.float64)
    coin_supply = np.where(coin_supply > 0, coin_supply, implied)
    btc_id = str(engine.coin_ids[engine.btc])
    eth_id = None if engine.eth == NO_COIN else str(engine.coin_ids[engine.eth])
    stable_ids = set(loaded.coins.filter(pl.col("token_class") == str(TokenClass.STABLECOIN))["coin_id"].to_list())
    method: dict[str, object] = {
        **analytics.method(loaded.source, exclude, top=top, window=window, btc_inside=btc_inside, fill=True),
        "live": "exchange last price × last known circulating supply",
        "carried": "coins without a fresh tick: last tick if any since the board was built, else the daily value",
        "base_date": base.isoformat(),
        "carry_date": None if behind > engine.gap_days else min(today, engine.end).isoformat(),
        "stale_after_seconds": stale_after,
        "n_mapped_coins": len(wanted & set(ids)),
        "n_coins": len(ids),
    }
    return IntradayBoard(
        coin_ids=ids,
        supply=coin_supply.astype(np.float64),
        price_then=price_then.astype(np.float64),
        excluded=np.array([c in excl.ids for c in ids], dtype=bool),
        symbols=symbols,
        btc_id=btc_id,
        eth_id=eth_id,
        stable=np.array([c in stable_ids for c in ids], dtype=bool),
        top=top,
        btc_inside=btc_inside,
        stale_after=stale_after,
        method=method,
        carry_price=carry_price.astype(np.float64),
        carry_cap=carry_cap.astype(np.float64),
    )


def _supply(last: pl.DataFrame) -> pl.DataFrame:
    """``coin_id, supply``: the stored circulating supply, else market cap / price of the latest observation."""
    derived = pl.col("market_cap") / pl.col("price")
    stored = pl.col("circulating_supply")
    return last.select(
        "coin_id",
        pl.when(stored.is_not_null() & (stored > 0)).then(stored).otherwise(derived).fill_nan(None).alias("supply"),
    ).drop_nulls("supply")
