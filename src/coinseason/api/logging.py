"""Structured logs: one JSON object a line, the request id on every line, one access line per HTTP request.

Secrets stay out: the access line names the path without its query string, headers are never logged, and the
formatters blank ``api_key=``/``key=`` query values and extra fields named like credentials, whoever logs them.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import IO, Any, cast

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coinseason.api.metrics import UNMATCHED_ROUTE, Metrics
from coinseason.errors import ConfigError

__all__ = [
    "AccessLog",
    "JsonFormatter",
    "RequestContextMiddleware",
    "TextFormatter",
    "configure_logging",
    "new_request_id",
    "request_id",
    "route_template",
    "valid_request_id",
]

request_id: ContextVar[str | None] = ContextVar("coinseason_request_id", default=None)
"""The id of the request (or job) being served, set by :class:`RequestContextMiddleware`."""

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SECRET_QUERY = re.compile(r"(?i)([?&;](?:api_key|apikey|api-key|key|token|access_token)=)[^&;\s\"']*")
_SECRET_FIELD = re.compile(r"(?i)(x[_-])?(api[_-]?key|authorization|password|secret|token|cookie)")
REDACTED = "[redacted]"
_INFO = logging.getLevelName(logging.INFO)

# attributes every LogRecord has; anything else on a record came from ``extra``
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _random_id() -> str:
    """32 random hex digits (as ``uuid4().hex``, without building a UUID: this runs on every request)."""
    return os.urandom(16).hex()


def new_request_id() -> str:
    """Make a fresh request id, set it as the current one (for a job outside any request) and return it."""
    value = _random_id()
    request_id.set(value)
    return value


def redact(text: str) -> str:
    """``text`` with the values of credential-like query parameters blanked."""
    return _SECRET_QUERY.sub(r"\1" + REDACTED, text) if "=" in text else text


_secret_names: dict[str, bool] = {}
"""Field names already checked against _SECRET_FIELD (a few dozen in practice; bounded below)."""


def _is_secret(name: str) -> bool:
    known = _secret_names.get(name)
    if known is None:
        known = _SECRET_FIELD.fullmatch(name) is not None
        if len(_secret_names) < 4096:
            _secret_names[name] = known
    return known


_NOT_EXTRA = _RECORD_FIELDS | {"request_id"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        name: REDACTED if _is_secret(name) else value
        for name, value in vars(record).items()
        if name not in _NOT_EXTRA and not name.startswith("_")
    }


_second: tuple[float, str] = (math.nan, "")
"""The last whole second formatted by :func:`_timestamp`, and its text: one log line after another share it."""


def _timestamp(created: float) -> str:
    """``created`` as ``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`` writes it.

    Rounded to the microsecond half to even, as ``fromtimestamp`` does, then cut to the millisecond; the date and
    time of day are formatted once per second.
    """
    global _second
    fraction, whole = math.modf(created)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    second, text = _second
    if second != whole:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, text)
    return f"{text}.{micros // 1000:03d}+00:00"


def _request_id_of(record: logging.LogRecord) -> str | None:
    value = getattr(record, "request_id", None)
    return value if isinstance(value, str) else request_id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC ISO 8601), level, logger, msg, request_id, then the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = self._entry(
            record.created, record.levelname, record.name, record.getMessage(), _request_id_of(record), _extras(record)
        )
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    def fields_line(
        self, created: float, level: str, logger: str, msg: str, rid: str | None, extras: dict[str, Any]
    ) -> str:
        """What :meth:`format` writes for a record with these fields (``extras`` free of secrets), no exception."""
        return orjson.dumps(
            self._entry(created, level, logger, msg, rid, extras), default=str, option=orjson.OPT_NON_STR_KEYS
        ).decode()

    @staticmethod
    def _entry(
        created: float, level: str, logger: str, msg: str, rid: str | None, extras: dict[str, Any]
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "ts": _timestamp(created),
            "level": level,
            "logger": logger,
            "msg": redact(msg),
            "request_id": rid,
        }
        for name, value in extras.items():
            entry.setdefault(name, value)
        return entry


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal: time, level, logger, [request id], message, key=value extras."""

    def format(self, record: logging.LogRecord) -> str:
        line = self.fields_line(
            record.created, record.levelname, record.name, record.getMessage(), _request_id_of(record), _extras(record)
        )
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line

    def fields_line(
        self, created: float, level: str, logger: str, msg: str, rid: str | None, extras: dict[str, Any]
    ) -> str:
        """What :meth:`format` writes for a record with these fields (``extras`` free of secrets), no exception."""
        line = f"{_timestamp(created)} {level:<7} {logger}{f' [{rid}]' if rid else ''} {redact(msg)}"
        if extras:
            line += " " + " ".join(f"{name}={value}" for name, value in extras.items())
        return line


