"""Season engines from the store: every observation of a source read into a :class:`SeasonEngine` with the
point-in-time classification of its coins, a digest per day of what it was made from, and an engine brought up to
date without a rebuild when the store only rewrote its last days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core.engine import SeasonEngine
from coinseason.core.panel import FloatMatrix, pivot_daily
from coinseason.core.universe import NO_COIN
from coinseason.data.classification import PriceMatrix
from coinseason.data.tidy import FLAG_MCAP_SPIKE, TokenClass
from coinseason.errors import NoDataError
from coinseason.services.classify import classify_market, coin_classes, reference_coins, with_classes
from coinseason.store.protocols import MarketData

__all__ = ["OBSERVATION_COLUMNS", "Loaded", "day_digests", "extend_loaded", "load_engine"]


OBSERVATION_COLUMNS = ("coin_id", "date", "price", "market_cap", "flags")
"""What an engine is made from."""


@dataclass(frozen=True, slots=True)
class Loaded:
    source: str
    engine: SeasonEngine
    coins: pl.DataFrame
    """The store's coins, their classes as the engine holds them (``class_since``: the first day each holds)."""
    digests: NDArray[np.uint64] | None = None
    """Per day of the engine, a digest of the observations it was made from (:func:`day_digests`): what tells,
    when new data lands, which days the store has rewritten."""


def day_digests(obs: pl.DataFrame, start: dt.date, n_days: int) -> NDArray[np.uint64]:
    """Per day from ``start``, the wrapping sum of the hashes of the day's observation rows: any row added, removed
    or changed changes its day's digest (within one process; the hashes are not kept anywhere)."""
    per_day = (
        obs.select(OBSERVATION_COLUMNS)
        .select((pl.col("date") - pl.lit(start)).dt.total_days().alias("row"), pl.struct(pl.all()).hash(7).alias("h"))
        .group_by("row")
        .agg(pl.col("h").sum())
    )
    digests = np.zeros(n_days, dtype=np.uint64)
    digests[per_day["row"].to_numpy()] = per_day["h"].to_numpy()
    return digests


def _engine_values(obs: pl.DataFrame, start: dt.date) -> pl.DataFrame:
    """``row`` (days from ``start``), ``coin_id``, ``price`` and ``market_cap``, both NaN where flagged as a spike
    (a day that failed a gate moves no index: the gap fill takes the day before)."""
    return obs.select(
        "coin_id",
        (pl.col("date") - pl.lit(start)).dt.total_days().cast(pl.Int32).alias("row"),
        pl.when((pl.col("flags") & FLAG_MCAP_SPIKE) > 0).then(None).otherwise(pl.col("price")).alias("price"),
        pl.when((pl.col("flags") & FLAG_MCAP_SPIKE) > 0)
        .then(None)
        .otherwise(pl.col("market_cap"))
        .fill_null(np.nan)
        .alias("market_cap"),
    )


def _matrices(values: pl.DataFrame, ids: list[str], n_days: int) -> tuple[FloatMatrix, FloatMatrix]:
    """Price and market-cap day × coin matrices of :func:`_engine_values` rows, coins in the order of ``ids``."""
    index = pl.DataFrame({"coin_id": ids, "col": np.arange(len(ids), dtype=np.int32)})
    long = values.join(index, on="coin_id", how="left")
    row, col = long["row"].to_numpy(), long["col"].to_numpy()
    price = pivot_daily(row, col, long["price"].to_numpy(), n_days=n_days, n_coins=len(ids))
    mcap = pivot_daily(row, col, long["market_cap"].to_numpy(), n_days=n_days, n_coins=len(ids))
    return price, mcap


