"""Step 2, the assignment: each symbol's rows cut into tracks, one coin each (package docstring)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import polars as pl

from coinseason.data.cmc_identity.observations import (
    EPOCH,
    BoolArray,
    IntArray,
    Observations,
    TrackSeed,
    seed_log_supply,
    symbol_key,
)
from coinseason.data.cmc_identity.rules import MAX_GAP_DAYS, consistent_steps, continuation_cost

NO_TRACK: Final[int] = -1
"""No track (a row that cannot be identified), or no observation (a seed's first and last)."""


@dataclass(slots=True)
class Tracks:
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
        self.key.append(symbol_key(seed.symbol))
        self.last_day.append((seed.last_date - EPOCH).days)
        self.log_price.append(math.log(seed.price))
        self.log_supply.append(seed_log_supply(seed))
        self.first_obs.append(NO_TRACK)
        self.last_obs.append(NO_TRACK)
        self.seed_id.append(seed.coin_id)
        return len(self.key) - 1


def find_tracks(obs: Observations, seeds: Sequence[TrackSeed]) -> tuple[Tracks, IntArray, BoolArray]:
    """Assign every observation to a track, symbol by symbol.

    A symbol whose consecutive rows all continue each other (no collision, no seed) is one track, found in
    one vectorised pass; the others are followed day by day. Also returns, per observation, whether its
    symbol had no other row in the MAX_GAP_DAYS before it nor on its day (seeds not considered).
    """
    n = obs.day.size
    tracks = Tracks()
    track_of = np.full(n, NO_TRACK, dtype=np.int64)
    seeds_by_key: dict[str, list[TrackSeed]] = {}
    for seed in sorted(seeds, key=lambda s: (symbol_key(s.symbol), s.last_date, s.coin_id)):
        seeds_by_key.setdefault(symbol_key(seed.symbol), []).append(seed)
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
    obs: Observations,
    members: IntArray,
    is_simple: bool,
    seeds_by_key: dict[str, list[TrackSeed]],
    tracks: Tracks,
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


def _steps(obs: Observations, order: IntArray, codes: IntArray) -> tuple[BoolArray, BoolArray]:
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
    ok = consistent_steps(
        gap, log_price[1:] - log_price[:-1], log_supply[1:] - log_supply[:-1], obs.log_change_24h[order][1:]
    )
    step_ok = np.r_[True, ~same | ok]
    near_before = np.r_[False, same & (gap <= MAX_GAP_DAYS)]
    same_day_after = np.r_[same & (gap == 0), False]
    fresh = np.empty(n, np.bool_)
    fresh[order] = ~near_before & ~same_day_after
    return step_ok, fresh


def _follow_symbol(obs: Observations, members: IntArray, seeded: list[int], tracks: Tracks, track_of: IntArray) -> None:
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
                continuation_cost(day - last_day[t], log_price[r] - t_price[t], log_supply[r] - t_supply[t], change[r])
                for t in candidates
            ]
            for r in range(lo, hi)
        ]
        for r, choice in zip(range(lo, hi), _best_assignment(costs), strict=True):
            if choice == NO_TRACK:
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
    ``NO_TRACK``, per row.
    """
    if len(costs) == 1:
        row = costs[0]
        best = min(range(len(row)), key=row.__getitem__, default=NO_TRACK)
        return [best if best != NO_TRACK and row[best] < math.inf else NO_TRACK]
    pairs = sorted((cost, r, j) for r, row in enumerate(costs) for j, cost in enumerate(row) if cost < math.inf)
    chosen = [NO_TRACK] * len(costs)
    taken: set[int] = set()
    for _, r, j in pairs:
        if chosen[r] == NO_TRACK and j not in taken:
            chosen[r] = j
            taken.add(j)
    return chosen
