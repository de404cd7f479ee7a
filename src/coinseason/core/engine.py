"""The in-memory season engine of one source: gap-filled matrices, cached rankings and series.

No I/O: :class:`coinseason.services.analytics.AnalyticsService` loads it from a store. Everything computed is
cached per (exclusion, N, W) and extended in place when a new day is appended.

Exclusions are point in time. The engine holds each classified coin's class and the first day it holds
(:data:`CoinClasses`); an :class:`~coinseason.core.universe.Exclusion` leaves a coin out from that day on, and a
stablecoin counts in stablecoin dominance from that day on. So every value of a day depends only on data of that
day and before, exclusions included; :meth:`SeasonEngine.set_classes` takes the classes of the data as it grew,
which may only add classes from the days being appended. Beside the series the engine
keeps, per exclusion set, each day's ranking :attr:`RankDepths.cached` deep (or deeper when asked) and, for the
days that needed them, ranks down to :attr:`RankDepths.deep`; and the prices of every coin of those rankings stored coin
by coin (:class:`coinseason.core.panel.CoinMajor`), which makes the returns of whole series quick to pick.

The minimum universe (:attr:`SeasonEngine.min_eligible`): a day whose universe has fewer eligible altcoins than
that (at most the universe's altcoin places, :func:`coinseason.core.season.minimum_for`) has no index value. The
series are cached without it and the rule applied as they are handed out, so changing it costs nothing.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from coinseason.core.consensus import Ladder
from coinseason.core.dominance import Dominance, dominance_all, dominance_top
from coinseason.core.panel import (
    DEFAULT_GAP_DAYS,
    CoinMajor,
    FloatMatrix,
    IntMatrix,
    fill_next_row,
    forward_fill,
    gather,
    last_seen_age,
)
from coinseason.core.season import (
    FilledUniverse,
    SeasonIndex,
    altcoin_season_index,
    coin_returns,
    fill_places,
    minimum_for,
    outperforms,
    window_returns,
    with_minimum,
)
from coinseason.core.universe import MAX_TOP, NEVER, NO_COIN, Exclusion, rank_order, top_n

MAX_WINDOW = 730
MAX_SERIES = 256
"""Season index series kept per engine (oldest dropped first): every one kept is extended on each appended day."""
ROLLBACK_DAYS = 7
"""How many of the last days :meth:`SeasonEngine.drop_last` can take back (to append them again as rewritten)."""
STABLECOIN = "stablecoin"
"""The class whose coins make stablecoin dominance, unless the engine is told another."""

CoinClasses = Mapping[str, tuple[str, dt.date | None]]
"""Coin id → its class and the first day it holds (None: from the first day of the data)."""


@dataclass(frozen=True, slots=True)
class RankDepths:
    """How deep the engine ranks and caches each day's coins (speed and memory only: results do not depend on it)."""

    cached: int = 200
    """Depth of each day's ranking kept per exclusion set (deeper when a larger N asks for it)."""
    fill_margin: int = 32
    """Ranks looked at beyond N before a deeper look is needed to fill the places of young coins; each deeper
    block of ranks, for the days still short, doubles the margin."""
    deep: int = 1000
    """Depth of the second ranking, kept per day once a universe needed ranks past the cached order (a full
    ranking of the day is made, not kept, past it)."""


DEFAULT_DEPTHS = RankDepths()


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Per-coin view of one day's season index."""

    date: dt.date
    coins: NDArray[np.int32]
    rank: NDArray[np.int32]
    coin_return: NDArray[np.float64]
    btc_return: float
    eligible: NDArray[np.bool_]
    beats: NDArray[np.bool_]


