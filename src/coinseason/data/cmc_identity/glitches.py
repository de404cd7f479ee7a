"""Step 5, after the ids: a one-day glitch of a coin's price belongs to that coin (package docstring, rule 5).

CoinMarketCap sometimes shows a coin at a price far off for one day (VOLT ×7,900 in 2014). The continuation rule
cannot follow such a day (over ``PRICE_BOUND``), so it opens a track of one row, and the coin resumes its own track
the next day: a coin that exists for one day, with the glitch's market cap, would move every index that day. The
one-row track is given back to its coin when the coin is missing that very day and the row's price is over
``factor×`` (or under ``1/factor×``) the coin's nearest rows on each side it has them; the quality gates then flag
the day as the one-day spike it is and keep it out of every index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from coinseason.data.cmc_identity.observations import EPOCH, TrackSeed, symbol_key
from coinseason.data.cmc_identity.rules import SHORT_GAP_DAYS


@dataclass(frozen=True, slots=True)
class _Row:
    day: int
    log_price: float


def attach_glitch_days(
    resolved: pl.DataFrame, seeds: Sequence[TrackSeed] = (), *, factor: float
) -> tuple[pl.DataFrame, int]:
    """``resolved`` (CMC rows with their ``coin_id``) with each one-day glitch given its coin's id, and how many.

    A glitch is the only row of a new id (not a seed's) on day ``d``, whose symbol (without case) another id ``U``
    with two rows at least (its seed counted) shows on rows around ``d`` but not on ``d``: ``U``'s nearest row
    before ``d`` (its seed included) and nearest row after, at least one of them within ``SHORT_GAP_DAYS``, and the
    glitch's price over ``factor×`` every one of them, or under ``1/factor×`` every one. Among several such ``U``,
    the nearest (then the first id) wins."""
    if resolved.height == 0:
        return resolved, 0
    frame = resolved.with_row_index("_row").with_columns(
        pl.col("symbol").cast(pl.String).str.to_uppercase().alias("_key"),
        (pl.col("date") - pl.lit(EPOCH)).dt.total_days().alias("_day"),
        pl.when(pl.col("price") > 0).then(pl.col("price").log()).alias("_lp"),
    )
    known = frame.filter(pl.col("coin_id").is_not_null() & pl.col("_day").is_not_null() & pl.col("_lp").is_not_null())
    seed_ids = {seed.coin_id for seed in seeds}
    singles = known.filter((pl.len().over("coin_id") == 1) & ~pl.col("coin_id").is_in(list(seed_ids)))
    if singles.height == 0:
        return resolved, 0
    rows = _rows_by_coin(known, seeds, keys=set(singles["_key"].to_list()))
    days = {coin: {r.day for r in coin_rows} for by_coin in rows.values() for coin, coin_rows in by_coin.items()}
    bound = math.log(factor)
    moved: dict[int, str] = {}
    for single in singles.iter_rows(named=True):
        day, own = int(single["_day"]), str(single["coin_id"])
        best: tuple[int, str] | None = None
        for coin, coin_rows in rows.get(single["_key"], {}).items():
            if coin == own or day in days[coin] or len(coin_rows) < 2:  # a coin, not another one-day track
                continue
            gap = _glitch_gap(coin_rows, day, float(single["_lp"]), bound)
            if gap is not None and (best is None or (gap, coin) < best):
                best = (gap, coin)
        if best is not None:
            moved[int(single["_row"])] = best[1]
            days[best[1]].add(day)
    if not moved:
        return resolved, 0
    new_ids = pl.Series("_moved", [moved.get(i) for i in range(frame.height)], dtype=pl.String)
    out = frame.with_columns(pl.coalesce(new_ids, pl.col("coin_id")).alias("coin_id"))
    return out.drop("_row", "_key", "_day", "_lp"), len(moved)


def _rows_by_coin(
    known: pl.DataFrame, seeds: Sequence[TrackSeed], *, keys: set[str]
) -> dict[str, dict[str, list[_Row]]]:
    """By symbol key, then by coin id: the rows (and seeds) of the symbols in ``keys``."""
    out: dict[str, dict[str, list[_Row]]] = {key: {} for key in keys}
    part = known.filter(pl.col("_key").is_in(list(keys)))
    for key, coin, day, lp in part.select("_key", "coin_id", "_day", "_lp").iter_rows():
        out[key].setdefault(coin, []).append(_Row(int(day), float(lp)))
    for seed in seeds:
        key = symbol_key(seed.symbol)
        if key in out:
            out[key].setdefault(seed.coin_id, []).append(_Row((seed.last_date - EPOCH).days, math.log(seed.price)))
    return out


def _glitch_gap(coin_rows: list[_Row], day: int, log_price: float, bound: float) -> int | None:
    """Days to the nearest of the coin's rows around ``day`` when a row there at ``log_price`` is a glitch of the
    coin; None when it is not."""
    before = [r for r in coin_rows if r.day < day]
    after = [r for r in coin_rows if r.day > day]
    near = [max(before, key=lambda r: r.day)] if before else []
    near += [min(after, key=lambda r: r.day)] if after else []
    gaps = [abs(r.day - day) for r in near]
    if not near or min(gaps) > SHORT_GAP_DAYS:
        return None
    moves = np.array([log_price - r.log_price for r in near])
    if bool(np.all(moves > bound)) or bool(np.all(moves < -bound)):
        return min(gaps)
    return None
