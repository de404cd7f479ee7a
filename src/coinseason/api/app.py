"""``create_app(settings)``: the v1 API over one store; nothing is built at import time."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from coinseason import __version__
from coinseason.api import problems
from coinseason.api.cache import Invalidation, LocalInvalidation, RedisInvalidation, ResponseCache
from coinseason.api.guard import GuardMiddleware
from coinseason.api.limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter, redis_from_url
from coinseason.api.logging import RequestContextMiddleware, configure_logging
from coinseason.api.metrics import Metrics
from coinseason.api.routes import coins, dominance, meta, season, stream
from coinseason.api.schemas import Problem
from coinseason.api.state import ApiState
from coinseason.api.stream import StreamHub
from coinseason.services.analytics import AnalyticsService
from coinseason.services.keys import KeyService
from coinseason.settings import Settings
from coinseason.store import MarketStore, open_store

log = logging.getLogger("coinseason.api")

LISTENER_STOP_SECONDS = 2.0
"""How long shutdown waits for the invalidation listener to end after cancelling it."""

DESCRIPTION = """Is it Bitcoin season or altcoin season, how strongly, since when.

Every series says how it was made (`method`): source, universe size, window, exclusion set and its version.
Send your key in the `X-API-Key` header (never in the URL). Errors are `application/problem+json`."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(
    settings: Settings | None = None,
    *,
    store: MarketStore | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    limiter: RateLimiter | None = None,
    invalidation: Invalidation | None = None,
) -> FastAPI:
    """Build the API. ``store``, ``limiter`` and ``invalidation`` default to what ``settings`` names."""
    settings = settings or Settings()
    owns_store = store is None
    store = store or open_store(settings.db)
    redis_client = redis_from_url(settings.redis_url) if settings.redis_url else None
    if limiter is None:
        limiter = RedisRateLimiter(redis_client) if redis_client is not None else MemoryRateLimiter()
    if invalidation is None:
        invalidation = RedisInvalidation(redis_client) if redis_client is not None else LocalInvalidation()
    state = ApiState(
        settings=settings,
        store=store,
        analytics=AnalyticsService(store),
        keys=KeyService(store, clock=clock),
        cache=ResponseCache(),
        limiter=limiter,
        invalidation=invalidation,
        hub=StreamHub(),
        metrics=Metrics(),
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not state.analytics.sources():
            log.warning("the store %s holds no data yet: import a file or start ingestion", store.url)
        state.warm_up()
        state.update_gauges()
        listener = asyncio.create_task(state.invalidation.run(state.data_landed))
        try:
            yield
        finally:
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

    app = FastAPI(
        title="coinseason",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.api = state
    problems.install(app)
    errors: dict[int | str, dict[str, object]] = {
        code: {"model": Problem, "content": {"application/problem+json": {}}}
        for code in (400, 401, 404, 413, 422, 429, 503)
    }
    for router in (season.router, dominance.router, coins.router, meta.router):
        app.include_router(router, responses=errors)
    app.include_router(stream.router)
    app.include_router(meta.health_router)
    app.add_middleware(GuardMiddleware, state=state)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET"],
            allow_headers=["X-API-Key", "If-None-Match"],
            expose_headers=["ETag", "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware, metrics=state.metrics)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` worker processes: settings from the environment."""
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings)
