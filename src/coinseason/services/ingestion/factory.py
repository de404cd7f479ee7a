"""Ingestion built from settings: the provider, its parameters, and the loop as a background job of the API."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

from coinseason.clock import Clock, utc_now
from coinseason.providers.base import CategoryProvider, MarketProvider
from coinseason.providers.coingecko import PAGE_SIZE, CoinGeckoProvider
from coinseason.providers.coinmarketcap import LISTING_PAGE, CoinMarketCapProvider
from coinseason.services.hooks import AppHooks
from coinseason.services.importing import gate_config
from coinseason.services.ingestion.categories import EXCLUSION_CATEGORIES
from coinseason.services.ingestion.checks import PriceReference
from coinseason.services.ingestion.config import IngestConfig
from coinseason.services.ingestion.estimate import BackfillEstimate, estimate_backfill
from coinseason.services.ingestion.firstrun import FirstRun
from coinseason.services.ingestion.schedule import Schedule
from coinseason.services.ingestion.service import IngestionService
from coinseason.services.ingestion.status import IngestStatus
from coinseason.settings import Settings
from coinseason.store import open_store

PROVIDERS = ("coingecko", "cmc")


def make_provider(name: str, settings: Settings, *, clock: Clock = utc_now) -> MarketProvider:
    """The live provider ``name`` (``coingecko`` or ``cmc``) as the ``COINSEASON_*`` settings describe it;
    ``clock`` dates its snapshots."""
    if name == "cmc":
        return CoinMarketCapProvider.from_settings(settings.cmc, clock=clock)
    return CoinGeckoProvider.from_settings(settings.coingecko, clock=clock)


def backfill_estimate(
    provider: MarketProvider, *, top: int, today: dt.date, with_snapshot: bool = False
) -> BackfillEstimate:
    """What a backfill of the top ``top`` costs on ``provider``'s plan, after the day's snapshot when
    ``with_snapshot`` (see :mod:`~coinseason.services.ingestion.estimate`)."""
    page = PAGE_SIZE if provider.source == "coingecko" else LISTING_PAGE
    categories = len(EXCLUSION_CATEGORIES) if isinstance(provider, CategoryProvider) else 0
    return estimate_backfill(
        provider.source,
        provider.plan,
        top=top,
        today=today,
        page_size=page,
        category_calls=categories,
        with_snapshot=with_snapshot,
    )


def loop_note(settings: Settings) -> str:
    """What the snapshot loop does, in words."""
    return f"the daily snapshot after 00:00 UTC and intraday ones every {settings.ingest.interval_minutes:g} min"


def ingest_config(settings: Settings, *, top: int | None = None, batch: int = 20) -> IngestConfig:
    """Ingestion parameters from the settings (``COINSEASON_INGEST_*``)."""
    return IngestConfig(
        top=settings.ingest.top if top is None else top,
        schedule=Schedule(dt.timedelta(minutes=settings.ingest.interval_minutes)),
        gates=gate_config(settings),
        batch_coins=batch,
        dominance_threshold=settings.ingest.dominance_threshold,
    )


class IngestionJob:
    """The snapshot loop as a background job of the API (a :data:`~coinseason.services.hooks.Job`): its own store
    connection, the app's clock; the app is told (``hooks.announce_data_landed()``) after each write. Every worker
    or replica may run it: the store lease lets exactly one ingest while the others stand by. ``exchange`` (the
    live job's :class:`~coinseason.live.reference.ExchangeReference`) adds the exchange median to the cross-check.
    :meth:`status` is the running service's heartbeat, for the API (None before the job started)."""

    def __init__(self, settings: Settings, *, exchange: PriceReference | None = None) -> None:
        self.settings = settings
        self.exchange = exchange
        self.service: IngestionService | None = None
        self.first_run: FirstRun | None = None

    def __repr__(self) -> str:
        return "ingestion_loop"

    def status(self) -> IngestStatus | None:
        return None if self.service is None else self.service.status()

    def _status_dict(self) -> dict[str, Any] | None:
        status = self.status()
        return None if status is None else status.to_dict()

    def _backfill_dict(self) -> dict[str, Any] | None:
        return None if self.first_run is None else self.first_run.status.to_dict()

    async def __call__(self, hooks: AppHooks) -> None:
        settings = self.settings
        hooks.register_status("ingestion", self._status_dict)
        hooks.register_status("backfill", self._backfill_dict)
        async with contextlib.AsyncExitStack() as stack:  # whatever was opened is closed, even if a later step fails
            provider = make_provider(settings.ingest.provider or "coingecko", settings, clock=hooks.clock)
            stack.push_async_callback(provider.aclose)
            references = []
            for name in settings.ingest.cross_check:
                if name != provider.source:
                    references.append(make_provider(name, settings, clock=hooks.clock))
                    stack.push_async_callback(references[-1].aclose)
            store = open_store(settings.db, pool=settings.pg)
            stack.callback(store.close)
            self.service = IngestionService(
                store,
                provider,
                clock=hooks.clock,
                config=ingest_config(settings),
                references=references,
                exchange=self.exchange,
                on_landed=hooks.announce_data_landed,
            )
            if settings.ingest.backfill:
                top = settings.ingest.top
                self.first_run = FirstRun(
                    self.service,
                    store,
                    backfill_estimate(provider, top=top, today=hooks.clock().date(), with_snapshot=True),
                    top=top,
                    clock=hooks.clock,
                    sleep=asyncio.sleep,
                    loop_note=loop_note(settings),
                )
                await self.first_run.run()
            await self.service.run()


def ingestion_job(settings: Settings, *, exchange: PriceReference | None = None) -> IngestionJob:
    """The snapshot loop as a background job of the API (see :class:`IngestionJob`)."""
    return IngestionJob(settings, exchange=exchange)
