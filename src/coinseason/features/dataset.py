"""The feature panel: one row per day, one column per model feature, each known at the end of its day.

Engine features come from :class:`~coinseason.features.market.MarketSeries`; external ones from the stored
point-in-time rows, each aligned so that day d sees only rows with ``known_at`` <= 00:00 UTC of d+1 (the
publication lags of :mod:`coinseason.features.catalog`). All windows are trailing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core import feature_math as f
from coinseason.core.season import classify_season
from coinseason.features.changepoint import dominance_change_points
from coinseason.features.market import MarketSeries

FloatArray = NDArray[np.float64]
DAY_US = 86_400_000_000
MAX_AGE_DAYS = 14
"""An external value older than this (by the day it is about) is no longer used: the series has stopped."""

CORRELATION_ASSETS: dict[str, str] = {
    "sp500": "yahoo.sp500_close",
    "dxy": "yahoo.dxy_close",
    "gold": "gld.close_usd",
    "us10y": "fred.dgs10_pct",
    "us2y": "fred.dgs2_pct",
}
"""Cross-market series the correlations are computed against (yields: changes, others: log returns)."""
_LEVEL_ASSETS = {"us10y", "us2y"}


@dataclass(frozen=True, slots=True)
class FeaturePanel:
    start: dt.date
    names: tuple[str, ...]
    values: NDArray[np.float64]
    """days x features."""

    @property
    def n_days(self) -> int:
        return int(self.values.shape[0])

    def column(self, name: str) -> FloatArray:
        return np.asarray(self.values[:, self.names.index(name)])


def _day_index(frame: pl.DataFrame, start: dt.date) -> tuple[NDArray[np.int64], NDArray[np.int64], FloatArray]:
    """Days of the rows, the first day each row may be used on, and the values."""
    origin = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
    days = frame.select((pl.col("date") - pl.lit(start)).dt.total_days())["date"].to_numpy().astype(np.int64)
    since = frame.select((pl.col("known_at") - pl.lit(origin)).dt.total_microseconds())["known_at"].to_numpy()
    # usable on day d when known_at <= start + (d + 1) days  <=>  d >= ceil(since / day) - 1
    usable = (-(-since.astype(np.int64) // DAY_US) - 1).astype(np.int64)
    return days, usable, frame["value"].to_numpy().astype(np.float64)


class ExternalSeries:
    """Stored feature rows aligned on the panel's days, point in time (or by date, for description)."""

    def __init__(self, rows: pl.DataFrame, start: dt.date, n_days: int, *, max_age: int = MAX_AGE_DAYS) -> None:
        self.start, self.n_days, self.max_age = start, n_days, max_age
        self._by_series = {str(k[0]): g for k, g in rows.partition_by("series", as_dict=True).items()}

    def names(self) -> list[str]:
        return sorted(self._by_series)

    def aligned(self, series: str, *, point_in_time: bool = True) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Values per day and whether a new observation arrived that day (NaN/False without the series)."""
        frame = self._by_series.get(series)
        if frame is None:
            return np.full(self.n_days, np.nan), np.zeros(self.n_days, bool)
        days, usable, values = _day_index(frame, self.start)
        if not point_in_time:
            usable = days
        out = f.asof_values(days, usable, values, n_days=self.n_days, max_age=self.max_age)
        fresh = np.zeros(self.n_days, bool)
        hit = usable[(usable >= 0) & (usable < self.n_days)]
        fresh[hit] = True
        return out, fresh

    def value(self, series: str) -> FloatArray:
        return self.aligned(series)[0]


def span_changes(x: FloatArray, fresh: NDArray[np.bool_], *, log: bool) -> FloatArray:
    """On each day with a new observation, the change (log or plain) since the previous such day; NaN between."""
    out = np.full(x.size, np.nan)
    idx = np.flatnonzero(fresh & np.isfinite(x))
    if idx.size < 2:
        return out
    now, before = x[idx[1:]], x[idx[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[idx[1:]] = np.log(now / before) if log else now - before
    return out


def correlation_pair(
    market: MarketSeries, external: ExternalSeries, asset: str, window: int, *, point_in_time: bool
) -> tuple[FloatArray, FloatArray]:
    """Rolling correlations of BTC returns and of BTC dominance changes with ``asset``'s returns, over the days
    the asset has a new observation (both sides measured over the same span)."""
    values, fresh = external.aligned(CORRELATION_ASSETS[asset], point_in_time=point_in_time)
    asset_change = span_changes(values, fresh, log=asset not in _LEVEL_ASSETS)
    fresh = np.isfinite(asset_change)
    btc = span_changes(market.btc_price, fresh, log=True)
    dom = span_changes(market.btc_dominance, fresh, log=False)
    return f.rolling_corr(btc, asset_change, window), f.rolling_corr(dom, asset_change, window)


def _ratio(a: FloatArray, b: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / b, np.nan)


def build_panel(
    market: MarketSeries,
    rows: pl.DataFrame,
    *,
    altcoin_at: float = 75.0,
    bitcoin_at: float = 25.0,
    change_points: bool = True,
) -> FeaturePanel:
    """Every model feature per day of ``market`` from the engine series and the stored rows."""
    n = market.n_days
    cols: dict[str, FloatArray] = {}
    for w, v in sorted(market.asi.items()):
        cols[f"asi_{w}"] = v
    lw = market.label_window
    asi = market.asi[lw]
    cols[f"asi_{lw}_slope_7"] = f.rolling_slope(asi, 7)
    cols[f"asi_{lw}_slope_30"] = f.rolling_slope(asi, 30)
    cols[f"asi_{lw}_chg_30"] = f.change(asi, 30)
    short = min(market.asi)
    cols[f"asi_{short}_slope_7"] = f.rolling_slope(market.asi[short], 7)
    cols["season"] = classify_season(asi, altcoin_at=altcoin_at, bitcoin_at=bitcoin_at).astype(np.float64)
    cols["season"][cols["season"] > 1] = np.nan
    dom = market.btc_dominance
    cols["btc_dom"] = dom
    for lag in (7, 30, 90):
        cols[f"btc_dom_chg_{lag}"] = f.change(dom, lag)
    cols["btc_dom_slope_30"] = f.rolling_slope(dom, 30)
    cols["eth_dom"] = market.eth_dominance
    cols["eth_dom_chg_30"] = f.change(market.eth_dominance, 30)
    cols["stable_dom"] = market.stable_dominance
    cols["stable_dom_chg_30"] = f.change(market.stable_dominance, 30)
    cols["breadth_200"] = market.breadth
    btc_ret = f.log_returns(market.btc_price)
    cols["btc_ret_30"] = f.rolling_mean(btc_ret, 30) * 30
    cols["btc_vol_30"] = f.rolling_std(btc_ret, 30) * np.sqrt(365)
    cols["alt_vol_30"] = f.rolling_std(market.alt_basket_return, 30) * np.sqrt(365)
    cols["alt_minus_btc_30"] = (f.rolling_mean(market.alt_basket_return, 30) - f.rolling_mean(btc_ret, 30)) * 30
    cols["btc_volume_share_7"] = f.rolling_mean(market.btc_volume_share, 7)
    if change_points:
        cp = dominance_change_points(dom)
        cols["cp_days_since"], cols["cp_shift"], cols["cp_alert"] = cp.days_since, cp.shift, cp.alert

    ext = ExternalSeries(rows, market.start, n)
    fng = ext.value("fng.value")
    cols["fng"] = fng
    cols["fng_chg_7"] = f.change(fng, 7)
    cols["news_vader_7"] = f.rolling_mean(ext.value("news.vader_mean"), 7)
    cols["news_score_7"] = f.rolling_mean(ext.value("news.dataset_score_mean"), 7)
    for name, series in (
        ("btc_active_addr_chg_30", "btc_cm.adr_act_cnt"),
        ("btc_transfers_chg_30", "btc_cm.tx_tfr_cnt"),
        ("btc_tx_count_chg_30", "btc_bc.n_transactions"),
        ("btc_hashrate_chg_30", "btc_bc.hash_rate_ths"),
        ("stable_mcap_chg_30", "stable.total_usd"),
    ):
        cols[name] = f.pct_change(f.rolling_mean(ext.value(series), 7), 30)
    for name, series in (
        ("btc_exchange_inflow_ratio", "btc_cm.flow_in_ex_usd"),
        ("eth_exchange_inflow_ratio", "eth_cm.flow_in_ex_usd"),
    ):
        flow = ext.value(series)
        cols[name] = _ratio(f.rolling_mean(flow, 7), f.rolling_mean(flow, 90))
    cols["btc_mvrv"] = ext.value("btc_cm.cap_mvrv_cur")
    cols["sp500_ret_30"] = f.pct_change(ext.value("yahoo.sp500_close"), 30)
    cols["dxy_chg_30"] = f.pct_change(ext.value("yahoo.dxy_close"), 30)
    cols["vix"] = ext.value("yahoo.vix_close")
    cols["gold_ret_30"] = f.pct_change(ext.value("gld.close_usd"), 30)
    cols["us10y_chg_30"] = f.change(ext.value("fred.dgs10_pct"), 30)
    cols["us2y_chg_30"] = f.change(ext.value("fred.dgs2_pct"), 30)
    cols["usd_broad_chg_30"] = f.pct_change(ext.value("fred.dtwexbgs_index"), 30)
    cols["funding_7"] = f.rolling_mean(ext.value("funding.rate_mean"), 7)
    for asset in ("sp500", "gold", "dxy"):
        btc_corr, dom_corr = correlation_pair(market, ext, asset, 90, point_in_time=True)
        cols[f"corr_btc_{asset}_90"] = btc_corr
        cols[f"corr_dom_{asset}_90"] = dom_corr
    names = tuple(cols)
    values = np.column_stack([np.asarray(cols[k], dtype=np.float64) for k in names]) if names else np.empty((n, 0))
    return FeaturePanel(start=market.start, names=names, values=values)
