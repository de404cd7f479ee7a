"""Row-level quality gates for imported observations: every rejection is counted with its reason."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from coinseason.data.tidy import OBSERVATION_KEY, OBSERVATION_VALUES

EARLIEST_DAY: Final = dt.date(2009, 1, 3)
"""Bitcoin's genesis block: no market data can be older."""

REASON_NO_COIN: Final = "coin id missing"
REASON_BAD_DATE: Final = "date missing or not a calendar day"
REASON_EARLY_DATE: Final = f"date before {EARLIEST_DAY.isoformat()} (before Bitcoin existed)"
REASON_FUTURE_DATE: Final = "date in the future"
REASON_BAD_PRICE: Final = "price missing, zero, negative or NaN"
REASON_BAD_MCAP: Final = "market cap zero, negative or NaN"
REASON_BAD_VOLUME: Final = "volume negative or NaN"
REASON_BAD_SUPPLY: Final = "circulating supply negative or NaN"
REASON_CONFLICT: Final = "duplicated key (same coin and day) with different values"


@dataclass(slots=True)
class GateResult:
    good: pl.DataFrame
    rejections: Counter[str] = field(default_factory=Counter)
    duplicates_merged: int = 0

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())


def _bad_positive(column: str) -> pl.Expr:
    """Present but zero, negative or NaN (null means unknown and passes)."""
    col = pl.col(column)
    return col.is_not_null() & (col.is_nan() | (col <= 0))


def _bad_non_negative(column: str) -> pl.Expr:
    col = pl.col(column)
    return col.is_not_null() & (col.is_nan() | (col < 0))


def row_checks(today: dt.date) -> list[tuple[str, pl.Expr]]:
    """Checks that look at one row alone, in the order reasons are assigned (first failing check wins)."""
    return [
        (REASON_NO_COIN, pl.col("coin_id").is_null() | (pl.col("coin_id").str.strip_chars() == "")),
        (REASON_BAD_DATE, pl.col("date").is_null()),
        (REASON_EARLY_DATE, pl.col("date") < EARLIEST_DAY),
        (REASON_FUTURE_DATE, pl.col("date") > today),
        (REASON_BAD_PRICE, pl.col("price").is_null() | pl.col("price").is_nan() | (pl.col("price") <= 0)),
        (REASON_BAD_MCAP, _bad_positive("market_cap")),
        (REASON_BAD_VOLUME, _bad_non_negative("volume")),
        (REASON_BAD_SUPPLY, _bad_non_negative("circulating_supply")),
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
