"""The altcoin basket: holdings formed on rebalance days from that day's point-in-time ranking, drifting with
prices in between, with its daily return, its own re-weighting turnover and its market-impact factors.

Rules (each stated so a result can be checked by hand):

* **Formation.** On a rebalance day r the basket buys the coins of day r's ranking (``members[r]``, e.g. the
  top N without BTC and the coins excluded that day) that pass two point-in-time filters: the day's traded volume
  is at least ``min_volume`` USD (an unknown volume fails a positive minimum), and the coin did not trade as a
  US-dollar stablecoin over the ``peg_days`` days to r (every price of those days in [0.95, 1.05]; decided from
  data up to r only, a stricter and quicker test than the exclusions' trailing peg test). Weights are equal or
  proportional to day r's market caps. It trades at day r's price and holds from r to r + 1 on.
* **Schedule.** The first rebalance is the first day with an eligible coin; the next is ``rebalance_days`` days
  later, or earlier on the first day a held coin's drifted weight is more than ``drift`` away from the weight it
  was given (``drift`` None: no drift trigger), or the first day with eligible coins after the basket held
  nothing. ``rebalance_days = 1`` re-forms the basket every day.
* **Between rebalances** each coin's value moves with its own price: ``w_i * p_i(t) / p_i(r)``, the weights
  drift. A held coin without a price on day t (beyond the store's gap fill: it stopped trading) is worth 0 that
  day; if no price is back on the next rebalance day it cannot be sold and is lost. So a coin that dies while
  held takes its loss in the basket (no survivorship bias); a coin that leaves the ranking is sold at the next
  rebalance, paying the re-weighting costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.core.panel import FloatMatrix, IntMatrix, gather
from coinseason.core.peg import USD_BAND
from coinseason.core.universe import NO_COIN

MISSING_VOLUME_USD = 1e6
"""Volume assumed for a coin whose traded volume is unknown (0 or missing), for the impact term."""
REBALANCE_DAYS = 30
"""Default days between two scheduled rebalances of the basket."""
MIN_VOLUME_USD = 100_000.0
"""Default least traded volume (USD, that day) for a coin to be bought into the basket."""
PEG_DAYS = 30
"""Default days of USD-pegged prices that keep a coin out of the basket (a stablecoin as of that day)."""


@dataclass(frozen=True, slots=True)
class Basket:
    """Daily series of one basket (``T`` days)."""

    returns: NDArray[np.float64]
    """Return from day t - 1 to day t of the holdings after day t - 1's trades (0 on day 0)."""
    turnover: NDArray[np.float64]
    """``sum |w_new - w_drifted|`` over coins on day t (both sides; 0 except on rebalance days)."""
    inner_impact: NDArray[np.float64]
    """``sum_i |w_new,i - w_drifted,i| ** 1.5 / sqrt(volume_i)`` on day t: re-weighting a basket position of X
    USD costs ``k * X ** 1.5 * inner_impact`` in square-root impact (uncapped)."""
    impact_factor: NDArray[np.float64]
    """``sum_i w_i ** 1.5 / sqrt(volume_i)`` of day t's weights: a trade of X USD into the basket costs
    ``k * X ** 1.5 * impact_factor`` in square-root impact."""
    members: IntMatrix
    """``(T, N)`` coins held after day t's trades (:data:`NO_COIN` padding and for coins worth 0)."""
    weights: NDArray[np.float64]
    """``(T, N)`` weights of ``members`` after day t's trades (0 for padding)."""
    volume: NDArray[np.float64]
    """``(T, N)`` volume of ``members`` on day t, USD (``missing_volume`` where unknown)."""
    rebalanced: NDArray[np.bool_]
    """``(T,)`` True on the days the basket was (re-)formed."""


def basket_weights(members: IntMatrix, market_cap: FloatMatrix, weighting: str) -> NDArray[np.float64]:
    """Weights of each day's members: ``"equal"``, or proportional to that day's market cap (``"cap"``); rows sum
    to 1 (or 0)."""
    present = members != NO_COIN
    if weighting == "equal":
        raw = present.astype(np.float64)
    elif weighting == "cap":
        caps = gather(market_cap, np.arange(members.shape[0]), np.where(present, members, 0))
        raw = np.where(present & np.isfinite(caps) & (caps > 0), caps, 0.0)
    else:
        raise ValueError(f"weighting is equal or cap, not {weighting!r}")
    total = raw.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, raw / total, 0.0)


def eligible(
    members: IntMatrix, price: FloatMatrix, volume: FloatMatrix, *, min_volume: float, peg_days: int
) -> IntMatrix:
    """``members`` with the coins that fail the formation filters (module docstring) replaced by :data:`NO_COIN`
    and the rest moved to the front of each row, ranking order kept. Uses each day's and earlier data only."""
    n_days = members.shape[0]
    present = members != NO_COIN
    safe = np.where(present, members, 0)
    rows = np.arange(n_days)
    ok = present & np.isfinite(gather(price, rows, safe))
    if min_volume > 0:
        vol = gather(volume, rows, safe)
        ok &= np.isfinite(vol) & (vol >= min_volume)
    if peg_days > 0 and n_days >= peg_days:
        low, high = USD_BAND
        pegged = np.ones(members.shape, dtype=bool)
        for lag in range(peg_days):
            past = gather(price, np.maximum(rows - lag, 0), safe)
            pegged &= (past >= low) & (past <= high)
        pegged[: peg_days - 1] = False  # fewer than peg_days days of history: no evidence
        ok &= ~pegged
    order = np.argsort(~ok, axis=1, kind="stable")
    return np.where(np.take_along_axis(ok, order, axis=1), np.take_along_axis(members, order, axis=1), NO_COIN)


