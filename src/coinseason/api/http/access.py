"""One access line per HTTP request, with the request id (the formatters and redaction are in
:mod:`coinseason.logs`): the path without its query string, headers never logged. Written by the front layer
(:class:`coinseason.api.http.guard.FrontDoor`)."""

from __future__ import annotations

import logging
import re
import time
from typing import cast

from starlette.types import Scope

from coinseason.api.http.metrics import UNMATCHED_ROUTE, Metrics
from coinseason.logs import (
    JsonFormatter,
    TextFormatter,
    random_id,
    redact,
    redact_path,
    request_id,
    sole_handler,
)

__all__ = ["AccessLog", "route_template", "valid_request_id"]

_INFO = logging.getLevelName(logging.INFO)
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def valid_request_id(incoming: bytes | None) -> str:
    """The incoming ``X-Request-ID`` when it is 1-64 letters, digits, ``_`` or ``-``; else a fresh random id."""
    if incoming is not None:
        rid = incoming.decode("latin-1")
        if _VALID_REQUEST_ID.fullmatch(rid):
            return rid
    return random_id()


class AccessLog:
    """Counts an answered HTTP request in the metrics and writes its access line (INFO on ``logger_name``).

    The line carries method, route (the template when a route matched, else the path), path (never the query
    string; path parameters blanked), status, duration_ms and client. Metrics use the template, or
    ``<unmatched>`` when no route matched.
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
        if ";" in path:  # path parameters (refused under /v1) may hold a key: never written
            path = redact_path(path)
        path = redact(path)  # ``/x&api_key=...`` as any other text field is (the method and client cannot hold one)
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

        handler = sole_handler(log, logging.INFO)
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
