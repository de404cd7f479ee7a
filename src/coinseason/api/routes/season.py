"""Season index: latest, history, per-coin breakdown, season periods."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from coinseason.api.deps import (
    NOT_MODIFIED,
    Day,
    FormatParam,
    FromDay,
    IntervalParam,
    SeasonDep,
    StateDep,
    ToDay,
    cached,
    cached_model,
    check_range,
)
from coinseason.api.models import Breakdown, SeasonHistory, SeasonLatest, SeasonPeriods
from coinseason.api.views import JSON, interval_of, method, season_latest, series_bytes

router = APIRouter(prefix="/v1", tags=["season"], responses=NOT_MODIFIED)


@router.get("/season/latest", response_model=SeasonLatest, summary="Current Altcoin/Bitcoin Season Index")
def latest(request: Request, state: StateDep, p: SeasonDep) -> Response:
    return cached_model(
        request,
        state,
        lambda: season_latest(
            state, source=p.source, top=p.top, window=p.window, exclude=p.exclude, fill=p.fill, btc_inside=p.btc_inside
        ),
    )


@router.get(
    "/season/history",
    response_model=SeasonHistory,
    summary="Season index per day, week or month",
    responses={200: {"content": {"text/csv": {}}}},
)
def history(
    request: Request,
    state: StateDep,
    p: SeasonDep,
    start: FromDay = None,
    end: ToDay = None,
    interval: IntervalParam = "day",
    format: FormatParam = "json",
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        query, name = p.query(), state.source(p.source)
        frame = state.analytics.season_history(query, source=name, start=start, end=end, interval=interval_of(interval))
        if format == "csv":
            return frame.write_csv().encode(), "text/csv; charset=utf-8"
        return series_bytes(method(state, name, p.exclude, **query.parameters(), interval=interval), frame), JSON

    return cached(request, state, build)


@router.get("/season/breakdown", response_model=Breakdown, summary="Every coin of the universe on one day")
def breakdown(
    request: Request, state: StateDep, p: SeasonDep, date: Annotated[Day, Query(description="UTC day")] = None
) -> Response:
    def build() -> tuple[bytes, str]:
        query, name = p.query(), state.source(p.source)
        day = date or state.analytics.loaded(name).engine.end
        frame = state.analytics.breakdown(query, day, source=name)
        return series_bytes(method(state, name, p.exclude, **query.parameters()), frame, date=day.isoformat()), JSON

    return cached(request, state, build)


@router.get("/seasons", response_model=SeasonPeriods, summary="Season periods: start, end, length, peak")
def seasons(
    request: Request,
    state: StateDep,
    p: SeasonDep,
    min_days: Annotated[int, Query(ge=1, le=3650, description="shortest run that counts as a season")] = 1,
    neutral: Annotated[bool, Query(description="list neutral periods too")] = False,
    altcoin_at: Annotated[float, Query(gt=0, le=100)] = 75.0,
    bitcoin_at: Annotated[float, Query(ge=0, lt=100)] = 25.0,
    start: FromDay = None,
    end: ToDay = None,
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        query, name = p.query(altcoin_at=altcoin_at, bitcoin_at=bitcoin_at), state.source(p.source)
        frame = state.analytics.season_periods(
            query, source=name, min_days=min_days, include_neutral=neutral, start=start, end=end
        )
        return series_bytes(method(state, name, p.exclude, **query.parameters(), min_days=min_days), frame), JSON

    return cached(request, state, build)
