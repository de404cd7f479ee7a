"""The composition root: the whole ASGI service that ``coinseason serve`` runs.

:func:`create_app` is the API (:func:`coinseason.api.app.create_app`) with the dashboard mounted at ``/`` and the
background jobs the settings ask for: the live exchange feed when ``live`` is on, the ingestion loop when
``ingest`` is on and ``ingest_provider`` set; when both run they share one
:class:`~coinseason.live.reference.ExchangeReference`, fed by the feed and read by the ingestion's cross-check.

:func:`create_app_from_handoff` is the factory uvicorn calls in each worker process
(``uvicorn.run("coinseason.server:create_app_from_handoff", factory=True, ...)``): it builds the app from the
settings ``coinseason serve`` validated and handed over in :data:`~coinseason.settings.HANDOFF_ENV`, and reads
nothing else from the environment.

:func:`create_mcp_app` and :func:`run_mcp_stdio` are ``coinseason mcp``: the MCP tools over the same API, over
streamable HTTP (behind the API's key and rate-limit checks) or stdio.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from coinseason.api import app as api_app
from coinseason.api.http.cache import ResponseCache
from coinseason.api.http.guard import FrontDoor
from coinseason.api.http.invalidation import Invalidation
from coinseason.api.http.limits import RateLimiter
from coinseason.api.publishing import Publisher
from coinseason.api.watching import StoreWatch
from coinseason.clock import Clock, utc_now
from coinseason.errors import ConfigError
from coinseason.live.job import live_job
from coinseason.live.reference import ExchangeReference
from coinseason.logs import configure_logging
from coinseason.services.alerts.job import AlertJob
from coinseason.services.hooks import Job
from coinseason.services.ingestion.factory import ingestion_job
from coinseason.settings import HANDOFF_ENV, Settings
from coinseason.store import Store
from coinseason.web import mount_dashboard

__all__ = [
    "alert_jobs",
    "MCP_PATH",
    "background_jobs",
    "create_app",
    "create_app_from_handoff",
    "create_mcp_app",
    "create_mcp_app_from_handoff",
    "run_mcp_stdio",
]

MCP_PATH = "/mcp"
"""Where ``coinseason mcp --transport http`` answers MCP's streamable HTTP."""
_INSIDE = "http://coinseason.internal"
"""Base URL of the in-process API the MCP tools call (no network: an ASGI transport)."""


def background_jobs(settings: Settings) -> list[Job]:
    """The background jobs ``settings`` ask for: the live feed (``live``), then the ingestion loop (``ingest`` and
    ``ingest_provider``); when both run, the feed's exchange reference is the ingestion's ``exchange``."""
    jobs: list[Job] = []
    reference = ExchangeReference(stale_after=settings.live.stale_after_seconds) if settings.live.run else None
    if reference is not None:
        jobs.append(live_job(settings, reference=reference))
    if settings.ingest.run and settings.ingest.provider:
        jobs.append(ingestion_job(settings, exchange=reference))
    return jobs


def alert_jobs(settings: Settings) -> list[Job]:
    """The alerts job (rules evaluated when data lands, webhooks sent from the outbox) unless ``alerts.run`` is
    off (``COINSEASON_ALERTS=false``)."""
    return [AlertJob(settings)] if settings.alerts.run else []


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock = utc_now,
    limiter: RateLimiter | None = None,
    invalidation: Invalidation | None = None,
    jobs: Sequence[Job] = (),
) -> FastAPI:
    """The service: the v1 API, the dashboard, and the background jobs of :func:`background_jobs` and
    :func:`alert_jobs` followed by ``jobs`` and the :class:`~coinseason.api.watching.StoreWatch`, which reloads
    when another process wrote to the store. The other arguments go to :func:`coinseason.api.app.create_app`
    (each defaults to what ``settings`` names)."""
    app = api_app.create_app(
        settings,
        store=store,
        clock=clock,
        limiter=limiter,
        invalidation=invalidation,
        jobs=[*background_jobs(settings), *alert_jobs(settings), *jobs, StoreWatch()],
    )
    publisher: Publisher = app.state.publisher
    publisher.note_version()  # before the start-up load reads the store: a write after it is reloaded by the watch
    mount_dashboard(app)
    return app


