"""Step 0, before any track is cut: one coin twice on one day is one coin (package docstring, rule 0).

Two real coins share a ticker on one day 745 times in the CoinMarketCap set (BITS, GLC, ARC, BNX, ...): they have
their own ranks and market caps at least 0.5 % apart (BITS on 2017-03-03, the closest). Two rows of one symbol that
share their rank, or whose market caps are within :data:`SAME_CAP_TOLERANCE`, are one coin reported twice: only one
of them is kept, the one that continues the symbol's prices best, so no second coin is invented from the copy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import polars as pl

from coinseason.data.cmc_identity.observations import EPOCH, TrackSeed, seed_log_supply, symbol_key
from coinseason.data.cmc_identity.rules import SHORT_GAP_DAYS
from coinseason.data.reasons import REASON_SAME_COIN_TWICE, REASON_SAME_COIN_UNDECIDED

SAME_CAP_TOLERANCE: Final[float] = 1e-3
"""Market caps within this relative distance on one day and symbol are one coin's."""
DECISIVE_MARGIN: Final[float] = 1e-9
"""The kept row must cost less than every other copy by more than this, else none can be told right."""


@dataclass(slots=True)
class Deduplicated:
    """The rows with each coin once a day, the copies rejected (counted by reason) and identical copies merged."""

    good: pl.DataFrame
    rejections: Counter[str] = field(default_factory=Counter)
    merged: int = 0


@dataclass(frozen=True, slots=True)
class _Point:
    day: int
    log_price: float
    log_supply: float


def _log(value: float | None) -> float:
    return math.log(value) if value is not None and math.isfinite(value) and value > 0 else math.nan


def drop_duplicate_coins(rows: pl.DataFrame, seeds: Sequence[TrackSeed] = ()) -> Deduplicated:
    """Keep one row of each coin reported twice on one day (rows with columns ``date``, ``rank``, ``symbol``,
    ``price``, ``market_cap``, ``circulating_supply``; other columns pass through).

    Identical rows are kept once (``merged``). Rows of one day and symbol (compared without case) that share their
    rank or whose market caps are within :data:`SAME_CAP_TOLERANCE` are one coin: the one kept costs least, where a
    row's cost is, on each side with rows of its symbol within ``SHORT_GAP_DAYS`` (the nearest such day before,
    ``seeds`` included, and the nearest after), the smallest ``|Δ ln price| + |Δ ln supply|`` to one of them, plus
    ``|ln(price × supply / market cap)|`` when the row gives all three. The others are rejected
    (:data:`~coinseason.data.reasons.REASON_SAME_COIN_TWICE`); when no row costs clearly least, every copy is
    (:data:`~coinseason.data.reasons.REASON_SAME_COIN_UNDECIDED`).
    """
    distinct = rows.unique(maintain_order=True)
    merged = rows.height - distinct.height
    frame = distinct.with_row_index("_row").with_columns(
        pl.col("symbol").cast(pl.String).str.to_uppercase().alias("_key"),
        (pl.col("date") - pl.lit(EPOCH)).dt.total_days().alias("_day"),
    )
    clashing = frame.filter(
        pl.col("_key").is_not_null() & pl.col("_day").is_not_null() & (pl.len().over("_day", "_key") > 1)
    )
    if clashing.height == 0:
        return Deduplicated(good=distinct, merged=merged)
    points = _points_by_key(frame, seeds, keys=set(clashing["_key"].to_list()))
    rejected: dict[int, str] = {}
    for group in clashing.partition_by("_day", "_key", maintain_order=True):
        for cluster in _one_coin_clusters(group):
            rejected.update(_judge(cluster, points))
    counts = Counter(rejected.values())
    good = frame.filter(~pl.col("_row").is_in(list(rejected))).drop("_row", "_key", "_day")
    return Deduplicated(good=good, rejections=counts, merged=merged)


def _points_by_key(frame: pl.DataFrame, seeds: Sequence[TrackSeed], *, keys: set[str]) -> dict[str, list[_Point]]:
    """Every row (and seed) of the symbols in ``keys``, as points."""
    out: dict[str, list[_Point]] = {key: [] for key in keys}
    for row in frame.filter(pl.col("_key").is_in(list(keys)) & pl.col("_day").is_not_null()).iter_rows(named=True):
        out[row["_key"]].append(_Point(row["_day"], *_logs(row)))
    for seed in seeds:
        key = symbol_key(seed.symbol)
        if key in out:
            out[key].append(_Point((seed.last_date - EPOCH).days, math.log(seed.price), seed_log_supply(seed)))
    return out


def _logs(row: dict[str, object]) -> tuple[float, float]:
    """ln price and ln supply of a row (the supply given, else market cap / price)."""
    price, cap, supply = (_log(row[c]) for c in ("price", "market_cap", "circulating_supply"))  # type: ignore[arg-type]
    if math.isnan(price):
        price = cap - supply
    return price, supply if not math.isnan(supply) else cap - price


def _one_coin_clusters(group: pl.DataFrame) -> list[pl.DataFrame]:
    """The rows of one day and symbol split into coins: linked when they share a rank or a market cap."""
    ranks = group["rank"].to_list()
    caps = group["market_cap"].cast(pl.Float64).to_list()
    parent = list(range(group.height))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(group.height):
        for j in range(i + 1, group.height):
            same_rank = ranks[i] is not None and ranks[i] == ranks[j]
            a, b = caps[i], caps[j]
            same_cap = (
                a is not None and b is not None and a > 0 and b > 0 and abs(a - b) <= SAME_CAP_TOLERANCE * max(a, b)
            )
            if same_rank or same_cap:
                parent[root(j)] = root(i)
    labels = [root(i) for i in range(group.height)]
    return [part for part in group.with_columns(pl.Series("_coin", labels)).partition_by("_coin") if part.height > 1]


def _judge(cluster: pl.DataFrame, points: dict[str, list[_Point]]) -> dict[int, str]:
    """The rows of ``cluster`` (one coin) to reject, with the reason."""
    day, key = int(cluster["_day"][0]), str(cluster["_key"][0])
    before = [p for p in points[key] if day - SHORT_GAP_DAYS <= p.day < day]
    after = [p for p in points[key] if day < p.day <= day + SHORT_GAP_DAYS]
    sides = []
    if before:
        nearest = max(p.day for p in before)
        sides.append([p for p in before if p.day == nearest])
    if after:
        nearest = min(p.day for p in after)
        sides.append([p for p in after if p.day == nearest])
    costs = []
    for row in cluster.iter_rows(named=True):
        log_price, log_supply = _logs(row)
        cost = sum(min(_distance(log_price, log_supply, p) for p in side) for side in sides)
        given = _log(row["price"]) + _log(row["circulating_supply"]) - _log(row["market_cap"])
        costs.append(cost + (abs(given) if math.isfinite(given) else 0.0))
    order = np.argsort(costs, kind="stable")
    rows = cluster["_row"].to_list()
    best, second = costs[order[0]], costs[order[1]]
    if not (math.isfinite(best) and best + DECISIVE_MARGIN < second):
        return dict.fromkeys(rows, REASON_SAME_COIN_UNDECIDED)
    return {rows[i]: REASON_SAME_COIN_TWICE for i in order[1:]}


def _distance(log_price: float, log_supply: float, point: _Point) -> float:
    dp = abs(log_price - point.log_price)
    ds = abs(log_supply - point.log_supply)
    return dp + ds if math.isfinite(ds) else dp
