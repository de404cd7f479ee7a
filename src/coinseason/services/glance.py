"""A figure at a glance: its change against 1, 7 and 30 days before and its 52-week high and low.

What a market page shows beside a current value (CoinMarketCap puts the same beside every price), computed from the
figure's daily history so the API, the CLI and the page agree on one definition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

__all__ = ["CHANGE_DAYS", "RANGE_WEEKS", "Change", "Glance", "glance_of"]

CHANGE_DAYS = (1, 7, 30)
"""Calendar days back each change is measured against."""
RANGE_WEEKS = 52
"""The high and low are over the 52 weeks before the day and the day itself (365 days)."""


@dataclass(frozen=True, slots=True)
class Change:
    """The figure ``days`` calendar days before, and the current one minus it (in the figure's own unit: index
    points, or percentage points for a share). None when either day has no value."""

    days: int
    date: dt.date
    value: float | None
    change: float | None


@dataclass(frozen=True, slots=True)
class Glance:
    value: float | None
    changes: tuple[Change, ...]
    since: dt.date
    """First day of the 52-week range."""
    high: float | None
    high_date: dt.date | None
    """The most recent day the high was reached."""
    low: float | None
    low_date: dt.date | None


def glance_of(history: pl.DataFrame, column: str, day: dt.date) -> Glance:
    """The glance of ``column`` on ``day`` from a daily ``history`` with a ``date`` column (days without a row or
    with a null value count as no value; nothing is carried over from another day)."""
    valued = history.select("date", pl.col(column).alias("value")).filter(pl.col("value").is_not_null())
    by_day: dict[dt.date, float] = dict(zip(valued["date"].to_list(), valued["value"].to_list(), strict=True))
    now = by_day.get(day)
    changes = []
    for days in CHANGE_DAYS:
        then_day = day - dt.timedelta(days=days)
        then = by_day.get(then_day)
        changes.append(Change(days, then_day, then, None if now is None or then is None else now - then))
    since = day - dt.timedelta(weeks=RANGE_WEEKS)
    year = sorted((d, v) for d, v in by_day.items() if since <= d <= day)
    if not year:
        return Glance(now, tuple(changes), since, None, None, None, None)
    high = max(v for _, v in year)
    low = min(v for _, v in year)
    high_date = max(d for d, v in year if v == high)
    low_date = max(d for d, v in year if v == low)
    return Glance(now, tuple(changes), since, high, high_date, low, low_date)
