"""Stable coin identities for CoinMarketCap daily ranking snapshots, which carry symbols only.

CMC's historical top-200 pages name coins by ticker only, and tickers are not identifiers: two coins share
one on the same day (BITS, GLC, ARC, BNX, DTC, VIP, ONE, EGLD), a dead coin's ticker is taken by an unrelated
coin later, coins are renamed (MIOTA→IOTA) or redenominated (VEN→VET at 1:100), and they drop out of the
top 200 and come back. :func:`resolve_cmc_identities` cuts each symbol's rows into *tracks*, one coin each,
so that a return along one ``coin_id`` never mixes two coins. When in doubt it splits: one coin under two
ids loses a return; two coins under one id make a false one.

Method
------
Notation, for a row and a track last seen ``g`` days before it: ``dp = |Δ ln price|``,
``ds = |Δ ln supply|``. The supply is the circulating supply, else market cap / price; unknown when neither
is positive. The price is the price, else market cap / supply. Symbols are compared without case (CMC
showed both ``XAUt`` and ``XAUT``). Rows without a date, a symbol or a price get a null ``coin_id``.

1. **Continuation rule.** A row may continue a track of its symbol iff ``1 ≤ g ≤ MAX_GAP_DAYS`` (730) and
   either

   a. *confirmed move*: ``g = 1`` and the row's own 24 h change (column ``pct_change_24h``, % — used only
      when the input has it) agrees with the observed one: ``|ln(1 + pct/100) − Δ ln price| ≤ 0.1``; or
   b. ``dp ≤ PRICE_BOUND`` (ln 20) and

      - short gap, ``g ≤ SHORT_GAP_DAYS`` (7): not both ``ds > ln 3`` and ``dp > ln 1.5`` (a CMC supply
        correction leaves the price alone; a supply off by 3× with a price off by 1.5× is another coin or
        a redenomination);
      - long gap, ``g > 7``: both supplies known and ``ds ≤ LONG_GAP_SUPPLY_BOUND`` (ln 1.25).

2. **Assignment**, per symbol, day by day. Candidates are the symbol's tracks last seen 1–730 days before.
   A consistent pair costs ``dp + ds + GAP_PENALTY · ln g`` (``ds`` only when known; GAP_PENALTY = 0.25,
   so the track seen yesterday wins unless an older one fits clearly better). A day's rows (several when
   coins collide on a symbol) take candidates greedily, cheapest consistent pair first, each row and track
   at most once (on this file an exhaustive search for the most matches at least total cost gives the same
   ids). An unmatched row opens a new track. A track not matched stays open until unseen for 730 days, so
   a glitch day becomes a one-day track and the coin resumes its own track the next day, and a coin that
   left the top 200 is found again when it returns.
3. **Renames.** Track B takes the id of track A when all hold: A's last row is on day ``a`` and A has no
   later row; B's first row is on day ``b``, ``1 ≤ b − a ≤ RENAME_MAX_GAP_DAYS`` (2); B's symbol differs
   from A's and had no other row, nor seed, in the 730 days up to ``b``; ``dp ≤ ln 1.1``;
   ``ds ≤ ln 1.0005`` (CMC keeps the supply figure when it renames a coin; unrelated coins at the bottom of
   the ranking match to 0.08 %, e.g. BTO→WPR in 2018); ``|Δ rank| ≤ 10``; and the pairing is mutual and
   unique. A seed not continued by the rows has no rank, so it is never renamed from.
4. **Ids.** ``f"{symbol.lower()}@{first_date}"`` of a track's first row (``btc@2013-04-28``); a renamed
   track keeps its predecessor's id, a track continuing a seed the seed's id. A second new track with the
   same symbol and first day gets ``~2`` (then ``~3``…), in rank order.

Rows are first sorted by (date, rank, symbol, price, market cap, supply, pct_change_24h), so the same rows
give the same ids in any input order (rows equal on all of these are interchangeable).

Guarantee: between consecutive rows of one ``coin_id``, ``1 ≤ g ≤ 730`` and either ``g = 1`` with a
confirmed move, or ``dp ≤ ln 20`` with the short- or long-gap supply condition above (a rename step is
tighter still: ``g ≤ 2``, ``dp ≤ ln 1.1``, ``ds ≤ ln 1.0005``).

Calibration (CMC top 200, 2013-04-28 → 2024-12-11, 799,085 rows)
----------------------------------------------------------------
- Day-to-day ``dp`` over the symbols never shared on one day: median 0.034, p99 0.48, p99.9 1.19; the
  largest for BTC 0.46, ETH 1.30 (its first listed day), LTC 0.83, XRP 1.03, DOGE 1.52. 44 one-day steps
  exceed ln 20 (3.0) in eleven years: 21 are confirmed by the row's own 24 h change (LUNA −99.7 % on
  2022-05-12), the others are glitch days (VOLT ×7,900 for one day in 2014, reported change capped at
  9,000 %) or redenominations (BTT ÷1,000 with a −3.7 % change, XAUR).
- Supply tells coins apart where price cannot. Day to day it barely moves (p99 0.035) except for CMC
  corrections at a steady price (SOL, FIL, RSR: ``ds`` ≈ 1.7 with ``dp`` < 0.25), hence the short-gap rule
  looks at it only with a price move; the 1.5 there keeps VIP's two coins apart in April 2016 (a price
  1.5× off, a supply 15× off). After gaps of 60–730 days, 72 % of pairs whose supply differs more than
  e-fold (mostly re-used symbols: coins near rank 200 have similar market caps) still have a price within
  20×, while the same coin keeps its supply: ``ds ≤ ln 1.25`` holds for 86 % of the pairs with
  ``dp < 0.3`` after 60–240 days. The rest (unlocks, supply corrections during the gap) get new ids.
- Matching the result to CoinGecko histories (by symbol and a price within 10 %): no id spans two
  CoinGecko coins; 87 of the 487 matched CoinGecko coins are split over two or more ids, almost all after
  a gap with a supply change over 25 % or a gap over 730 days.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.errors import DataError

__all__ = [
    "CONFIRM_COLUMN",
    "CONFIRM_TOLERANCE",
    "GAP_PENALTY",
    "LONG_GAP_SUPPLY_BOUND",
    "MAX_GAP_DAYS",
    "PRICE_BOUND",
    "RENAME_MAX_GAP_DAYS",
    "RENAME_MAX_RANK_SHIFT",
    "RENAME_PRICE_BOUND",
    "RENAME_SUPPLY_BOUND",
    "SHORT_GAP_DAYS",
    "SHORT_GAP_PRICE_GUARD",
    "SHORT_GAP_SUPPLY_GUARD",
    "TrackSeed",
    "resolve_cmc_identities",
]

PRICE_BOUND: Final[float] = math.log(20.0)
"""Largest |ln price ratio| between consecutive rows of one coin, unless a 1-day move is confirmed."""
SHORT_GAP_DAYS: Final[int] = 7
"""Gaps up to this many days are short: the price decides, supply only guards against a double jump."""
SHORT_GAP_SUPPLY_GUARD: Final[float] = math.log(3.0)
"""On a short gap, a supply move beyond this (ln) breaks the track when the price moved beyond the next."""
SHORT_GAP_PRICE_GUARD: Final[float] = math.log(1.5)
"""See SHORT_GAP_SUPPLY_GUARD: a CMC supply correction leaves the price alone."""
LONG_GAP_SUPPLY_BOUND: Final[float] = math.log(1.25)
"""On a gap longer than SHORT_GAP_DAYS both supplies must be known and within this |ln ratio|."""
MAX_GAP_DAYS: Final[int] = 730
"""A track unseen for more than this many days is closed."""
GAP_PENALTY: Final[float] = 0.25
"""Added to a candidate track's cost per unit of ln(gap in days)."""
CONFIRM_COLUMN: Final[str] = "pct_change_24h"
"""Optional input column: the provider's own 24 h price change, %, which can confirm a 1-day jump."""
CONFIRM_TOLERANCE: Final[float] = 0.1
"""A 1-day move is confirmed when ln(1 + pct/100) is within this of the observed ln price ratio."""
RENAME_MAX_GAP_DAYS: Final[int] = 2
"""A renamed coin reappears under its new symbol at most this many days after its last old row."""
RENAME_PRICE_BOUND: Final[float] = math.log(1.1)
"""Largest |ln price ratio| across a rename."""
RENAME_SUPPLY_BOUND: Final[float] = math.log(1.0005)
"""Largest |ln supply ratio| across a rename: CMC keeps the supply figure of a renamed coin."""
RENAME_MAX_RANK_SHIFT: Final[int] = 10
"""Largest rank change across a rename."""

