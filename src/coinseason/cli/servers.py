"""The two ASGI servers ``coinseason serve`` can run (``--server``, ``COINSEASON_SERVER``), with the same bounds.

Both serve :data:`SERVER_FACTORY` in every worker process, with the settings handed over in
:data:`~coinseason.settings.HANDOFF_ENV`, and both keep what a client controls at the connection level bounded
before the app sees a request:

- **header time-out**: a connection that has not sent a whole request head within ``header_timeout_seconds`` is
  closed (granian: hyper's header read time-out; uvicorn: :class:`HeaderTimeoutProtocol`, since uvicorn itself waits
  for ever on a half-sent request);
- **keep-alive time-out**: an idle connection is closed after ``keep_alive_seconds`` (granian applies its header
  time-out to the idle wait for the next request too);
- **concurrency**: at most ``max_connections`` requests a worker (uvicorn answers 503 beyond it, granian holds them
  back);
- **WebSocket message size**: uvicorn refuses a message over ``COINSEASON_MAX_WS_MESSAGE_BYTES`` while reading it
  (close 1009); granian has no such setting, so there only the app's own check applies;
- **forwarded headers**: neither server reads ``X-Forwarded-For``; the app believes it only from
  ``COINSEASON_FORWARDED_ALLOW_IPS`` (:mod:`coinseason.api.http.forwarded`).

Granian is the default: on the bench (``bench/api.py --only http``) it served the same app 1.5 to 2 times as fast
as uvicorn.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os

from coinseason.settings import HANDOFF_ENV, Settings

__all__ = ["SERVER_FACTORY", "HeaderTimeoutProtocol", "run_granian", "run_uvicorn"]

SERVER_FACTORY = "coinseason.server:create_app_from_handoff"
"""The app factory every server process calls; it reads the settings from :data:`~coinseason.settings.HANDOFF_ENV`."""


def run_uvicorn(settings: Settings, *, target: str = SERVER_FACTORY) -> None:
    """uvicorn (httptools, uvloop when installed) serving the app ``target`` makes until it stops; it stops on
    SIGINT/SIGTERM, giving open requests ``stop_seconds``."""
    import uvicorn  # the ASGI server stack loads only when a command serves

    server = settings.server
    uvicorn.run(
        target,
        factory=True,
        host=settings.api.host,
        port=settings.api.port,
        workers=settings.api.workers if settings.api.workers > 1 else None,
        http=HeaderTimeoutProtocol,
        access_log=False,
        log_config=None,
        proxy_headers=False,  # uvicorn would believe X-Forwarded-For from 127.0.0.1: the app decides instead
        server_header=False,
        timeout_keep_alive=max(1, round(server.keep_alive_seconds)),
        timeout_graceful_shutdown=max(1, round(server.stop_seconds)),
        limit_concurrency=server.max_connections,
        ws_max_size=settings.api.max_ws_message_bytes,
    )


def run_granian(settings: Settings, *, target: str = SERVER_FACTORY) -> None:
    """granian serving the app ``target`` makes until it stops; it stops on SIGINT/SIGTERM, ending workers that
    have not stopped after ``stop_seconds``."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    # granian forks its workers by default; a fork of this process (threads started by an import, a store) can
    # inherit a lock held by a thread that does not exist in the child and wait on it for ever: start them afresh
    multiprocessing.set_start_method("spawn", force=True)
    server = settings.server
    Server(
        target,
        address=settings.api.host,
        port=settings.api.port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=settings.api.workers,
        backpressure=server.max_connections,
        http1_settings=HTTP1Settings(header_read_timeout=round(server.header_timeout_seconds * 1000)),
        log_access=False,
        log_dictconfig=_granian_logging(settings),
        workers_kill_timeout=max(1, round(server.stop_seconds)),
        respawn_failed_workers=True,  # a worker that dies (a crash, kill -9) is replaced, as uvicorn's supervisor does
        respawn_interval=1.0,
    ).serve()


def _granian_logging(settings: Settings) -> dict[str, object]:
    """granian's own lines (start, workers, stop) in coinseason's format: JSON lines or text, on stderr."""
    formatter = "coinseason.logs.JsonFormatter" if settings.log.json_lines else "coinseason.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"coinseason": {"()": formatter}},
        "handlers": {
            "console": {"formatter": "coinseason", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "_granian": {"handlers": ["console"], "level": settings.log.level.upper(), "propagate": False},
            "granian.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        },
    }


@functools.cache
def _header_timeout() -> float:
    """The header time-out of this worker's settings (the handoff ``serve`` wrote; 10 s when there is none)."""
    handoff = os.environ.get(HANDOFF_ENV)
    return Settings.from_handoff(handoff).server.header_timeout_seconds if handoff else 10.0


try:  # uvicorn[standard] brings httptools; the module still imports without it (the granian server needs neither)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] is a dependency
    HttpToolsProtocol = object  # type: ignore[misc,assignment]  # no uvicorn: the class below is never used


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with a header time-out: from the moment a connection opens, and from the first
    byte of each further request, the whole request head must arrive within the header time-out, else the
    connection is closed (uvicorn alone arms a timer only between requests)."""

    header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self.header_timer is None:
            self.header_timer = self.loop.call_later(_header_timeout(), self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timed_out(self) -> None:
        self.header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
