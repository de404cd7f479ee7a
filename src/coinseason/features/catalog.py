"""Feature series, their file formats and publication lags: when a value dated D became known.

Every stored feature row is ``(series, date, known_at, value)``. ``known_at`` models publication:

* the Crypto Fear & Greed Index for D is published during D: known at the end of D (00:00 UTC of D+1);
* Coin Metrics and Blockchain.com values for the UTC day D are final after D ends: known at 06:00 UTC of D+1;
* a US market close (S&P 500, DXY, VIX, GLD, gold) on D is used from the next day: known at 12:00 UTC of D+1;
* FRED daily yields (H.15) come out the next business day at 16:15 ET: known at 21:15 UTC of the next weekday;
* the FRED broad dollar index (H.10) is weekly, released on the Monday after the week: 21:15 UTC that Monday;
* stablecoin market caps: 06:00 UTC of D+1; funding-rate and news aggregates of D: end of D.

A prediction for day d is made at the end of d (00:00 UTC of d+1) and uses only rows known by then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from coinseason.data.tidy import FEATURE_SCHEMA

__all__ = ["FEATURE_SCHEMA", "SPECS", "FeatureFormat", "SeriesSpec", "known_at"]


class FeatureFormat(StrEnum):
    FEAR_GREED = "fear-greed"
    COINMETRICS_BTC = "coinmetrics-btc"
    COINMETRICS_ETH = "coinmetrics-eth"
    BLOCKCHAINCOM = "blockchaincom"
    YAHOO_MACRO = "yahoo-macro"
    FRED = "fred"
    GLD = "gld"
    GOLD_SPOT = "gold-spot"
    STABLECOINS = "stablecoins"
    FUNDING = "funding"
    NEWS = "news"


Lag = Callable[[dt.date], dt.datetime]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def end_of_day(day: dt.date) -> dt.datetime:
    """00:00 UTC of the next day: the moment a prediction for ``day`` is made."""
    return _at(day + dt.timedelta(days=1), 0)


def next_morning(day: dt.date) -> dt.datetime:
    return _at(day + dt.timedelta(days=1), 6)


def next_day_noon(day: dt.date) -> dt.datetime:
    return _at(day + dt.timedelta(days=1), 12)


def next_weekday_release(day: dt.date) -> dt.datetime:
    nxt = day + dt.timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += dt.timedelta(days=1)
    return _at(nxt, 21, 15)


def weekly_monday_release(day: dt.date) -> dt.datetime:
    """The Monday after the week (Monday-Sunday) holding ``day``."""
    return _at(day + dt.timedelta(days=7 - day.weekday()), 21, 15)


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    column: str
    series: str
    lag: Lag


def _specs(prefix: str, columns: tuple[str, ...], lag: Lag) -> tuple[SeriesSpec, ...]:
    return tuple(SeriesSpec(c, f"{prefix}.{c}", lag) for c in columns)


SPECS: Final[dict[FeatureFormat, tuple[SeriesSpec, ...]]] = {
    FeatureFormat.FEAR_GREED: (SeriesSpec("fng_value", "fng.value", end_of_day),),
    FeatureFormat.COINMETRICS_BTC: _specs(
        "btc_cm",
        ("cap_mvrv_cur", "adr_act_cnt", "tx_tfr_cnt", "hash_rate_ths", "flow_in_ex_usd", "fee_mean_usd"),
        next_morning,
    ),
    FeatureFormat.COINMETRICS_ETH: _specs(
        "eth_cm", ("flow_in_ex_usd", "fee_mean_usd", "cap_mrkt_cur_usd"), next_morning
    ),
    FeatureFormat.BLOCKCHAINCOM: _specs(
        "btc_bc", ("n_unique_addresses", "n_transactions", "hash_rate_ths", "miners_revenue_usd"), next_morning
    ),
    FeatureFormat.YAHOO_MACRO: _specs("yahoo", ("sp500_close", "dxy_close", "vix_close"), next_day_noon),
    FeatureFormat.FRED: (
        SeriesSpec("dgs2_pct", "fred.dgs2_pct", next_weekday_release),
        SeriesSpec("dgs10_pct", "fred.dgs10_pct", next_weekday_release),
        SeriesSpec("dtwexbgs_index", "fred.dtwexbgs_index", weekly_monday_release),
    ),
    FeatureFormat.GLD: (SeriesSpec("gld_close_usd", "gld.close_usd", next_day_noon),),
    FeatureFormat.GOLD_SPOT: (SeriesSpec("gold_usd_per_oz", "gold.usd_per_oz", next_day_noon),),
    FeatureFormat.STABLECOINS: (SeriesSpec("total_usd", "stable.total_usd", next_morning),),
    FeatureFormat.FUNDING: (SeriesSpec("funding_rate_mean", "funding.rate_mean", end_of_day),),
    FeatureFormat.NEWS: (
        SeriesSpec("vader_mean", "news.vader_mean", end_of_day),
        SeriesSpec("dataset_score_mean", "news.dataset_score_mean", end_of_day),
        SeriesSpec("count", "news.count", end_of_day),
    ),
}

SERIES_LAG: Final[dict[str, Lag]] = {s.series: s.lag for specs in SPECS.values() for s in specs}


def known_at(series: str, days: list[dt.date]) -> list[dt.datetime]:
    """Publication times of ``series`` values dated ``days``."""
    lag = SERIES_LAG[series]
    return [lag(d) for d in days]
