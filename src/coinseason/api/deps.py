"""Dependencies and shared query parameters of the v1 routes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

import orjson
from fastapi import Depends, Query, Request
from pydantic import BaseModel, BeforeValidator
from starlette.responses import Response

from coinseason.api.http.cache import CachedResponse, Encoded, cache_key
from coinseason.api.state import ApiState
from coinseason.api.views import JSON
from coinseason.errors import ConfigError
from coinseason.httpkit import accepts_gzip, etag_matches
from coinseason.services.analytics import SeasonQuery
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, MAX_TOP, MAX_WINDOW

NOT_MODIFIED: dict[int | str, dict[str, object]] = {
    304: {
        "description": "Not Modified: the If-None-Match header names the current ETag; no body",
        "headers": {
            "ETag": {
                "description": "strong entity tag of the current body (the gzip variant has its own)",
                "schema": {"type": "string"},
            },
            "Cache-Control": {"schema": {"type": "string"}},
        },
    }
}
"""The extra response of every cached (ETag-bearing) route."""


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]
Top = Annotated[int, Query(ge=1, le=MAX_TOP, description="universe size N")]
Window = Annotated[int, Query(ge=1, le=MAX_WINDOW, description="return window W, days")]
Exclude = Annotated[Literal["default", "none"], Query(description="default: every token class; none")]
Source = Annotated[
    str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="data source [default: the only one]")
]
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: object) -> object:
    """A day as the schema says (``format: date``): pydantic alone would also take ``0.0`` (a Unix time, 1970-01-01)
    or a datetime at midnight."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError(f"{value!r} is not a day as YYYY-MM-DD")
    return value


Day = Annotated[dt.date | None, BeforeValidator(_iso_day)]
"""An optional UTC day parameter, YYYY-MM-DD only."""
FromDay = Annotated[Day, Query(alias="from", description="first UTC day")]
ToDay = Annotated[Day, Query(alias="to", description="last UTC day")]
IntervalParam = Annotated[Literal["day", "week", "month"], Query(description="averaging interval")]
FormatParam = Annotated[Literal["json", "csv"], Query(description="json or csv")]
Fill = Annotated[bool, Query(description="young coins' places go to the next-ranked coins (blockchaincenter-style)")]
BtcInside = Annotated[bool, Query(description="BTC takes one of the N places")]
Universe = Annotated[
    str, Query(pattern=r"^(all|top:([1-9][0-9]?|[1-4][0-9]{2}|500))$", description="all or top:N (N from 1 to 500)")
]


@dataclass(frozen=True, slots=True)
class SeasonParams:
    """The query parameters that choose a season index series, shared by the season routes."""

    top: Top = DEFAULT_TOP
    window: Window = DEFAULT_WINDOW
    exclude: Exclude = "default"
    source: Source = None
    fill: Fill = True
    btc_inside: BtcInside = True

    def query(self, **thresholds: float) -> SeasonQuery:
        """The service query (``altcoin_at``/``bitcoin_at`` where the route takes them)."""
        return SeasonQuery(
            top=self.top,
            window=self.window,
            exclude=self.exclude,
            fill=self.fill,
            btc_inside=self.btc_inside,
            **thresholds,
        )


SeasonDep = Annotated[SeasonParams, Depends()]


def check_range(state: ApiState, start: dt.date | None, end: dt.date | None) -> None:
    if start is not None and end is not None:
        if start > end:
            raise ConfigError(f"from ({start}) is after to ({end})")
        if (end - start).days > state.settings.api.max_range_days:
            raise ConfigError(
                f"the range from {start} to {end} is longer than {state.settings.api.max_range_days} days"
            )


def cached_model(request: Request, state: ApiState, build: Callable[[], BaseModel]) -> Response:
    """:func:`cached` for a route answering one response model, written as JSON."""
    return cached(request, state, lambda: (orjson.dumps(build().model_dump(mode="json")), JSON))


def cached(
    request: Request, state: ApiState, build: Callable[[], tuple[bytes, str]], *, key_extra: str = ""
) -> Response:
    """Serve ready bytes from the response cache, computing and keeping them on a miss; ETag and 304.
    ``key_extra`` joins the cache key (what else the answer depends on, e.g. the newest model version)."""
    key = cache_key(request.url.path, request.url.query) + key_extra
    entry = state.cache.get(key)
    if entry is None:
        generation = state.cache.generation  # a body built from engines replaced meanwhile is served, not kept
        body, media_type = build()
        route = getattr(request.scope.get("route"), "path", None)
        entry = state.cache.put(key, body, media_type, generation=generation, route=route)
    accept = request.headers.get("accept-encoding")
    chosen: CachedResponse | Encoded = entry
    if entry.gzip is not None and accept is not None and accepts_gzip(accept.encode("latin-1")):
        chosen = entry.gzip
    policy = state.cache.policy
    headers = {"ETag": chosen.etag, "Cache-Control": policy.cached}
    vary = policy.vary_with(gzip=entry.gzip is not None)
    if vary is not None:
        headers["Vary"] = vary
    if etag_matches(request.headers.get("if-none-match"), chosen.etag):
        return Response(status_code=304, headers=headers)
    if chosen is not entry:
        headers["Content-Encoding"] = "gzip"
    return Response(chosen.body, media_type=entry.media_type, headers=headers)
