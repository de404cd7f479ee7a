"""Delivery from the outbox: at least once, retried with exponential back-off and jitter for a bounded time, then a
dead letter the user sees and can replay.

An event is written to the outbox (``alert_events``, status ``pending``) in the same transaction as the evaluation
that raised it; it is marked ``delivered`` only after the endpoint answered 2xx. A process killed in between sends
it again after its restart, so a receiver may see an event twice: it drops the repeat by the event's id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from coinseason.clock import Clock
from coinseason.services.alerts.delivery import Outcome, WebhookSender
from coinseason.settings import WebhookSettings
from coinseason.store.alert_records import DEAD, DELIVERED, PENDING, AlertEvent
from coinseason.store.protocols import AlertStore

__all__ = ["DeliveryStats", "Outbox", "retry_delay"]

log = logging.getLogger("coinseason.alerts")

PARALLEL_SENDS: Final = 8
BATCH: Final = 100


def retry_delay(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds before attempt ``attempt + 1`` after ``attempt`` failed ones: ``base * 2**(attempt-1)``, at most
    ``cap``, times a factor from 0.5 to 1 picked by ``jitter`` (0 to 1), so that endpoints that failed together
    are not retried together."""
    exponent = min(max(attempt - 1, 0), 60)
    return min(cap, base * 2.0**exponent) * (0.5 + 0.5 * jitter)


@dataclass
class DeliveryStats:
    """What this process's outbox did (for ``/readyz`` and the delivery figures)."""

    attempts: int = 0
    delivered: int = 0
    retries: int = 0
    dead: int = 0
    last_error: str | None = None
    by_status: dict[str, int] = field(default_factory=dict)


class Outbox:
    """Sends the due events of ``store`` through ``sender``; ``rng`` picks the jitter (tests pass their own)."""

    def __init__(
        self,
        store: AlertStore,
        sender: WebhookSender,
        settings: WebhookSettings,
        *,
        clock: Clock,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.sender = sender
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self.stats = DeliveryStats()
        self._slots = asyncio.Semaphore(PARALLEL_SENDS)

    async def deliver_due(self) -> int:
        """Try every event due now (up to a batch); how many were tried."""
        due = await asyncio.to_thread(self.store.due_alert_events, self.clock(), limit=BATCH)
        if due:
            await asyncio.gather(*(self._one(event) for event in due))
        return len(due)

    async def _one(self, event: AlertEvent) -> None:
        async with self._slots:
            endpoint = await asyncio.to_thread(self.store.webhook_endpoint, event.endpoint_id)
            if endpoint is None:
                outcome = Outcome(False, error=f"webhook endpoint {event.endpoint_id} is gone", permanent=True)
            else:
                outcome = await self.sender.send(
                    endpoint, event_id=event.id, event_type=event.type, payload=event.payload
                )
            await asyncio.to_thread(self.record, event, outcome)

    def record(self, event: AlertEvent, outcome: Outcome) -> str:
        """Write the attempt's outcome: delivered, due again later, or dead. Returns the new status."""
        now = self.clock()
        attempts = event.attempts + 1
        self.stats.attempts += 1
        if outcome.status is not None:
            key = str(outcome.status)
            self.stats.by_status[key] = self.stats.by_status.get(key, 0) + 1
        if outcome.delivered:
            self.store.update_delivery(
                event.id, status=DELIVERED, attempts=attempts, next_attempt_at=now, delivered_at=now
            )
            self.stats.delivered += 1
            return DELIVERED
        self.stats.last_error = outcome.error
        s = self.settings
        delay = retry_delay(attempts, base=s.retry_base_seconds, cap=s.retry_max_seconds, jitter=self.rng())
        next_at = now + dt.timedelta(seconds=delay)
        give_up_at = (event.due_since or event.created_at) + dt.timedelta(hours=s.give_up_hours)
        if outcome.permanent or next_at > give_up_at:
            self.store.update_delivery(
                event.id, status=DEAD, attempts=attempts, next_attempt_at=now, last_error=outcome.error
            )
            self.stats.dead += 1
            log.warning("alert event %s is a dead letter after %d attempt(s): %s", event.id, attempts, outcome.error)
            return DEAD
        self.store.update_delivery(
            event.id, status=PENDING, attempts=attempts, next_attempt_at=next_at, last_error=outcome.error
        )
        self.stats.retries += 1
        log.info("alert event %s not delivered (%s): next attempt in %.1f s", event.id, outcome.error, delay)
        return PENDING
