"""One JSON error shape for the whole API: RFC 9457 problem details, ``application/problem+json``."""

from __future__ import annotations

from http import HTTPStatus

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from coinseason.errors import CoinseasonError, ConfigError, DataError, NoDataError, StoreError

PROBLEM_JSON = "application/problem+json"


def problem_bytes(
    status: int, detail: str, *, instance: str | None = None, errors: list[dict[str, str]] | None = None
) -> bytes:
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return orjson.dumps(body)


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        problem_bytes(status, detail, instance=instance, errors=errors),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _parameter(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "header", "body")]
    return ".".join(parts) or "request"


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    errors = [
        {"parameter": _parameter(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))}
        for e in exc.errors()
    ]
    names = ", ".join(sorted({e["parameter"] for e in errors}))
    return problem(422, f"invalid parameter(s): {names}", instance=request.url.path, errors=errors)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    return problem(
        exc.status_code, str(exc.detail), instance=request.url.path, headers=dict(exc.headers) if exc.headers else None
    )


async def _coinseason(request: Request, exc: Exception) -> Response:
    if isinstance(exc, NoDataError):
        status = 404
    elif isinstance(exc, ConfigError | DataError):
        status = 422
    elif isinstance(exc, StoreError):
        status = 503
    else:
        status = 500
    return problem(status, str(exc), instance=request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(CoinseasonError, _coinseason)
