"""The tidy market schema every import produces and every store keeps.

Observations are keyed by ``(source, coin_id, date)``: data from different sources is kept apart and never
summed together. ``date`` is a UTC calendar day.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import polars as pl

OBSERVATION_SCHEMA: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "coin_id": pl.String(),
    "date": pl.Date(),
    "price": pl.Float64(),
    "market_cap": pl.Float64(),
    "volume": pl.Float64(),
    "rank": pl.Int32(),
    "circulating_supply": pl.Float64(),
    "flags": pl.Int16(),
}
"""Columns of the tidy observation table, in order."""

OBSERVATION_KEY: Final[tuple[str, ...]] = ("source", "coin_id", "date")
OBSERVATION_VALUES: Final[tuple[str, ...]] = (
    "price",
    "market_cap",
    "volume",
    "rank",
    "circulating_supply",
    "flags",
)

COIN_SCHEMA: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "coin_id": pl.String(),
    "symbol": pl.String(),
    "name": pl.String(),
    "categories": pl.String(),
}
"""Columns of the coin table an import writes (``;``-separated provider categories, when known)."""

FLAG_MCAP_SPIKE: Final[int] = 1
"""Bit in ``flags``: the day is a glitch and its price and market cap are kept out of every index."""
FLAG_PROVIDER_GLITCH: Final[int] = 16
"""Bit in ``flags``: the provider's own data marked the day a glitch (CoinGecko's ``mcap_spike``); the gates keep
it with :data:`FLAG_MCAP_SPIKE` whatever they find."""


class TokenClass(StrEnum):
    """Token classes kept out of the season index and dominance by default."""

    STABLECOIN = "stablecoin"
    WRAPPED = "wrapped"
    LIQUID_STAKING = "liquid_staking"
    TOKENIZED_ASSET = "tokenized_asset"


def empty_observations() -> pl.DataFrame:
    """An observation frame with no row and the right column types."""
    return pl.DataFrame(schema=OBSERVATION_SCHEMA)


def conform_observations(frame: pl.DataFrame) -> pl.DataFrame:
    """Select and cast ``frame`` to the observation schema, adding missing optional columns as null."""
    columns = []
    for name, dtype in OBSERVATION_SCHEMA.items():
        if name in frame.columns:
            columns.append(pl.col(name).cast(dtype))
        elif name == "flags":
            columns.append(pl.lit(0, dtype=dtype).alias(name))
        else:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(columns)


FEATURE_SCHEMA: dict[str, pl.DataType] = {
    "series": pl.String(),
    "date": pl.Date(),
    "known_at": pl.Datetime("us", "UTC"),
    "value": pl.Float64(),
}
"""Point-in-time feature rows: the value of ``series`` for ``date`` as it became known at ``known_at``."""