_REQUIRED: Final[tuple[str, ...]] = ("date", "rank", "symbol", "price", "market_cap", "circulating_supply")
_NO_TRACK: Final[int] = -1
_EPOCH: Final[datetime.date] = datetime.date(1970, 1, 1)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TrackSeed:
    """Last known state of an already-stored coin, so a later file continues its tracks."""

    coin_id: str
    symbol: str
    last_date: datetime.date
    price: float
    market_cap: float | None
    circulating_supply: float | None


@dataclass(frozen=True, slots=True)
class _Observations:
    """The identifiable rows of the sorted frame as arrays; ``position`` is the row in that frame."""

    position: IntArray
    day: IntArray
    symbol: list[str]
    key: list[str]
    log_price: FloatArray
    log_supply: FloatArray
    log_change_24h: FloatArray
    rank: FloatArray


@dataclass(slots=True)
class _Tracks:
    """All tracks: symbol key, last state, first and last observation (-1 for a seed), seed id."""

    key: list[str] = field(default_factory=list)
    last_day: list[int] = field(default_factory=list)
    log_price: list[float] = field(default_factory=list)
    log_supply: list[float] = field(default_factory=list)
    first_obs: list[int] = field(default_factory=list)
    last_obs: list[int] = field(default_factory=list)
    seed_id: list[str | None] = field(default_factory=list)

    def open(self, key: str, obs: int, day: int, log_price: float, log_supply: float) -> int:
        """Start a track at observation ``obs``; return its number."""
        self.key.append(key)
        self.last_day.append(day)
        self.log_price.append(log_price)
        self.log_supply.append(log_supply)
        self.first_obs.append(obs)
        self.last_obs.append(obs)
        self.seed_id.append(None)
        return len(self.key) - 1

    def extend(self, track: int, obs: int, day: int, log_price: float, log_supply: float) -> None:
        """Continue ``track`` with observation ``obs``."""
        self.last_day[track] = day
        self.log_price[track] = log_price
        self.log_supply[track] = log_supply
        self.last_obs[track] = obs

    def seed(self, seed: TrackSeed) -> int:
        """Open a track from a stored coin's last state; return its number."""
        self.key.append(_symbol_key(seed.symbol))
        self.last_day.append((seed.last_date - _EPOCH).days)
        self.log_price.append(math.log(seed.price))
        self.log_supply.append(_seed_log_supply(seed))
        self.first_obs.append(_NO_TRACK)
        self.last_obs.append(_NO_TRACK)
        self.seed_id.append(seed.coin_id)
        return len(self.key) - 1


