"""The one clock: everything that asks what time it is takes a :data:`Clock`, given by its caller, so a test can
say when "now" is. :func:`utc_now` is the real one; nothing else in coinseason reads the system clock for a date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

__all__ = ["Clock", "utc_now"]

Clock = Callable[[], dt.datetime]
"""A function returning the current time, tz-aware UTC."""


def utc_now() -> dt.datetime:
    """The current time, tz-aware UTC."""
    return dt.datetime.now(dt.UTC)
