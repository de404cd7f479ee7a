"""What a failed call to a coinseason server raises: one class per thing the caller does about it.

Every class is an :class:`ApiError` and also the project's own error for the same remedy, so code that already
catches :class:`~coinseason.errors.ConfigError`, :class:`~coinseason.errors.NoDataError` or
:class:`~coinseason.errors.TemporaryError` around a local store catches the same failures from a server::

    ApiError (CoinseasonError)
    ├── InvalidRequest (ConfigError)      400, 413, 422: fix the call; ``errors`` names each bad parameter
    ├── Unauthorized (ConfigError)        401, 403: send a valid key
    ├── NotFound (NoDataError)            404: no data (or no such route) for what was asked
    ├── RateLimited (TemporaryError)      429 that outlasted the client's wait bound; ``retry_after`` seconds
    ├── Unavailable (TemporaryError)      502, 503, 504: the server or its store is busy; ``retry_after`` seconds
    ├── Unreachable (TemporaryError)      no answer at all: connection refused, time-out
    ├── ServerError                       500 and any other status
    └── UnexpectedResponse                an answer that is not what the API documents (wrong shape, not JSON)
"""

from __future__ import annotations

from dataclasses import dataclass

from coinseason.errors import CoinseasonError, ConfigError, NoDataError, TemporaryError

__all__ = [
    "ApiError",
    "InvalidRequest",
    "NotFound",
    "ParameterProblem",
    "RateLimited",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "UnexpectedResponse",
    "Unreachable",
]


@dataclass(frozen=True, slots=True)
class ParameterProblem:
    """One parameter the server refused, and why."""

    parameter: str
    message: str


class ApiError(CoinseasonError):
    """A call to a coinseason server failed. The message is the problem's ``detail`` (RFC 9457), prefixed with the
    status and the request's path, so a log line alone says what went wrong."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        instance: str | None = None,
        errors: tuple[ParameterProblem, ...] = (),
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        where = f" {instance}" if instance else ""
        prefix = f"{status} {title or ''}".strip() if status is not None else "no answer"
        super().__init__(f"{prefix}{where}: {detail}")
        self.detail = detail
        self.status = status
        self.title = title
        self.instance = instance
        self.errors = errors
        self.request_id = request_id
        """The server's ``X-Request-ID``: quote it to whoever runs the server, it finds the log lines."""
        self.retry_after = retry_after
        """Seconds the server asked to wait (``Retry-After``), when it said."""


class InvalidRequest(ApiError, ConfigError):
    """The server refused the call's parameters or body (400, 413, 422)."""


class Unauthorized(ApiError, ConfigError):
    """The key is missing, unknown or revoked (401), or not allowed (403)."""


class NotFound(ApiError, NoDataError):
    """The server holds no data for what was asked, or there is no such route (404)."""


class RateLimited(ApiError, TemporaryError):
    """Too many requests (429), and waiting ``Retry-After`` would exceed the client's bound."""


class Unavailable(ApiError, TemporaryError):
    """The server, or the store or limiter behind it, cannot answer right now (502, 503, 504)."""


class Unreachable(ApiError, TemporaryError):
    """No answer: the connection was refused, dropped or timed out."""


class ServerError(ApiError):
    """The server failed (500) or answered a status the API does not document."""


class UnexpectedResponse(ApiError):
    """A successful status whose body is not what the API documents (not JSON, or not of the response model)."""