def create_app_from_handoff() -> FastAPI:
    """The app of one worker process, for ``uvicorn --factory``: the settings ``coinseason serve`` handed over in
    the ``COINSEASON_SERVE_SETTINGS`` variable (:meth:`Settings.to_handoff`), logging configured from them."""
    handoff = os.environ.get(HANDOFF_ENV)
    if handoff is None:
        raise ConfigError(f"{HANDOFF_ENV} is not set: start workers with coinseason serve")
    settings = Settings.from_handoff(handoff)
    configure_logging(settings.log.level, json=settings.log.json_lines, flush_seconds=settings.log.flush_seconds)
    return create_app(settings)


def _api_for_tools(settings: Settings, store: Store | None, clock: Clock) -> tuple[FastAPI, httpx.AsyncClient]:
    """The API app the MCP tools call (with the store watch, no ingestion or live feed), and a client of it in
    this process. The client enters FastAPI behind the front door: the MCP request was checked once already."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a log line per tool call to the in-process API
    api = api_app.create_app(settings, store=store, clock=clock, jobs=[StoreWatch()])
    publisher: Publisher = api.state.publisher
    publisher.note_version()
    behind = api.behind_front if isinstance(api, api_app.CoinseasonAPI) else api
    return api, httpx.AsyncClient(transport=httpx.ASGITransport(app=behind), base_url=_INSIDE)


def create_mcp_app(settings: Settings, *, store: Store | None = None, clock: Clock = utc_now) -> Starlette:
    """``coinseason mcp --transport http``: MCP's streamable HTTP at :data:`MCP_PATH`, behind the API's own
    front door (:class:`~coinseason.api.http.guard.FrontDoor`): the same ``X-API-Key`` check, the same rate limits
    (the same limiter, so an MCP request counts as an API request), the same request ids and access log."""
    from coinseason.mcp.tools import build_server  # the MCP SDK (~0.7 s) loads for `coinseason mcp` only, not serve

    api, inside = _api_for_tools(settings, store, clock)
    mcp = build_server(inside).streamable_http_app(streamable_http_path=MCP_PATH, host=settings.api.host)
    state = api.state.api
    door = FrontDoor(
        mcp,
        settings=settings,
        metrics=state.metrics,
        limiter=state.limiter,
        cache=ResponseCache(max_entries=1),  # MCP answers are never cached at the door
        verify_key=state.keys.verify,
        prefix=MCP_PATH,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with api.router.lifespan_context(api), mcp.router.lifespan_context(mcp), inside:
            yield

    return Starlette(routes=[Mount("/", app=door)], lifespan=lifespan)


def create_mcp_app_from_handoff() -> Starlette:
    """:func:`create_mcp_app` of the settings ``coinseason mcp`` handed over, for ``uvicorn --factory``."""
    handoff = os.environ.get(HANDOFF_ENV)
    if handoff is None:
        raise ConfigError(f"{HANDOFF_ENV} is not set: start the MCP server with coinseason mcp")
    settings = Settings.from_handoff(handoff)
    configure_logging(settings.log.level, json=settings.log.json_lines)
    return create_mcp_app(settings)


async def run_mcp_stdio(settings: Settings, *, store: Store | None = None, clock: Clock = utc_now) -> None:
    """``coinseason mcp``: the MCP tools over stdin/stdout for one local assistant, until stdin closes. Logs go to
    stderr (stdout carries the protocol); no key is asked (whoever runs it can read the store anyway)."""
    from coinseason.mcp.tools import build_server  # the MCP SDK (~0.7 s) loads for `coinseason mcp` only, not serve

    api, inside = _api_for_tools(settings, store, clock)
    async with api.router.lifespan_context(api), inside:
        await build_server(inside).run_stdio_async()
