"""Quality gates, applied before anything is stored or published, whichever way the data enters: file imports
(:mod:`coinseason.services.importing`) and live ingestion pass through :func:`gate_observations` alike.

Pure: frames and arrays in, frames and counts out; no store, no clock, no settings. The reasons and their limits
are one list (:mod:`coinseason.data.reasons`). In order:

* **one row alone** (:mod:`coinseason.data.quality`): a missing, zero, negative, NaN or infinite price, market cap,
  volume or supply, a price, market cap or supply above its stated bound, a date before Bitcoin's genesis block or
  after today: rejected;
* **repeated keys**: identical copies kept once, a key seen with different values rejected (every copy);
* **above the whole market**: a market cap over :data:`~coinseason.data.reasons.MARKET_MULTIPLE`× the total of
  every coin of the source on the day before or after (the larger): rejected;
* **one-day spikes**: a price, market cap (or implied supply) over ``K×`` both neighbours, or under ``1/K×`` both.
  A coin's newest day has no next neighbour yet: a price or market cap over ``K×`` (or under ``1/K×``) the day
  before is flagged *pending* and re-judged when the next day arrives (a level that holds is a real move and the
  flag is lifted). A coin's first day has no day before: over ``K×`` or under ``1/K×`` the day after, it is
  flagged (unless that day is itself a spike);
* **supply jumps**: circulating supply (given, or implied as market cap / price) changing more than
  ``supply_factor×`` from the last unflagged day;
* **cross-source deviation**: a price or market cap further than ``threshold`` (relative) from the median of every
  source reporting the coin (CoinGecko, CoinMarketCap, an exchange median, ...);
* **staleness**: a provider value last updated longer ago than its heartbeat.

Neighbours are the coin's rows in the incoming frame *and* the stored ones given with it: an imported day between
stored days is judged by them, and the stored days next to the new ones are judged again.

A flagged day carries :data:`~coinseason.data.tidy.FLAG_MCAP_SPIKE`, which the engine reads as "no price and no
market cap that day" (the gap fill takes the day before), so the indices never move on it. A stale price is
rejected, counted with its reason; a price off the other sources is rejected when at least three sources report
the coin and the primary is the outlier, and flagged (kept, out of the indices) when only two do: with two, the
median cannot tell which one is wrong. A day the provider itself marked a glitch
(:data:`~coinseason.data.tidy.FLAG_PROVIDER_GLITCH`) stays out of the indices whatever the gates find.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.data.quality import reject_bad_rows, reject_conflicting_keys
from coinseason.data.reasons import (
    MARKET_MIN_COINS,
    MARKET_MULTIPLE,
    REASON_ABOVE_MARKET,
    REASON_FIRST_DAY,
    REASON_MCAP_DEVIATION,
    REASON_PENDING,
    REASON_PRICE_DEVIATION,
    REASON_PRICE_DISPUTED,
    REASON_PRICE_SPIKE,
    REASON_PROVIDER_GLITCH,
    REASON_SPIKE,
    REASON_STALE,
    REASON_SUPPLY_JUMP,
)
from coinseason.data.tidy import FLAG_MCAP_SPIKE, FLAG_PROVIDER_GLITCH, conform_observations

__all__ = [
    "FLAG_PENDING",
    "FLAG_SOURCE_DEVIATION",
    "FLAG_SUPPLY_JUMP",
    "GATE_BITS",
    "REASON_ABOVE_MARKET",
    "REASON_FIRST_DAY",
    "REASON_MCAP_DEVIATION",
    "REASON_PENDING",
    "REASON_PRICE_DEVIATION",
    "REASON_PRICE_DISPUTED",
    "REASON_PRICE_SPIKE",
    "REASON_PROVIDER_GLITCH",
    "REASON_SPIKE",
    "REASON_STALE",
    "REASON_SUPPLY_JUMP",
    "GateConfig",
    "GateReport",
    "cross_check",
    "gate_observations",
    "jump_mask",
    "lead_mask",
    "median_deviation",
    "reject_above_market",
    "reject_stale",
    "spike_mask",
]

FLAG_SUPPLY_JUMP: Final[int] = 2
"""Bit in ``flags``: the circulating supply jumped that day (the market cap is also kept out)."""
FLAG_SOURCE_DEVIATION: Final[int] = 4
"""Bit in ``flags``: the market cap is off the other sources' median (the market cap is also kept out)."""
FLAG_PENDING: Final[int] = 8
"""Bit in ``flags``: the coin's newest day jumped over ``K×`` the day before; judged again with the next day."""

