"""Token classification: which coins are stablecoins, wrapped, liquid-staking or tokenized assets.

These four classes (:class:`~coinseason.data.tidy.TokenClass`) are kept out of the season index and of
dominance by default: they are dollars, or claims on a coin already counted. Every decision records its
``basis`` (a human-readable why) and its ``source`` (``categories``, ``curated``, ``price_peg``, ``override``
or ``none``).

Evidence, first match wins:

0. Curated exceptions (``not_excluded`` in the curated list, by coin id only: :mod:`.curated`): governance tokens
   that the provider tags with an exclusion category by mistake are not excluded on that tag.
1. Provider categories (:mod:`.categories`).
2. The curated list shipped with the package (:mod:`.curated`), by coin id, then by symbol.
3. A price peg over the coin's whole daily history, to the US dollar or to a reference coin (:mod:`.peg_evidence`).
4. Otherwise no class (source ``none``).

A user's override file (:mod:`.overrides`) is applied over the result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any, Final

import polars as pl

from coinseason.data.classification.categories import class_from_categories, split_categories
from coinseason.data.classification.curated import CuratedList, curated_match
from coinseason.data.classification.peg_evidence import peg_class, peg_table
from coinseason.data.classification.records import (
    SOURCE_CATEGORIES,
    SOURCE_CURATED,
    SOURCE_NONE,
    Classification,
    classifications_frame,
)
from coinseason.errors import DataError

_NO_REFERENCES: Final[Mapping[str, str]] = MappingProxyType({})


def _prior_evidence(
    row: Mapping[str, Any],
    curated: CuratedList,
    present: Collection[str],
    coingecko_ids: bool | None,
) -> Classification | None:
    """Steps 0-2: curated exceptions, provider categories, curated list."""
    coin_id: str = row["coin_id"]
    exception = curated.by_coin_id.get(coin_id)
    if exception is not None and exception.token_class is None:
        why = f": {exception.note}" if exception.note else ""
        basis = f"curated v{curated.version} (coin_id): not excluded{why}"
        return Classification(coin_id, None, basis, SOURCE_CURATED)
    from_categories = class_from_categories(split_categories(row["categories"]), row["name"])
    if from_categories is not None:
        return Classification(coin_id, from_categories[0], from_categories[1], SOURCE_CATEGORIES)
    match = curated_match(coin_id, row["symbol"], curated, present, coingecko_ids)
    if match is not None:
        return Classification(coin_id, match[0].token_class, match[1], SOURCE_CURATED)
    return None


def _coin_rows(coins: pl.DataFrame) -> list[dict[str, Any]]:
    if "coin_id" not in coins.columns:
        raise DataError("coins: missing column coin_id")
    frame = coins.select(
        pl.col("coin_id").cast(pl.String),
        *[
            (pl.col(c).cast(pl.String) if c in coins.columns else pl.lit(None, dtype=pl.String)).alias(c)
            for c in ("symbol", "name", "categories")
        ],
    )
    if frame["coin_id"].null_count():
        raise DataError("coins: coin_id is null in some rows")
    duplicated = frame.filter(pl.col("coin_id").is_duplicated())["coin_id"].unique().sort()
    if duplicated.len():
        raise DataError(f"coins: duplicated coin_id {', '.join(duplicated.head(5).to_list())}")
    return frame.to_dicts()


def classify_coins(
    coins: pl.DataFrame,
    prices: pl.DataFrame | None,
    *,
    curated: CuratedList,
    references: Mapping[str, str] = _NO_REFERENCES,
    coingecko_ids: bool | None = None,
) -> pl.DataFrame:
    """Class and basis of every coin, by the evidence order of the module docstring.

    Parameters
    ----------
    coins : coin_id, symbol, name, categories (``;``-separated provider categories, nullable); symbol, name
        and categories may be absent (then null). One row per coin.
    prices : long frame coin_id, date, price (USD); None skips the price-peg test.
    curated : the curated list, usually :func:`~coinseason.data.classification.curated.load_curated`.
    references : asset → coin id of that asset in this source, e.g. ``{"BTC": "bitcoin", "ETH": "ethereum"}``,
        for pegs to assets; the USD peg needs none.
    coingecko_ids : whether ``coin_id`` holds CoinGecko ids, which decides when curated entries that have a
        coin id may match by symbol: True never, False always, None (not said) when the entry's id is absent
        from ``coins``. Entries without a coin id always match by symbol.

    Returns
    -------
    coin_id, token_class (a :class:`TokenClass` value or null), class_basis, class_source: one row per input
    coin, in input order.
    """
    rows = _coin_rows(coins)
    present = frozenset(row["coin_id"] for row in rows)
    reference_ids = set(references.values())
    decided: dict[str, Classification] = {}
    for row in rows:
        prior = _prior_evidence(row, curated, present, coingecko_ids)
        if prior is not None:
            decided[row["coin_id"]] = prior
    undecided = [row for row in rows if row["coin_id"] not in decided and row["coin_id"] not in reference_ids]
    if prices is not None and undecided:
        table = peg_table(prices, [row["coin_id"] for row in undecided], references)
        ref_classes = {ref_id: c.token_class for ref_id, c in decided.items() if ref_id in reference_ids}
        for row in undecided:
            pegged = peg_class(row["coin_id"], row["symbol"], row["name"], table, references, ref_classes)
            if pegged is not None:
                decided[row["coin_id"]] = pegged
    assets = {ref_id: asset for asset, ref_id in references.items()}
    out: list[Classification] = []
    for row in rows:
        coin_id = row["coin_id"]
        if coin_id in decided:
            out.append(decided[coin_id])
        elif coin_id in assets:
            basis = f"reference coin of {assets[coin_id]}: no category or curated entry, never peg-tested"
            out.append(Classification(coin_id, None, basis, SOURCE_NONE))
        else:
            tested = "price peg" if prices is not None else "price peg (no prices given)"
            basis = f"no exclusion category, curated entry or {tested}"
            out.append(Classification(coin_id, None, basis, SOURCE_NONE))
    return classifications_frame(out)
