"""A grid of reasonable definitions of the Altcoin Season Index, evaluated over an engine's history.

The default grid (:data:`DEFAULT_GRID`): N ∈ {20, 50, 100, 200} × W ∈ {30, 60, 90, 180} days × BTC inside the N
or not × two exclusion sets (the caller's, usually the default classes and none) — 64 variants. It spans what the
published indices use (blockchaincenter: top 50, BTC inside, 90 days; CoinMarketCap: top 100, 90 days; other sites
30 or 60 days) and the standard series top 50 and top 100 over 90 days are among them. Every variant uses the
``fill`` rule. One :class:`coinseason.core.consensus.Ladder` per exclusion set and W gives all its N and both
BTC placements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
from numpy.typing import NDArray

from coinseason.core.consensus import Ladder
from coinseason.core.engine import SeasonEngine
from coinseason.core.panel import FloatMatrix
from coinseason.core.season import minimum_for, with_minimum
from coinseason.core.universe import Exclusion

GRID_TOPS = (20, 50, 100, 200)
GRID_WINDOWS = (30, 60, 90, 180)
GRID_BTC_INSIDE = (True, False)
GRID_EXCLUSIONS = ("default", "none")


@dataclass(frozen=True, slots=True)
class Variant:
    """One definition of the index; ``exclusion`` names an exclusion set the caller maps to an
    :class:`~coinseason.core.universe.Exclusion`."""

    top: int
    window: int
    btc_inside: bool
    exclusion: str


def make_grid(
    tops: Sequence[int] = GRID_TOPS,
    windows: Sequence[int] = GRID_WINDOWS,
    btc_inside: Sequence[bool] = GRID_BTC_INSIDE,
    exclusions: Sequence[str] = GRID_EXCLUSIONS,
) -> tuple[Variant, ...]:
    """Every combination, in the order exclusion, BTC inside, N, W."""
    return tuple(Variant(n, w, b, e) for e, b, n, w in product(exclusions, btc_inside, tops, windows))


DEFAULT_GRID = make_grid()


@dataclass(frozen=True, slots=True)
class GridValues:
    """Each variant's Altcoin Season Index on the rows asked for, minimum universe applied."""

    variants: tuple[Variant, ...]
    values: FloatMatrix
    """``(n_rows, n_variants)``, NaN where a variant has no value."""
    ladders: dict[tuple[str, int], Ladder]
    """The ladder of each (exclusion, W) of the grid, to reuse for a headline variant among them."""

    def column(self, variant: Variant) -> NDArray[np.float64]:
        return self.values[:, self.variants.index(variant)]


def grid_values(
    engine: SeasonEngine,
    exclusions: Mapping[str, Exclusion],
    *,
    variants: Sequence[Variant] = DEFAULT_GRID,
    rows: NDArray[np.intp] | None = None,
    keep_ladders: bool = False,
) -> GridValues:
    """Evaluate ``variants`` on ``rows`` (default every day) of ``engine``; ``exclusions`` maps each variant's
    exclusion name to its set. The engine's :attr:`~coinseason.core.engine.SeasonEngine.min_eligible` applies."""
    n_rows = engine.n_days if rows is None else int(np.asarray(rows).size)
    values = np.full((n_rows, len(variants)), np.nan)
    ladders: dict[tuple[str, int], Ladder] = {}
    pairs = sorted({(v.exclusion, v.window) for v in variants})
    for name, window in pairs:
        depth = max(v.top for v in variants if (v.exclusion, v.window) == (name, window))
        if name not in exclusions:
            raise ValueError(f"no exclusion set named {name!r}")
        ladder = engine.ladder(exclusions[name], window=window, depth=depth, rows=rows)
        cum = ladder.cumulative_beats()
        for at, v in enumerate(variants):
            if (v.exclusion, v.window) != (name, window):
                continue
            index = ladder.season_index(v.top, btc_inside=v.btc_inside, cum_beats=cum)
            required = minimum_for(engine.min_eligible, top=v.top, btc_inside=v.btc_inside)
            values[:, at] = with_minimum(index, required).value
        if keep_ladders:
            ladders[(name, window)] = ladder
    return GridValues(tuple(variants), values, ladders)
