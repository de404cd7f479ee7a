"""Token classification: which coins are stablecoins, wrapped, liquid-staking or tokenized assets, and from when.

These four classes (:class:`~coinseason.data.tidy.TokenClass`) are kept out of the season index and of
dominance by default: they are dollars, or claims on a coin already counted. Every decision records its
``basis`` (a human-readable why), its ``source`` (``categories``, ``curated``, ``price_peg``, ``override`` or
``none``) and the first day it holds (``class_since``).

Evidence, first match wins:

0. Curated exceptions (``not_excluded`` in the curated list, by coin id only: :mod:`.curated`): governance tokens
   that the provider tags with an exclusion category by mistake are not excluded on that tag.
1. Provider categories (:mod:`.categories`).
2. The curated list shipped with the package (:mod:`.curated`), by coin id, then by symbol.
3. A price peg, to the US dollar or to a reference coin, tested day by day over the trailing 180 days
   (:mod:`.peg_evidence`).
4. Otherwise no class (source ``none``).

Point in time: every class holds from a day on, and that day is decided from what was known on it. A price peg
holds from the first day the trailing test passes, and on every later day. Categories and the curated list say
what a token is by design; the provider gives no date for its categories, so they hold from the coin's first day
in the data (its own first days are known on those days), and a curated entry from its ``since`` date when it has
one. So a series over the data up to day D gives, on every day up to D, what it gives over all the data.

A user's override file (:mod:`.overrides`) is applied over the result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import polars as pl

from coinseason.data.classification.categories import class_from_categories, split_categories
from coinseason.data.classification.curated import CuratedList, curated_match
from coinseason.data.classification.peg_evidence import PriceMatrix, peg_classes, price_matrix
from coinseason.data.classification.records import (
    SOURCE_CATEGORIES,
    SOURCE_CURATED,
    SOURCE_NONE,
    Classification,
    classifications_frame,
)
from coinseason.errors import DataError

References = Mapping[str, str | Sequence[str]]
"""Asset → the coin id playing it in a source, or its candidate coin ids (the reference of each day is chosen
among them: :mod:`.peg_evidence`)."""

_NO_REFERENCES: Final[References] = MappingProxyType({})


def _prior_evidence(
    row: Mapping[str, Any],
    curated: CuratedList,
    present: Collection[str],
    coingecko_ids: bool | None,
) -> Classification | None:
    """Steps 0-2: curated exceptions, provider categories, curated list (``since`` set by the caller)."""
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
        entry, basis = match
        if entry.since is not None:
            basis = f"{basis}, from {entry.since.isoformat()}"
        return Classification(coin_id, entry.token_class, basis, SOURCE_CURATED, entry.since)
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


def _candidates(references: References) -> dict[str, tuple[str, ...]]:
    return {asset: (ids,) if isinstance(ids, str) else tuple(ids) for asset, ids in references.items()}


def classify_coins(
    coins: pl.DataFrame,
    prices: pl.DataFrame | PriceMatrix | None,
    *,
    curated: CuratedList,
    references: References = _NO_REFERENCES,
    coingecko_ids: bool | None = None,
) -> pl.DataFrame:
    """Class, basis and first day of every coin, by the evidence order of the module docstring.

    Parameters
    ----------
    coins : coin_id, symbol, name, categories (``;``-separated provider categories, nullable); symbol, name
        and categories may be absent (then null). One row per coin.
    prices : long frame coin_id, date, price (USD), or the same as a :class:`PriceMatrix`; None skips the
        price-peg test and leaves every class undated.
    curated : the curated list, usually :func:`~coinseason.data.classification.curated.load_curated`.
    references : asset → the coin id of that asset in this source (or its candidates), e.g.
        ``{"BTC": "bitcoin", "ETH": "ethereum"}``, for pegs to assets; the USD peg needs none.
    coingecko_ids : whether ``coin_id`` holds CoinGecko ids, which decides when curated entries that have a
        coin id may match by symbol: True never, False always, None (not said) when the entry's id is absent
        from ``coins``. Entries without a coin id always match by symbol.

    Returns
    -------
    coin_id, token_class (a :class:`TokenClass` value or null), class_basis, class_source, class_since (the
    first day the class holds: a category or curated class from the coin's first priced day, or the curated
    entry's ``since`` if later; a peg from the first day it passes; null without a class or without prices):
    one row per input coin, in input order.
    """
    rows = _coin_rows(coins)
    matrix = price_matrix(prices) if isinstance(prices, pl.DataFrame) else prices
    present = frozenset(row["coin_id"] for row in rows)
    candidates = _candidates(references)
    reference_ids = {coin_id for ids in candidates.values() for coin_id in ids}
    priors = [p for row in rows if (p := _prior_evidence(row, curated, present, coingecko_ids)) is not None]
    first_day = matrix.first_days([p.coin_id for p in priors]) if matrix is not None else {}
    decided: dict[str, Classification] = {}
    for prior in priors:
        first = first_day.get(prior.coin_id)
        since = first if prior.since is None or (first is not None and first > prior.since) else prior.since
        decided[prior.coin_id] = Classification(
            prior.coin_id, prior.token_class, prior.basis, prior.source, since if matrix is not None else None
        )
    undecided = [row for row in rows if row["coin_id"] not in decided and row["coin_id"] not in reference_ids]
    if matrix is not None and undecided:
        ref_classes = {ref_id: c.token_class for ref_id, c in decided.items() if ref_id in reference_ids}
        decided.update(peg_classes(matrix, undecided, candidates, ref_classes))
    assets = {ref_id: asset for asset, ids in candidates.items() for ref_id in ids}
    out: list[Classification] = []
    for row in rows:
        coin_id = row["coin_id"]
        if coin_id in decided:
            out.append(decided[coin_id])
        elif coin_id in assets:
            basis = f"reference coin of {assets[coin_id]}: no category or curated entry, never peg-tested"
            out.append(Classification(coin_id, None, basis, SOURCE_NONE))
        else:
            tested = "price peg on any day" if matrix is not None else "price peg (no prices given)"
            basis = f"no exclusion category, curated entry or {tested}"
            out.append(Classification(coin_id, None, basis, SOURCE_NONE))
    return classifications_frame(out)
