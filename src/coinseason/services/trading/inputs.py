"""What the strategies trade on, from an :class:`AnalyticsService`'s engine: BTC's daily returns, the altcoin
basket (formed on its rebalance days from that day's top N without BTC and the coins excluded that day, liquid
coins only, equal- or cap-weighted, drifting in between: :mod:`coinseason.core.basket`), traded volumes, and the signal
states of every day, each from data up to that day only."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core.basket import MIN_VOLUME_USD, PEG_DAYS, REBALANCE_DAYS, Basket, asset_returns, build_basket
from coinseason.core.panel import FloatMatrix, forward_fill, pivot_daily
from coinseason.core.signals import contrarian_state, momentum_state, season_state
from coinseason.core.universe import NO_COIN, Exclusion
from coinseason.errors import ConfigError, NoDataError
from coinseason.services.analytics import AnalyticsService, Loaded, engine_row
from coinseason.services.trading.params import BacktestParams, BasketKey
from coinseason.vocab import Strategy, Weighting

VOLUME_FILL_DAYS = 30
"""An unknown volume is taken from the coin's last known volume at most this many days earlier (never later)."""
MAX_BASKETS = 16
"""Baskets kept built (each up to T x top x 3 arrays: tens of MB at top 500)."""


class StrategyInputs:
    """The inputs of every strategy for one store, cached per source until its engine changes (engines shared
    with the :class:`AnalyticsService`)."""

    def __init__(self, analytics: AnalyticsService) -> None:
        self.analytics = analytics
        self._volume: dict[str, tuple[object, int, FloatMatrix, bool]] = {}
        self._baskets: dict[tuple[str, BasketKey], tuple[object, int, Basket]] = {}

    def loaded(self, source: str | None) -> Loaded:
        loaded = self.analytics.loaded(source)
        if loaded.engine.btc == NO_COIN:
            raise NoDataError(f"source {loaded.source!r} has no Bitcoin: every strategy holds BTC")
        return loaded

    def volume(self, loaded: Loaded) -> FloatMatrix:
        """Daily volume, day × coin in the engine's columns, gaps filled from up to 30 earlier days."""
        eng = loaded.engine
        cached = self._volume.get(loaded.source)
        if cached is None or cached[0] is not eng or cached[1] != eng.n_days:  # new data: rebuild
            obs = self.analytics.store.observations(loaded.source, columns=("coin_id", "date", "volume"))
            col = {c: i for i, c in enumerate(eng.coin_ids)}
            frame = obs.filter(pl.col("volume") > 0).with_columns(
                pl.col("coin_id").replace_strict(col, default=-1, return_dtype=pl.Int64).alias("col"),
                (pl.col("date") - pl.lit(eng.start)).dt.total_days().alias("row"),
            )
            frame = frame.filter((pl.col("col") >= 0) & (pl.col("row") >= 0) & (pl.col("row") < eng.n_days))
            vol = pivot_daily(
                frame["row"].to_numpy(),
                frame["col"].to_numpy(),
                frame["volume"].to_numpy().astype(np.float64),
                n_days=eng.n_days,
                n_coins=eng.coin_ids.size,
            )
            filled = forward_fill(vol, limit=VOLUME_FILL_DAYS)
            cached = (eng, eng.n_days, filled, bool(np.isfinite(filled).any()))
            self._volume[loaded.source] = cached
        return cached[2]

    def has_volume(self, loaded: Loaded) -> bool:
        """Whether the source has any traded volume (without, the basket's volume filter is off)."""
        self.volume(loaded)
        return self._volume[loaded.source][3]

    def excluded(self, loaded: Loaded, exclude: str) -> Exclusion:
        """What ``exclude`` leaves out, each coin from the first day it holds an excluded class."""
        return self.analytics.exclusion(loaded.source, exclude).exclusion

    def basket(
        self,
        loaded: Loaded,
        exclude: str,
        top: int,
        weighting: Weighting,
        *,
        rebalance_days: int = REBALANCE_DAYS,
        drift: float = 0.0,
        min_volume: float = MIN_VOLUME_USD,
    ) -> Basket:
        """The alt basket formed from the top ``top`` coins without BTC and the excluded classes (cached); ``top``
        must have been checked (:func:`~coinseason.services.trading.params.check_top`)."""
        if not self.has_volume(loaded):  # a source without volumes cannot filter on them
            min_volume = 0.0
        spec: BasketKey = (exclude, top, weighting, rebalance_days, drift, min_volume)
        key = (loaded.source, spec)
        eng = loaded.engine
        cached = self._baskets.get(key)
        if cached is None or cached[0] is not eng or cached[1] != eng.n_days:
            members = eng.universe(self.excluded(loaded, exclude), top, btc_inside=False)
            basket = build_basket(
                members,
                eng.price,
                eng.market_cap,
                self.volume(loaded),
                weighting=weighting,
                rebalance_days=rebalance_days,
                drift=drift if drift > 0 else None,
                min_volume=min_volume,
                peg_days=PEG_DAYS,
            )
            cached = (eng, eng.n_days, basket)
            while len(self._baskets) >= MAX_BASKETS:  # bounded: the key space is as large as the API's parameters
                self._baskets.pop(next(iter(self._baskets)))
            self._baskets[key] = cached
        return cached[2]

    def btc_returns(self, loaded: Loaded) -> NDArray[np.float64]:
        return asset_returns(loaded.engine.price[:, loaded.engine.btc])

    def season_value(self, loaded: Loaded, exclude: str, top: int, window: int) -> NDArray[np.float64]:
        """The Altcoin Season Index of every day; ``top`` and ``window`` must have been checked."""
        return loaded.engine.season_index(self.excluded(loaded, exclude), top=top, window=window).value

    def btc_dominance(self, loaded: Loaded, exclude: str) -> NDArray[np.float64]:
        return loaded.engine.dominance(self.excluded(loaded, exclude), top=None).btc

    def raw_state(self, loaded: Loaded, p: BacktestParams) -> NDArray[np.int8]:
        """The strategy's state per day before confirmation."""
        if p.strategy is Strategy.SEASON_ROTATION:
            value = self.season_value(loaded, p.exclude, p.top, p.window)
            return season_state(value, altcoin_at=p.altcoin_at, bitcoin_at=p.bitcoin_at)
        if p.strategy is Strategy.MOMENTUM:
            return momentum_state(self.btc_dominance(loaded, p.exclude), lookback=p.lookback, band=p.band)
        value = self.season_value(loaded, p.exclude, p.top, p.window)
        return contrarian_state(
            value,
            self.btc_dominance(loaded, p.exclude),
            index_low=p.index_low,
            dominance_high=p.dominance_high,
            index_high=p.index_high,
        )

    def rows(self, loaded: Loaded, start: dt.date | None, end: dt.date | None) -> slice:
        """The engine's rows from ``start`` to ``end`` (at least 2 days); a :class:`ConfigError` outside the data."""
        eng = loaded.engine
        first = engine_row(eng, start) if start is not None else 0
        last = engine_row(eng, end) if end is not None else eng.n_days - 1
        if last - first < 1:
            raise ConfigError(f"the backtest needs at least 2 days; from {start} to {end} gives {last - first + 1}")
        return slice(first, last + 1)
