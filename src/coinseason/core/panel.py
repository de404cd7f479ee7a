"""Dense day × coin matrices from long observation arrays, and gap filling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

FloatMatrix = NDArray[np.float64]
IntMatrix = NDArray[np.int32]
ScalarT = TypeVar("ScalarT", bound=np.generic)

DEFAULT_GAP_DAYS = 3
"""A missing day is filled from the last observation at most this many days earlier (and no further)."""


def pivot_daily(
    day: NDArray[np.integer],
    coin: NDArray[np.integer],
    values: NDArray[np.floating],
    *,
    n_days: int,
    n_coins: int,
) -> FloatMatrix:
    """Scatter long ``(day, coin, value)`` triples into an ``(n_days, n_coins)`` float64 matrix, NaN elsewhere.

    ``day`` and ``coin`` are 0-based row and column positions; a later duplicate of a cell wins.
    """
    out = np.full((n_days, n_coins), np.nan, dtype=np.float64)
    out[day, coin] = values
    return out


def gather(matrix: NDArray[ScalarT], rows: NDArray[np.integer], cols: NDArray[np.integer]) -> NDArray[ScalarT]:
    """``matrix[rows[:, None], cols]``: row ``i`` of the result holds ``matrix[rows[i], cols[i, j]]``.

    ``cols`` is ``(len(rows), k)`` with every position in range. A flat ``take``: several times faster than 2-D
    fancy indexing on a C-contiguous matrix.
    """
    flat = (np.asarray(rows, dtype=np.intp) * matrix.shape[1])[:, None] + cols
    out: NDArray[ScalarT] = np.ravel(matrix).take(flat)
    return out


@dataclass(frozen=True, slots=True)
class CoinMajor:
    """Some columns of a day × coin matrix stored coin by coin: ``values[slot[c], d]`` is ``matrix[d, c]``.

    Values picked along each day's ranking (mostly the same coins from one day to the next) then share cache
    lines across days, so :meth:`gather` is several times faster than :func:`gather` on the day-major matrix.
    """

    values: FloatMatrix
    """``(n_kept, n_days)``."""
    slot: NDArray[np.intp]
    """``(n_coins + 1,)`` row of ``values`` holding each column, -1 for columns not kept. The extra last entry,
    which position -1 picks, is a kept row: a placeholder position -1 reads some kept value."""

    @classmethod
    def of(cls, matrix: FloatMatrix, cols: NDArray[np.intp], *, chunk_rows: int = 16) -> CoinMajor:
        """Columns ``cols`` of ``matrix``, transposed ``chunk_rows`` rows at a time (cache-friendly)."""
        slot = np.full(matrix.shape[1] + 1, -1, dtype=np.intp)
        slot[cols] = np.arange(cols.size)
        slot[-1] = 0 if cols.size else -1
        values = np.empty((cols.size, matrix.shape[0]))
        for lo in range(0, matrix.shape[0], chunk_rows):
            values[:, lo : lo + chunk_rows] = matrix[lo : lo + chunk_rows, cols].T
        return cls(values=values, slot=slot)

    def gather(self, cols: NDArray[np.integer], *rows: NDArray[np.integer]) -> list[FloatMatrix] | None:
        """:func:`gather` on the day-major matrix, for each of ``rows`` with the same ``cols``; None when one of
        ``cols`` is not kept. A column -1 reads some kept value (as a placeholder)."""
        at = self.slot[cols]
        if at.size and at.min() < 0:
            return None
        at *= self.values.shape[1]
        flat = np.ravel(self.values)
        return [flat.take(at + np.asarray(r, dtype=np.intp)[:, None]) for r in rows]


def forward_fill(
    values: FloatMatrix, *, limit: int, observed: NDArray[np.bool_] | None = None, chunk_rows: int = 256
) -> FloatMatrix:
    """Fill NaN cells from the same column's last finite value at most ``limit`` rows earlier.

    Only earlier rows are used (no look-ahead). A cell more than ``limit`` rows after its column's last finite
    value stays NaN. Works in place on ``values`` and returns it. ``observed`` is ``isfinite(values)`` when the
    caller has it already.

    Only the cells after a gap start (a finite cell followed by a non-finite one) can be filled: the work beyond
    finding those starts (``chunk_rows`` rows at a time) is proportional to the number of gaps.
    """
    if limit <= 0 or values.shape[0] < 2:
        return values
    n_rows = values.shape[0]
    at, cols = _gap_starts(values, observed, chunk_rows)
    source = values[at, cols]
    for _ in range(min(limit, n_rows - 1)):
        # the next cell of each run of unobserved cells; a run ends at an observed cell or the last row. No run
        # reaches a cell another run has filled (that one would have started at an observed cell inside this run).
        at = at + 1
        going = at < n_rows
        at, cols, source = at[going], cols[going], source[going]
        going = ~np.isfinite(values[at, cols]) if observed is None else ~observed[at, cols]
        at, cols, source = at[going], cols[going], source[going]
        empty = np.isnan(values[at, cols])  # an infinite cell is neither a source nor filled
        values[at[empty], cols[empty]] = source[empty]
    return values


def _gap_starts(
    values: FloatMatrix, observed: NDArray[np.bool_] | None, chunk_rows: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Rows and columns of the finite cells whose next row's cell is not finite."""
    n_rows, n_cols = values.shape
    found = []
    for lo in range(0, n_rows - 1, chunk_rows):
        rows = slice(lo, min(lo + chunk_rows + 1, n_rows))
        valid = np.isfinite(values[rows]) if observed is None else observed[rows]
        found.append(np.flatnonzero(valid[:-1] & ~valid[1:]) + lo * n_cols)
    return np.divmod(np.concatenate(found), max(n_cols, 1))


def last_seen_age(observed: NDArray[np.bool_]) -> NDArray[np.int32]:
    """Rows since each column's last observed cell, counted at the last row (``2**30`` when never observed).

    For :func:`fill_next_row` with ``limit`` only the last ``limit`` rows matter: older observations count as
    never seen, so callers may pass those rows only.
    """
    if observed.shape[0] == 0:
        return np.full(observed.shape[1], 1 << 30, dtype=np.int32)
    flipped = observed[::-1]
    first = flipped.argmax(axis=0)
    return np.where(flipped[first, np.arange(observed.shape[1])], first, 1 << 30).astype(np.int32)


def fill_next_row(
    previous: NDArray[np.float64], raw: NDArray[np.float64], age: NDArray[np.int32], *, limit: int
) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    """One step of :func:`forward_fill` for a new day: ``previous`` is the filled prior row, ``age`` the days since
    each column's last observation before the new day (a large number when never seen).

    Returns the filled new row and the updated ages.
    """
    seen = np.isfinite(raw)
    new_age = np.where(seen, 0, age + 1).astype(np.int32)
    row = np.where(seen, raw, np.where(new_age <= limit, previous, np.nan))
    return row, new_age
