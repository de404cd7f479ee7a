"""When the ingestion loop takes a snapshot: the daily one just after 00:00 UTC, intraday ones every N minutes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

SnapshotKind = Literal["daily", "intraday"]


@dataclass(frozen=True, slots=True)
class Schedule:
    """Pure timing rules; the loop asks :meth:`due` with the clock's time and what was last taken.

    * ``daily``: the first snapshot of a UTC day, due from ``daily_after`` past midnight, once per day;
    * ``intraday``: due at every multiple of ``interval`` past midnight not yet covered by a snapshot of that day.
    """

    interval: dt.timedelta = dt.timedelta(minutes=15)
    daily_after: dt.timedelta = dt.timedelta(0)

    def __post_init__(self) -> None:
        if self.interval <= dt.timedelta(0) or self.interval > dt.timedelta(days=1):
            raise ValueError("the intraday interval must be above 0 and at most one day")
        if not dt.timedelta(0) <= self.daily_after < self.interval:
            raise ValueError("the daily snapshot must be due before the first intraday one of the day")

    def due(self, now: dt.datetime, *, last_daily: dt.date | None, last: dt.datetime | None) -> SnapshotKind | None:
        """What to take at ``now`` given the day of the last daily snapshot and the time of the last snapshot."""
        midnight = _midnight(now)
        if last_daily is None or last_daily < now.date():
            return "daily" if now >= midnight + self.daily_after else None
        if last is None or self._slot(now) > self._slot(last):
            return "intraday"
        return None

    def next_due(self, now: dt.datetime, *, last_daily: dt.date | None, last: dt.datetime | None) -> dt.datetime:
        """The earliest time after ``now`` at which :meth:`due` may answer something (``now`` when it does)."""
        if self.due(now, last_daily=last_daily, last=last) is not None:
            return now
        midnight = _midnight(now)
        if last_daily is None or last_daily < now.date():
            return midnight + self.daily_after
        slot = midnight + ((now - midnight) // self.interval + 1) * self.interval
        tomorrow = midnight + dt.timedelta(days=1)
        return slot if slot < tomorrow else tomorrow + self.daily_after

    def _slot(self, moment: dt.datetime) -> tuple[dt.date, int]:
        return moment.date(), (moment - _midnight(moment)) // self.interval


def _midnight(moment: dt.datetime) -> dt.datetime:
    utc = moment.astimezone(dt.UTC)
    return dt.datetime(utc.year, utc.month, utc.day, tzinfo=dt.UTC)
