"""Step 4 and the entry point: :func:`resolve_cmc_identities` runs the steps and names each track (package
docstring)."""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import polars as pl

from coinseason.data.cmc_identity.observations import CONFIRM_COLUMN, EPOCH, Observations, TrackSeed, observations
from coinseason.data.cmc_identity.renames import link_renames
from coinseason.data.cmc_identity.tracks import NO_TRACK, Tracks, find_tracks
from coinseason.errors import DataError

_REQUIRED: Final[tuple[str, ...]] = ("date", "rank", "symbol", "price", "market_cap", "circulating_supply")


def resolve_cmc_identities(rows: pl.DataFrame, seeds: Sequence[TrackSeed] = ()) -> pl.DataFrame:
    """Add a stable ``coin_id`` to CMC ranking rows that carry symbols only (method: the package docstring).

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
    obs = observations(frame)
    tracks, track_of, fresh = find_tracks(obs, seeds)
    root = link_renames(obs, tracks, fresh, seeds)
    names = pl.Series("coin_id", _track_names(obs, tracks, root), dtype=pl.String)
    track_at = np.full(frame.height, NO_TRACK, dtype=np.int64)
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


def _track_names(obs: Observations, tracks: Tracks, root: list[int]) -> list[str]:
    """Each track's id: its seed's, or ``symbol@first-date`` of its root, made unique with ``~2``, ``~3``…"""
    own: list[str] = [sid or "" for sid in tracks.seed_id]
    used = {sid for sid in tracks.seed_id if sid is not None}
    named = sorted(
        (t for t in range(len(root)) if root[t] == t and tracks.seed_id[t] is None),
        key=lambda t: tracks.first_obs[t],  # observations follow (date, rank)
    )
    for t in named:
        first = tracks.first_obs[t]
        date = EPOCH + datetime.timedelta(days=int(obs.day[first]))
        base = f"{obs.symbol[first].lower()}@{date.isoformat()}"
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}~{k}"
        used.add(name)
        own[t] = name
    return [own[root[t]] for t in range(len(root))]
