"""Token classification of a source's coins, and the exclusion sets built from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from coinseason.data.classification import (
    apply_overrides,
    classify_coins,
    excluded_ids,
    load_curated,
    load_overrides,
)
from coinseason.data.tidy import FLAG_MCAP_SPIKE, TokenClass
from coinseason.errors import ConfigError
from coinseason.store.protocols import MarketData

REFERENCE_IDS = {
    "BTC": ("bitcoin", "btc"),
    "ETH": ("ethereum", "eth"),
    "SOL": ("solana", "sol"),
    "BNB": ("binancecoin", "bnb"),
}
"""Coins that pegged tokens are tested against; more references make the wide asset band misfire."""


@dataclass(frozen=True, slots=True)
class ExclusionSet:
    """Coins kept out of a computation, and how that set was made."""

    name: str
    """``default``, ``none`` or the override file's path."""
    version: str
    """Curated-list version the classes come from."""
    classes: tuple[str, ...]
    ids: frozenset[str]

    @property
    def key(self) -> tuple[str, str, frozenset[str]]:
        return (self.name, self.version, self.ids)


def reference_coins(coins: pl.DataFrame) -> dict[str, str]:
    """The coin id playing BTC and ETH in a source: the provider id when present, else the coin with that
    symbol seen on the most days (symbols collide; the longest-lived BTC is Bitcoin)."""
    found: dict[str, str] = {}
    for asset, (provider_id, symbol) in REFERENCE_IDS.items():
        if provider_id in set(coins["coin_id"].to_list()):
            found[asset] = provider_id
            continue
        same = coins.filter(pl.col("symbol").str.to_lowercase() == symbol)
        if "n_days" in same.columns and same.height:
            same = same.sort("n_days", descending=True, nulls_last=True)
        if same.height:
            found[asset] = str(same["coin_id"][0])
    return found


class ClassificationService:
    """Token classes of a source's coins, and the exclusion sets built from them."""

    def __init__(self, store: MarketData) -> None:
        self._store = store

    def reclassify(self, source: str) -> pl.DataFrame:
        """Classify every coin of ``source`` from categories, the curated list and the price-peg test."""
        coins = self._store.coins(source)
        if coins.height == 0:
            return coins
        # a day kept out of the indices (a glitch, a spike) is no evidence of a peg either
        prices = (
            self._store.observations(source, columns=("coin_id", "date", "price", "flags"))
            .filter((pl.col("flags") & FLAG_MCAP_SPIKE) == 0)
            .drop("flags")
        )
        references = reference_coins(coins)
        classified = classify_coins(
            coins.select("coin_id", "symbol", "name", "categories"),
            prices,
            curated=load_curated(),
            references=references,
            # with CoinGecko ids a curated entry matches by id only (a meme ticker "BTCB" is not wrapped BTC)
            coingecko_ids=references.get("BTC") == "bitcoin",
        )
        self._store.write_classification(source, classified)
        return classified

    def exclusion_set(self, source: str, spec: str, coins: pl.DataFrame | None = None) -> ExclusionSet:
        """``default`` (every token class), ``none``, or a TOML override file's path."""
        version = load_curated().version
        if spec == "none":
            return ExclusionSet("none", version, (), frozenset())
        coins = self._store.coins(source) if coins is None else coins
        classified = coins.select("coin_id", "token_class", "class_basis", "class_source")
        if spec == "default":
            classes = tuple(str(c) for c in TokenClass)
            return ExclusionSet("default", version, classes, frozenset(excluded_ids(classified, list(TokenClass))))
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(f"--exclude takes default, none or an exclusion file; {spec!r} is none of them")
        overrides = load_overrides(path)
        adjusted = apply_overrides(classified, overrides, str(path))
        wanted = [TokenClass(c) for c in overrides.classes]
        return ExclusionSet(
            str(path), version, tuple(str(c) for c in wanted), frozenset(excluded_ids(adjusted, wanted))
        )
