"""Step 3, renames: a track that ends and one that starts under another symbol a day or two later, with the same
price and supply, are one coin (package docstring)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from coinseason.data.cmc_identity.observations import EPOCH, BoolArray, Observations, TrackSeed, symbol_key
from coinseason.data.cmc_identity.rules import MAX_GAP_DAYS
from coinseason.data.cmc_identity.tracks import NO_TRACK, Tracks

RENAME_MAX_GAP_DAYS: Final[int] = 2
"""A renamed coin reappears under its new symbol at most this many days after its last old row."""
RENAME_PRICE_BOUND: Final[float] = math.log(1.1)
"""Largest |ln price ratio| across a rename."""
RENAME_SUPPLY_BOUND: Final[float] = math.log(1.0005)
"""Largest |ln supply ratio| across a rename: CMC keeps the supply figure of a renamed coin."""
RENAME_MAX_RANK_SHIFT: Final[int] = 10
"""Largest rank change across a rename."""


def link_renames(obs: Observations, tracks: Tracks, fresh: BoolArray, seeds: Sequence[TrackSeed]) -> list[int]:
    """Root track of each track: itself, or the root of the track it continues under a new symbol."""
    n_tracks = len(tracks.key)
    root = list(range(n_tracks))
    ending_on: dict[int, list[int]] = {}
    for t in range(n_tracks):
        if tracks.last_obs[t] != NO_TRACK:
            ending_on.setdefault(tracks.last_day[t], []).append(t)
    seed_days: dict[str, list[int]] = {}
    for seed in seeds:
        seed_days.setdefault(symbol_key(seed.symbol), []).append((seed.last_date - EPOCH).days)
    sources: dict[int, list[int]] = {}
    targets: dict[int, list[int]] = {}
    for b in range(n_tracks):
        first = tracks.first_obs[b]
        if first == NO_TRACK or not fresh[first]:
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


def _same_coin_renamed(obs: Observations, last: int, first: int) -> bool:
    dp = abs(float(obs.log_price[first] - obs.log_price[last]))
    ds = abs(float(obs.log_supply[first] - obs.log_supply[last]))  # NaN compares False
    shift = abs(float(obs.rank[first] - obs.rank[last]))
    return dp <= RENAME_PRICE_BOUND and ds <= RENAME_SUPPLY_BOUND and shift <= RENAME_MAX_RANK_SHIFT
