"""How sure the season call is: consensus across definitions and the margin to the next season, per day and
as history."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from coinseason.api.consensus_models import ConsensusDay, ConsensusHistory, MarginDay, MarginHistory
from coinseason.api.deps import (
    NOT_MODIFIED,
    Day,
    FormatParam,
    FromDay,
    SeasonDep,
    StateDep,
    ToDay,
    cached,
    check_range,
)
from coinseason.api.views import JSON, method, series_bytes, stamped
from coinseason.services.consensus import DEFAULT_BAND_PCT, ConsensusService, grid_description

router = APIRouter(prefix="/v1", tags=["season"], responses=NOT_MODIFIED)

DayParam = Annotated[Day, Query(description="UTC day [default: the last day of the data]")]
Band = Annotated[
    float,
    Query(gt=0, le=100, description="close coins: W-day return within this many percentage points of BTC's"),
]
CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


@router.get("/season/consensus", response_model=ConsensusDay, summary="Consensus across definitions on one day")
def consensus(request: Request, state: StateDep, p: SeasonDep, date: DayParam = None) -> Response:
    def build() -> tuple[bytes, str]:
        query, name = p.query(), state.source(p.source)
        found = ConsensusService(state.analytics).day(query, date, source=name)
        body = ConsensusDay(
            **{**found, **stamped(state, found["date"])},
            grid=grid_description(),
            method=method(state, name, p.exclude, **query.parameters()),
        )
        return orjson.dumps(body.model_dump(mode="json")), JSON

    return cached(request, state, build)


@router.get(
    "/season/consensus/history",
    response_model=ConsensusHistory,
    summary="Consensus across definitions per day: shares, median and band, agreement, cap-weighted index",
    responses=CSV,
)
def consensus_history(
    request: Request,
    state: StateDep,
    p: SeasonDep,
    start: FromDay = None,
    end: ToDay = None,
    format: FormatParam = "json",
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        query, name = p.query(), state.source(p.source)
        frame = ConsensusService(state.analytics).history(query, source=name, start=start, end=end)
        if format == "csv":
            return frame.write_csv().encode(), "text/csv; charset=utf-8"
        described = method(state, name, p.exclude, **query.parameters())
        return series_bytes(described, frame, grid=grid_description()), JSON

    return cached(request, state, build)


@router.get("/season/margin", response_model=MarginDay, summary="Coins to flip for the season to change, one day")
def margin(
    request: Request, state: StateDep, p: SeasonDep, date: DayParam = None, band: Band = DEFAULT_BAND_PCT
) -> Response:
    def build() -> tuple[bytes, str]:
        query, name = p.query(), state.source(p.source)
        row, close = ConsensusService(state.analytics).margin_day(query, date, band_pct=band, source=name)
        body = MarginDay(
            **{**row, **stamped(state, row["date"])},
            band_pct=band,
            close=close.to_dicts(),
            method=method(state, name, p.exclude, **query.parameters()),
        )
        return orjson.dumps(body.model_dump(mode="json")), JSON

    return cached(request, state, build)


@router.get(
    "/season/margin/history",
    response_model=MarginHistory,
    summary="Margin to the next season per day, with the close coins' counts",
    responses=CSV,
)
def margin_history(
    request: Request,
    state: StateDep,
    p: SeasonDep,
    start: FromDay = None,
    end: ToDay = None,
    band: Band = DEFAULT_BAND_PCT,
    format: FormatParam = "json",
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        query, name = p.query(), state.source(p.source)
        frame = ConsensusService(state.analytics).margin_history(
            query, band_pct=band, source=name, start=start, end=end
        )
        if format == "csv":
            return frame.write_csv().encode(), "text/csv; charset=utf-8"
        described = method(state, name, p.exclude, **query.parameters())
        return series_bytes(described, frame, band_pct=band), JSON

    return cached(request, state, build)