def load_engine(store: MarketData, source: str) -> Loaded:
    """Read every observation of ``source`` into a :class:`SeasonEngine`, its coins classified from the same data
    (point in time: each class from the first day it holds)."""
    obs = store.observations(source, columns=OBSERVATION_COLUMNS)
    if obs.height == 0:
        raise NoDataError(f"the store holds no data for source {source!r}: import a file first")
    coins = store.coins(source)
    ids: list[str] = obs["coin_id"].unique().sort().to_list()
    start: dt.date = obs["date"].min()  # type: ignore[assignment]
    end: dt.date = obs["date"].max()  # type: ignore[assignment]
    n_days = (end - start).days + 1
    price, mcap = _matrices(_engine_values(obs, start), ids, n_days)
    classified = classify_market(coins, PriceMatrix(start, tuple(ids), price))  # before the engine fills gaps
    refs = reference_coins(coins)
    engine = SeasonEngine(
        start=start,
        coin_ids=ids,
        price=price,
        market_cap=mcap,
        btc_id=refs.get("BTC"),
        eth_id=refs.get("ETH"),
        classes=coin_classes(classified),
        stable_class=str(TokenClass.STABLECOIN),
    )
    return Loaded(source, engine, with_classes(coins, classified), day_digests(obs, start, n_days))


def _column_id(engine: SeasonEngine, column: int) -> str | None:
    return None if column == NO_COIN else str(engine.coin_ids[column])


def extend_loaded(store: MarketData, old: Loaded) -> tuple[Loaded | None, str]:
    """``old`` brought up to date with the store without a rebuild, when the store only rewrote some of the last
    days (at most :attr:`SeasonEngine.rollback_days`) and added days after them, for the same coins and
    references, and the coins' classes changed only from those days on (point in time, new data adds classes
    from new days): those days are taken back from a copy of the engine and appended as stored now. The result
    answers as a fresh :func:`load_engine` would; ``old`` is left as it was. (None, why) when a reload is needed.
    """
    engine, known = old.engine, old.digests
    if known is None:
        return None, "no digests kept"
    obs = store.observations(old.source, columns=OBSERVATION_COLUMNS)
    if obs.height == 0:
        return None, "no data"
    start: dt.date = obs["date"].min()  # type: ignore[assignment]
    end: dt.date = obs["date"].max()  # type: ignore[assignment]
    n_days = (end - start).days + 1
    if start != engine.start or n_days < engine.n_days:
        return None, f"the data now runs from {start} to {end}"
    digests = day_digests(obs, start, n_days)
    changed = np.flatnonzero(digests[: engine.n_days] != known)
    first = int(changed[0]) if changed.size else engine.n_days
    back = engine.n_days - first
    if back > engine.rollback_days:
        day = start + dt.timedelta(days=first)
        return None, f"the store rewrote {day}, {back} days back (up to {engine.rollback_days} can be taken back)"
    coins = store.coins(old.source)
    refs = reference_coins(coins)
    ids = set(engine.coin_ids.tolist())
    if _column_id(engine, engine.btc) != (refs.get("BTC") if refs.get("BTC") in ids else None) or _column_id(
        engine, engine.eth
    ) != (refs.get("ETH") if refs.get("ETH") in ids else None):
        return None, "the reference coins changed"
    values = _engine_values(obs.filter(pl.col("date") >= start + dt.timedelta(days=first)), start)
    new = set(values["coin_id"].unique().to_list()) - ids
    if new or obs["coin_id"].n_unique() != len(ids):
        return None, f"the coins changed ({len(new)} new)"
    order = engine.coin_ids.tolist()
    price, _ = _matrices(_engine_values(obs, start), order, n_days)
    classified = classify_market(coins, PriceMatrix(start, tuple(order), price))
    twin = engine.copy(append_only=back == 0)  # only days added: the copy shares the matrices, no rows copied
    twin.drop_last(back)
    try:
        twin.set_classes(coin_classes(classified))
    except ValueError as exc:
        return None, str(exc)
    if first == n_days:  # the classes agree on every day held: the engine answers as before
        return Loaded(old.source, engine, with_classes(coins, classified), digests), "nothing changed"
    by_row = {key[0]: part for key, part in values.partition_by("row", as_dict=True).items()}
    for row in range(first, n_days):
        part = by_row.get(row)
        if part is None:
            twin.append_day(start + dt.timedelta(days=row), [], np.empty(0), np.empty(0))
        else:
            twin.append_day(
                start + dt.timedelta(days=row),
                part["coin_id"].to_list(),
                part["price"].to_numpy(),
                part["market_cap"].to_numpy(),
            )
    loaded = Loaded(old.source, twin, with_classes(coins, classified), digests)
    return loaded, f"took back {back} day(s), appended {n_days - first}"