class SeasonEngine:
    """Season index and dominance for any universe, window and exclusion set over one market's history."""

    def __init__(
        self,
        *,
        start: dt.date,
        coin_ids: Sequence[str],
        price: FloatMatrix,
        market_cap: FloatMatrix,
        btc_id: str | None,
        eth_id: str | None = None,
        classes: CoinClasses | None = None,
        stable_class: str = STABLECOIN,
        gap_days: int = DEFAULT_GAP_DAYS,
        depths: RankDepths = DEFAULT_DEPTHS,
        min_eligible: int = 0,
    ) -> None:
        if price.shape != market_cap.shape or price.shape[1] != len(coin_ids):
            raise ValueError("price, market cap and coin ids disagree in shape")
        self.start = start
        self.gap_days = gap_days
        self.depths = depths
        self.min_eligible = min_eligible
        """The minimum universe: a day of a season index with fewer eligible altcoins has no value (0: no
        minimum). Applied as series are handed out, so it may be set at any time."""
        self.coin_ids = np.asarray(coin_ids, dtype=object)
        self._column = {c: i for i, c in enumerate(coin_ids)}
        self.btc = self._column.get(btc_id, NO_COIN) if btc_id else NO_COIN
        self.eth = self._column.get(eth_id, NO_COIN) if eth_id else NO_COIN
        self.stable_class = stable_class
        self.n_days = price.shape[0]
        self._class_of, self._class_from = self._class_table(classes or {})
        self._stable_from = self._stable_rows()
        self._until: dict[Exclusion, NDArray[np.int32]] = {}
        seen_price, seen_mcap = np.isfinite(price), np.isfinite(market_cap)
        self._ages: list[tuple[NDArray[np.int32], NDArray[np.int32]]] = []
        """The ages (price, market cap) as they were after each of the last days, oldest first: the state a new day
        is filled from, kept for :meth:`drop_last`."""
        for end in range(max(self.n_days - ROLLBACK_DAYS, 0), self.n_days + 1):
            recent = slice(max(end - gap_days - 1, 0), end)  # older observations cannot fill a new day
            self._ages.append((last_seen_age(seen_price[recent]), last_seen_age(seen_mcap[recent])))
        self._price_age, self._mcap_age = self._ages[-1]
        self._rows_shared = False
        """True for an append-only :meth:`copy`: its rows belong to another engine too."""
        self._price = forward_fill(price, limit=gap_days)
        self._mcap = forward_fill(market_cap, limit=gap_days)
        self._orders: dict[Exclusion, IntMatrix] = {}
        self._deep: dict[Exclusion, tuple[IntMatrix, NDArray[np.bool_]]] = {}
        self._by_coin: CoinMajor | None = None
        self._by_coin_sets: set[Exclusion] = set()
        self._seasons: dict[tuple[Exclusion, int, int, bool, bool], SeasonIndex] = {}
        self._dominance: dict[tuple[Exclusion, int | None], Dominance] = {}

    # -- shape ----------------------------------------------------------------------------------------------

    @property
    def price(self) -> FloatMatrix:
        return self._price[: self.n_days]

    @property
    def market_cap(self) -> FloatMatrix:
        return self._mcap[: self.n_days]

    @property
    def dates(self) -> NDArray[np.datetime64]:
        return np.datetime64(self.start, "D") + np.arange(self.n_days).astype("timedelta64[D]")

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.n_days - 1)

    def row_of(self, day: dt.date) -> int:
        row = (day - self.start).days
        if not 0 <= row < self.n_days:
            raise ValueError(f"{day.isoformat()} is outside the data ({self.start} to {self.end})")
        return row

    # -- classes and exclusions ----------------------------------------------------------------------------

    def _class_table(self, classes: CoinClasses) -> tuple[NDArray[np.object_], NDArray[np.int32]]:
        """Per column, the coin's class (None) and the first row it holds (:data:`NEVER` without a class)."""
        of = np.full(self.coin_ids.size, None, dtype=object)
        since = np.full(self.coin_ids.size, NEVER, dtype=np.int32)
        for coin_id, (token_class, day) in classes.items():
            col = self._column.get(coin_id)
            if col is None:
                continue
            of[col] = token_class
            since[col] = 0 if day is None else min(max((day - self.start).days, 0), NEVER)
        return of, since

    @property
    def stable(self) -> NDArray[np.bool_]:
        """True for the columns that are stablecoins on some day."""
        return np.asarray(self._stable_from < NEVER)

    def _stable_rows(self) -> NDArray[np.int32]:
        """Per column, the first row the coin counts as a stablecoin (:data:`NEVER`: not a stablecoin)."""
        return np.where(self._class_of == self.stable_class, self._class_from, NEVER).astype(np.int32)

    def excluded_from(self, excluded: Exclusion) -> NDArray[np.int32]:
        """Per column, the first row the coin is left out by ``excluded`` (0: every day; :data:`NEVER`: none)."""
        found = self._until.get(excluded)
        if found is None:
            found = np.full(self.coin_ids.size, NEVER, dtype=np.int32)
            if excluded.classes:
                held = np.isin(self._class_of, list(excluded.classes))
                found[held] = self._class_from[held]
            found[self._among(excluded.add)] = 0
            found[self._among(excluded.remove)] = NEVER
            self._until[excluded] = found
        return found

    def set_classes(self, classes: CoinClasses) -> None:
        """Take ``classes`` as the coins' classes, before appending days: on every day the engine holds they must
        agree with the classes it has (point in time, new data only adds classes from new days on), so every
        cached value stays right. ``ValueError`` when they disagree: reload the engine."""
        of, since = self._class_table(classes)
        held = np.minimum(since, self.n_days), np.minimum(self._class_from, self.n_days)
        changed = (held[0] != held[1]) | ((held[0] < self.n_days) & (of != self._class_of))
        if changed.any():
            coins = self.coin_ids[np.flatnonzero(changed)][:5].tolist()
            raise ValueError(f"the classes of {coins} changed on days the engine holds: reload the engine")
        self._class_of, self._class_from = of, since
        self._stable_from = self._stable_rows()
        self._until = {}

    # -- universes ------------------------------------------------------------------------------------------

    def _among(self, ids: frozenset[str]) -> NDArray[np.bool_]:
        """True for the columns whose coin id is in ``ids``."""
        at = [self._column[c] for c in ids if c in self._column]
        out = np.zeros(self.coin_ids.size, dtype=bool)
        out[at] = True
        return out

    def _members(self, excluded: Exclusion) -> tuple[NDArray[np.bool_], NDArray[np.int32]]:
        """The ``members`` and ``until`` of :func:`coinseason.core.universe.rank_order` for ``excluded``."""
        until = self.excluded_from(excluded)
        return until > 0, until

    def order(self, excluded: Exclusion, depth: int | None = None) -> IntMatrix:
        """Each day's ranking by market cap (excluded coins removed), at least ``depth`` deep (default and least:
        :attr:`RankDepths.cached`)."""
        want = self.depths.cached if depth is None else depth
        cached = self._orders.get(excluded)
        if cached is None or cached.shape[1] < want:
            members, until = self._members(excluded)
            cached = rank_order(self.market_cap, members=members, until=until, depth=max(want, self.depths.cached))
            self._orders[excluded] = cached
            self._by_coin_sets.discard(excluded)
        return cached

    def _prices_by_coin(self, excluded: Exclusion) -> CoinMajor:
        """The prices of every coin in the cached orders, coin by coin, for the series of all days (rebuilt when
        an order is added or deepened, dropped when a day is appended)."""
        if self._by_coin is None or excluded not in self._by_coin_sets:
            seen = np.zeros(self.coin_ids.size + 1, dtype=np.intp)  # NO_COIN counts in the first
            for order in self._orders.values():
                seen += np.bincount(order.ravel() + 1, minlength=seen.size)
            self._by_coin = CoinMajor.of(self.price, np.flatnonzero(seen[1:]))
            self._by_coin_sets = set(self._orders)
        return self._by_coin

    def universe(
        self,
        excluded: Exclusion,
        top: int,
        *,
        btc_inside: bool = True,
        fill_window: int | None = None,
        rows: NDArray[np.intp] | None = None,
    ) -> IntMatrix:
        """Each day's top ``top`` places. With ``fill_window`` W, places of coins without W days of history go to
        the next-ranked coins that have them (:func:`coinseason.core.season.fill_places`)."""
        _check_top(top)
        if fill_window is not None:
            return self._filled(excluded, top, fill_window, btc_inside, rows).places
        order = self.order(excluded, top + 1)
        ranked = order if rows is None else order[rows]
        return top_n(ranked, n=top, btc=self.btc, btc_inside=btc_inside)

    def _filled(
        self,
        excluded: Exclusion,
        top: int,
        window: int,
        btc_inside: bool,
        rows: NDArray[np.intp] | None,
        *,
        with_coins: bool = True,
    ) -> FilledUniverse:
        """The ``fill`` universe, rank block by rank block (:func:`_fill_depths`), each block only for the days
        whose places are still empty. ``with_coins=False`` only counts (enough for the season index)."""
        day = np.arange(self.n_days) if rows is None else np.asarray(rows)
        order = self.order(excluded, top)  # the fill rule reads ranks block by block, as deep as it needs
        universe = FilledUniverse.start(
            self._btc_ranked(excluded, day),
            coin_returns(self.price, self.btc, window=window, rows=day),
            top=top,
            btc=self.btc,
            btc_inside=btc_inside,
            with_coins=with_coins,
        )
        by_coin = self._prices_by_coin(excluded) if rows is None else None
        at = np.flatnonzero(day >= window)  # no coin has a W-day return on an earlier day
        lo = 0
        for hi in _fill_depths(top, order.shape[1], self.coin_ids.size, self.depths):
            ranked = self._ranks(excluded, day[at], lo, hi)
            short = fill_places(
                self.price, universe, ranked, window=window, top=top, btc=self.btc, rows=day[at], at=at, by_coin=by_coin
            )
            at = at[short & (ranked[:, -1] != NO_COIN)]  # a ranking that ended before hi has no one left
            lo = hi
            if at.size == 0:
                break
        return universe

    def _btc_ranked(self, excluded: Exclusion, rows: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Whether BTC is in the day's ranking (as :func:`coinseason.core.universe.rank_order` ranks coins)."""
        if self.btc == NO_COIN:
            return np.zeros(rows.size, dtype=bool)
        cap = self.market_cap[rows, self.btc]
        with np.errstate(invalid="ignore"):
            ranked: NDArray[np.bool_] = np.isfinite(cap) & (cap > 0) & (rows < self.excluded_from(excluded)[self.btc])
        return ranked

    def _ranks(self, excluded: Exclusion, rows: NDArray[np.intp], lo: int, hi: int) -> IntMatrix:
        """Ranks ``lo`` to ``hi - 1`` of the days ``rows``: from the cached order, the deep ranking (computed per
        day on first need) or, past it, a full ranking of those days."""
        order = self._orders[excluded]
        if hi <= order.shape[1]:
            return order[rows, lo:hi]
        if hi <= min(self.depths.deep, self.coin_ids.size):
            return self._deep_order(excluded, rows)[:, lo:hi]
        members, until = self._members(excluded)
        return rank_order(self.market_cap, members=members, until=until, depth=hi, rows=rows)[:, lo:hi]

    def _deep_order(self, excluded: Exclusion, rows: NDArray[np.intp]) -> IntMatrix:
        """The days' rankings :attr:`RankDepths.deep` deep, each day ranked once (the cache grows with appended
        days)."""
        depth = min(self.depths.deep, self.coin_ids.size)
        ranks, known = self._deep.get(excluded, (np.empty((0, depth), np.int32), np.zeros(0, bool)))
        if known.size < self.n_days:  # room for this many days and some to append
            grown = np.empty((self.n_days + max(32, self.n_days // 8), depth), np.int32)
            grown[: known.size] = ranks
            ranks, known = grown, np.concatenate([known, np.zeros(grown.shape[0] - known.size, bool)])
            self._deep[excluded] = (ranks, known)
        missing = np.unique(rows[~known[rows]])
        if missing.size:
            members, until = self._members(excluded)
            ranks[missing] = rank_order(self.market_cap, members=members, until=until, depth=depth, rows=missing)
            known[missing] = True
        return ranks[rows]

    # -- series ---------------------------------------------------------------------------------------------

    def season_index(
        self, excluded: Exclusion, *, top: int, window: int, btc_inside: bool = True, fill: bool = True
    ) -> SeasonIndex:
        """Altcoin Season Index for every day (cached); ``fill`` as in :meth:`universe`; days short of the
        minimum universe (:attr:`min_eligible`) without a value."""
        _check_window(window)
        if self.btc == NO_COIN:
            raise ValueError("the data has no Bitcoin: the season index compares every coin with BTC")
        key = (excluded, top, window, btc_inside, fill)
        found = self._seasons.get(key)
        if found is None:
            found = self._season_rows(excluded, top, window, btc_inside, fill, None)
            if len(self._seasons) >= MAX_SERIES:
                self._seasons.pop(next(iter(self._seasons)), None)
            self._seasons[key] = found
        return with_minimum(found, minimum_for(self.min_eligible, top=top, btc_inside=btc_inside))

    def ladder(self, excluded: Exclusion, *, window: int, depth: int, rows: NDArray[np.intp] | None = None) -> Ladder:
        """Each day's first ``depth`` altcoins with a W-day return, in rank order, with their returns, caps and
        whether they beat BTC: the season index of every N up to ``depth``, BTC inside or not, at once
        (:class:`coinseason.core.consensus.Ladder`; the minimum universe is the caller's to apply). Not cached."""
        _check_window(window)
        if self.btc == NO_COIN:
            raise ValueError("the data has no Bitcoin: the season index compares every coin with BTC")
        _check_top(depth)
        day = np.arange(self.n_days) if rows is None else np.asarray(rows)
        universe = self._filled(excluded, depth, window, False, rows)
        places, returns = universe.places, universe.returns
        if returns is None:  # pragma: no cover - a universe kept with its coins keeps their returns
            raise RuntimeError("the filled universe kept no returns")
        listed = places != NO_COIN
        caps = gather(self.market_cap, day, np.where(listed, places, 0))
        caps[~listed] = np.nan
        return Ladder(
            places=places,
            returns=returns,
            caps=caps,
            beats=outperforms(returns, universe.btc_return),
            n_alts=universe.filled,
            btc_ranked=self._btc_ranked(excluded, day),
            btc_return=universe.btc_return,
        )

    def _season_rows(
        self,
        excluded: Exclusion,
        top: int,
        window: int,
        btc_inside: bool,
        fill: bool,
        rows: NDArray[np.intp] | None,
    ) -> SeasonIndex:
        if not fill:
            universe = self.universe(excluded, top, btc_inside=btc_inside, rows=rows)
            by_coin = self._prices_by_coin(excluded) if rows is None else None
            return altcoin_season_index(self.price, universe, window=window, btc=self.btc, rows=rows, by_coin=by_coin)
        _check_top(top)
        return self._filled(excluded, top, window, btc_inside, rows, with_coins=False).season_index()

    def dominance(self, excluded: Exclusion, *, top: int | None = None) -> Dominance:
        """Dominance over every member coin (``top=None``) or the top N as of each day (cached)."""
        key = (excluded, top)
        if key not in self._dominance:
            if top is not None:
                _check_top(top)
            self._dominance[key] = self._dominance_rows(excluded, top, None)
        return self._dominance[key]

    def breakdown(
        self,
        excluded: Exclusion,
        day: dt.date,
        *,
        top: int,
        window: int,
        btc_inside: bool = True,
        fill: bool = True,
    ) -> Breakdown:
        """Each coin of the day's universe with its return and BTC's; ``rank`` is its market-cap rank that day
        among non-excluded coins."""
        _check_window(window)
        row = np.array([self.row_of(day)])
        universe = self.universe(excluded, top, btc_inside=btc_inside, fill_window=window if fill else None, rows=row)
        present = universe[0] != NO_COIN
        coins = universe[0][present]
        ret = window_returns(self.price, universe, window=window, rows=row)[0][present]
        btc_ret = window_returns(self.price, np.array([[self.btc]], dtype=np.int32), window=window, rows=row)[:, 0]
        eligible = (coins != self.btc) & np.isfinite(ret) & np.isfinite(btc_ret[0])
        beats = eligible & outperforms(ret[None, :], btc_ret)[0]
        members, until = self._members(excluded)
        ranking = rank_order(self.market_cap, members=members, until=until, depth=self.coin_ids.size, rows=row)[0]
        rank_of = np.full(self.coin_ids.size, -1, dtype=np.int32)
        listed = ranking[ranking != NO_COIN]
        rank_of[listed] = np.arange(1, listed.size + 1, dtype=np.int32)
        return Breakdown(day, coins.astype(np.int32), rank_of[coins], ret, float(btc_ret[0]), eligible, beats)

    # -- appending ------------------------------------------------------------------------------------------

    def append_day(
        self,
        day: dt.date,
        coin_ids: Sequence[str],
        price: NDArray[np.float64],
        market_cap: NDArray[np.float64],
    ) -> None:
        """Add the next UTC day and extend every cached series by one value."""
        if day != self.end + dt.timedelta(days=1):
            raise ValueError(f"the next day to append is {self.end + dt.timedelta(days=1)}, not {day}")
        cols = np.array([self._column.get(c, NO_COIN) for c in coin_ids], dtype=np.intp)
        if (cols == NO_COIN).any():
            unknown = [c for c, i in zip(coin_ids, cols, strict=True) if i == NO_COIN]
            raise ValueError(f"cannot append unknown coins {unknown[:5]}: reload the engine from the store")
        raw_price = np.full(self.coin_ids.size, np.nan)
        raw_mcap = np.full(self.coin_ids.size, np.nan)
        raw_price[cols] = price
        raw_mcap[cols] = market_cap
        self._grow()
        d = self.n_days
        self._price[d], self._price_age = fill_next_row(
            self._price[d - 1], raw_price, self._price_age, limit=self.gap_days
        )
        self._mcap[d], self._mcap_age = fill_next_row(self._mcap[d - 1], raw_mcap, self._mcap_age, limit=self.gap_days)
        self._ages = [*self._ages[-ROLLBACK_DAYS:], (self._price_age, self._mcap_age)]
        self.n_days += 1
        self._by_coin = None
        rows = np.array([d])
        self._extend_orders(rows)
        self._extend_seasons(rows)
        self._extend_dominance(rows)

    @property
    def rollback_days(self) -> int:
        """How many of the last days :meth:`drop_last` can take back now."""
        return min(len(self._ages) - 1, int(self.n_days) - 1)

    def drop_last(self, days: int) -> None:
        """Take back the last ``days`` days (at most :attr:`rollback_days`) and every cached value of them, as if
        they had never been appended: appending them again, rewritten, gives what a rebuild would."""
        if not 0 <= days <= self.rollback_days:
            raise ValueError(f"can take back 0 to {self.rollback_days} days, not {days}: reload the engine")
        if days and self._rows_shared:
            raise ValueError("an append-only copy shares its days with another engine: it cannot take days back")
        if days == 0:
            return
        n = self.n_days - days
        self.n_days = n
        del self._ages[len(self._ages) - days :]
        self._price_age, self._mcap_age = self._ages[-1]
        self._by_coin, self._by_coin_sets = None, set()
        self._orders = {key: order[:n] for key, order in self._orders.items()}
        for _, known in self._deep.values():  # the ranks of the days taken back are made again when asked
            known[n:] = False
        self._seasons = {
            key: replace(
                index,
                value=index.value[:n],
                n_eligible=index.n_eligible[:n],
                n_outperforming=index.n_outperforming[:n],
                btc_return=index.btc_return[:n],
            )
            for key, index in self._seasons.items()
        }
        self._dominance = {
            key: Dominance(
                total=dom.total[:n],
                btc_cap=dom.btc_cap[:n],
                eth_cap=dom.eth_cap[:n],
                stable_cap=dom.stable_cap[:n],
                n_coins=dom.n_coins[:n],
            )
            for key, dom in self._dominance.items()
        }

    def copy(self, *, append_only: bool = False) -> SeasonEngine:
        """An engine to append to (or take days back from) while this one goes on answering: what is changed in
        place is copied, the cached series (replaced, never changed) are shared.

        ``append_only``: the copy will only be appended to, so it shares the matrices and the deep rankings (it
        writes only rows past this engine's last day, which this one never reads) and cannot :meth:`drop_last`.
        """
        twin = copy.copy(self)
        twin._rows_shared = append_only
        if append_only:
            twin._deep = dict(self._deep)
        else:
            twin._price, twin._mcap = self._price.copy(), self._mcap.copy()
            deep = {}
            for key, (ranks, known) in list(self._deep.items()):  # requests may rank days meanwhile: a day marked
                seen = known.copy()  # known before the ranks are copied had its ranks written before (GIL order)
                deep[key] = (ranks.copy(), seen)
            twin._deep = deep
        twin._ages = list(self._ages)
        twin._orders, twin._until = dict(self._orders), dict(self._until)
        twin._seasons, twin._dominance = dict(self._seasons), dict(self._dominance)
        twin._by_coin_sets = set(self._by_coin_sets)
        return twin

    def _extend_orders(self, rows: NDArray[np.intp]) -> None:
        for excluded, order in list(self._orders.items()):
            members, until = self._members(excluded)
            new = rank_order(self.market_cap, members=members, until=until, depth=order.shape[1], rows=rows)
            self._orders[excluded] = np.concatenate([order, new])

    def _extend_seasons(self, rows: NDArray[np.intp]) -> None:
        for key, index in list(self._seasons.items()):
            excluded, top, window, btc_inside, fill = key
            new = self._season_rows(excluded, top, window, btc_inside, fill, rows)
            self._seasons[key] = _concat_index(index, new)

    def _extend_dominance(self, rows: NDArray[np.intp]) -> None:
        for (excluded, top), dom in list(self._dominance.items()):
            self._dominance[(excluded, top)] = _concat_dominance(dom, self._dominance_rows(excluded, top, rows))

    def _dominance_rows(self, excluded: Exclusion, top: int | None, rows: NDArray[np.intp] | None) -> Dominance:
        """Dominance on ``rows`` (default every day) over every member coin (``top`` None) or the top N."""
        stable, stable_from = self.stable, self._stable_from
        if top is None:
            members, until = self._members(excluded)
            return dominance_all(
                self.market_cap,
                members=members,
                until=until,
                btc=self.btc,
                eth=self.eth,
                stable=stable,
                stable_from=stable_from,
                rows=rows,
            )
        order = self.order(excluded, top)
        universe = (order if rows is None else order[rows])[:, :top]
        return dominance_top(
            self.market_cap, universe, btc=self.btc, eth=self.eth, stable=stable, stable_from=stable_from, rows=rows
        )

    def _grow(self) -> None:
        if self.n_days < self._price.shape[0]:
            return
        extra = max(32, self.n_days // 8)
        pad = np.full((extra, self.coin_ids.size), np.nan)
        self._price = np.concatenate([self._price, pad])
        self._mcap = np.concatenate([self._mcap, pad])


def _concat_index(a: SeasonIndex, b: SeasonIndex) -> SeasonIndex:
    return replace(
        a,
        value=np.concatenate([a.value, b.value]),
        n_eligible=np.concatenate([a.n_eligible, b.n_eligible]),
        n_outperforming=np.concatenate([a.n_outperforming, b.n_outperforming]),
        btc_return=np.concatenate([a.btc_return, b.btc_return]),
    )


def _concat_dominance(a: Dominance, b: Dominance) -> Dominance:
    return Dominance(
        total=np.concatenate([a.total, b.total]),
        btc_cap=np.concatenate([a.btc_cap, b.btc_cap]),
        eth_cap=np.concatenate([a.eth_cap, b.eth_cap]),
        stable_cap=np.concatenate([a.stable_cap, b.stable_cap]),
        n_coins=np.concatenate([a.n_coins, b.n_coins]),
    )


def _fill_depths(top: int, cached: int, n_coins: int, depths: RankDepths) -> list[int]:
    """Where the rank blocks of a ``fill`` universe end: ``top`` plus a margin that doubles from block to block
    (:attr:`RankDepths.fill_margin`, twice that, ...), the cached order's depth, the deep ranking's and every coin."""
    deep = min(depths.deep, n_coins) if n_coins > cached else min(cached, max(n_coins, 1))
    ends = {min(cached, deep), deep, max(n_coins, deep)}
    margin = depths.fill_margin
    while top + margin < deep:
        ends.add(top + margin)
        margin *= 2
    return sorted(ends)


def _check_top(top: int) -> None:
    if not 1 <= top <= MAX_TOP:
        raise ValueError(f"top must be between 1 and {MAX_TOP}, not {top}")


def _check_window(window: int) -> None:
    if not 1 <= window <= MAX_WINDOW:
        raise ValueError(f"window must be between 1 and {MAX_WINDOW} days, not {window}")
