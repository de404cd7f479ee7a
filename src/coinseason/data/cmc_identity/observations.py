"""The input rows as arrays (:class:`Observations`), and the last state of stored coins (:class:`TrackSeed`)."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

CONFIRM_COLUMN: Final[str] = "pct_change_24h"
"""Optional input column: the provider's own 24 h price change, %, which can confirm a 1-day jump."""
EPOCH: Final[datetime.date] = datetime.date(1970, 1, 1)
"""Day 0 of the integer day numbers."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TrackSeed:
    """Last known state of an already-stored coin, so a later file continues its tracks."""

    coin_id: str
    symbol: str
    last_date: datetime.date
    price: float
    market_cap: float | None
    circulating_supply: float | None


@dataclass(frozen=True, slots=True)
class Observations:
    """The identifiable rows of the sorted frame as arrays; ``position`` is the row in that frame."""

    position: IntArray
    day: IntArray
    symbol: list[str]
    key: list[str]
    log_price: FloatArray
    log_supply: FloatArray
    log_change_24h: FloatArray
    rank: FloatArray


def symbol_key(symbol: str) -> str:
    """Symbols compare without case (CMC showed both ``XAUt`` and ``XAUT``)."""
    return symbol.upper()


def seed_log_supply(seed: TrackSeed) -> float:
    """ln circulating supply, else ln(market cap / price), else NaN."""
    supply, market_cap = seed.circulating_supply, seed.market_cap
    if supply is not None and math.isfinite(supply) and supply > 0:
        return math.log(supply)
    if market_cap is not None and math.isfinite(market_cap) and market_cap > 0:
        return math.log(market_cap / seed.price)
    return math.nan


def _positive_log(name: str) -> pl.Expr:
    value = pl.col(name).cast(pl.Float64, strict=False)
    return pl.when(value.is_finite() & (value > 0)).then(value.log()).otherwise(None)


def observations(frame: pl.DataFrame) -> Observations:
    """Arrays of the rows that can be identified: a date, a symbol and a price are known."""
    if CONFIRM_COLUMN in frame.columns:
        growth = 1.0 + pl.col(CONFIRM_COLUMN).cast(pl.Float64, strict=False) / 100.0
        change = pl.when(growth.is_finite() & (growth > 0)).then(growth.log()).otherwise(None)
    else:
        change = pl.lit(None, dtype=pl.Float64)
    log_price, log_cap, log_supply = (
        _positive_log("price"),
        _positive_log("market_cap"),
        _positive_log("circulating_supply"),
    )
    table = (
        frame.select(
            (pl.col("date") - pl.lit(EPOCH)).dt.total_days().alias("day"),
            pl.col("symbol").cast(pl.String),
            pl.coalesce(log_price, log_cap - log_supply).alias("log_price"),
            pl.coalesce(log_supply, log_cap - log_price).alias("log_supply"),
            change.alias("change"),
            pl.col("rank").cast(pl.Float64, strict=False),
        )
        .with_row_index("position")
        .drop_nulls(["day", "symbol", "log_price"])
    )
    return Observations(
        position=table["position"].cast(pl.Int64).to_numpy(),
        day=table["day"].cast(pl.Int64).to_numpy(),
        symbol=table["symbol"].to_list(),
        key=table["symbol"].str.to_uppercase().to_list(),
        log_price=table["log_price"].to_numpy(),
        log_supply=table["log_supply"].fill_null(np.nan).to_numpy(),
        log_change_24h=table["change"].fill_null(np.nan).to_numpy(),
        rank=table["rank"].fill_null(np.nan).to_numpy(),
    )
