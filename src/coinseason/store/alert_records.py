"""What the store keeps for alerts: webhook endpoints, alert rules, and the events they raised, which are also the
outbox of their delivery."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final, Literal

DeliveryStatus = Literal["pending", "delivered", "dead"]
"""An event's delivery: waiting to be (re)sent, received by the endpoint (a 2xx), or given up (a dead letter)."""

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where a key's events go: a URL, the secret that signs each request to it, and the body format."""

    id: str
    key_prefix: str
    url: str
    secret: str = field(repr=False)
    format: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A rule of one API key: what to watch (``kind`` and ``params``) and where to tell (``endpoint_id``).

    ``armed_after``: only transitions dated after this day raise events (None until the evaluator first saw the
    rule, which arms it at the last day of data then: no alert for old news)."""

    id: str
    key_prefix: str
    name: str
    kind: str
    params: dict[str, Any]
    endpoint_id: str
    created_at: dt.datetime
    armed_after: dt.date | None = None
    deleted_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One event a rule raised, and its delivery (the outbox row).

    ``transition`` and ``data_date`` identify what the event announced (``entered`` on a day); ``active`` is True
    for an announced transition the data still shows, False once a later event revoked it (and for revocations and
    tests themselves). ``payload`` is the JSON body, written once, so every attempt sends the same bytes."""

    id: str
    rule_id: str
    key_prefix: str
    endpoint_id: str
    type: str
    data_date: dt.date | None
    transition: str | None
    active: bool
    payload: str
    created_at: dt.datetime
    status: str = PENDING
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    due_since: dt.datetime | None = None
    """When the current round of attempts began (its creation, or its last replay): retries stop after a bound."""
    last_error: str | None = None
    delivered_at: dt.datetime | None = None
