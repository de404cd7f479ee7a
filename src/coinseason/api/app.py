"""``create_app(settings)``: the v1 API over one store, running the background jobs it is given; nothing is built
at import time. The dashboard and the choice of jobs belong to the composition root, :mod:`coinseason.server`."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from coinseason import __version__
from coinseason.api.gauges import refresh_gauges
from coinseason.api.http import problems
from coinseason.api.http.cache import ResponseCache
from coinseason.api.http.compression import OnTheFlyGZip
from coinseason.api.http.forwarded import behind_proxies
from coinseason.api.http.guard import FrontDoor
from coinseason.api.http.headers import cache_policy
from coinseason.api.http.invalidation import Invalidation, LocalInvalidation, RedisInvalidation
from coinseason.api.http.limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from coinseason.api.http.metrics import Metrics, multiprocess_dir
from coinseason.api.http.redis_client import redis_from_url
from coinseason.api.http.routing import RouteNames
from coinseason.api.http.stream import StreamHub
from coinseason.api.models import Problem
from coinseason.api.publishing import Publisher, warm_up
from coinseason.api.routes import alerts, coins, consensus, docs, dominance, meta, outlook, season, stream, trading
from coinseason.api.state import ApiState
from coinseason.clock import Clock, utc_now
from coinseason.services.analytics import AnalyticsService
from coinseason.services.first_steps import EMPTY_STORE
from coinseason.services.hooks import AppHooks, Job
from coinseason.services.keys import KeyService
from coinseason.settings import Settings
from coinseason.store import Store, open_store

log = logging.getLogger("coinseason.api")

LISTENER_STOP_SECONDS = 2.0
"""How long shutdown waits for the invalidation listener to end after cancelling it."""
BACKGROUND_STOP_SECONDS = 5.0
"""How long shutdown waits for the background jobs to end after cancelling them."""

DESCRIPTION = """Is it Bitcoin season or altcoin season, how strongly, since when.

Every series says how it was made (`method`): source, universe size, window, exclusion set and its version.
Send your key in the `X-API-Key` header (never in the URL). Errors are `application/problem+json`."""


class CoinseasonAPI(FastAPI):
    """FastAPI with the coinseason front layer (:class:`FrontDoor`) before it.

    The front layer sees every request first (request id, access log, metrics, keys, rate limits, the hot cache)
    and hands on to FastAPI only what it does not answer itself, so a cached response never enters FastAPI's
    middleware stack or router.
    """

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is None:
            await super().__call__(scope, receive, send)
        else:
            await front(scope, receive, send)

    async def behind_front(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI itself, for the front layer to pass requests on to."""
        await super().__call__(scope, receive, send)


def _job_name(job: Job) -> str:
    """A coroutine function's qualified name, else the job object's repr (a job class names itself)."""
    return job.__qualname__ if inspect.isfunction(job) else repr(job)


