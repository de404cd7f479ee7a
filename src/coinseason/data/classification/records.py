"""A classification decision as a record and as a frame: the class, the ``basis`` (a human-readable why) and the
``source`` of the evidence that decided it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

import polars as pl

from coinseason.data.tidy import TokenClass

SOURCE_CATEGORIES: Final = "categories"
SOURCE_CURATED: Final = "curated"
SOURCE_PRICE_PEG: Final = "price_peg"
SOURCE_OVERRIDE: Final = "override"
SOURCE_NONE: Final = "none"

CLASSIFICATION_SCHEMA: Final[dict[str, pl.DataType]] = {
    "coin_id": pl.String(),
    "token_class": pl.String(),
    "class_basis": pl.String(),
    "class_source": pl.String(),
}
"""Columns of a classification frame (:func:`~coinseason.data.classification.classify_coins`), in order."""


@dataclass(frozen=True, slots=True)
class Classification:
    """One coin's class and why."""

    coin_id: str
    token_class: TokenClass | None
    basis: str
    source: str


def classifications_frame(items: Iterable[Classification]) -> pl.DataFrame:
    """A classification frame (:data:`CLASSIFICATION_SCHEMA`) from :class:`Classification` records."""
    records = list(items)
    return pl.DataFrame(
        {
            "coin_id": [c.coin_id for c in records],
            "token_class": [None if c.token_class is None else c.token_class.value for c in records],
            "class_basis": [c.basis for c in records],
            "class_source": [c.source for c in records],
        },
        schema=CLASSIFICATION_SCHEMA,
    )


def excluded_ids(classified: pl.DataFrame, classes: Collection[TokenClass]) -> set[str]:
    """Coin ids of ``classified`` whose class is one of ``classes``."""
    wanted = [TokenClass(c).value for c in classes]
    hit = classified.filter(pl.col("token_class").is_in(wanted))
    return set(hit["coin_id"].to_list())
