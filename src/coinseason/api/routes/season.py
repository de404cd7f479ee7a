"""Season index: latest, history, per-coin breakdown, season periods."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from coinseason.api.deps import (
    NOT_MODIFIED,
    BtcInside,
    Day,
    Exclude,
    Fill,
    FormatParam,
    FromDay,
    IntervalParam,
    Source,
    StateDep,
    ToDay,
    Top,
    Window,
    cached,
    check_range,
)
from coinseason.api.schemas import Breakdown, SeasonHistory, SeasonLatest, SeasonPeriods
from coinseason.api.views import interval_of, method, season_latest, series_bytes
from coinseason.services.analytics import SeasonQuery

router = APIRouter(prefix="/v1", tags=["season"], responses=NOT_MODIFIED)
JSON = "application/json"


@router.get("/season/latest", response_model=SeasonLatest, summary="Current Altcoin/Bitcoin Season Index")
def latest(
    request: Request,
    state: StateDep,
    top: Top = 50,
    window: Window = 90,
    exclude: Exclude = "default",
    source: Source = None,
    fill: Fill = True,
    btc_inside: BtcInside = True,
) -> Response:
    def build() -> tuple[bytes, str]:
        model = season_latest(
            state, source=source, top=top, window=window, exclude=exclude, fill=fill, btc_inside=btc_inside
        )
        return orjson.dumps(model.model_dump(mode="json")), JSON

    return cached(request, state, build)


@router.get(
    "/season/history",
    response_model=SeasonHistory,
    summary="Season index per day, week or month",
    responses={200: {"content": {"text/csv": {}}}},
)
def history(
    request: Request,
    state: StateDep,
    top: Top = 50,
    window: Window = 90,
    start: FromDay = None,
    end: ToDay = None,
    interval: IntervalParam = "day",
    exclude: Exclude = "default",
    source: Source = None,
    fill: Fill = True,
    btc_inside: BtcInside = True,
    format: FormatParam = "json",
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        query = SeasonQuery(top=top, window=window, exclude=exclude, fill=fill, btc_inside=btc_inside)
        frame = state.analytics.season_history(
            query, source=state.source(source), start=start, end=end, interval=interval_of(interval)
        )
        if format == "csv":
            return frame.write_csv().encode(), "text/csv; charset=utf-8"
        m = method(state, state.source(source), exclude, **query.parameters(), interval=interval)
        return series_bytes(m, frame), JSON

    return cached(request, state, build)


@router.get("/season/breakdown", response_model=Breakdown, summary="Every coin of the universe on one day")
def breakdown(
    request: Request,
    state: StateDep,
    date: Annotated[Day, Query(description="UTC day")] = None,
    top: Top = 50,
    window: Window = 90,
    exclude: Exclude = "default",
    source: Source = None,
    fill: Fill = True,
    btc_inside: BtcInside = True,
) -> Response:
    def build() -> tuple[bytes, str]:
        query = SeasonQuery(top=top, window=window, exclude=exclude, fill=fill, btc_inside=btc_inside)
        name = state.source(source)
        day = date or state.analytics.loaded(name).engine.end
        frame = state.analytics.breakdown(query, day, source=name)
        return series_bytes(method(state, name, exclude, **query.parameters()), frame, date=day.isoformat()), JSON

    return cached(request, state, build)


@router.get("/seasons", response_model=SeasonPeriods, summary="Season periods: start, end, length, peak")
def seasons(
    request: Request,
    state: StateDep,
    top: Top = 50,
    window: Window = 90,
    min_days: Annotated[int, Query(ge=1, le=3650, description="shortest run that counts as a season")] = 1,
    neutral: Annotated[bool, Query(description="list neutral periods too")] = False,
    altcoin_at: Annotated[float, Query(gt=0, le=100)] = 75.0,
    bitcoin_at: Annotated[float, Query(ge=0, lt=100)] = 25.0,
    start: FromDay = None,
    end: ToDay = None,
    exclude: Exclude = "default",
    source: Source = None,
    fill: Fill = True,
    btc_inside: BtcInside = True,
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        query = SeasonQuery(
            top=top,
            window=window,
            exclude=exclude,
            fill=fill,
            btc_inside=btc_inside,
            altcoin_at=altcoin_at,
            bitcoin_at=bitcoin_at,
        )
        name = state.source(source)
        frame = state.analytics.season_periods(
            query, source=name, min_days=min_days, include_neutral=neutral, start=start, end=end
        )
        return series_bytes(method(state, name, exclude, **query.parameters(), min_days=min_days), frame), JSON

    return cached(request, state, build)
