"""Raw daily series from the season engine, the inputs of every engine feature: season index levels for several
windows, dominance, breadth, BTC and alt-basket prices, BTC's share of volume.

Each value on day d is what the engine computes from market data dated d and before (point-in-time ranking,
exclusions and gap filling from earlier days only), so it is known at the end of day d.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core.engine import SeasonEngine
from coinseason.core.feature_math import share_above_average
from coinseason.core.universe import NO_COIN, NO_EXCLUSION, Exclusion

FloatArray = NDArray[np.float64]
INDEX_WINDOWS = (30, 60, 90)


@dataclass(frozen=True, slots=True)
class MarketSeries:
    """Engine series over consecutive days from ``start`` (all arrays the same length)."""

    start: dt.date
    asi: dict[int, FloatArray]
    """Altcoin Season Index per window."""
    btc_dominance: FloatArray
    eth_dominance: FloatArray
    stable_dominance: FloatArray
    breadth: FloatArray
    """Share (0-1) of the top N above their 200-day mean."""
    btc_price: FloatArray
    alt_basket_return: FloatArray
    """Equal-weight mean daily log return of the top N other than BTC."""
    btc_volume_share: FloatArray
    top: int = 50
    label_window: int = 90
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_days(self) -> int:
        return int(self.btc_price.size)

    @property
    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.n_days)]

    def truncated(self, n_days: int) -> MarketSeries:
        """The first ``n_days`` days only."""
        return MarketSeries(
            start=self.start,
            asi={w: v[:n_days] for w, v in self.asi.items()},
            btc_dominance=self.btc_dominance[:n_days],
            eth_dominance=self.eth_dominance[:n_days],
            stable_dominance=self.stable_dominance[:n_days],
            breadth=self.breadth[:n_days],
            btc_price=self.btc_price[:n_days],
            alt_basket_return=self.alt_basket_return[:n_days],
            btc_volume_share=self.btc_volume_share[:n_days],
            top=self.top,
            label_window=self.label_window,
            meta=self.meta,
        )


def _alt_basket_return(price: FloatArray, universe: NDArray[np.int32], btc: int) -> FloatArray:
    n_days = price.shape[0]
    out = np.full(n_days, np.nan)
    if n_days < 2:
        return out
    cols = universe[1:]
    rows = np.broadcast_to(np.arange(1, n_days)[:, None], cols.shape)
    ok = (cols != NO_COIN) & (cols != btc)
    safe = np.where(ok, cols, 0)
    now, before = price[rows, safe], price[rows - 1, safe]
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.where(ok & (now > 0) & (before > 0), np.log(now / before), np.nan)
        counted = np.isfinite(ret).sum(axis=1)
        out[1:] = np.where(counted > 0, np.nansum(ret, axis=1) / np.maximum(counted, 1), np.nan)
    return out


def _volume_share(volumes: pl.DataFrame, engine: SeasonEngine, excluded: Exclusion, btc_id: str | None) -> FloatArray:
    """BTC's share of the day's traded volume of the coins not excluded that day."""
    start, n_days = engine.start, engine.n_days
    out = np.full(n_days, np.nan)
    if btc_id is None:
        return out
    until = pl.DataFrame(
        {"coin_id": engine.coin_ids.astype(str), "_until": engine.excluded_from(excluded)},
        schema={"coin_id": pl.String, "_until": pl.Int64},
    )
    day = (pl.col("date") - pl.lit(start)).dt.total_days()
    obs = (
        volumes.filter(pl.col("volume").is_not_null() & (pl.col("volume") > 0))
        .join(until, on="coin_id", how="left")
        .filter(pl.col("_until").is_null() | (day < pl.col("_until")))
    )
    obs = obs.sort("coin_id", "date")  # a fixed summation order: the same days give the same bits
    row = obs.select(day)["date"].to_numpy()
    keep = (row >= 0) & (row < n_days)
    volume = obs["volume"].to_numpy()
    total = np.bincount(row[keep], weights=volume[keep], minlength=n_days)
    is_btc = (obs["coin_id"] == btc_id).to_numpy() & keep
    btc = np.bincount(row[is_btc], weights=volume[is_btc], minlength=n_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:] = np.where(total > 0, btc / total, np.nan)
    return out


def market_series(
    engine: SeasonEngine,
    *,
    excluded: Exclusion,
    volumes: pl.DataFrame,
    top: int = 50,
    label_window: int = 90,
    meta: dict[str, object] | None = None,
) -> MarketSeries:
    """Every engine series of ``engine`` with the coins of ``excluded`` left out, each from the first day it holds
    an excluded class (stablecoin dominance with none left out); ``volumes`` (``coin_id, date, volume`` of the
    engine's coins) give BTC's share of volume."""
    windows = sorted({*INDEX_WINDOWS, label_window})
    asi = {w: engine.season_index(excluded, top=top, window=w).value for w in windows}
    dom = engine.dominance(excluded)
    stable = engine.dominance(NO_EXCLUSION).stablecoin
    universe = engine.order(excluded, top)[:, :top]
    cols = np.unique(universe[universe != NO_COIN])
    members = np.zeros((engine.n_days, cols.size), dtype=bool)
    position = np.searchsorted(cols, universe)
    rows = np.broadcast_to(np.arange(engine.n_days)[:, None], universe.shape)
    valid = universe != NO_COIN
    members[rows[valid], position[valid]] = True
    breadth = share_above_average(engine.price[:, cols], members, 200)
    btc = engine.btc
    btc_price = engine.price[:, btc].copy() if btc != NO_COIN else np.full(engine.n_days, np.nan)
    btc_id = str(engine.coin_ids[btc]) if btc != NO_COIN else None
    return MarketSeries(
        start=engine.start,
        asi=asi,
        btc_dominance=dom.btc,
        eth_dominance=dom.eth,
        stable_dominance=stable,
        breadth=breadth,
        btc_price=btc_price,
        alt_basket_return=_alt_basket_return(engine.price, universe, btc),
        btc_volume_share=_volume_share(volumes, engine, excluded, btc_id),
        top=top,
        label_window=label_window,
        meta={**(meta or {}), "top": top, "label_window": label_window},
    )


__all__ = ["INDEX_WINDOWS", "MarketSeries", "market_series"]
