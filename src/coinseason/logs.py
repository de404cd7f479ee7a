"""Structured logs: one JSON object a line (or plain text), the request id on every line, secrets redacted.

Secrets stay out: the access line names the path without its query string or path parameters, headers are never
logged, and the formatters blank ``api_key=``/``key=``/``password=`` values, the password of a URL's userinfo
(``postgresql://user:[redacted]@host``) and extra fields named like credentials, whoever logs them, in the message,
the exception and every text field.
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
from typing import IO, Any

import orjson

from coinseason.errors import ConfigError

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "new_request_id",
    "random_id",
    "redact",
    "redact_path",
    "request_id",
    "sole_handler",
]

request_id: ContextVar[str | None] = ContextVar("coinseason_request_id", default=None)
"""The id of the request (or job) being served, set by the API's access layer or a job."""

_SECRET_QUERY = re.compile(r"(?i)([?&;](?:api_key|apikey|api-key|key|token|access_token|password)=)[^&;\s\"']*")
_SECRET_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/?#@\s\"']*):[^@/?#\s\"']*@")
"""``scheme://user:password@``: the password of a URL (a store DSN, a Redis URL)."""
_SECRET_ASSIGNMENT = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;,]+)")
"""``password=...`` of a key=value connection string."""
_SECRET_FIELD = re.compile(r"(?i)(x[_-])?(api[_-]?key|authorization|password|secret|token|cookie)")
REDACTED = "[redacted]"

# attributes every LogRecord has; anything else on a record came from ``extra``
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def random_id() -> str:
    """A fresh request id: 32 random hex digits (``uuid4().hex`` without building a UUID: it runs per request)."""
    return os.urandom(16).hex()


def new_request_id() -> str:
    """Make a fresh request id, set it as the current one (for a job outside any request) and return it."""
    value = random_id()
    request_id.set(value)
    return value


def redact(text: str) -> str:
    """``text`` with the values of credential-like query parameters and the passwords of URLs blanked (a text
    without ``=`` and ``@`` is returned as it is, at the cost of two scans)."""
    if "=" in text:
        text = _SECRET_QUERY.sub(r"\1" + REDACTED, text)
        text = _SECRET_ASSIGNMENT.sub(r"\1" + REDACTED, text)
    if "@" in text:
        text = _SECRET_USERINFO.sub(r"\1:" + REDACTED + "@", text)
    return text


def redact_path(path: str) -> str:
    """A request path as logs may show it: everything from a ``;`` (path parameters, where a key may hide) blanked.
    The API refuses such paths; the log line of the refusal still names none of it."""
    cut = path.find(";")
    return path if cut < 0 else path[:cut] + ";" + REDACTED


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
        name: REDACTED if _is_secret(name) else redact(value) if isinstance(value, str) else value
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
    LogRecord (see :func:`sole_handler`), exactly as ``emit`` writes a record's."""

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


def sole_handler(logger: logging.Logger, level: int) -> _Handler | None:
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
