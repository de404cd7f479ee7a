"""What a backfill will cost on the configured plan, said before it starts: the calls it needs (the listing pages
of today's top N, one history call per coin, the exclusion categories of a provider that has them) at the plan's
calls a minute, and how far back the plan reaches.
The figures of the README's table of plans come from here (see ``coinseason.settings_table``)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Final

from coinseason.providers.base import Plan
from coinseason.services.ingestion.backfill import plan_reach

HISTORY_CALLS_PER_COIN: Final = 1
"""CoinGecko's ``market_chart/range`` and CoinMarketCap's ``quotes/historical`` (up to 10,000 days) give a coin's
whole daily history in one call."""


@dataclass(frozen=True, slots=True)
class BackfillEstimate:
    """The calls a backfill of the top ``top`` needs and the time they take at the plan's limit."""

    source: str
    plan: str
    calls_per_minute: int
    history_days: int | None
    """How far back the plan serves history, in days; None: no limit."""
    reach_from: dt.date | None
    """The first day the plan serves today; None: no limit (from the first day the provider has)."""
    top: int
    calls: int
    seconds: float

    @property
    def has_history(self) -> bool:
        return self.history_days != 0

    def describe(self) -> str:
        """One sentence: what will be fetched, how long it takes, how far back it reaches."""
        if not self.has_history:
            return (
                f"the {self.source} {self.plan} plan serves no history: daily snapshots of the top {self.top} are taken"
                " from today on"
            )
        reach = (
            "all the history it has" if self.reach_from is None else f"{self.history_days} days, from {self.reach_from}"
        )
        return (
            f"backfilling the top {self.top} coins of {self.source} ({self.plan} plan: {self.calls_per_minute} calls a"
            f" minute, history reaching {reach}): {self.calls} calls, about {describe_seconds(self.seconds)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.source,
            "name": self.plan,
            "calls_per_minute": self.calls_per_minute,
            "history_days": self.history_days,
            "reach_from": None if self.reach_from is None else self.reach_from.isoformat(),
            "calls": self.calls,
            "seconds": round(self.seconds),
        }


def estimate_backfill(
    source: str,
    plan: Plan,
    *,
    top: int,
    today: dt.date,
    page_size: int,
    category_calls: int = 0,
    with_snapshot: bool = False,
) -> BackfillEstimate:
    """The calls and time of a backfill of the top ``top`` coins on ``plan``: the listing pages (``page_size``
    coins a page), one history call per coin; ``with_snapshot``: the day's snapshot first (its listing pages, the
    provider's ``/global`` and ``category_calls`` for the exclusion categories of the coins new to the store)."""
    pages = math.ceil(top / page_size)
    history = top * HISTORY_CALLS_PER_COIN if plan.history_days != 0 else 0
    snapshot = pages + 1 + category_calls if with_snapshot else 0
    calls = pages + history + snapshot
    return BackfillEstimate(
        source=source,
        plan=plan.name,
        calls_per_minute=plan.calls_per_minute,
        history_days=plan.history_days,
        reach_from=plan_reach(plan, today),
        top=top,
        calls=calls,
        seconds=60.0 * calls / plan.calls_per_minute,
    )


def describe_seconds(seconds: float) -> str:
    """``45 s``, ``17 min``, ``1 h 25 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
