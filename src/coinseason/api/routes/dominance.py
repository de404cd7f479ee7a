"""Dominance: latest and history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from coinseason.api.deps import (
    NOT_MODIFIED,
    Exclude,
    FormatParam,
    FromDay,
    IntervalParam,
    Source,
    StateDep,
    ToDay,
    Universe,
    cached,
    cached_model,
    check_range,
)
from coinseason.api.models import DominanceHistory, DominanceLatest
from coinseason.api.views import JSON, dominance_latest, interval_of, method, series_bytes

router = APIRouter(prefix="/v1", tags=["dominance"], responses=NOT_MODIFIED)


@router.get("/dominance/latest", response_model=DominanceLatest, summary="Current BTC, ETH and stablecoin dominance")
def latest(
    request: Request, state: StateDep, universe: Universe = "all", exclude: Exclude = "default", source: Source = None
) -> Response:
    return cached_model(
        request, state, lambda: dominance_latest(state, source=source, universe=universe, exclude=exclude)
    )


@router.get(
    "/dominance/history",
    response_model=DominanceHistory,
    summary="Dominance and TOTALs per day, week or month",
    responses={200: {"content": {"text/csv": {}}}},
)
def history(
    request: Request,
    state: StateDep,
    universe: Universe = "all",
    exclude: Exclude = "default",
    start: FromDay = None,
    end: ToDay = None,
    interval: IntervalParam = "day",
    source: Source = None,
    format: FormatParam = "json",
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        name = state.source(source)
        frame = state.analytics.dominance_history(
            universe=universe, exclude=exclude, source=name, start=start, end=end, interval=interval_of(interval)
        )
        if format == "csv":
            return frame.write_csv().encode(), "text/csv; charset=utf-8"
        return series_bytes(method(state, name, exclude, universe=universe, interval=interval), frame), JSON

    return cached(request, state, build)
