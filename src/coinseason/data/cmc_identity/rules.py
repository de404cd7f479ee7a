"""Step 1, the continuation rule: may a row continue a track of its symbol, and at what cost (package docstring)."""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from coinseason.data.cmc_identity.observations import BoolArray, FloatArray, IntArray

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
CONFIRM_TOLERANCE: Final[float] = 0.1
"""A 1-day move is confirmed when ln(1 + pct/100) is within this of the observed ln price ratio."""


def continuation_cost(gap: int, d_log_price: float, d_log_supply: float, log_change_24h: float) -> float:
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


def consistent_steps(
    gap: IntArray, d_log_price: FloatArray, d_log_supply: FloatArray, log_change_24h: FloatArray
) -> BoolArray:
    """Vectorised ``continuation_cost(...) < inf``."""
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
