"""The alerts job of ``serve``: evaluates the rules when data lands and sends the outbox, in one replica at a time.

Every replica runs it; the store's ``alerts`` lease lets one of them work while the others stand by (one taken over
from a process of this host that was killed is taken at once, else after the lease's time-to-live). The holder
evaluates the rules each time the app's data was reloaded (new data landed: an import, an ingestion snapshot, a
write by another replica, seen by the app's store watch), when the rules changed, and at least every
``evaluate_minutes``; and each ``tick_seconds`` it sends the events that are due.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

from coinseason.errors import CoinseasonError
from coinseason.services.alerts.delivery import WebhookSender
from coinseason.services.alerts.evaluate import Evaluation, Evaluator
from coinseason.services.alerts.outbox import Outbox
from coinseason.services.alerts.outlook_rule import outlook_source
from coinseason.services.alerts.ssrf import Resolver, system_resolver
from coinseason.services.hooks import AppHooks
from coinseason.services.ingestion.lease import Lease, default_owner
from coinseason.settings import Settings
from coinseason.store import Store, open_store

__all__ = ["LEASE_NAME", "AlertJob"]

log = logging.getLogger("coinseason.alerts")

LEASE_NAME = "alerts"
Sleep = Callable[[float], Awaitable[Any]]


class AlertJob:
    """The job (a :data:`~coinseason.services.hooks.Job`). ``store`` defaults to its own, opened from the
    settings; ``sleep``, ``rng``, ``resolver`` and ``owner`` are for tests."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        resolver: Resolver = system_resolver,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._sleep = sleep
        self._rng = rng
        self._resolver = resolver
        self.owner = owner or default_owner()
        self.holding = False
        self.evaluations = 0
        self.last: Evaluation | None = None
        self.error: str | None = None
        self.outbox: Outbox | None = None
        self._seen: tuple[object, tuple[int, str]] | None = None
        self._evaluated_at: dt.datetime | None = None

    def __repr__(self) -> str:
        return "alerts"

    def status(self) -> dict[str, Any]:
        """For ``/readyz`` (``jobs.alerts``)."""
        stats = self.outbox.stats if self.outbox is not None else None
        return {
            "pid": os.getpid(),
            "holding_lease": self.holding,
            "evaluations": self.evaluations,
            "rules": None if self.last is None else self.last.rules,
            "idle_rules": None if self.last is None else dict(self.last.failed),
            "attempts": None if stats is None else stats.attempts,
            "delivered": None if stats is None else stats.delivered,
            "retries": None if stats is None else stats.retries,
            "dead": None if stats is None else stats.dead,
            "error": self.error,
        }

    async def __call__(self, hooks: AppHooks) -> None:
        settings = self.settings
        with contextlib.ExitStack() as stack:
            store = self._store
            if store is None:
                store = await asyncio.to_thread(open_store, settings.db, pool=settings.pg)
                stack.callback(store.close)
            sender = WebhookSender(settings.webhook, clock=hooks.clock, resolver=self._resolver)
            self.outbox = Outbox(store, sender, settings.webhook, clock=hooks.clock, rng=self._rng)
            evaluator = Evaluator(store, clock=hooks.clock, outlook=outlook_source(store))
            lease = Lease(
                store,
                LEASE_NAME,
                self.owner,
                ttl=dt.timedelta(seconds=settings.alerts.lease_seconds),
                clock=hooks.clock,
                doing="sending alerts",
            )
            hooks.register_status("alerts", self.status)
            try:
                await self.run(hooks, store, evaluator, lease)
            finally:
                await sender.aclose()
                if self.holding:
                    with contextlib.suppress(CoinseasonError):
                        await asyncio.to_thread(lease.release)

    async def run(self, hooks: AppHooks, store: Store, evaluator: Evaluator, lease: Lease) -> None:
        """Until cancelled: while there are rules or events to send, hold the lease, evaluate when something
        changed, send what is due; with neither, only look (on DuckDB a look costs a ``stat`` of the file)."""
        renewed: dt.datetime | None = None
        while True:
            try:
                now = hooks.clock()
                rules = await asyncio.to_thread(store.alert_rules_version)
                due = await asyncio.to_thread(store.next_alert_due)
                if rules[0] == 0 and due is None:
                    if self.holding:
                        await asyncio.to_thread(lease.release)
                        self.holding, renewed = False, None
                else:
                    if renewed is None or (now - renewed).total_seconds() >= lease.renew_every or not self.holding:
                        self.holding = await asyncio.to_thread(lease.take)
                        renewed = now if self.holding else None
                    if self.holding:
                        await self.step(hooks, evaluator, now, rules, due)
                self.error = None
            except CoinseasonError as exc:
                if self.error != str(exc):
                    log.warning("alerts: %s (trying again)", exc)
                self.error = str(exc)
            except Exception as exc:  # a bug must not stop alerts for the life of the server: log, go on
                log.exception("alerts: unexpected failure (trying again)")
                self.error = f"{type(exc).__name__}: {exc}"
            await self._sleep(self.settings.alerts.tick_seconds)

    async def step(
        self, hooks: AppHooks, evaluator: Evaluator, now: dt.datetime, rules: tuple[int, str], due: dt.datetime | None
    ) -> None:
        """One tick of the lease holder: evaluate when the data was reloaded (new data landed), the rules changed
        or ``evaluate_minutes`` passed; then send the events that are due."""
        analytics = hooks.analytics
        every = dt.timedelta(minutes=self.settings.alerts.evaluate_minutes)
        if rules[0] and (
            self._seen is None
            or self._seen[0] is not analytics
            or self._seen[1] != rules
            or self._evaluated_at is None
            or now - self._evaluated_at >= every
        ):
            self.last = await asyncio.to_thread(evaluator.evaluate, analytics)
            self.evaluations += 1
            self._seen = (analytics, rules)
            self._evaluated_at = now
            due = await asyncio.to_thread(evaluator.store.next_alert_due)
        if self.outbox is not None and due is not None and due <= now:
            await self.outbox.deliver_due()