GATE_BITS: Final[int] = FLAG_MCAP_SPIKE | FLAG_SUPPLY_JUMP | FLAG_PENDING
"""Bits the time-series gates own: recomputed, set or lifted, whenever a coin's neighbouring days change."""


@dataclass(frozen=True, slots=True)
class GateConfig:
    spike_factor: float = 10.0
    """K: a value over K× both neighbours (or under 1/K× both) is a one-day spike."""
    supply_factor: float = 5.0
    """A circulating supply moving more than this factor in one day is a jump."""
    deviation: float = 0.05
    """Relative distance from the sources' median beyond which a value is off."""
    heartbeat: dt.timedelta = dt.timedelta(hours=1)
    """A provider value older than this at observation time is stale."""

    def __post_init__(self) -> None:
        if not (self.spike_factor > 1 and self.supply_factor > 1 and self.deviation > 0):
            raise ValueError("gate factors must be above 1 and the deviation threshold above 0")


@dataclass(slots=True)
class GateReport:
    """What passed (with its flags set), what was rejected and what was flagged, each counted by reason."""

    good: pl.DataFrame
    rejections: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    duplicates_merged: int = 0
    """Incoming rows that were identical copies of another incoming row (kept once)."""

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())


# -- array gates ------------------------------------------------------------------------------------------------


def spike_mask(
    values: NDArray[np.float64], *, factor: float, pending_last: bool = True, down_last: bool = False
) -> NDArray[np.bool_]:
    """Days of one series (oldest first) that are one-day spikes: over ``factor×`` both neighbours, or under
    ``1/factor×`` both. With ``pending_last`` the last day is flagged when over ``factor×`` the day before (with
    ``down_last`` also when under ``1/factor×`` it), unless that day is itself a spike. NaN
    never counts as a spike and gives no neighbour."""
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape, dtype=np.bool_)
    if v.size < 2:
        return out
    mid, prev, nxt = v[1:-1], v[:-2], v[2:]
    with np.errstate(invalid="ignore"):
        up = (mid > factor * prev) & (mid > factor * nxt)
        down = (mid * factor < prev) & (mid * factor < nxt)
        out[1:-1] = up | down
        if pending_last:
            out[-1] = bool(v[-1] > factor * v[-2]) and not out[-2]  # a rise back from a one-day dip is no jump
            if down_last:
                out[-1] |= bool(v[-1] * factor < v[-2]) and not out[-2]
    return out


def lead_mask(values: NDArray[np.float64], spikes: NDArray[np.bool_], *, factor: float) -> NDArray[np.bool_]:
    """The first day of one series (oldest first) when over ``factor×`` or under ``1/factor×`` the day after, that
    day not itself in ``spikes``; every other day False. NaN never counts."""
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape, dtype=np.bool_)
    if v.size >= 2 and not spikes[1]:
        with np.errstate(invalid="ignore"):
            out[0] = bool(v[0] > factor * v[1]) or bool(v[0] * factor < v[1])
    return out


