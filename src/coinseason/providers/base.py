"""What every live market-data provider gives the ingestion service: one contract, whatever the vendor.

A provider turns a vendor's HTTP API into tidy frames. It owns its outbound limits (calls a minute for its plan,
``Retry-After``, retries with back-off, circuit breaker) so callers never think about them. Errors are
:class:`coinseason.errors.ProviderError` (or its retryable subclass) naming the provider, endpoint and cause.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

import polars as pl

SNAPSHOT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "coin_id": pl.String(),
    "symbol": pl.String(),
    "name": pl.String(),
    "price": pl.Float64(),
    "market_cap": pl.Float64(),
    "volume": pl.Float64(),
    "rank": pl.Int32(),
    "circulating_supply": pl.Float64(),
    "last_updated": pl.Datetime("us", "UTC"),
}
"""Columns of :attr:`MarketSnapshot.rows`: one row per coin as the provider ranked it at ``observed_at``.

Values the provider left null stay null (no zero fill); ``rank`` is the provider's own market-cap rank."""

HISTORY_SCHEMA: Final[dict[str, pl.DataType]] = {
    "date": pl.Date(),
    "price": pl.Float64(),
    "market_cap": pl.Float64(),
    "volume": pl.Float64(),
}
"""Columns of :attr:`CoinHistory.days`: one row per UTC day (the provider's daily point for that day)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """A provider plan: how fast and how far back it may be called."""

    name: str
    """e.g. ``keyless``, ``demo``, ``pro``."""
    calls_per_minute: int
    history_days: int | None
    """How many days back the plan serves history; ``None`` when unlimited."""
    base_url: str


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    source: str
    """The store source the rows belong to, e.g. ``coingecko``; sources are never mixed."""
    observed_at: dt.datetime
    """UTC time the snapshot was taken (from the injected clock)."""
    rows: pl.DataFrame
    """Frame in :data:`SNAPSHOT_SCHEMA`, ordered by ``rank``."""


@dataclass(frozen=True, slots=True)
class CoinHistory:
    source: str
    coin_id: str
    days: pl.DataFrame
    """Frame in :data:`HISTORY_SCHEMA`, ordered by ``date``, one row per day."""


@dataclass(frozen=True, slots=True)
class GlobalSnapshot:
    """Whole-market figures a provider publishes, used to cross-check our own dominance."""

    source: str
    observed_at: dt.datetime
    total_market_cap: float
    btc_dominance: float
    """Percent, 0–100, as the provider publishes it."""
    eth_dominance: float | None = None


class MarketProvider(Protocol):
    """A live market-data provider (CoinGecko, CoinMarketCap, ...)."""

    @property
    def source(self) -> str: ...

    @property
    def plan(self) -> Plan: ...

    async def top(self, n: int) -> MarketSnapshot:
        """The current top ``n`` coins by market cap (paged as the vendor requires)."""
        ...

    async def history(self, coin_id: str, start: dt.date, end: dt.date) -> CoinHistory:
        """Daily price, market cap and volume of one coin from ``start`` to ``end`` inclusive.

        Raises :class:`coinseason.errors.ProviderError` when the plan cannot reach back to ``start`` (the message
        says how far it can)."""
        ...

    async def global_snapshot(self) -> GlobalSnapshot: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class CategoryProvider(Protocol):
    """A provider that can list the members of a category (CoinGecko can; CoinMarketCap's plans cannot): an
    optional capability, told apart with ``isinstance(provider, CategoryProvider)``."""

    async def category_members(self, category_id: str, n: int = 250) -> list[str]:
        """Ids of the top ``n`` coins of the category ``category_id``, by market cap."""
        ...
