"""Point-in-time universes: each day's ranking by market cap, exclusions, top N.

Exclusions are point in time: a coin is kept out of the universe from a day on (its ``until`` row: it is a
member on the rows before), so a coin that became a stablecoin in 2021 still counts in 2020. An
:class:`Exclusion` says which coins an index leaves out; the engine turns it into each coin's first excluded day
from the classes it holds (:class:`coinseason.core.engine.SeasonEngine`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from coinseason.core.panel import FloatMatrix, IntMatrix, gather

NO_COIN = -1
"""Padding in an order matrix where a day has fewer ranked coins than asked for."""

MAX_TOP = 500

NEVER: Final = int(np.iinfo(np.int32).max)
"""A row no data reaches: the ``until`` of a coin never excluded, the first day of a class never held."""


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Which coins an index leaves out: every coin of one of ``classes`` from the first day it holds that class
    (point in time), the coins of ``add`` on every day, never the coins of ``remove``."""

    classes: frozenset[str] = frozenset()
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()

    @classmethod
    def always(cls, coin_ids: frozenset[str] | set[str]) -> Exclusion:
        """The coins ``coin_ids`` left out on every day, whatever their class."""
        return cls(add=frozenset(coin_ids))


NO_EXCLUSION: Final = Exclusion()


def member_blocks(
    members: NDArray[np.bool_], until: NDArray[np.int32] | None, first: int, last: int
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.intp]]:
    """For the rows ``first`` to ``last`` (inclusive): the columns members on every one of them, on some of them,
    and those whose membership ends inside them (``first < until ≤ last``)."""
    if until is None:
        return members, members, np.empty(0, dtype=np.intp)
    every = members & (until > last)
    some = members & (until > first)
    return every, some, np.flatnonzero(some & ~every)


def mask_ended(
    caps: FloatMatrix, day: NDArray[np.intp], cols: NDArray[np.intp], until: NDArray[np.int32], ending: NDArray[np.intp]
) -> None:
    """Set to NaN, in ``caps`` (rows ``day``, columns ``cols``), the cells of the ``ending`` columns on and after
    their ``until`` row."""
    at = np.flatnonzero(np.isin(cols, ending, assume_unique=True))
    if at.size:
        gone = day[:, None] >= until[cols[at]][None, :]
        caps[:, at] = np.where(gone, np.nan, caps[:, at])


def rank_order(
    market_cap: FloatMatrix,
    *,
    members: NDArray[np.bool_],
    depth: int,
    rows: NDArray[np.intp] | None = None,
    chunk_rows: int = 64,
    until: NDArray[np.int32] | None = None,
) -> IntMatrix:
    """Each day's coins ordered by market cap, largest first, as of that day.

    Parameters
    ----------
    market_cap : (n_days, n_coins) market caps; NaN or ≤ 0 means not ranked that day.
    members : (n_coins,) True for coins that may be ranked (exclusions already applied).
    depth : how many ranks to keep (the largest N that will be asked for).
    rows : compute only these days (default all).
    chunk_rows : days ranked together (memory and speed only; the result does not depend on it).
    until : (n_coins,) optional: a member is ranked only on the rows before ``until`` (point-in-time exclusions:
        :data:`NEVER` for a coin never excluded).

    Returns
    -------
    (len(rows), depth) int32 coin positions, :data:`NO_COIN` past the last ranked coin. Ties are broken by
    column position so the result does not depend on input order beyond the column order.
    """
    n_days, n_coins = market_cap.shape
    wanted = np.arange(n_days) if rows is None else np.asarray(rows)
    depth = int(depth)
    out = np.full((wanted.size, depth), NO_COIN, dtype=np.int32)
    if min(depth, n_coins) == 0:
        return out
    for lo in range(0, wanted.size, chunk_rows):
        day = wanted[lo : lo + chunk_rows]
        block = market_cap[lo : lo + chunk_rows] if rows is None else market_cap[day]
        every, some, ending = member_blocks(members, until, int(day.min()), int(day.max()))
        cols = _contenders(block, every, some, depth)
        caps = block[:, cols]
        if ending.size and until is not None:
            mask_ended(caps, day, cols, until, ending)
        ranked = _rank_block(caps, depth)
        out[lo : lo + block.shape[0], : ranked.shape[1]] = np.append(cols, NO_COIN)[ranked]  # NO_COIN stays
    return out


def _contenders(block: FloatMatrix, every: NDArray[np.bool_], some: NDArray[np.bool_], depth: int) -> NDArray[np.intp]:
    """The columns that can be among the first ``depth`` of some row of ``block``, in column order: of the
    columns members on ``some`` row, those that may reach it (``every``: members on every row of the block).

    A column must have a positive cap on some row. If ``depth`` columns members on every row are positive on every
    row, each row's ``depth``-th largest cap is at least the ``depth``-th largest of those columns' smallest caps,
    ``floor``; a column whose caps are all below ``floor`` is then below ``depth`` others on every row and is left
    out.
    """
    with np.errstate(invalid="ignore"):
        low = np.minimum.reduce(block, axis=0)  # NaN where the column misses a row
        sure = low[every & (low > 0)]
        floor = np.partition(sure, sure.size - depth)[sure.size - depth] if sure.size >= depth else 0.0
        reach = np.greater_equal(block, floor) if floor > 0 else np.greater(block, 0.0)
    return np.flatnonzero(some & reach.any(axis=0))


def _rank_block(caps: FloatMatrix, depth: int) -> NDArray[np.intp]:
    """Positions in ``caps`` (columns in column order) of each row's first ``depth`` caps, largest first, ties by
    position; :data:`NO_COIN` for caps that are not finite and positive. ``min(depth, n_columns)`` wide."""
    neg = np.negative(caps)  # ascending: largest cap first; NaN and caps ≤ 0 sort after every positive cap
    k = min(depth, neg.shape[1])
    if k == 0:
        return np.empty((neg.shape[0], 0), dtype=np.intp)
    every = np.arange(neg.shape[0])
    if k < neg.shape[1]:
        part = np.argpartition(neg, k, axis=1)[:, : k + 1]  # the first k + 1, to see a tie across the cut
        part_neg = gather(neg, every, part)
        order = np.argsort(part_neg, axis=1)  # not stable: rows with tied caps are redone below
        first, first_neg = gather(part, every, order), gather(part_neg, every, order)
    else:
        first = np.argsort(neg, axis=1)
        first_neg = gather(neg, every, first)
    with np.errstate(invalid="ignore"):
        tied = ((first_neg[:, 1:] == first_neg[:, :-1]) & (first_neg[:, 1:] < 0)).any(axis=1)
        if tied.any():  # a stable sort of the whole row keeps equal caps in column order
            first[tied] = np.argsort(neg[tied], axis=1, kind="stable")[:, : first.shape[1]]
            first_neg[tied] = np.take_along_axis(neg[tied], first[tied], axis=1)
        first, first_neg = first[:, :k], first_neg[:, :k]
        first[~((first_neg < 0) & (first_neg > -np.inf))] = NO_COIN
    return first


def top_n(order: IntMatrix, *, n: int, btc: int, btc_inside: bool) -> IntMatrix:
    """The first ``n`` ranks of ``order``; with ``btc_inside=False`` Bitcoin does not take one of the ``n`` places
    (the universe is then BTC plus the top ``n`` others)."""
    if btc_inside or btc < 0:
        return order[:, :n]
    head = order[:, : n + 1]
    is_btc = head == btc
    moved = np.argsort(is_btc, axis=1, kind="stable")  # BTC, if present, goes last
    return np.take_along_axis(head, moved, axis=1)[:, :n]
