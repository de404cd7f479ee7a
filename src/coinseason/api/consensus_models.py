"""Response models of the consensus and margin routes (``/v1/season/consensus``, ``/v1/season/margin``)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from coinseason.api.models import Method, Model, SeasonName


class Grid(Model):
    """The definitions the consensus is taken over: every combination of these."""

    top: list[int]
    window: list[int]
    btc_inside: list[bool]
    exclude: list[str]


class Variant(Model):
    top: int
    window: int
    btc_inside: bool
    exclude: str
    value: float | None = Field(description="this variant's Altcoin Season Index, 0-100")
    season: SeasonName


class ConsensusPoint(Model):
    date: dt.date
    value: float | None = Field(description="the headline variant's Altcoin Season Index, 0-100")
    season: SeasonName = Field(description="the headline variant's season")
    n_valued: int = Field(description="grid variants with a value that day: the shares and quantiles are over these")
    share_altcoin: float | None = Field(description="share of the valued variants in altcoin season, 0-1")
    share_neutral: float | None
    share_bitcoin: float | None = Field(description="the three shares sum to 1")
    majority: SeasonName = Field(description="season held by the most valued variants (a tie: neutral)")
    agreement: float | None = Field(description="share of the valued variants in the headline's season, 0-1")
    agrees: bool = Field(description="the headline's season is the majority's")
    median: float | None = Field(description="median of the valued variants' index")
    p10: float | None = Field(description="10th percentile of the valued variants' index (the band's low end)")
    p90: float | None = Field(description="90th percentile (the band's high end)")
    cap_weighted: float | None = Field(
        description="cap-weighted Altcoin Season Index of the headline universe: market-cap share of its eligible "
        "altcoins that beat BTC, 0-100"
    )
    cap_weighted_season: SeasonName


class ConsensusDay(ConsensusPoint):
    as_of: dt.datetime = Field(description="time the data describes (the day's 00:00 UTC snapshot)")
    stale: bool
    n_variants: int
    variants: list[Variant]
    grid: Grid
    method: Method


class ConsensusHistory(Model):
    method: Method
    grid: Grid
    values: list[ConsensusPoint]


class MarginPoint(Model):
    date: dt.date
    value: float | None = Field(description="the headline variant's Altcoin Season Index, 0-100")
    season: SeasonName
    n_eligible: int
    n_outperforming: int
    to_altcoin: int | None = Field(description="coins that must go from behind BTC to ahead for altcoin season")
    to_bitcoin: int | None = Field(description="coins that must go from ahead of BTC to behind for Bitcoin season")
    to_neutral: int | None = Field(description="coins to flip to leave altcoin or Bitcoin season for neutral")
    margin: int | None = Field(description="the fewest coins that change sides to change the season")
    next_season: SeasonName = Field(description="the season that smallest change leads to")
    n_close_above: int = Field(description="eligible altcoins ahead of BTC by at most the band")
    n_close_below: int = Field(description="eligible altcoins behind BTC by at most the band")
    close_call: bool = Field(description="the close coins alone could change the season")


class CloseCoin(Model):
    coin_id: str
    symbol: str | None
    rank: int | None = Field(description="market-cap rank that day among non-excluded coins")
    coin_return_pct: float
    gap_pct: float = Field(description="the coin's W-day return less BTC's, percentage points")
    beats_btc: bool


class MarginDay(MarginPoint):
    as_of: dt.datetime
    stale: bool
    band_pct: float = Field(description="close coins: W-day return within this many percentage points of BTC's")
    btc_return_pct: float | None
    close: list[CloseCoin] = Field(description="the close coins, closest first")
    method: Method


class MarginHistory(Model):
    method: Method
    band_pct: float
    values: list[MarginPoint]