def jump_mask(values: NDArray[np.float64], skip: NDArray[np.bool_], *, factor: float) -> NDArray[np.bool_]:
    """Days whose value moved more than ``factor×`` (up or down) from the last earlier day not in ``skip`` with a
    finite value."""
    v = np.asarray(values, dtype=np.float64)
    usable = np.isfinite(v) & ~skip
    idx = np.where(usable, np.arange(v.size), -1)
    last = np.maximum.accumulate(idx) if v.size else idx
    before = np.concatenate(([-1], last[:-1])) if v.size else last
    base = np.where(before >= 0, v[np.maximum(before, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = v / base
        return np.isfinite(ratio) & ((ratio > factor) | (ratio * factor < 1))


def median_deviation(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Relative distance of each source's value (columns) from the median of the sources reporting it (NaN =
    not reported) for each coin (rows): ``|x - median| / median``; NaN where fewer than two sources report."""
    v = np.asarray(values, dtype=np.float64)
    reporting = np.isfinite(v).sum(axis=1)
    out = np.full(v.shape, np.nan)
    rows = reporting >= 2
    if rows.any():
        med = np.nanmedian(v[rows], axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rows] = np.abs(v[rows] - med) / med
    return out


# -- frame gates --------------------------------------------------------------------------------------------------


def gate_observations(
    incoming: pl.DataFrame,
    *,
    today: dt.date,
    config: GateConfig,
    stored: pl.DataFrame | None = None,
) -> GateReport:
    """Gate tidy observations before they are written.

    ``stored`` holds the already stored days of the same source around the incoming ones (the day before and after
    them at least, every coin), as neighbours and as the whole market: a stored day whose flags change because of
    the new days (a pending jump confirmed or lifted, a day next to an imported one) comes back in ``good`` with its
    new flags, to be written with the rest."""
    checked = reject_bad_rows(conform_observations(incoming), today=today)
    keys = reject_conflicting_keys(checked.good)
    rejections: Counter[str] = Counter(checked.rejections) + Counter(keys.rejections)
    new = keys.good.with_columns(pl.lit(value=True).alias("_new"))
    if stored is not None and stored.height:
        old = conform_observations(stored).join(new, on=["source", "coin_id", "date"], how="anti")
        frame = pl.concat([new, old.with_columns(pl.lit(value=False).alias("_new"))])
    else:
        frame = new
    frame, above = reject_above_market(frame)
    rejections += above
    frame = frame.sort("source", "coin_id", "date")
    # a stored day is judged again only next to the new ones (the days before and after them); older stored days
    # keep their flags, as their own neighbours may not be in the frame
    before_new, after_new = (pl.col("_new").shift(n).over("source", "coin_id").fill_null(value=False) for n in (-1, 1))
    frame = frame.with_columns((pl.col("_new") | before_new | after_new).alias("_judge"))
    flags, flagged = _series_flags(frame, config)
    result = frame.with_columns(pl.Series("_flags", flags, dtype=pl.Int16))
    kept_out = FLAG_SOURCE_DEVIATION | FLAG_PROVIDER_GLITCH
    outside = pl.when((pl.col("flags") & kept_out) != 0).then(FLAG_MCAP_SPIKE).otherwise(0)
    result = result.with_columns(
        ((pl.col("flags") & ~GATE_BITS) | pl.col("_flags") | outside).cast(pl.Int16).alias("_new_flags")
    )
    # a day both the provider and the gates found is counted once, by the gates' reason
    flagged[REASON_PROVIDER_GLITCH] += result.filter(
        pl.col("_new") & ((pl.col("flags") & FLAG_PROVIDER_GLITCH) != 0) & ((pl.col("_flags") & FLAG_MCAP_SPIKE) == 0)
    ).height
    good = result.filter(pl.col("_new") | (pl.col("_new_flags") != pl.col("flags")))
    good = good.with_columns(pl.col("_new_flags").alias("flags")).drop("_new", "_judge", "_flags", "_new_flags")
    return GateReport(
        good=conform_observations(good),
        rejections=+rejections,
        flagged=+flagged,
        duplicates_merged=keys.duplicates_merged,
    )


def reject_above_market(
    frame: pl.DataFrame, *, multiple: float = MARKET_MULTIPLE, min_coins: int = MARKET_MIN_COINS
) -> tuple[pl.DataFrame, Counter[str]]:
    """Drop the new rows (``_new``) of ``frame`` whose market cap is over ``multiple×`` the whole market's total
    (every coin of the source, itself included) on the day before or the day after, the larger of the two; only
    days where at least ``min_coins`` coins report a market cap are a market, and a row with no such day beside it
    is not judged. Stored rows are never dropped: they are the market the new ones are judged by."""
    if frame.height == 0:
        return frame, Counter()
    totals = (
        frame.group_by("source", "date")
        .agg(pl.col("market_cap").sum().alias("_total"), pl.col("market_cap").count().alias("_coins"))
        .filter(pl.col("_coins") >= min_coins)
        .drop("_coins")
    )
    before = totals.with_columns((pl.col("date") + pl.duration(days=1)).alias("date")).rename({"_total": "_before"})
    after = totals.with_columns((pl.col("date") - pl.duration(days=1)).alias("date")).rename({"_total": "_after"})
    judged = frame.join(before, on=["source", "date"], how="left").join(after, on=["source", "date"], how="left")
    market = pl.max_horizontal("_before", "_after")
    above = pl.col("_new") & (pl.col("market_cap") > multiple * market).fill_null(value=False)
    n = judged.filter(above).height
    if n == 0:
        return frame, Counter()
    kept = judged.filter(~above).drop("_before", "_after")
    return kept, Counter({REASON_ABOVE_MARKET: n})


def _series_flags(frame: pl.DataFrame, config: GateConfig) -> tuple[NDArray[np.int16], Counter[str]]:
    """Spike, first-day, pending and supply-jump bits of every row of ``frame`` (sorted by source, coin, date)."""
    flags = np.zeros(frame.height, dtype=np.int16)
    flagged: Counter[str] = Counter()
    if frame.height == 0:
        return flags, flagged
    mcap = frame["market_cap"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    price = frame["price"].to_numpy()
    supply = frame["circulating_supply"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        supply = np.where(np.isfinite(supply), supply, mcap / price)
    is_new = frame["_new"].to_numpy()
    judged = frame["_judge"].to_numpy()
    given = frame["flags"].cast(pl.Int16).to_numpy()
    kept = given & np.int16(GATE_BITS)
    glitch = (given & np.int16(FLAG_PROVIDER_GLITCH | FLAG_SOURCE_DEVIATION)) != 0
    factor = config.spike_factor
    groups = frame.select(pl.struct("source", "coin_id").rle_id().alias("g"))["g"].to_numpy()
    bounds = np.flatnonzero(np.diff(groups)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, frame.height], strict=True):
        part = slice(int(start), int(stop))
        judge = judged[part]
        mcap_spike = spike_mask(mcap[part], factor=factor, pending_last=False)
        mcap_spike |= spike_mask(supply[part], factor=factor, pending_last=False)
        price_spike = spike_mask(price[part], factor=factor, pending_last=False)
        spike = mcap_spike | price_spike
        lead = lead_mask(mcap[part], spike, factor=factor) | lead_mask(price[part], spike, factor=factor)
        last_only = np.zeros(stop - start, dtype=np.bool_)
        last_only[-1] = True
        pending = spike_mask(mcap[part], factor=factor)
        pending |= spike_mask(price[part], factor=factor, down_last=True)
        pending &= last_only & ~lead
        spike, lead, pending = spike & judge, lead & judge, pending & judge
        was_spike = ((kept[part] & FLAG_MCAP_SPIKE) != 0) & ((kept[part] & FLAG_SUPPLY_JUMP) == 0)
        skip = spike | lead | pending | (~judge & was_spike) | glitch[part]
        jump = jump_mask(supply[part], skip, factor=config.supply_factor) & ~skip & judge
        flags[part] |= np.where(judge, 0, kept[part]).astype(np.int16)
        flags[part] |= np.where(spike | lead, FLAG_MCAP_SPIKE, 0).astype(np.int16)
        flags[part] |= np.where(pending, FLAG_MCAP_SPIKE | FLAG_PENDING, 0).astype(np.int16)
        flags[part] |= np.where(jump, FLAG_MCAP_SPIKE | FLAG_SUPPLY_JUMP, 0).astype(np.int16)
        counted = is_new[part]
        flagged[REASON_SPIKE] += int((spike & ~price_spike & counted).sum())
        flagged[REASON_PRICE_SPIKE] += int((price_spike & judge & counted).sum())
        flagged[REASON_FIRST_DAY] += int((lead & counted).sum())
        flagged[REASON_PENDING] += int((pending & counted).sum())
        flagged[REASON_SUPPLY_JUMP] += int((jump & counted).sum())
    return flags, +flagged


def reject_stale(
    snapshot: pl.DataFrame, *, observed_at: dt.datetime, heartbeat: dt.timedelta
) -> tuple[pl.DataFrame, Counter[str]]:
    """Drop snapshot rows whose ``last_updated`` is older than ``observed_at - heartbeat`` (unknown passes)."""
    stale = pl.col("last_updated").is_not_null() & (pl.col("last_updated") < pl.lit(observed_at - heartbeat))
    n = snapshot.filter(stale).height
    return snapshot.filter(~stale), Counter({REASON_STALE: n} if n else {})


def cross_check(
    primary: pl.DataFrame, references: list[pl.DataFrame], *, key: str, threshold: float
) -> tuple[pl.DataFrame, Counter[str], Counter[str]]:
    """Compare ``primary``'s ``price`` and ``market_cap`` with other sources' frames, matched on ``key`` (the coin
    id when the sources share ids, else a symbol unique in every frame).

    A price further than ``threshold`` from the median of the sources is rejected when at least three sources
    report the coin (the primary is then the outlier); with two, the median is their midpoint and cannot tell
    which one is wrong: the row is kept and flagged (:data:`FLAG_SOURCE_DEVIATION` and :data:`FLAG_MCAP_SPIKE`,
    which keep its price and market cap out of the indices), as is a market cap that far. Returns the kept rows,
    the rejections and the flags, counted by reason."""
    if not references or primary.height == 0:
        return primary, Counter(), Counter()
    # a key seen twice in a frame (two coins with one symbol) matches nothing: it says nothing about either coin
    joined = primary.with_row_index("_row").with_columns(
        pl.when(pl.col(key).is_unique()).then(pl.col(key)).alias("_match")
    )
    for i, ref in enumerate(references):
        unique = ref.filter(pl.col(key).is_unique() & pl.col(key).is_not_null())
        joined = joined.join(
            unique.select(
                pl.col(key).alias("_match"), pl.col("price").alias(f"_p{i}"), pl.col("market_cap").alias(f"_m{i}")
            ),
            on="_match",
            how="left",
        )
    joined = joined.sort("_row")
    matrix = {
        col: joined.select(col, *[f"_{col[0]}{i}" for i in range(len(references))])
        .cast(pl.Float64)
        .fill_null(np.nan)
        .to_numpy()
        for col in ("price", "market_cap")
    }
    off = np.nan_to_num(median_deviation(matrix["price"])[:, 0], nan=0.0) > threshold
    outvoted = np.isfinite(matrix["price"]).sum(axis=1) >= 3
    price_off, disputed = off & outvoted, off & ~outvoted
    mcap_off = np.nan_to_num(median_deviation(matrix["market_cap"])[:, 0], nan=0.0) > threshold
    mcap_off &= ~off
    bits = np.where(mcap_off | disputed, FLAG_SOURCE_DEVIATION | FLAG_MCAP_SPIKE, 0).astype(np.int16)
    flags_col = "flags" if "flags" in primary.columns else None
    kept = primary.with_columns(
        (
            (pl.col("flags").cast(pl.Int16) if flags_col else pl.lit(0, dtype=pl.Int16))
            | pl.Series("_bits", bits, dtype=pl.Int16)
        ).alias("flags")
    ).filter(pl.Series(~price_off))
    rejections = Counter({REASON_PRICE_DEVIATION: int(price_off.sum())})
    flagged = Counter({REASON_MCAP_DEVIATION: int(mcap_off.sum()), REASON_PRICE_DISPUTED: int(disputed.sum())})
    return kept, +rejections, +flagged