def resolve_cmc_identities(rows: pl.DataFrame, seeds: Sequence[TrackSeed] = ()) -> pl.DataFrame:
    """Add a stable ``coin_id`` to CMC ranking rows that carry symbols only (method: module docstring).

    Parameters
    ----------
    rows : columns ``date`` (Date), ``rank``, ``symbol``, ``price``, ``market_cap``, ``circulating_supply``,
        in any order; other columns are passed through unchanged. ``pct_change_24h`` (%), when present,
        confirms 1-day jumps.
    seeds : last state of coins already stored; a row that continues one (same rule as day to day, from
        the seed's last date and values) gets the seed's ``coin_id``.

    Returns
    -------
    The rows with a ``coin_id`` String column, sorted by (date, rank). Rows without a date, a symbol or a
    price get a null ``coin_id``.

    Raises
    ------
    DataError : a required column is missing, ``date`` is not a Date, or a seed is unusable.
    """
    _check_columns(rows)
    _check_seeds(seeds)
    sort_key = [*_REQUIRED, *([CONFIRM_COLUMN] if CONFIRM_COLUMN in rows.columns else [])]
    frame = rows.sort(sort_key, nulls_last=True, maintain_order=True)
    obs = _observations(frame)
    tracks, track_of, fresh = _find_tracks(obs, seeds)
    root = _link_renames(obs, tracks, fresh, seeds)
    names = pl.Series("coin_id", _track_names(obs, tracks, root), dtype=pl.String)
    track_at = np.full(frame.height, _NO_TRACK, dtype=np.int64)
    track_at[obs.position] = track_of
    index = pl.Series(track_at)
    return frame.with_columns(names.gather(index.set(index < 0, None)))


