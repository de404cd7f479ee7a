"""Trading signals over the engine's daily series: each day's state from data up to that day only.

A signal is an int8 state per day (and per column when given ``(T, Q)`` inputs): :data:`BTC`, :data:`ALT`,
:data:`NEUTRAL` or :data:`NO_SIGNAL` (not enough data yet). The state of day d depends only on values of days
≤ d; the backtester trades it on day d + 1 at the earliest.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

NO_SIGNAL = -1
BTC = 0
ALT = 1
NEUTRAL = 2
STATE_NAMES = {NO_SIGNAL: "none", BTC: "btc", ALT: "alt", NEUTRAL: "neutral"}

States = NDArray[np.int8]


def _floats(values: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def season_state(index: ArrayLike, *, altcoin_at: ArrayLike = 75.0, bitcoin_at: ArrayLike = 25.0) -> States:
    """Season rule: ALT when the Altcoin Season Index ≥ ``altcoin_at``, BTC when ≤ ``bitcoin_at``, NEUTRAL between.

    ``index`` is ``(T,)`` or ``(T, Q)``; the thresholds are scalars or ``(Q,)`` (one per column). NaN → NO_SIGNAL.
    """
    x = _floats(index)
    alt_at, btc_at = _floats(altcoin_at), _floats(bitcoin_at)
    out = np.full(x.shape, NEUTRAL, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        out[x >= alt_at] = ALT
        out[x <= btc_at] = BTC
    out[np.isnan(x)] = NO_SIGNAL
    return out


def momentum_state(dominance: ArrayLike, *, lookback: int = 30, band: float = 1.0) -> States:
    """Momentum rule: BTC dominance up more than ``band`` points over ``lookback`` days → BTC; down more than
    ``band`` points → ALT; otherwise NEUTRAL. ``dominance`` is in percent, ``(T,)`` or ``(T, Q)``."""
    d = _floats(dominance)
    if lookback < 1:
        raise ValueError("lookback must be at least 1 day")
    change = np.full(d.shape, np.nan)
    change[lookback:] = d[lookback:] - d[:-lookback]
    out = np.full(d.shape, NEUTRAL, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        out[change > band] = BTC
        out[change < -band] = ALT
    out[np.isnan(change)] = NO_SIGNAL
    return out


def contrarian_state(
    index: ArrayLike,
    dominance: ArrayLike,
    *,
    index_low: float = 10.0,
    dominance_high: float = 65.0,
    index_high: float = 90.0,
) -> States:
    """Contrarian rule: extreme Bitcoin strength (Altcoin Season Index ≤ ``index_low`` or BTC dominance ≥
    ``dominance_high``) → ALT (accumulate the alt basket); extreme alt euphoria (index ≥ ``index_high``) → BTC;
    otherwise NEUTRAL. NaN index → NO_SIGNAL (a NaN dominance only disables the dominance test)."""
    x, d = _floats(index), _floats(dominance)
    out = np.full(np.broadcast_shapes(x.shape, d.shape), NEUTRAL, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        out[x >= index_high] = BTC
        out[(x <= index_low) | (d >= dominance_high)] = ALT
    out[np.broadcast_to(np.isnan(x), out.shape)] = NO_SIGNAL
    return out


def confirmed(states: ArrayLike, *, days: ArrayLike = 1, hold_neutral: ArrayLike = False) -> States:
    """Transition rule: a new state takes effect once it has been the raw state on ``days`` consecutive days;
    until then the previous confirmed state stays. With ``hold_neutral`` a NEUTRAL day keeps the last confirmed
    BTC or ALT state (NEUTRAL is then never confirmed once a season has been). NO_SIGNAL days stay NO_SIGNAL.

    ``states`` is ``(T,)`` or ``(T, Q)``; ``days`` and ``hold_neutral`` scalars or ``(Q,)``. A loop over days,
    vectorised over columns.
    """
    raw = np.asarray(states, dtype=np.int8)
    flat = raw.reshape(raw.shape[0], -1)
    q = flat.shape[1]
    need = np.broadcast_to(np.asarray(days, dtype=np.int64), (q,))
    hold = np.broadcast_to(np.asarray(hold_neutral, dtype=bool), (q,))
    if (need < 1).any():
        raise ValueError("a confirmation needs at least 1 day")
    out = np.empty_like(flat)
    current = np.full(q, NO_SIGNAL, dtype=np.int8)
    candidate = np.full(q, NO_SIGNAL, dtype=np.int8)
    run = np.zeros(q, dtype=np.int64)
    for t in range(flat.shape[0]):
        s = flat[t].copy()
        keep = hold & (s == NEUTRAL) & (current != NO_SIGNAL) & (current != NEUTRAL)
        s[keep] = current[keep]
        run = np.where(s == candidate, run + 1, 1)
        candidate = s
        switch = (run >= need) | (s == NO_SIGNAL)
        current = np.where(switch, s, current)
        out[t] = current
    return out.reshape(raw.shape)


def transitions(states: ArrayLike) -> NDArray[np.intp]:
    """Days on which a (1-D) state series changes, the first valid day included."""
    s = np.asarray(states)
    changed = np.flatnonzero(s[1:] != s[:-1]) + 1
    first = np.flatnonzero(s != NO_SIGNAL)[:1]
    return np.union1d(first, changed[s[changed] != NO_SIGNAL])
