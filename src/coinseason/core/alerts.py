"""Alert rules as pure functions of a daily series.

A rule watches one state of a series (the index in altcoin season, BTC dominance above a level). A value that
hovers at a threshold must not make the state flap, so the state changes only through a :class:`Band`:

* **hysteresis** — the level that enters the state (``enter``) and the level that leaves it (``leave``) differ;
  between them the state stays what it was;
* **confirmation** — a level must be passed on ``confirm`` days in a row (K days) before the state changes; the
  change is dated on the K-th day, the first day it could be known.

:func:`band_transitions` reads the whole series each time, so what it finds is what the data says *now*:
:func:`reconcile` compares that with what was already announced and says which new transitions to announce and
which announced ones the data no longer supports (a revision took them away: they are revoked, never left
standing silently).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["ENTERED", "LEFT", "Band", "band_states", "band_step", "band_transitions", "holds", "reconcile"]

ENTERED: Final = 1
"""A transition into the watched state."""
LEFT: Final = -1
"""A transition out of the watched state."""

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Band:
    """When a series is in the watched state.

    ``above``: the state is "at or above ``enter``" (True) or "at or below ``enter``" (False). It is entered after
    ``confirm`` days in a row at or beyond ``enter``, and left after ``confirm`` days in a row strictly beyond
    ``leave`` on the other side. ``leave`` lies on the far side of ``enter`` (below it for ``above``), or equals it
    for no hysteresis.
    """

    enter: float
    leave: float
    above: bool = True
    confirm: int = 1

    def __post_init__(self) -> None:
        if self.confirm < 1:
            raise ValueError(f"confirmation needs at least 1 day, not {self.confirm}")
        if not (np.isfinite(self.enter) and np.isfinite(self.leave)):
            raise ValueError("the enter and leave levels must be finite numbers")
        if self.above and self.leave > self.enter:
            raise ValueError(f"the leave level {self.leave} must not be above the enter level {self.enter}")
        if not self.above and self.leave < self.enter:
            raise ValueError(f"the leave level {self.leave} must not be below the enter level {self.enter}")

    def inside(self, value: float) -> bool:
        """``value`` is at or beyond the enter level."""
        return value >= self.enter if self.above else value <= self.enter

    def outside(self, value: float) -> bool:
        """``value`` is strictly beyond the leave level, away from the state."""
        return value < self.leave if self.above else value > self.leave


def band_states(values: NDArray[np.float64], band: Band) -> NDArray[np.bool_]:
    """Whether the series is in the watched state on each day; it starts outside. A missing value (NaN) keeps the
    state and breaks a run of confirming days (a run is of days in a row that say so)."""
    states = np.zeros(values.size, dtype=np.bool_)
    state = False
    run = 0
    for i, value in enumerate(values.tolist()):
        towards = value == value and (band.outside(value) if state else band.inside(value))  # NaN: never
        run = run + 1 if towards else 0
        if run >= band.confirm:
            state = not state
            run = 0
        states[i] = state
    return states


def band_transitions(values: NDArray[np.float64], band: Band) -> tuple[NDArray[np.intp], NDArray[np.int8]]:
    """The days the state changed (their row numbers) and how (:data:`ENTERED` or :data:`LEFT`), oldest first."""
    states = band_states(values, band).astype(np.int8)
    previous = np.concatenate(([np.int8(0)], states[:-1]))
    change = states - previous
    rows = np.flatnonzero(change)
    return rows, change[rows].astype(np.int8)


def reconcile(derived: Iterable[K], announced: Collection[K]) -> tuple[list[K], list[K]]:
    """What to announce now: ``(new, withdrawn)``. ``new`` are the transitions the data shows that were not
    announced yet (in the order given); ``withdrawn`` are announced ones the data no longer shows (in the order of
    ``announced``)."""
    shown = list(dict.fromkeys(derived))
    present = set(shown)
    known = set(announced)
    return [k for k in shown if k not in known], [k for k in announced if k not in present]


def band_step(state: bool, value: float, band: Band) -> int:
    """The change one new value makes to a state known without its history (``band.confirm`` is not used: one
    value, one day): :data:`ENTERED`, :data:`LEFT` or 0. NaN changes nothing."""
    if value != value:
        return 0
    if not state and band.inside(value):
        return ENTERED
    if state and band.outside(value):
        return LEFT
    return 0


def holds(change: int, value: float, band: Band) -> bool:
    """``value`` still makes the ``change`` it was announced for: at or beyond ``enter`` for an entry, strictly
    beyond ``leave`` for a leave. NaN says nothing: it holds."""
    if value != value:
        return True
    return band.inside(value) if change == ENTERED else band.outside(value)
