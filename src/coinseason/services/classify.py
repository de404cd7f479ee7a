"""Token classification of a source's coins, point in time, and the exclusions built from it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from coinseason.core.engine import CoinClasses
from coinseason.core.peg import MAX_MOVE, MIN_OBS, MIN_SHARE, TRAILING_DAYS
from coinseason.core.universe import Exclusion
from coinseason.data.classification import (
    PriceMatrix,
    apply_overrides,
    classify_coins,
    excluded_ids,
    load_curated,
    load_overrides,
    price_matrix,
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

EXCLUSION_RULE: Final = (
    f"point in time: a coin is left out from the first day it holds an excluded class, and on every later day. "
    f"Provider categories and the curated list say what a token is by design (the provider gives no date): they "
    f"hold from the coin's first day in the data, or from a curated entry's since date. A price peg holds from the "
    f"first day whose trailing {TRAILING_DAYS} days (at least {MIN_OBS} priced) pass the peg test: "
    f"{MIN_SHARE:.0%} of the prices in [0.95, 1.05] USD with the median in [0.98, 1.02] (stablecoin), or of the "
    f"ratios to BTC, ETH, SOL or BNB in [0.9, 1.35] with the median in [0.95, 1.25] (wrapped or liquid staking), "
    f"the ratio moving with its reference (median day-to-day move at most {MAX_MOVE:.0%}). Override files add or "
    f"remove coins on every day"
)
"""How exclusions are decided, in full (the methodology)."""

EXCLUSION_METHOD: Final = (
    f"point in time: a coin is left out from the first day it holds an excluded class (category or curated: its "
    f"first day; price peg: the first day its trailing {TRAILING_DAYS} days pass the test)"
)
"""How exclusions are decided, in short (the ``method`` of every series)."""


@dataclass(frozen=True, slots=True)
class ExclusionSet:
    """Coins kept out of a computation, day by day, and how that set was made."""

    name: str
    """``default``, ``none`` or the override file's path."""
    version: str
    """Curated-list version the classes come from."""
    classes: tuple[str, ...]
    exclusion: Exclusion
    """What the engine leaves out, each coin from the first day it holds an excluded class."""
    ids: frozenset[str]
    """Coins left out on the data's last day (on earlier days, only those whose class held by then)."""


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


def reference_candidates(coins: pl.DataFrame) -> dict[str, tuple[str, ...]]:
    """The coins that may play each reference asset in the price-peg test: the provider id when present, else
    every coin with that symbol (the test picks one each day from what is known that day)."""
    ids = set(coins["coin_id"].to_list())
    found: dict[str, tuple[str, ...]] = {}
    for asset, (provider_id, symbol) in REFERENCE_IDS.items():
        if provider_id in ids:
            found[asset] = (provider_id,)
            continue
        same = coins.filter(pl.col("symbol").str.to_lowercase() == symbol)["coin_id"].sort()
        if same.len():
            found[asset] = tuple(same.to_list())
    return found


def classify_market(coins: pl.DataFrame, prices: PriceMatrix) -> pl.DataFrame:
    """The point-in-time classification of a source's ``coins`` (the store's coin frame) from its daily prices
    (a day that failed a gate left out, as in every index)."""
    references = reference_coins(coins)
    return classify_coins(
        coins.select("coin_id", "symbol", "name", "categories"),
        prices,
        curated=load_curated(),
        references=reference_candidates(coins),
        # with CoinGecko ids a curated entry matches by id only (a meme ticker "BTCB" is not wrapped BTC)
        coingecko_ids=references.get("BTC") == "bitcoin",
    )


def coin_classes(classified: pl.DataFrame) -> CoinClasses:
    """A classification frame as the engine takes it: coin id → (class, first day)."""
    held = classified.filter(pl.col("token_class").is_not_null())
    days: list[dt.date | None] = held["class_since"].to_list()
    return {
        str(c): (str(k), d)
        for c, k, d in zip(held["coin_id"].to_list(), held["token_class"].to_list(), days, strict=True)
    }


def with_classes(coins: pl.DataFrame, classified: pl.DataFrame) -> pl.DataFrame:
    """The store's coin frame with the class columns of ``classified`` (``class_since`` included) in place of its
    own."""
    columns = ["token_class", "class_basis", "class_source", "class_since"]
    kept = coins.drop([c for c in columns if c in coins.columns])
    return kept.join(classified.select("coin_id", *columns), on="coin_id", how="left", maintain_order="left")


def masked_prices(obs: pl.DataFrame) -> pl.DataFrame:
    """``coin_id, date, price`` of observations, the price null where a gate flagged the day."""
    price = pl.col("price")
    if "flags" in obs.columns:
        price = pl.when((pl.col("flags") & FLAG_MCAP_SPIKE) > 0).then(None).otherwise(price)
    return obs.select("coin_id", "date", price.alias("price"))


class ClassificationService:
    """Token classes of a source's coins, and the exclusion sets built from them."""

    def __init__(self, store: MarketData) -> None:
        self._store = store

    def reclassify(self, source: str) -> pl.DataFrame:
        """Classify every coin of ``source`` from categories, the curated list and the price-peg test, and store
        each coin's class as of the data's last day (the first day it holds is in its basis)."""
        coins = self._store.coins(source)
        if coins.height == 0:
            return coins
        obs = self._store.observations(source, columns=("coin_id", "date", "price", "flags"))
        classified = classify_market(coins, price_matrix(masked_prices(obs)))
        self._store.write_classification(source, classified)
        return classified

    def exclusion_set(self, source: str, spec: str, coins: pl.DataFrame | None = None) -> ExclusionSet:
        """``default`` (every token class), ``none``, or a TOML override file's path."""
        version = load_curated().version
        if spec == "none":
            return ExclusionSet("none", version, (), Exclusion(), frozenset())
        coins = self._store.coins(source) if coins is None else coins
        classified = coins.select("coin_id", "token_class", "class_basis", "class_source")
        if spec == "default":
            classes = tuple(str(c) for c in TokenClass)
            ids = frozenset(excluded_ids(classified, list(TokenClass)))
            return ExclusionSet("default", version, classes, Exclusion(classes=frozenset(classes)), ids)
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(f"--exclude takes default, none or an exclusion file; {spec!r} is none of them")
        overrides = load_overrides(path)
        adjusted = apply_overrides(classified, overrides, str(path))
        wanted = [TokenClass(c) for c in overrides.classes]
        # an added coin of an excluded class is left out on every day, one added to another class never
        added = {coin_id for coin_id, token_class in overrides.add.items() if token_class in wanted}
        exclusion = Exclusion(
            classes=frozenset(str(c) for c in wanted),
            add=frozenset(added),
            remove=overrides.remove | (frozenset(overrides.add) - added),
        )
        return ExclusionSet(
            str(path), version, tuple(str(c) for c in wanted), exclusion, frozenset(excluded_ids(adjusted, wanted))
        )