def _check_columns(rows: pl.DataFrame) -> None:
    missing = [name for name in _REQUIRED if name not in rows.columns]
    if missing:
        raise DataError(f"CMC rows lack the column(s) {', '.join(missing)}")
    if "coin_id" in rows.columns:
        raise DataError("CMC rows already have a coin_id column")
    if rows.schema["date"] != pl.Date:
        raise DataError(f"CMC rows: 'date' must be a Date column, not {rows.schema['date']}")


def _check_seeds(seeds: Sequence[TrackSeed]) -> None:
    ids = [seed.coin_id for seed in seeds]
    if len(set(ids)) != len(ids):
        raise DataError("two track seeds share a coin_id")
    for seed in seeds:
        if not (math.isfinite(seed.price) and seed.price > 0):
            raise DataError(f"track seed {seed.coin_id!r} has no positive price")


def _symbol_key(symbol: str) -> str:
    return symbol.upper()


def _seed_log_supply(seed: TrackSeed) -> float:
    """ln circulating supply, else ln(market cap / price), else NaN."""
    supply, market_cap = seed.circulating_supply, seed.market_cap
    if supply is not None and math.isfinite(supply) and supply > 0:
        return math.log(supply)
    if market_cap is not None and math.isfinite(market_cap) and market_cap > 0:
        return math.log(market_cap / seed.price)
    return math.nan


def _positive_log(name: str) -> pl.Expr:
    value = pl.col(name).cast(pl.Float64, strict=False)
    return pl.when(value.is_finite() & (value > 0)).then(value.log()).otherwise(None)


def _observations(frame: pl.DataFrame) -> _Observations:
    """Arrays of the rows that can be identified: a date, a symbol and a price are known."""
    if CONFIRM_COLUMN in frame.columns:
        growth = 1.0 + pl.col(CONFIRM_COLUMN).cast(pl.Float64, strict=False) / 100.0
        change = pl.when(growth.is_finite() & (growth > 0)).then(growth.log()).otherwise(None)
    else:
        change = pl.lit(None, dtype=pl.Float64)
    log_price, log_cap, log_supply = (
        _positive_log("price"),
        _positive_log("market_cap"),
        _positive_log("circulating_supply"),
    )
    table = (
        frame.select(
            (pl.col("date") - pl.lit(_EPOCH)).dt.total_days().alias("day"),
            pl.col("symbol").cast(pl.String),
            pl.coalesce(log_price, log_cap - log_supply).alias("log_price"),
            pl.coalesce(log_supply, log_cap - log_price).alias("log_supply"),
            change.alias("change"),
            pl.col("rank").cast(pl.Float64, strict=False),
        )
        .with_row_index("position")
        .drop_nulls(["day", "symbol", "log_price"])
    )
    return _Observations(
        position=table["position"].cast(pl.Int64).to_numpy(),
        day=table["day"].cast(pl.Int64).to_numpy(),
        symbol=table["symbol"].to_list(),
        key=table["symbol"].str.to_uppercase().to_list(),
        log_price=table["log_price"].to_numpy(),
        log_supply=table["log_supply"].fill_null(np.nan).to_numpy(),
        log_change_24h=table["change"].fill_null(np.nan).to_numpy(),
        rank=table["rank"].fill_null(np.nan).to_numpy(),
    )


