"""Categories of coins new to the store, from the provider's exclusion categories (:data:`EXCLUSION_CATEGORIES`:
a few calls a day, cached for the day), so a new stablecoin, wrapped, staked or tokenized coin is excluded as
imported ones are."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final

from coinseason.errors import ProviderError
from coinseason.providers.base import CategoryProvider, MarketProvider

log = logging.getLogger("coinseason.ingest")

EXCLUSION_CATEGORIES: Final = {
    "stablecoins": "Stablecoins",
    "wrapped-tokens": "Wrapped-Tokens",
    "tokenized-btc": "Tokenized BTC",
    "liquid-staking-tokens": "Liquid Staking Tokens",
    "liquid-restaking-tokens": "Liquid Restaking Tokens",
    "tokenized-gold": "Tokenized Gold",
}
"""Provider category id -> the category name :mod:`coinseason.data.classification` decides a class on: the
categories whose members are looked up for coins new to the store (the top 250 of each, one call each)."""


class CategoryLookup:
    """The exclusion categories of coins, from ``provider`` when it has categories (a :class:`CategoryProvider`),
    looked up at most once a day while every lookup succeeds."""

    def __init__(self, provider: MarketProvider) -> None:
        self._source = provider.source
        self._members = provider if isinstance(provider, CategoryProvider) else None
        self._cached: tuple[dt.date, dict[str, str]] | None = None

    async def of(self, coin_ids: set[str], day: dt.date) -> dict[str, str]:
        """``coin_id -> categories`` (``;``-separated names) of ``coin_ids`` that are members of an exclusion
        category; {} for a provider without categories."""
        if self._members is None:
            return {}
        if self._cached is None or self._cached[0] != day:
            found: dict[str, list[str]] = {}
            complete = True
            for category_id, name in EXCLUSION_CATEGORIES.items():
                try:
                    ids = await self._members.category_members(category_id)
                except ProviderError as exc:
                    log.warning("category %s of %s unavailable: %s", category_id, self._source, exc)
                    complete = False
                    continue
                for coin_id in ids:
                    found.setdefault(coin_id, []).append(name)
            joined = {c: ";".join(names) for c, names in found.items()}
            if not complete:  # looked up again at the next snapshot
                return {c: v for c, v in joined.items() if c in coin_ids}
            self._cached = (day, joined)
        return {c: v for c, v in self._cached[1].items() if c in coin_ids}
