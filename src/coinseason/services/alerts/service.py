"""Alert rules, their endpoints and their events, as the CLI and the API manage them: one service, two front ends.

Everything belongs to an API key: ``owner`` is its prefix (a request's key), or None for the operator at the
command line, who sees and manages every key's rules. A rule of another key is reported as not found.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from coinseason.clock import Clock
from coinseason.errors import ConfigError, NoDataError
from coinseason.services.alerts.delivery import Outcome, WebhookSender
from coinseason.services.alerts.evaluate import rule_view
from coinseason.services.alerts.payloads import FORMATS, event_id, event_payload
from coinseason.services.alerts.rules import rule_spec
from coinseason.services.alerts.signing import new_secret
from coinseason.services.alerts.ssrf import check_url
from coinseason.store.alert_records import DEAD, AlertEvent, AlertRule, WebhookEndpoint
from coinseason.store.protocols import AlertStore, KeyStore
from coinseason.store.records import ModelArtifact, SourceSummary

__all__ = ["AlertService", "NewRule", "send_test"]

NAME_MAX_LENGTH = 100
MAX_RULES_PER_KEY = 100
"""Live rules one key may have: each is evaluated whenever data lands."""


class AlertKeyStore(AlertStore, KeyStore, Protocol):
    """What the service needs: the alert tables, the API keys they belong to, and what data there is."""

    def sources(self) -> builtins.list[SourceSummary]: ...

    def model(self, version: str | None = None) -> ModelArtifact | None: ...


@dataclass(frozen=True, slots=True)
class NewRule:
    """A rule just added, its endpoint, and the endpoint's signing secret when the endpoint is new (shown once)."""

    rule: AlertRule
    endpoint: WebhookEndpoint
    new_secret: str | None


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class AlertService:
    """Adds, lists, removes and tests rules; lists and replays dead letters. ``clock`` gives the current time."""

    def __init__(self, store: AlertKeyStore, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def add(self, owner: str, *, name: str, kind: str, params: dict[str, Any], url: str, fmt: str = "json") -> NewRule:
        """A new rule of the key ``owner`` sending to ``url``: the key's endpoint with that URL is reused (with its
        secret), else a new one is made with a new secret."""
        key = self._store.api_key(owner)
        if key is None or not key.active:
            raise ConfigError(f"no active API key has the prefix {owner!r} (see `coinseason keys list`)")
        name = _checked_name(name)
        spec = rule_spec(kind, params)
        source = spec.params.get("source")
        if spec.kind == "outlook":
            model = self._store.model(None)
            if model is None:
                raise ConfigError("an outlook rule needs a trained model: run `coinseason model train` first")
            source = model.meta.get("source")  # the outlook's days are those of the model's source
        if len(self._store.alert_rules(owner)) >= MAX_RULES_PER_KEY:
            raise ConfigError(f"API key {owner} has {MAX_RULES_PER_KEY} alert rules, the most one key may have")
        check_url(url)
        if fmt not in FORMATS:
            raise ConfigError(f"webhook format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        now = self._clock()
        secret: str | None = None
        endpoint = next((e for e in self._store.webhook_endpoints(owner) if e.url == url and e.format == fmt), None)
        if endpoint is None:
            secret = new_secret()
            endpoint = WebhookEndpoint(_new_id("whe"), owner, url, secret, fmt, now)
            self._store.add_webhook_endpoint(endpoint)
        rule = AlertRule(
            _new_id("rul"), owner, name, spec.kind, spec.params, endpoint.id, now, armed_after=self._last_day(source)
        )
        self._store.add_alert_rule(rule)
        return NewRule(rule, endpoint, secret)

    def _last_day(self, source: str | None) -> dt.date | None:
        """The last day of data of the rule's source (of all, when it names none): a new rule is armed there, so
        only later transitions raise events; None while there is no data (the evaluator arms it later)."""
        days = [s.last_date for s in self._store.sources() if source in (None, s.source)]
        return max(days) if days else None

    def rules(self, owner: str | None) -> builtins.list[AlertRule]:
        return self._store.alert_rules(owner)

    def rule(self, owner: str | None, rule_id: str) -> AlertRule:
        """The live rule ``rule_id`` of ``owner``; :class:`NoDataError` when there is none."""
        rule = self._store.alert_rule(rule_id)
        if rule is None or rule.deleted_at is not None or (owner is not None and rule.key_prefix != owner):
            raise NoDataError(f"no alert rule {rule_id!r}")
        return rule

    def endpoint(self, rule: AlertRule) -> WebhookEndpoint:
        endpoint = self._store.webhook_endpoint(rule.endpoint_id)
        if endpoint is None:  # pragma: no cover - rules are written after their endpoint, never deleted
            raise NoDataError(f"the webhook endpoint of rule {rule.id} is gone")
        return endpoint

    def remove(self, owner: str | None, rule_id: str) -> AlertRule:
        """Delete the rule (its events stay, pending ones are still delivered)."""
        rule = self.rule(owner, rule_id)
        self._store.delete_alert_rule(rule.id, self._clock())
        return rule

    def events(
        self, owner: str | None, *, rule_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> builtins.list[AlertEvent]:
        return self._store.alert_events(key_prefix=owner, rule_id=rule_id, status=status, limit=limit)

    def dead_letters(self, owner: str | None, *, limit: int = 100) -> builtins.list[AlertEvent]:
        return self.events(owner, status=DEAD, limit=limit)

    def replay(self, owner: str | None, event_id_: str) -> AlertEvent:
        """Put a dead letter back in the outbox, due now, with a fresh round of retries."""
        event = self._store.alert_event(event_id_)
        if event is None or (owner is not None and event.key_prefix != owner):
            raise NoDataError(f"no alert event {event_id_!r}")
        if event.status != DEAD or not self._store.replay_alert_event(event.id, self._clock()):
            raise ConfigError(f"alert event {event.id} is {event.status}, not a dead letter: nothing to replay")
        found = self._store.alert_event(event.id)
        return found or event

    def test_event(self, owner: str | None, rule_id: str) -> tuple[WebhookEndpoint, str, str]:
        """An ``alert.test`` event of the rule, to send to its endpoint now, signed as every event (it is neither
        stored nor retried): ``(endpoint, event id, payload)``."""
        rule = self.rule(owner, rule_id)
        eid = event_id()
        payload = event_payload(
            id=eid,
            type="alert.test",
            created_at=self._clock(),
            rule=rule_view(rule),
            value=None,
            data_date=None,
            method=None,
        )
        return self.endpoint(rule), eid, payload


async def send_test(
    service: AlertService, owner: str | None, rule_id: str, sender: WebhookSender
) -> tuple[str, Outcome]:
    """Send the rule's test event (:meth:`AlertService.test_event`): its id and how the attempt went."""
    endpoint, eid, payload = await asyncio.to_thread(service.test_event, owner, rule_id)
    return eid, await sender.send(endpoint, event_id=eid, event_type="alert.test", payload=payload)


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ConfigError("an alert rule needs a name")
    if len(name) > NAME_MAX_LENGTH:
        raise ConfigError(f"an alert rule's name is at most {NAME_MAX_LENGTH} characters long, not {len(name)}")
    if not name.isprintable():
        raise ConfigError("an alert rule's name must not contain control characters such as line breaks")
    return name