# ---------------------------------------------------------------- continuation rule


def _continuation_cost(gap: int, d_log_price: float, d_log_supply: float, log_change_24h: float) -> float:
    """Cost of continuing a track seen ``gap`` days before with a row; ``inf`` when inconsistent.

    ``d_log_supply`` NaN: a supply is unknown. ``log_change_24h`` NaN: no 24 h change given.
    """
    if gap < 1 or gap > MAX_GAP_DAYS:
        return math.inf
    dp = abs(d_log_price)
    ds = abs(d_log_supply)
    known = not math.isnan(ds)
    cost = (dp + ds if known else dp) + GAP_PENALTY * math.log(gap)
    if gap == 1 and abs(log_change_24h - d_log_price) <= CONFIRM_TOLERANCE:
        return cost
    if dp > PRICE_BOUND:
        return math.inf
    if gap <= SHORT_GAP_DAYS:
        double_jump = known and dp > SHORT_GAP_PRICE_GUARD and ds > SHORT_GAP_SUPPLY_GUARD
        return math.inf if double_jump else cost
    return cost if known and ds <= LONG_GAP_SUPPLY_BOUND else math.inf


def _consistent_steps(
    gap: IntArray, d_log_price: FloatArray, d_log_supply: FloatArray, log_change_24h: FloatArray
) -> BoolArray:
    """Vectorised ``_continuation_cost(...) < inf``."""
    dp = np.abs(d_log_price)
    ds = np.abs(d_log_supply)
    known = ~np.isnan(ds)
    with np.errstate(invalid="ignore"):
        confirmed = (gap == 1) & (np.abs(log_change_24h - d_log_price) <= CONFIRM_TOLERANCE)
        double_jump = known & (dp > SHORT_GAP_PRICE_GUARD) & (ds > SHORT_GAP_SUPPLY_GUARD)
        long_ok = known & (ds <= LONG_GAP_SUPPLY_BOUND)
    supply_ok = np.where(gap <= SHORT_GAP_DAYS, ~double_jump, long_ok)
    result: BoolArray = (gap >= 1) & (gap <= MAX_GAP_DAYS) & (confirmed | ((dp <= PRICE_BOUND) & supply_ok))
    return result


# ---------------------------------------------------------------- tracks


def _find_tracks(obs: _Observations, seeds: Sequence[TrackSeed]) -> tuple[_Tracks, IntArray, BoolArray]:
    """Assign every observation to a track, symbol by symbol.

    A symbol whose consecutive rows all continue each other (no collision, no seed) is one track, found in
    one vectorised pass; the others are followed day by day. Also returns, per observation, whether its
    symbol had no other row in the MAX_GAP_DAYS before it nor on its day (seeds not considered).
    """
    n = obs.day.size
    tracks = _Tracks()
    track_of = np.full(n, _NO_TRACK, dtype=np.int64)
    seeds_by_key: dict[str, list[TrackSeed]] = {}
    for seed in sorted(seeds, key=lambda s: (_symbol_key(s.symbol), s.last_date, s.coin_id)):
        seeds_by_key.setdefault(_symbol_key(seed.symbol), []).append(seed)
    fresh = np.zeros(n, np.bool_)
    if n:
        codes = pl.Series(obs.key, dtype=pl.String).rank("dense").cast(pl.Int64).to_numpy()
        order = np.argsort(codes, kind="stable")  # by symbol, then (date, rank) as in the sorted frame
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        step_ok, fresh = _steps(obs, order, sorted_codes)
        simple: list[bool] = np.logical_and.reduceat(step_ok, starts).tolist()
        for lo, hi, is_simple in zip(starts.tolist(), [*starts[1:].tolist(), n], simple, strict=True):
            _track_symbol(obs, order[lo:hi], is_simple, seeds_by_key, tracks, track_of)
    for group in seeds_by_key.values():  # seeds whose symbol has no row here
        for seed in group:
            tracks.seed(seed)
    return tracks, track_of, fresh


