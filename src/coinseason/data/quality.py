"""Row-level quality gates: the checks that look at one row alone, and repeated keys. Every rejection is counted
with its reason (the list and its limits: :mod:`coinseason.data.reasons`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from coinseason.data.reasons import (
    EARLIEST_DAY,
    MAX_MARKET_CAP,
    MAX_PRICE,
    MAX_SUPPLY,
    REASON_BAD_DATE,
    REASON_BAD_MCAP,
    REASON_BAD_PRICE,
    REASON_BAD_SUPPLY,
    REASON_BAD_VOLUME,
    REASON_CONFLICT,
    REASON_EARLY_DATE,
    REASON_FUTURE_DATE,
    REASON_MCAP_RANGE,
    REASON_NO_COIN,
    REASON_PRICE_RANGE,
    REASON_SUPPLY_RANGE,
)
from coinseason.data.tidy import OBSERVATION_KEY, OBSERVATION_VALUES

__all__ = [
    "EARLIEST_DAY",
    "REASON_BAD_DATE",
    "REASON_BAD_MCAP",
    "REASON_BAD_PRICE",
    "REASON_BAD_SUPPLY",
    "REASON_BAD_VOLUME",
    "REASON_CONFLICT",
    "REASON_EARLY_DATE",
    "REASON_FUTURE_DATE",
    "REASON_MCAP_RANGE",
    "REASON_NO_COIN",
    "REASON_PRICE_RANGE",
    "REASON_SUPPLY_RANGE",
    "GateResult",
    "reject_bad_rows",
    "reject_conflicting_keys",
    "row_checks",
]


@dataclass(slots=True)
class GateResult:
    good: pl.DataFrame
    rejections: Counter[str] = field(default_factory=Counter)
    duplicates_merged: int = 0

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())


def _not_finite(column: str) -> pl.Expr:
    """Present but NaN or infinite (null means unknown and passes)."""
    col = pl.col(column).cast(pl.Float64)
    return col.is_not_null() & ~col.is_finite()


def row_checks(today: dt.date) -> list[tuple[str, pl.Expr]]:
    """Checks that look at one row alone, in the order reasons are assigned (first failing check wins)."""
    price, mcap = pl.col("price"), pl.col("market_cap")
    volume, supply = pl.col("volume"), pl.col("circulating_supply")
    return [
        (REASON_NO_COIN, pl.col("coin_id").is_null() | (pl.col("coin_id").str.strip_chars() == "")),
        (REASON_BAD_DATE, pl.col("date").is_null()),
        (REASON_EARLY_DATE, pl.col("date") < EARLIEST_DAY),
        (REASON_FUTURE_DATE, pl.col("date") > today),
        (REASON_BAD_PRICE, price.is_null() | _not_finite("price") | (price <= 0)),
        (REASON_PRICE_RANGE, price > MAX_PRICE),
        (REASON_BAD_MCAP, _not_finite("market_cap") | (mcap <= 0)),
        (REASON_MCAP_RANGE, mcap > MAX_MARKET_CAP),
        (REASON_BAD_VOLUME, _not_finite("volume") | (volume < 0)),
        (REASON_BAD_SUPPLY, _not_finite("circulating_supply") | (supply < 0)),
        (REASON_SUPPLY_RANGE, supply > MAX_SUPPLY),
    ]


def reject_bad_rows(frame: pl.DataFrame, *, today: dt.date, skip: tuple[str, ...] = ()) -> GateResult:
    """Drop rows failing a row check; ``skip`` names reasons not to test (e.g. the coin id before it is known)."""
    reason = pl.lit(None, dtype=pl.String)
    for name, bad in reversed(row_checks(today)):
        if name not in skip:
            reason = pl.when(bad.fill_null(value=False)).then(pl.lit(name)).otherwise(reason)
    tagged = frame.with_columns(reason.alias("_reason"))
    counts = tagged.filter(pl.col("_reason").is_not_null()).group_by("_reason").len()
    rejections: Counter[str] = Counter(dict(zip(counts["_reason"], counts["len"], strict=True)))
    good = tagged.filter(pl.col("_reason").is_null()).drop("_reason")
    return GateResult(good=good, rejections=rejections)


def reject_conflicting_keys(frame: pl.DataFrame) -> GateResult:
    """Keep one copy of rows repeated identically; reject every copy of a key seen with different values."""
    key = list(OBSERVATION_KEY)
    distinct = frame.unique(subset=[*key, *OBSERVATION_VALUES], keep="first", maintain_order=True)
    conflicted = distinct.group_by(key).len().filter(pl.col("len") > 1).select(key)
    rejections: Counter[str] = Counter()
    if conflicted.height:
        rejections[REASON_CONFLICT] = frame.join(conflicted, on=key, how="semi", nulls_equal=True).height
        distinct = distinct.join(conflicted, on=key, how="anti", nulls_equal=True)
    kept_rows = frame.height - rejections[REASON_CONFLICT]
    return GateResult(good=distinct, rejections=rejections, duplicates_merged=kept_rows - distinct.height)
