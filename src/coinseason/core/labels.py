"""Labels of season transitions within a horizon: what the early-warning models learn to foresee.

Pure numpy. A label on day d looks at days d+1 .. d+H only; it is NaN (unknown) when d+H is past the last day,
so a label dated d is known only once day d+H is over (training must stop H days before any prediction).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from coinseason.core.season import ALTCOIN_SEASON, BITCOIN_SEASON, NO_VALUE

FloatArray = NDArray[np.float64]

TARGETS = ("altcoin_season_entry", "bitcoin_season_entry", "dominance_move")
"""The headline targets: season entries debounced (see :func:`debounced_entries`), and the dominance move."""
ENTRY_GAP = 14
"""Middle of the default grid of k (:func:`debounced_entries`: days outside a season before entering it counts as a
transition); the k of a training window whose record is too thin to choose one."""


def _check_horizon(horizon: int) -> None:
    if horizon < 1:
        raise ValueError(f"the horizon must be at least 1 day, not {horizon}")


def entries(code: NDArray[np.int8], season: int) -> NDArray[np.bool_]:
    """True on the days the classification enters ``season``: that season today, another known one yesterday."""
    now = code == season
    out = np.zeros(code.size, bool)
    out[1:] = now[1:] & ~now[:-1] & (code[:-1] != NO_VALUE)
    return out


def debounced_entries(code: NDArray[np.int8], season: int, gap: int) -> NDArray[np.bool_]:
    """Entries into ``season`` that follow at least ``gap`` consecutive days classified in another (known) season:
    a return after a short dip out of the season (a flicker around the threshold) is not a transition."""
    if gap < 1:
        raise ValueError(f"the entry gap must be at least 1 day, not {gap}")
    raw = entries(code, season)
    outside = (code != season) & (code != NO_VALUE)
    # run[t]: consecutive days outside the season ending at day t
    run = np.zeros(code.size, np.int64)
    count = 0
    for t, out in enumerate(outside):
        count = count + 1 if out else 0
        run[t] = count
    out_before = np.zeros(code.size, np.int64)
    out_before[1:] = run[:-1]
    return raw & (out_before >= gap)


def reentry_gaps(code: NDArray[np.int8], season: int) -> NDArray[np.int64]:
    """Per raw entry into ``season`` (in day order): days spent outside it since it was last in it (-1 when it
    had not been in it before)."""
    days = np.flatnonzero(entries(code, season))
    inside = np.flatnonzero(code == season)
    out = np.full(days.size, -1, np.int64)
    for i, t in enumerate(days):
        k = np.searchsorted(inside, t)  # inside[k-1] < t
        if k > 0:
            out[i] = t - inside[k - 1] - 1
    return out


def event_within(events: NDArray[np.bool_], horizon: int, *, known: NDArray[np.bool_] | None = None) -> FloatArray:
    """1.0 on day d when an event happens on one of days d+1 .. d+H, else 0.0; NaN when d+H is past the end or
    (with ``known``) a day of d+1 .. d+H is not known."""
    _check_horizon(horizon)
    n = events.size
    csum = np.concatenate([[0], np.cumsum(events)])
    out = np.full(n, np.nan)
    last = n - horizon  # days 0 .. last-1 have a full horizon
    if last <= 0:
        return out
    d = np.arange(last)
    out[:last] = ((csum[d + horizon + 1] - csum[d + 1]) > 0).astype(np.float64)
    if known is not None:
        ksum = np.concatenate([[0], np.cumsum(~known)])
        out[:last] = np.where((ksum[d + horizon + 1] - ksum[d + 1]) > 0, np.nan, out[:last])
    return out


def season_entry_label(code: NDArray[np.int8], season: int, horizon: int, *, gap: int | None = None) -> FloatArray:
    """1.0 when the season classification enters ``season`` (ALTCOIN_SEASON or BITCOIN_SEASON) within the next
    H days; NaN when a day of the horizon has no index value. With ``gap``, only entries after at least ``gap``
    days outside the season count (:func:`debounced_entries`); without, every crossing does."""
    if season not in (ALTCOIN_SEASON, BITCOIN_SEASON):
        raise ValueError("season must be the altcoin or the Bitcoin season code")
    known = code != NO_VALUE
    events = entries(code, season) if gap is None else debounced_entries(code, season, gap)
    return event_within(events, horizon, known=known)


def dominance_move_label(dominance: FloatArray, horizon: int, points: float) -> FloatArray:
    """1.0 when BTC dominance on some day d+1 .. d+H differs from day d's by at least ``points`` percentage
    points (either way); NaN when day d's dominance or any day of the horizon is missing."""
    _check_horizon(horizon)
    if not points > 0:
        raise ValueError(f"the dominance move must be a positive number of points, not {points}")
    n = dominance.size
    out = np.full(n, np.nan)
    last = n - horizon
    if last <= 0:
        return out
    idx = np.arange(last)[:, None] + np.arange(1, horizon + 1)[None, :]
    ahead = dominance[idx]
    moved = np.abs(ahead - dominance[:last, None]) >= points
    ok = np.isfinite(ahead).all(axis=1) & np.isfinite(dominance[:last])
    out[:last] = np.where(ok, moved.any(axis=1).astype(np.float64), np.nan)
    return out
