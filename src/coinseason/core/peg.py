"""Price pegs: does a token trade at a fixed ratio to a reference (the US dollar, BTC, ETH, ...)?

A token is *pegged* to a reference when at least ``min_share`` of its daily price ratios to the reference lie
in ``band`` and the median ratio lies in ``median_band``. The ratio is the token's price divided by the
reference's price on the same UTC day (for the US dollar, the USD price itself).

The bands are those of the coinseason CoinGecko classification (``shared/data/coingecko/README.md``, section 2):

- US dollar: band [0.95, 1.05], median band [0.98, 1.02] (:data:`USD_BAND`, :data:`USD_MEDIAN_BAND`);
- another asset (BTC, ETH, SOL, BNB, ...): band [0.9, 1.35], median band [0.95, 1.25]
  (:data:`ASSET_BAND`, :data:`ASSET_MEDIAN_BAND`). The upper side is wide because liquid-staking tokens that
  accrue rewards in their price drift above 1 (rETH, wstETH trade at 1.1-1.2 ETH).

NaN and infinite ratios are ignored. Fewer than ``min_obs`` finite ratios is not enough evidence: not pegged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

Band = tuple[float, float]

USD_BAND: Final[Band] = (0.95, 1.05)
USD_MEDIAN_BAND: Final[Band] = (0.98, 1.02)
ASSET_BAND: Final[Band] = (0.9, 1.35)
ASSET_MEDIAN_BAND: Final[Band] = (0.95, 1.25)
MIN_SHARE: Final = 0.7
MIN_OBS: Final = 30


@dataclass(frozen=True, slots=True)
class PegStats:
    """What a peg test saw: ``share`` of the ``n_obs`` finite ratios inside the band, and their ``median``."""

    share: float
    median: float
    n_obs: int


def _finite(ratio: ArrayLike) -> NDArray[np.float64]:
    values = np.asarray(ratio, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def _check_band(name: str, band: Band) -> None:
    low, high = band
    if not low <= high:
        raise ValueError(f"{name}: low {low} is above high {high}")


def peg_stats(ratio: ArrayLike, *, band: Band) -> PegStats:
    """Share in ``band``, median and count of the finite ratios (NaN share and median when there is none)."""
    _check_band("band", band)
    values = _finite(ratio)
    if values.size == 0:
        return PegStats(share=float("nan"), median=float("nan"), n_obs=0)
    low, high = band
    share = float(np.count_nonzero((values >= low) & (values <= high)) / values.size)
    return PegStats(share=share, median=float(np.median(values)), n_obs=int(values.size))


def is_pegged_stats(
    stats: PegStats,
    *,
    median_band: Band,
    min_share: float = MIN_SHARE,
    min_obs: int = MIN_OBS,
) -> bool:
    """True when the ratios summarised by ``stats`` (:func:`peg_stats`) show a peg to the reference.

    Pegged means: at least ``min_share`` of the finite ratios lie in the band the stats were taken with (bounds
    included) **and** their median lies in ``median_band``. Use ``USD_BAND`` and ``USD_MEDIAN_BAND`` ([0.95,
    1.05] and [0.98, 1.02]) for a US-dollar peg, ``ASSET_BAND`` and ``ASSET_MEDIAN_BAND`` ([0.9, 1.35] and
    [0.95, 1.25]) for a peg to BTC, ETH or another asset, as in the CoinGecko data README. With fewer than
    ``min_obs`` finite ratios the answer is False: too few days to tell a peg from a coincidence.
    """
    _check_band("median_band", median_band)
    if stats.n_obs < min_obs or stats.n_obs == 0:
        return False
    low, high = median_band
    return bool(stats.share >= min_share and low <= stats.median <= high)