def _track_symbol(
    obs: _Observations,
    members: IntArray,
    is_simple: bool,
    seeds_by_key: dict[str, list[TrackSeed]],
    tracks: _Tracks,
    track_of: IntArray,
) -> None:
    """Tracks of one symbol's observations ``members`` (by date, rank); uses up the symbol's seeds."""
    key = obs.key[int(members[0])]
    if is_simple and key not in seeds_by_key:
        first, last = int(members[0]), int(members[-1])
        track = tracks.open(key, first, int(obs.day[first]), float(obs.log_price[first]), float(obs.log_supply[first]))
        tracks.extend(track, last, int(obs.day[last]), float(obs.log_price[last]), float(obs.log_supply[last]))
        track_of[members] = track
    else:
        seeded = [tracks.seed(seed) for seed in seeds_by_key.pop(key, [])]
        _follow_symbol(obs, members, seeded, tracks, track_of)


def _steps(obs: _Observations, order: IntArray, codes: IntArray) -> tuple[BoolArray, BoolArray]:
    """Two flags from the rows in symbol order (``order``, with symbol ``codes``).

    ``step_ok`` (in that order): the row may continue the previous row of its symbol, or is its first.
    ``fresh`` (by observation): no other row of its symbol on its day or in the MAX_GAP_DAYS before.
    """
    n = order.size
    day = obs.day[order]
    log_price = obs.log_price[order]
    log_supply = obs.log_supply[order]
    same = codes[1:] == codes[:-1]
    gap = day[1:] - day[:-1]
    ok = _consistent_steps(
        gap, log_price[1:] - log_price[:-1], log_supply[1:] - log_supply[:-1], obs.log_change_24h[order][1:]
    )
    step_ok = np.r_[True, ~same | ok]
    near_before = np.r_[False, same & (gap <= MAX_GAP_DAYS)]
    same_day_after = np.r_[same & (gap == 0), False]
    fresh = np.empty(n, np.bool_)
    fresh[order] = ~near_before & ~same_day_after
    return step_ok, fresh


def _follow_symbol(
    obs: _Observations, members: IntArray, seeded: list[int], tracks: _Tracks, track_of: IntArray
) -> None:
    """Day by day, match one symbol's rows to its open tracks, cheapest first; the rest open new tracks."""
    key = obs.key[int(members[0])]
    index = members.tolist()
    days = obs.day[members].tolist()
    log_price = obs.log_price[members].tolist()
    log_supply = obs.log_supply[members].tolist()
    change = obs.log_change_24h[members].tolist()
    open_tracks = list(seeded)
    last_day, t_price, t_supply = tracks.last_day, tracks.log_price, tracks.log_supply
    lo = 0
    while lo < len(index):
        day = days[lo]
        hi = lo + 1
        while hi < len(index) and days[hi] == day:
            hi += 1
        open_tracks = [t for t in open_tracks if day - last_day[t] <= MAX_GAP_DAYS]
        candidates = [t for t in open_tracks if last_day[t] < day]
        costs = [
            [
                _continuation_cost(day - last_day[t], log_price[r] - t_price[t], log_supply[r] - t_supply[t], change[r])
                for t in candidates
            ]
            for r in range(lo, hi)
        ]
        for r, choice in zip(range(lo, hi), _best_assignment(costs), strict=True):
            if choice == _NO_TRACK:
                track = tracks.open(key, index[r], day, log_price[r], log_supply[r])
                open_tracks.append(track)
            else:
                track = candidates[choice]
                tracks.extend(track, index[r], day, log_price[r], log_supply[r])
            track_of[index[r]] = track
        lo = hi


