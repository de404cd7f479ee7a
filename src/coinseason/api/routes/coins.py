"""Coins: classification with cursor pagination, and one coin's stored history."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

import orjson
import polars as pl
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from coinseason.api.deps import NOT_MODIFIED, FormatParam, FromDay, Source, StateDep, ToDay, cached, check_range
from coinseason.api.models import CoinHistory, CoinPage
from coinseason.errors import ConfigError

router = APIRouter(prefix="/v1", tags=["coins"], responses=NOT_MODIFIED)
ClassFilter = Literal["excluded", "stablecoin", "wrapped", "liquid_staking", "tokenized_asset"]


def encode_cursor(coin_id: str) -> str:
    return base64.urlsafe_b64encode(coin_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cursor {cursor!r} is not one this API gave out") from exc


@router.get("/coins", response_model=CoinPage, summary="Coins with their token class and its basis")
def coins(
    request: Request,
    state: StateDep,
    source: Source = None,
    token_class: Annotated[ClassFilter | None, Query(alias="class", description="excluded or one class")] = None,
    q: Annotated[str | None, Query(max_length=64, description="symbol, name or id contains (any case)")] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    def build() -> tuple[bytes, str]:
        name = state.source(source)
        frame = state.analytics.coins(name, kind=token_class).sort("coin_id")
        if q:
            needle = q.lower()
            frame = frame.filter(
                pl.col("coin_id").str.to_lowercase().str.contains(needle, literal=True)
                | pl.col("symbol").str.to_lowercase().str.contains(needle, literal=True).fill_null(value=False)
                | pl.col("name").str.to_lowercase().str.contains(needle, literal=True).fill_null(value=False)
            )
        if cursor:
            frame = frame.filter(pl.col("coin_id") > decode_cursor(cursor))
        page = frame.head(limit)
        more = frame.height > limit
        next_cursor = encode_cursor(page["coin_id"][-1]) if more and page.height else None
        head = orjson.dumps({"source": name, "next_cursor": next_cursor})
        return head[:-1] + b',"items":' + page.write_json().encode() + b"}", "application/json"

    return cached(request, state, build)


@router.get(
    "/coins/{coin_id}/history",
    response_model=CoinHistory,
    summary="One coin's stored daily observations",
    responses={200: {"content": {"text/csv": {}}}},
)
def coin_history(
    request: Request,
    state: StateDep,
    coin_id: str = Path(max_length=200, description="coin id in that source"),
    source: Source = None,
    start: FromDay = None,
    end: ToDay = None,
    format: FormatParam = "json",
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        name = state.source(source)
        frame = state.analytics.coin_history(name, coin_id, start=start, end=end)
        if format == "csv":
            return frame.write_csv().encode(), "text/csv; charset=utf-8"
        head = orjson.dumps({"source": name, "coin_id": coin_id})
        return head[:-1] + b',"values":' + frame.write_json().encode() + b"}", "application/json"

    return cached(request, state, build)
