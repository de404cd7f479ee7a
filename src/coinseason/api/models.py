"""Response models of the v1 API (separate from domain objects); they document the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SeasonName = Literal["altcoin", "bitcoin", "neutral", "none"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Method(Model):
    """How a series was made."""

    source: str
    methodology_version: str
    gap_days: int = Field(description="a missing day is filled from at most this many days before")
    exclusion: str = Field(description="default (every token class) or none")
    exclusion_list_version: str
    excluded_classes: list[str]
    exclusion_rule: str | None = Field(default=None, description="how and from which day a coin is left out")
    n_excluded: int = Field(description="coins of this source kept out of the universe (on the last day)")
    top: int | None = None
    window: int | None = None
    btc_inside: bool | None = None
    fill: bool | None = None
    altcoin_at: float | None = None
    bitcoin_at: float | None = None
    universe: str | None = None
    interval: str | None = None
    min_days: int | None = None
    dominance: str | None = Field(
        default=None, description="what the dominance figures are shares of: their universe and what it leaves out"
    )
    min_eligible: int | None = Field(
        default=None, description="minimum universe: a day with fewer eligible altcoins has no index value"
    )


class ChangeAgo(Model):
    days: int = Field(description="calendar days before the value's day")
    date: dt.date = Field(description="the day compared with")
    value: float | None = Field(description="the figure on that day")
    change: float | None = Field(
        description="current value minus the value then, in the figure's unit (index points, percentage points)"
    )


class Glance(Model):
    """A figure beside its recent moves: what a market page shows at a glance."""

    changes: list[ChangeAgo] = Field(description="against 1, 7 and 30 days before")
    since: dt.date = Field(description="first day of the 52-week range, which ends on the value's day")
    high_52w: float | None
    high_52w_date: dt.date | None = Field(description="most recent day of the 52-week high")
    low_52w: float | None
    low_52w_date: dt.date | None = Field(description="most recent day of the 52-week low")


class SeasonLatest(Model):
    date: dt.date = Field(description="UTC day of the latest value")
    as_of: dt.datetime = Field(description="time the data describes (the day's 00:00 UTC snapshot)")
    stale: bool = Field(description="the data is older than the service's staleness limit")
    altcoin_season_index: float | None
    bitcoin_season_index: float | None
    value_rounded: float | None = Field(description="the index as a whole number, half up")
    season: SeasonName
    season_since: dt.date | None = Field(description="first day of the current season run")
    n_eligible: int
    n_outperforming: int
    btc_dominance: float | None = Field(description="BTC share of all member coins, percent")
    btc_dominance_basis: str = Field(description="what btc_dominance is a share of (the exclusions of this series)")
    btc_dominance_whole_market: float | None = Field(
        description="BTC share of every coin of the source, nothing excluded (as CoinMarketCap and CoinGecko count)"
    )
    glance: Glance = Field(description="the Altcoin Season Index against 1, 7, 30 days before; 52-week high, low")
    methodology_version: str
    method: Method


class SeasonPoint(Model):
    date: dt.date
    value: float | None = Field(description="Altcoin Season Index, 0-100")
    bitcoin_season_index: float | None
    value_rounded: float | None = None
    n_eligible: int | None = None
    n_outperforming: int | None = None
    season: SeasonName


class SeasonHistory(Model):
    method: Method
    values: list[SeasonPoint]


class BreakdownRow(Model):
    rank: int = Field(description="market-cap rank that day among non-excluded coins")
    coin_id: str
    symbol: str | None
    coin_return_pct: float | None
    btc_return_pct: float | None
    eligible: bool
    beats_btc: bool


class Breakdown(Model):
    date: dt.date
    method: Method
    values: list[BreakdownRow]


class SeasonPeriod(Model):
    season: SeasonName
    start: dt.date
    end: dt.date
    days: int
    peak: float
    peak_date: dt.date
    ongoing: bool


class SeasonPeriods(Model):
    method: Method
    values: list[SeasonPeriod]


class DominancePoint(Model):
    date: dt.date
    value: float | None = Field(description="BTC dominance, percent")
    eth_dominance: float | None
    stablecoin_dominance: float | None = Field(description="empty when stablecoins are excluded")
    total: float | None = Field(description="TOTAL: market cap of the universe, USD")
    total2: float | None
    total3: float | None
    n_coins: int | None = None


class DominanceHistory(Model):
    method: Method
    values: list[DominancePoint]


class WholeMarketDominance(Model):
    universe: str = Field(description="all: every coin of the source")
    exclusion: str = Field(description="none: nothing excluded")
    basis: str = Field(description="the universe and exclusions in words")
    btc_dominance: float | None
    eth_dominance: float | None
    stablecoin_dominance: float | None
    total: float | None = Field(description="market cap of every coin of the source, USD")
    glance: Glance = Field(description="btc_dominance against 1, 7, 30 days before; 52-week high and low")


class DominanceLatest(Model):
    date: dt.date
    as_of: dt.datetime
    stale: bool
    btc_dominance: float | None
    eth_dominance: float | None
    stablecoin_dominance: float | None
    total: float | None
    total2: float | None
    total3: float | None
    glance: Glance = Field(description="btc_dominance against 1, 7, 30 days before; 52-week high and low")
    whole_market: WholeMarketDominance = Field(
        description="the same figures over every coin of the source, nothing excluded: the BTC dominance "
        "CoinMarketCap and CoinGecko publish"
    )
    method: Method


class Coin(Model):
    coin_id: str
    symbol: str | None
    name: str | None
    token_class: str | None
    class_basis: str | None
    class_source: str | None
    class_since: dt.date | None = Field(default=None, description="first day the class holds (point in time)")
    first_seen: dt.date | None
    last_seen: dt.date | None


class CoinPage(Model):
    source: str
    items: list[Coin]
    next_cursor: str | None = Field(description="pass as cursor= for the next page; null on the last page")


class CoinObservation(Model):
    date: dt.date
    price: float
    market_cap: float | None
    volume: float | None
    rank: int | None
    circulating_supply: float | None


class CoinHistory(Model):
    source: str
    coin_id: str
    values: list[CoinObservation]


class Threshold(Model):
    altcoin_season_at: float
    bitcoin_season_at: float


class ExclusionMember(Model):
    coin_id: str
    symbol: str | None
    token_class: str
    basis: str | None
    since: dt.date | None = Field(default=None, description="first day the coin is left out (point in time)")


class Methodology(Model):
    methodology_version: str
    definitions: dict[str, str]
    thresholds: Threshold
    gap_days: int
    exclusion_list_version: str
    excluded_classes: list[str]
    sources: list[str]
    exclusion_members: dict[str, list[ExclusionMember]] = Field(description="per source")


class Health(Model):
    status: Literal["ok"]


class Ready(Model):
    status: Literal["ready", "not ready"]
    store: bool
    data_age_hours: float | None
    reasons: list[str]
    jobs: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="state of the background jobs, e.g. `ingestion`: stale flag, last success, rejections by reason",
    )


class ProblemItem(Model):
    parameter: str
    message: str


class Problem(Model):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemItem] | None = None