async def _run_job(job: Job, hooks: AppHooks) -> None:
    """Run one background job; its failure is logged (the service goes on), its cancellation passes."""
    name = _job_name(job)
    try:
        await job(hooks)
    except Exception:
        log.exception("the background job %s failed", name)
    else:
        log.info("the background job %s ended", name)


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the background tasks and wait at most BACKGROUND_STOP_SECONDS for them to end."""
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    _, running = await asyncio.wait(tasks, timeout=BACKGROUND_STOP_SECONDS)
    if running:
        log.warning("%d background job(s) did not stop within %.0f s", len(running), BACKGROUND_STOP_SECONDS)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock = utc_now,
    limiter: RateLimiter | None = None,
    invalidation: Invalidation | None = None,
    jobs: Sequence[Job] = (),
) -> FastAPI:
    """Build the API. ``store``, ``limiter`` and ``invalidation`` default to what ``settings`` names.

    ``jobs``: background jobs (coroutine functions, e.g. the ingestion loop, the live feed) run for the life of the
    app. Each is called with the app's :class:`~coinseason.services.hooks.AppHooks` (the
    :class:`~coinseason.api.publishing.Publisher`) once startup is done and runs as its own task; on shutdown each
    is cancelled and waited for at most ``BACKGROUND_STOP_SECONDS``. One that fails is logged and does not stop the
    others or the service. The dashboard and the choice of jobs from the settings are the server's
    (:mod:`coinseason.server`).
    """
    owns_store = store is None
    store = store or open_store(settings.db, pool=settings.pg)
    timeout = settings.api.redis_timeout_seconds
    redis_client = redis_from_url(settings.api.redis_url, timeout=timeout) if settings.api.redis_url else None
    if limiter is None:
        limiter = RedisRateLimiter(redis_client, timeout=timeout) if redis_client is not None else MemoryRateLimiter()
    if invalidation is None:
        invalidation = LocalInvalidation()
        if redis_client is not None:  # publishing may wait longer than a rate-limit hit: it is off the hot path
            invalidation = RedisInvalidation(redis_client, timeout=max(timeout, 1.0))
    hub = StreamHub()
    metrics = Metrics(shared_dir=multiprocess_dir())  # several workers: one scrape sums them all
    metrics.track_stream(hub)
    state = ApiState(
        settings=settings,
        store=store,
        analytics=AnalyticsService(store, min_eligible=settings.season.min_eligible),
        keys=KeyService(store, clock=clock),
        cache=ResponseCache(policy=cache_policy(allow_anonymous=settings.api.allow_anonymous)),
        limiter=limiter,
        invalidation=invalidation,
        hub=hub,
        metrics=metrics,
        clock=clock,
    )
    publisher = Publisher(state)
    hooks: AppHooks = publisher
    background = tuple(jobs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not state.analytics.sources():
            log.warning("%s (store %s)", EMPTY_STORE, store.url)
        publisher.loop = asyncio.get_running_loop()
        warm_up(state)
        refresh_gauges(state)
        listener = asyncio.create_task(state.invalidation.run(publisher.data_landed))
        tasks = [asyncio.create_task(_run_job(job, hooks)) for job in background]
        try:
            yield
        finally:
            await _stop(tasks)
            listener.cancel()
            _, running = await asyncio.wait({listener}, timeout=LISTENER_STOP_SECONDS)
            if running:  # closing the invalidation below ends a read that ignored the cancel
                log.warning("the invalidation listener did not stop within %.0f s", LISTENER_STOP_SECONDS)
            elif not listener.cancelled() and listener.exception() is not None:
                log.warning("the invalidation listener had failed: %r", listener.exception())
            state.hub.close()
            await state.limiter.close()
            await state.invalidation.close()
            if owns_store:
                store.close()

    app = CoinseasonAPI(
        title="coinseason",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc from installed files: coinseason.api.routes.docs
        redoc_url=None,
        # coinseason has its own metrics and logs: no OpenTelemetry work on each request
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.api = state
    app.state.publisher = publisher
    problems.install(app)
    errors: dict[int | str, dict[str, object]] = {
        code: {"model": Problem, "content": {"application/problem+json": {}}}
        for code in (400, 401, 404, 413, 422, 429, 503)
    }
    for router in (season.router, dominance.router, coins.router, meta.router, trading.router, outlook.router):
        app.include_router(router, responses=errors)
    app.include_router(alerts.router, responses=errors)
    app.include_router(consensus.router, responses=errors)
    app.include_router(stream.router)
    app.include_router(meta.health_router)
    app.include_router(docs.router)
    # request context, keys, limits, cache, CORS; gzip on the fly for what FastAPI answers under /v1
    front = FrontDoor(
        OnTheFlyGZip(app.behind_front),
        settings=settings,
        metrics=metrics,
        limiter=limiter,
        cache=state.cache,
        verify_key=state.keys.verify,
        route_of=RouteNames(lambda: app.router.routes),
    )
    app.front = behind_proxies(front, settings.server.forwarded_allow_ips)  # the client behind a trusted proxy
    return app
