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
import threading
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


PIPE_BUF = 4096
"""Bytes one ``write`` to a pipe delivers whole, never mixed with another process's (POSIX's minimum is 512,
Linux's is 4096): buffered lines go out in pieces of at most this size, so workers sharing stderr never split a
line of each other's."""
FLUSH_LINES = 256
"""Buffered access lines written at once, at the latest (bounds the memory they hold)."""


class _Handler(logging.StreamHandler[IO[str]]):
    """The handler :func:`configure_logging` installs: a StreamHandler that can also write a line made without a
    LogRecord (see :func:`sole_handler`), exactly as ``emit`` writes a record's.

    With ``flush_seconds`` > 0 such lines (the access lines) are buffered rather than written one ``write`` each:
    they go out when ``flush_seconds`` have passed since the oldest of them (on the next line, or from a
    background thread when no line follows), when :data:`FLUSH_LINES` are waiting, before any record logged the
    usual way (a warning, an error: it is written at once, after them, in order), and on :meth:`flush` and
    :meth:`close` (``logging.shutdown`` at exit calls both). ``clock`` (monotonic seconds) decides when they are
    due; ``ticker=False`` leaves out the background thread (then only the next line or a flush writes them).
    """

    _coinseason = True

    def __init__(
        self,
        stream: IO[str],
        *,
        flush_seconds: float = 0.0,
        max_lines: int = FLUSH_LINES,
        clock: Callable[[], float] = time.monotonic,
        ticker: bool = True,
    ) -> None:
        super().__init__(stream)
        self.flush_seconds = flush_seconds
        self.max_lines = max_lines
        self.clock = clock
        self._lines: list[str] = []
        self._oldest = 0.0
        """``clock()`` when the oldest buffered line came."""
        self._waiting = threading.Event()
        """Set while lines are buffered: wakes the background thread."""
        self._closing = threading.Event()
        if flush_seconds > 0 and ticker:
            threading.Thread(target=self._flush_when_due, name="coinseason-log-flush", daemon=True).start()

    def write_line(self, line: str, record: Callable[[], logging.LogRecord]) -> None:
        """Write ``line`` (or buffer it) under the handler's lock; on failure, report it as ``emit`` would, with
        ``record()``."""
        self.acquire()
        try:
            if self.flush_seconds <= 0:
                self.stream.write(line + self.terminator)
                self.flush()
                return
            lines = self._lines
            now = self.clock()
            if not lines:
                self._oldest = now
                self._waiting.set()
            lines.append(line)
            if len(lines) >= self.max_lines or now - self._oldest >= self.flush_seconds:
                self._write_buffered()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record())
        finally:
            self.release()

    def emit(self, record: logging.LogRecord) -> None:
        """The buffered lines first (they came before), then the record, at once."""
        if self._lines:
            self._write_buffered_or_report()
        super().emit(record)

    def flush(self) -> None:
        self.acquire()
        try:
            if self._lines:
                self._write_buffered_or_report()
            super().flush()
        finally:
            self.release()

    def close(self) -> None:
        self.acquire()
        try:
            self._closing.set()
            self._waiting.set()  # the background thread wakes and ends
            if self._lines:  # (StreamHandler.close never flushes: its stream may be closed already)
                self._write_buffered_or_report()
        finally:
            self.release()
            super().close()

    def _write_buffered(self) -> None:
        """Write the buffered lines, in pieces of at most :data:`PIPE_BUF` bytes; the lock held."""
        lines, self._lines = self._lines, []
        self._waiting.clear()
        stream, end = self.stream, self.terminator
        piece: list[str] = []
        size = 0
        for line in lines:
            length = (len(line) if line.isascii() else len(line.encode())) + 1
            if piece and size + length > PIPE_BUF:
                stream.write("".join(piece))
                stream.flush()
                piece, size = [], 0
            piece.append(line + end)
            size += length
        if piece:
            stream.write("".join(piece))
        stream.flush()

    def _write_buffered_or_report(self) -> None:
        count = len(self._lines)
        try:
            self._write_buffered()
        except RecursionError:
            raise
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": "%d buffered log lines not written", "args": (count,)}))

    def _flush_when_due(self) -> None:
        """The background thread: ``flush_seconds`` after a line is buffered, write what is buffered then."""
        while True:
            self._waiting.wait()
            if self._closing.is_set():
                return
            self.acquire()
            try:
                due = self._oldest + self.flush_seconds - self.clock()
            finally:
                self.release()
            if due > 0 and self._closing.wait(due):
                return  # closed meanwhile: close() wrote them
            self.acquire()
            try:
                if self._lines and self.clock() - self._oldest >= self.flush_seconds:
                    self._write_buffered_or_report()
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


def configure_logging(
    level: str = "INFO", *, json: bool = True, stream: IO[str] | None = None, flush_seconds: float = 0.0
) -> None:
    """Send every log record to ``stream`` (stderr) as JSON lines (or text); calling it again replaces the handler
    (the old one writes what it buffered first). ``flush_seconds`` > 0: access lines are buffered that long at
    most (see :class:`_Handler`); 0 writes each at once."""
    levels = logging.getLevelNamesMapping()
    name = level.strip().upper()
    if name not in levels:
        raise ConfigError(f"log level {level!r} is not one of {', '.join(sorted(set(levels) - {'NOTSET'}))}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_coinseason", False)]:
        root.removeHandler(old)
        old.close()
    handler = _Handler(stream if stream is not None else sys.stderr, flush_seconds=flush_seconds)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(levels[name])
