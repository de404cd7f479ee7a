"""One JSON error shape for the whole API: RFC 9457 problem details, ``application/problem+json``.

A store that fails is a 503 with ``Retry-After`` whose detail names no host, user, path or password: the reason of a
:class:`~coinseason.errors.StoreUnavailable` (the server refuses connections, a connection was lost, ...), else a
general sentence; the full error is logged with the request id. Any other unexpected exception is a problem+json 500,
never the server's plain-text page."""

from __future__ import annotations

import logging
from http import HTTPStatus

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from coinseason.errors import (
    CoinseasonError,
    ConfigError,
    DataError,
    LimiterUnavailable,
    NoDataError,
    StoreError,
    StoreUnavailable,
    TemporaryError,
)
from coinseason.logs import redact_path

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 2
"""``Retry-After`` of a 503 for a store that failed: about when a healed connection pool serves again."""
INTERNAL_ERROR = "an unexpected error; it is logged with this request's id"

log = logging.getLogger("coinseason.api")


def store_detail(exc: StoreError) -> str:
    """What a client is told about a failed store: why, in words that name no server, file or password."""
    if isinstance(exc, StoreUnavailable):
        return f"the store is unavailable: {exc.reason}; try again shortly"
    return "the store could not answer; the error is logged with this request's id"


def failure(exc: BaseException) -> tuple[int, str]:
    """Status and safe detail of a request that failed with ``exc`` outside what a route answers on purpose: 503
    for a store or a dependency out of reach (logged as a warning), else 500 (an unexpected exception is logged with
    its traceback and not described)."""
    if isinstance(exc, StoreError):
        log.warning("store failure: %s", exc)
        return 503, store_detail(exc)
    if isinstance(exc, LimiterUnavailable):
        log.warning("%s", exc)
        return 503, f"{exc.reason}; requests are refused until it is back"
    if isinstance(exc, TemporaryError):  # its message may name a host: logged, not told
        log.warning("temporary failure: %s", exc)
        return 503, "a service this API depends on is out of reach; try again shortly"
    if isinstance(exc, OverflowError | FloatingPointError):
        log.warning("request failed: %s", exc)
        return 422, "a number in the request is too large to compute with"
    if isinstance(exc, CoinseasonError):  # raised on purpose, but it may name a file or host: logged, not told
        log.warning("request failed: %s", exc)
        return 500, INTERNAL_ERROR
    log.error("unexpected error", exc_info=exc)
    return 500, INTERNAL_ERROR


def problem_bytes(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, object] | None = None,
) -> bytes:
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance is not None:  # the path, without path parameters (a key may hide there)
        body["instance"] = redact_path(instance)
    if errors:
        body["errors"] = errors
    for name, value in (extra or {}).items():  # extension members (RFC 9457 3.2) never replace the standard ones
        body.setdefault(name, value)
    return orjson.dumps(body)


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> Response:
    return Response(
        problem_bytes(status, detail, instance=instance, errors=errors, extra=extra),
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
        return problem(404, str(exc), instance=request.url.path)
    if isinstance(exc, ConfigError | DataError):
        return problem(422, str(exc), instance=request.url.path)
    status, detail = failure(exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return problem(status, detail, instance=request.url.path, headers=headers)


async def _overflow(request: Request, exc: Exception) -> Response:
    """A number of the request took a computation out of range: the request's fault (422), not a server error."""
    status, detail = failure(exc)
    return problem(status, detail, instance=request.url.path)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Starlette's last resort (it re-raises afterwards): a problem+json 500 instead of its plain-text page."""
    status, detail = failure(exc)
    return problem(status, detail, instance=request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(CoinseasonError, _coinseason)
    app.add_exception_handler(OverflowError, _overflow)
    app.add_exception_handler(FloatingPointError, _overflow)
    app.add_exception_handler(Exception, _unexpected)