def build_basket(
    members: IntMatrix,
    price: FloatMatrix,
    market_cap: FloatMatrix,
    volume: FloatMatrix,
    *,
    weighting: str = "equal",
    rebalance_days: int = REBALANCE_DAYS,
    drift: float | None = None,
    min_volume: float = 0.0,
    peg_days: int = 0,
    missing_volume: float = MISSING_VOLUME_USD,
) -> Basket:
    """The basket series from each day's ranking ``members`` (``(T, N)``) by the rules of the module docstring.

    ``price`` is the gap-filled price (NaN: no price that day); ``volume`` the day's traded volume in USD (NaN or
    ≤ 0: unknown). One loop over rebalance periods; each period is whole-array work.
    """
    if rebalance_days < 1:
        raise ValueError(f"rebalance_days must be at least 1, not {rebalance_days}")
    if drift is not None and drift <= 0:
        raise ValueError(f"drift must be positive (or None), not {drift}")
    n_days, width = members.shape
    candidates = eligible(members, price, volume, min_volume=min_volume, peg_days=peg_days)
    target = basket_weights(candidates, market_cap, weighting)
    has_any = (candidates != NO_COIN).any(axis=1)
    rets, turnover, inner = np.zeros(n_days), np.zeros(n_days), np.zeros(n_days)
    held = np.full((n_days, width), NO_COIN, dtype=members.dtype)
    weights = np.zeros((n_days, width))
    rebalanced = np.zeros(n_days, dtype=bool)
    known = np.where(np.isfinite(volume) & (volume > 0), volume, missing_volume)
    coins = np.zeros(0, dtype=np.intp)  # the holdings and their (drifted) weights before day r's trades
    w_now = np.zeros(0)
    r = int(np.argmax(has_any)) if has_any.any() else n_days
    while r < n_days:
        if has_any[r]:  # re-form from day r's eligible coins
            new = candidates[r][candidates[r] != NO_COIN].astype(np.intp)
            w0 = target[r, : new.size]
            turnover[r], inner[r] = _trade(coins, w_now, new, w0, known[r])
            coins, horizon = new, rebalance_days
            rebalanced[r] = True
        else:  # nothing eligible today: keep drifting, look again tomorrow
            w0, horizon = w_now, 1
        held[r, : coins.size] = np.where(w0 > 0, coins, NO_COIN)
        weights[r, : coins.size] = w0
        last = min(r + horizon, n_days - 1)  # the next scheduled rebalance, or the last day
        if last == r:
            break
        rel = price[r + 1 : last + 1, coins] / price[r, coins]
        value = np.where(np.isfinite(rel), w0 * rel, 0.0)
        total = value.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            drifted = np.where(total[:, None] > 0, value / total[:, None], 0.0)
        trigger = total <= 0  # nothing left: re-form at once
        if drift is not None:
            trigger |= np.abs(drifted - w0).max(axis=1, initial=0.0) > drift
        scheduled = r + horizon < n_days
        k = int(np.argmax(trigger)) if trigger.any() else total.size - 1
        nxt = r + 1 + k
        level = np.concatenate([[1.0], total[: k + 1]])
        with np.errstate(invalid="ignore", divide="ignore"):
            rets[r + 1 : nxt + 1] = np.where(level[:-1] > 0, level[1:] / level[:-1] - 1.0, 0.0)
        if not (scheduled or trigger.any()):  # the data ends before the next rebalance
            held[r + 1 : nxt + 1, : coins.size] = np.where(value > 0, coins, NO_COIN)
            weights[r + 1 : nxt + 1, : coins.size] = drifted
            break
        held[r + 1 : nxt, : coins.size] = np.where(value[:k] > 0, coins, NO_COIN)
        weights[r + 1 : nxt, : coins.size] = drifted[:k]
        w_now, r = drifted[k], nxt
    vol = gather(known, np.arange(n_days), np.where(held != NO_COIN, held, 0))
    vol = np.where(held != NO_COIN, vol, missing_volume)
    impact = (weights**1.5 / np.sqrt(vol)).sum(axis=1)
    return Basket(rets, turnover, inner, impact, held, weights, vol, rebalanced)


def _trade(
    old: NDArray[np.intp],
    old_w: NDArray[np.float64],
    new: NDArray[np.intp],
    new_w: NDArray[np.float64],
    volume: NDArray[np.float64],
) -> tuple[float, float]:
    """``sum |Δw|`` and ``sum |Δw| ** 1.5 / sqrt(volume)`` over the union of the old and new coins."""
    coins = np.concatenate([old, new])
    delta = np.concatenate([-old_w, new_w])
    unique, inverse = np.unique(coins, return_inverse=True)
    dw = np.abs(np.bincount(inverse, weights=delta, minlength=unique.size))
    return float(dw.sum()), float((dw**1.5 / np.sqrt(volume[unique])).sum())


def asset_returns(price: NDArray[np.float64]) -> NDArray[np.float64]:
    """Daily simple returns of one price series (0 on day 0 and where a price is missing)."""
    out = np.zeros(price.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        r = price[1:] / price[:-1] - 1.0
    out[1:] = np.where(np.isfinite(r), r, 0.0)
    return out
