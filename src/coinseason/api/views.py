"""Service results shaped as v1 responses: models for small answers, ready JSON bytes for long series."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import polars as pl

from coinseason.api.models import ChangeAgo, DominanceLatest, Glance, Method, SeasonLatest, WholeMarketDominance
from coinseason.api.state import ApiState
from coinseason.core.resample import Interval
from coinseason.errors import NoDataError
from coinseason.services.analytics import METHODOLOGY_VERSION, SeasonQuery
from coinseason.services.dominance_basis import WHOLE_MARKET_EXCLUDE, WHOLE_MARKET_UNIVERSE, dominance_basis
from coinseason.services.glance import glance_of

JSON = "application/json"


def as_of(day: dt.date) -> dt.datetime:
    """Daily values are the day's 00:00 UTC snapshot."""
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def method(state: ApiState, source: str, exclude: str, **parameters: object) -> Method:
    return Method.model_validate(state.analytics.method(source, exclude, **parameters))


def series_bytes(method_model: Method, frame: pl.DataFrame, **extra: object) -> bytes:
    """``{"method": ..., **extra, "values": [...]}`` without building one object per row."""
    head = orjson.dumps({"method": method_model.model_dump(mode="json", exclude_none=True), **extra})
    return head[:-1] + b',"values":' + frame.write_json().encode() + b"}"


def stamped(state: ApiState, day: dt.date) -> dict[str, object]:
    """``date``, ``as_of`` and ``stale`` of a value of ``day``, as every ``/latest`` answer carries them."""
    stamp = as_of(day)
    return {"date": day, "as_of": stamp, "stale": state.is_stale(stamp)}


def last_dominance(
    state: ApiState, *, source: str, universe: str, exclude: str, day: dt.date | None = None
) -> dict[str, Any] | None:
    """The dominance row of ``day`` (default: the last day), or None when there is none."""
    frame = state.analytics.dominance_history(universe=universe, exclude=exclude, source=source, start=day, end=day)
    return frame.row(-1, named=True) if frame.height else None


def glance(history: pl.DataFrame, column: str, day: dt.date) -> Glance:
    g = glance_of(history, column, day)
    return Glance(
        changes=[ChangeAgo(days=c.days, date=c.date, value=c.value, change=c.change) for c in g.changes],
        since=g.since,
        high_52w=g.high,
        high_52w_date=g.high_date,
        low_52w=g.low,
        low_52w_date=g.low_date,
    )


def _basis(state: ApiState, source: str, universe: str, exclude: str) -> str:
    return dominance_basis(universe, state.analytics.exclusion(source, exclude).classes)


def season_latest(
    state: ApiState,
    *,
    source: str | None,
    top: int,
    window: int,
    exclude: str = "default",
    fill: bool = True,
    btc_inside: bool = True,
) -> SeasonLatest:
    name = state.source(source)
    query = SeasonQuery(top=top, window=window, exclude=exclude, fill=fill, btc_inside=btc_inside)
    history = state.analytics.season_history(query, source=name)
    valued = history.filter(pl.col("value").is_not_null())
    if valued.height == 0:
        raise NoDataError(f"source {name!r} has no {window}-day index yet")
    last = valued.row(-1, named=True)
    runs = state.analytics.season_periods(query, source=name, include_neutral=True)
    since = runs["start"][-1] if runs.height and runs["season"][-1] == last["season"] else None
    dominance = last_dominance(state, source=name, universe="all", exclude=exclude, day=last["date"])
    whole = last_dominance(
        state, source=name, universe=WHOLE_MARKET_UNIVERSE, exclude=WHOLE_MARKET_EXCLUDE, day=last["date"]
    )
    return SeasonLatest(
        **stamped(state, last["date"]),
        altcoin_season_index=last["value"],
        bitcoin_season_index=last["bitcoin_season_index"],
        value_rounded=last["value_rounded"],
        season=last["season"],
        season_since=since,
        n_eligible=last["n_eligible"],
        n_outperforming=last["n_outperforming"],
        btc_dominance=dominance["value"] if dominance else None,
        btc_dominance_basis=_basis(state, name, "all", exclude),
        btc_dominance_whole_market=whole["value"] if whole else None,
        glance=glance(history, "value", last["date"]),
        methodology_version=METHODOLOGY_VERSION,
        method=method(state, name, exclude, **query.parameters()),
    )


def dominance_latest(state: ApiState, *, source: str | None, universe: str, exclude: str) -> DominanceLatest:
    name = state.source(source)
    history = state.analytics.dominance_history(universe=universe, exclude=exclude, source=name)
    if history.height == 0:
        raise NoDataError(f"source {name!r} has no dominance yet")
    last = history.row(-1, named=True)
    whole_history = state.analytics.dominance_history(
        universe=WHOLE_MARKET_UNIVERSE, exclude=WHOLE_MARKET_EXCLUDE, source=name, end=last["date"]
    )
    whole = whole_history.filter(pl.col("date") == last["date"])
    row: dict[str, Any] = whole.row(0, named=True) if whole.height else {}
    whole_market = WholeMarketDominance(
        universe=WHOLE_MARKET_UNIVERSE,
        exclusion=WHOLE_MARKET_EXCLUDE,
        basis=_basis(state, name, WHOLE_MARKET_UNIVERSE, WHOLE_MARKET_EXCLUDE),
        btc_dominance=row.get("value"),
        eth_dominance=row.get("eth_dominance"),
        stablecoin_dominance=row.get("stablecoin_dominance"),
        total=row.get("total"),
        glance=glance(whole_history, "value", last["date"]),
    )
    return DominanceLatest(
        **stamped(state, last["date"]),
        btc_dominance=last["value"],
        eth_dominance=last["eth_dominance"],
        stablecoin_dominance=last["stablecoin_dominance"],
        total=last["total"],
        total2=last["total2"],
        total3=last["total3"],
        glance=glance(history, "value", last["date"]),
        whole_market=whole_market,
        method=method(state, name, exclude, universe=universe),
    )


def interval_of(text: str) -> Interval:
    intervals: dict[str, Interval] = {"day": "day", "week": "week", "month": "month"}
    return intervals[text]