def _best_assignment(costs: list[list[float]]) -> list[int]:
    """Match rows to candidate tracks greedily: cheapest consistent pair first, each row and track once.

    Ties go to the earlier row (rank order), then the earlier candidate. Returns a candidate index, or
    ``_NO_TRACK``, per row.
    """
    if len(costs) == 1:
        row = costs[0]
        best = min(range(len(row)), key=row.__getitem__, default=_NO_TRACK)
        return [best if best != _NO_TRACK and row[best] < math.inf else _NO_TRACK]
    pairs = sorted((cost, r, j) for r, row in enumerate(costs) for j, cost in enumerate(row) if cost < math.inf)
    chosen = [_NO_TRACK] * len(costs)
    taken: set[int] = set()
    for _, r, j in pairs:
        if chosen[r] == _NO_TRACK and j not in taken:
            chosen[r] = j
            taken.add(j)
    return chosen


# ---------------------------------------------------------------- renames


def _link_renames(obs: _Observations, tracks: _Tracks, fresh: BoolArray, seeds: Sequence[TrackSeed]) -> list[int]:
    """Root track of each track: itself, or the root of the track it continues under a new symbol."""
    n_tracks = len(tracks.key)
    root = list(range(n_tracks))
    ending_on: dict[int, list[int]] = {}
    for t in range(n_tracks):
        if tracks.last_obs[t] != _NO_TRACK:
            ending_on.setdefault(tracks.last_day[t], []).append(t)
    seed_days: dict[str, list[int]] = {}
    for seed in seeds:
        seed_days.setdefault(_symbol_key(seed.symbol), []).append((seed.last_date - _EPOCH).days)
    sources: dict[int, list[int]] = {}
    targets: dict[int, list[int]] = {}
    for b in range(n_tracks):
        first = tracks.first_obs[b]
        if first == _NO_TRACK or not fresh[first]:
            continue
        day = int(obs.day[first])
        if any(day - MAX_GAP_DAYS <= d <= day for d in seed_days.get(tracks.key[b], [])):
            continue
        for gap in range(1, RENAME_MAX_GAP_DAYS + 1):
            for a in ending_on.get(day - gap, []):
                if tracks.key[a] != tracks.key[b] and _same_coin_renamed(obs, tracks.last_obs[a], first):
                    sources.setdefault(b, []).append(a)
                    targets.setdefault(a, []).append(b)
    for b in sorted(sources, key=lambda t: tracks.first_obs[t]):  # oldest first: chains resolve in order
        if len(sources[b]) == 1 and len(targets[sources[b][0]]) == 1:
            root[b] = root[sources[b][0]]
    return root


def _same_coin_renamed(obs: _Observations, last: int, first: int) -> bool:
    dp = abs(float(obs.log_price[first] - obs.log_price[last]))
    ds = abs(float(obs.log_supply[first] - obs.log_supply[last]))  # NaN compares False
    shift = abs(float(obs.rank[first] - obs.rank[last]))
    return dp <= RENAME_PRICE_BOUND and ds <= RENAME_SUPPLY_BOUND and shift <= RENAME_MAX_RANK_SHIFT


# ---------------------------------------------------------------- ids


def _track_names(obs: _Observations, tracks: _Tracks, root: list[int]) -> list[str]:
    """Each track's id: its seed's, or ``symbol@first-date`` of its root, made unique with ``~2``, ``~3``…"""
    own: list[str] = [sid or "" for sid in tracks.seed_id]
    used = {sid for sid in tracks.seed_id if sid is not None}
    named = sorted(
        (t for t in range(len(root)) if root[t] == t and tracks.seed_id[t] is None),
        key=lambda t: tracks.first_obs[t],  # observations follow (date, rank)
    )
    for t in named:
        first = tracks.first_obs[t]
        date = _EPOCH + datetime.timedelta(days=int(obs.day[first]))
        base = f"{obs.symbol[first].lower()}@{date.isoformat()}"
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}~{k}"
        used.add(name)
        own[t] = name
    return [own[root[t]] for t in range(len(root))]
