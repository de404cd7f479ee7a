"""A classification decision as a record and as a frame: the class, the ``basis`` (a human-readable why), the
``source`` of the evidence that decided it and the first day it holds (``since``: point in time, the class holds
from that day on)."""

from __future__ import annotations

import datetime as dt
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
    "class_since": pl.Date(),
}
"""Columns of a classification frame (:func:`~coinseason.data.classification.classify_coins`), in order."""


@dataclass(frozen=True, slots=True)
class Classification:
    """One coin's class, why, and the first day it holds (None: no class, or no prices to date it by)."""

    coin_id: str
    token_class: TokenClass | None
    basis: str
    source: str
    since: dt.date | None = None


def classifications_frame(items: Iterable[Classification]) -> pl.DataFrame:
    """A classification frame (:data:`CLASSIFICATION_SCHEMA`) from :class:`Classification` records."""
    records = list(items)
    return pl.DataFrame(
        {
            "coin_id": [c.coin_id for c in records],
            "token_class": [None if c.token_class is None else c.token_class.value for c in records],
            "class_basis": [c.basis for c in records],
            "class_source": [c.source for c in records],
            "class_since": [c.since if c.token_class is not None else None for c in records],
        },
        schema=CLASSIFICATION_SCHEMA,
    )


def excluded_ids(classified: pl.DataFrame, classes: Collection[TokenClass]) -> set[str]:
    """Coin ids of ``classified`` whose class is one of ``classes`` (on its last day: each from its
    ``class_since``)."""
    wanted = [TokenClass(c).value for c in classes]
    hit = classified.filter(pl.col("token_class").is_in(wanted))
    return set(hit["coin_id"].to_list())