class _Handler(logging.StreamHandler[IO[str]]):
    """The handler :func:`configure_logging` installs: a StreamHandler that can also write a line made without a
    LogRecord (see :func:`_sole_handler`), exactly as ``emit`` writes a record's."""

    _coinseason = True

    def write_line(self, line: str, record: Callable[[], logging.LogRecord]) -> None:
        """Write ``line`` under the handler's lock; on failure, report it as ``emit`` would, with ``record()``."""
        self.acquire()
        try:
            self.stream.write(line + self.terminator)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record())
        finally:
            self.release()


_FIELD_FORMATTERS = (JsonFormatter, TextFormatter)


def _sole_handler(logger: logging.Logger, level: int) -> _Handler | None:
    """The one handler a record of ``logger`` at ``level`` reaches, when that is :func:`configure_logging`'s own
    handler with one of our formatters and nothing filters on the way; else None (log the usual way)."""
    if logger.filters or logger.disabled:
        return None
    found: _Handler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if found is not None or type(handler) is not _Handler or handler.filters or level < handler.level:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    if found is None or type(found.formatter) not in _FIELD_FORMATTERS:
        return None
    return found


def configure_logging(level: str = "INFO", *, json: bool = True, stream: IO[str] | None = None) -> None:
    """Send every log record to ``stream`` (stderr) as JSON lines (or text); calling it again replaces the handler."""
    levels = logging.getLevelNamesMapping()
    name = level.strip().upper()
    if name not in levels:
        raise ConfigError(f"log level {level!r} is not one of {', '.join(sorted(set(levels) - {'NOTSET'}))}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_coinseason", False)]:
        root.removeHandler(old)
        old.close()
    handler = _Handler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(levels[name])


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def valid_request_id(incoming: bytes | None) -> str:
    """The incoming ``X-Request-ID`` when it is 1-64 letters, digits, ``_`` or ``-``; else a fresh random id."""
    if incoming is not None:
        rid = incoming.decode("latin-1")
        if _VALID_REQUEST_ID.fullmatch(rid):
            return rid
    return _random_id()


class AccessLog:
    """Counts an answered HTTP request in the metrics and writes its access line (INFO on ``logger_name``).

    The line carries method, route (the template when a route matched, else the path), path (never the query
    string), status, duration_ms and client. Metrics use the template, or ``<unmatched>`` when no route matched.
    """

    def __init__(
        self, *, metrics: Metrics | None = None, logger_name: str = "coinseason.access", lines: bool = True
    ) -> None:
        self.metrics = metrics
        self.log = logging.getLogger(logger_name)
        self.lines = lines
        """Write access lines (False: only count requests in the metrics)."""

    def __call__(self, scope: Scope, template: str | None, status: int, seconds: float) -> None:
        method = str(scope.get("method", ""))
        if self.metrics is not None:
            self.metrics.observe_request(
                route=template or UNMATCHED_ROUTE, method=method, status=status, seconds=seconds
            )
        log = self.log
        if not self.lines or not log.isEnabledFor(logging.INFO):
            return
        path = str(scope.get("path", ""))
        client = scope.get("client")
        route = template or path
        fields = {
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "client": client[0] if client else None,
        }

        handler = _sole_handler(log, logging.INFO)
        if handler is None:  # other handlers or filters listen too: log the usual way
            log.info("%s %s %s", method, route, status, extra=fields)
            return
        # the usual case: only configure_logging's handler listens, so the line it would write for the record is
        # written without making the record (that was most of the cost of a cached response)
        formatter = cast(JsonFormatter | TextFormatter, handler.formatter)
        line = formatter.fields_line(
            time.time(), _INFO, log.name, f"{method} {route} {status}", request_id.get(), fields
        )

        def record() -> logging.LogRecord:  # only to report a failed write, as emit() reports one
            return log.makeRecord(
                log.name, logging.INFO, "", 0, "%s %s %s", (method, route, status), None, extra=fields
            )

        handler.write_line(line, record)


def route_template(scope: Scope) -> str | None:
    """The path template of the route that matched the request, if one did."""
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else None


class RequestContextMiddleware:
    """Pure ASGI: request id in (``X-Request-ID`` if valid) and out, one access log line and metrics per request
    (see :class:`AccessLog`), for any ASGI app. WebSocket connections get a request id (also sent on accept) but no
    access line. The coinseason API does the same in its front layer (:class:`coinseason.api.guard.FrontDoor`).
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None = None, logger_name: str = "coinseason.access") -> None:
        self.app = app
        self.access = AccessLog(metrics=metrics, logger_name=logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        rid = valid_request_id(_header(scope, b"x-request-id"))
        rid_header = (b"x-request-id", rid.encode("ascii"))
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind == "http.response.start" or kind == "websocket.accept":
                status = message.get("status", 101)
                headers = [
                    (name, value) for name, value in message.get("headers", ()) if name.lower() != b"x-request-id"
                ]
                headers.append(rid_header)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if kind == "http":
                self.access(scope, route_template(scope), status, time.perf_counter() - start)
            request_id.reset(token)
