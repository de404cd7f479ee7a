"""The outbox in both stores: an event is pending until a 2xx, retried with exponential back-off and jitter for a
bounded time, then a dead letter that can be replayed; rules and events belong to one key."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from coinseason.errors import ConfigError, NoDataError
from coinseason.services.alerts.delivery import WebhookSender
from coinseason.services.alerts.outbox import Outbox, retry_delay
from coinseason.services.alerts.service import AlertService
from coinseason.settings import WebhookSettings
from coinseason.store.alert_records import AlertEvent
from coinseason.store.protocols import Store
from tests.alerts.conftest import Clock, new_key
from tests.alerts.receiver import Answer, Receiver, signature_ok


def test_retry_delays_double_up_to_the_cap_with_jitter_between_half_and_whole() -> None:
    assert [retry_delay(n, base=10, cap=60, jitter=1.0) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    assert [retry_delay(n, base=10, cap=60, jitter=0.0) for n in (1, 2, 3)] == [5, 10, 20]
    assert retry_delay(1000, base=10, cap=60, jitter=0.5) == 45.0


def pending_event(store: Store, service: AlertService, url: str, clock: Clock) -> tuple[AlertEvent, str]:
    key = new_key(store)
    made = service.add(key, name="r", kind="dominance", params={"level": 50}, url=url)
    assert made.new_secret is not None
    now = clock()
    event = AlertEvent(
        id="evt_" + "0" * 32, rule_id=made.rule.id, key_prefix=key, endpoint_id=made.endpoint.id,
        type="dominance.above", data_date=dt.date(2026, 1, 6), transition="above", active=True,
        payload='{"id":"evt_00000000000000000000000000000000"}', created_at=now, next_attempt_at=now, due_since=now,
    )  # fmt: skip
    store.record_alert_events([event], [], {})
    return event, made.new_secret


def run_outbox(outbox: Outbox) -> int:
    async def go() -> int:
        try:
            return await outbox.deliver_due()
        finally:
            await outbox.sender.aclose()

    return asyncio.run(go())


def make_outbox(store: Store, clock: Clock, **fields: object) -> Outbox:
    settings = WebhookSettings(allow_hosts=["127.0.0.1"], **fields)  # type: ignore[arg-type]
    return Outbox(store, WebhookSender(settings, clock=clock), settings, clock=clock, rng=lambda: 1.0)


def test_failures_are_retried_then_dead_then_replayed_and_delivered(any_store: Store, clock: Clock) -> None:
    service = AlertService(any_store, clock=clock)
    with Receiver(default=Answer(status=503)) as receiver:
        event, secret = pending_event(any_store, service, receiver.url, clock)
        settings = {"retry_base_seconds": 10.0, "retry_max_seconds": 40.0, "give_up_hours": 100 / 3600}
        # attempt 1 at t=0 fails: next at +10 s; attempt 2 at 10 s: +20 s; attempt 3 at 30 s: +40 s = 70 s;
        # attempt 4 at 70 s: +40 s would be 110 s, past the 100 s bound: dead after 4 attempts
        for at, attempts in ((0, 1), (10, 2), (30, 3)):
            clock.now = event.created_at + dt.timedelta(seconds=at)
            assert run_outbox(make_outbox(any_store, clock, **settings)) == 1
            stored = any_store.alert_event(event.id)
            assert stored is not None and (stored.status, stored.attempts) == ("pending", attempts)
            assert run_outbox(make_outbox(any_store, clock, **settings)) == 0  # not due again yet
        clock.now = event.created_at + dt.timedelta(seconds=70)
        assert run_outbox(make_outbox(any_store, clock, **settings)) == 1
        dead = any_store.alert_event(event.id)
        assert dead is not None and (dead.status, dead.attempts, dead.last_error) == ("dead", 4, "answered 503")
        assert [e.id for e in service.dead_letters(None)] == [event.id]
        assert len(receiver.received) == 4

        receiver.default = Answer(status=204)
        with pytest.raises(NoDataError):
            service.replay(new_key(any_store, "someone else"), event.id)  # another key's: not found
        replayed = service.replay(dead.key_prefix, event.id)
        assert (replayed.status, replayed.attempts) == ("pending", 0)
        with pytest.raises(ConfigError, match="not a dead letter"):
            service.replay(None, event.id)
        assert run_outbox(make_outbox(any_store, clock, **settings)) == 1
    done = any_store.alert_event(event.id)
    assert done is not None and (done.status, done.attempts) == ("delivered", 1)
    assert len(receiver.received) == 5 and len(set(receiver.event_ids())) == 1
    assert all(signature_ok(secret, r, now=clock().timestamp()) for r in receiver.received)
    assert any_store.delivery_counts() == {"delivered": (1, 1)}


def test_a_refusal_is_a_dead_letter_at_once(any_store: Store, clock: Clock) -> None:
    service = AlertService(any_store, clock=clock)
    with Receiver(default=Answer(status=410)) as receiver:
        event, _ = pending_event(any_store, service, receiver.url, clock)
        run_outbox(make_outbox(any_store, clock))
    dead = any_store.alert_event(event.id)
    assert dead is not None and (dead.status, dead.attempts) == ("dead", 1)


def test_rules_belong_to_their_key(any_store: Store, clock: Clock) -> None:
    service = AlertService(any_store, clock=clock)
    mine, theirs = new_key(any_store, "mine"), new_key(any_store, "theirs")
    first = service.add(mine, name="a", kind="season", params={}, url="https://example.com/h")
    second = service.add(mine, name="b", kind="season", params={"season": "bitcoin"}, url="https://example.com/h")
    assert second.new_secret is None and second.endpoint.id == first.endpoint.id  # one endpoint, one secret
    assert second.rule.params["level"] == 25.0 and second.rule.params["confirm_days"] == 3
    service.add(theirs, name="c", kind="dominance", params={"level": 55}, url="https://example.com/h")
    assert sorted(r.name for r in service.rules(mine)) == ["a", "b"]
    assert sorted(r.name for r in service.rules(None)) == ["a", "b", "c"]
    with pytest.raises(NoDataError):
        service.remove(theirs, first.rule.id)
    version = any_store.alert_rules_version()
    assert service.remove(mine, first.rule.id).id == first.rule.id
    assert any_store.alert_rules_version() != version
    assert [r.name for r in service.rules(mine)] == ["b"]
    with pytest.raises(NoDataError):
        service.rule(mine, first.rule.id)


@pytest.mark.parametrize(
    ("kind", "params", "why"),
    [
        ("weather", {}, "alert kind"),
        ("season", {"level": 120}, "level must be from 0 to 100"),
        ("season", {"season": "eth"}, "season must be altcoin or bitcoin"),
        ("season", {"confirm_days": 0}, "confirm_days must be from 1"),
        ("season", {"colour": "red"}, "unknown parameter"),
        ("dominance", {}, "needs level"),
        ("dominance", {"level": 50, "universe": "top:x"}, "universe"),
    ],
)
def test_bad_rules_are_refused_with_what_is_wrong(
    store: Store, clock: Clock, kind: str, params: dict[str, object], why: str
) -> None:
    service = AlertService(store, clock=clock)
    with pytest.raises(ConfigError, match=why):
        service.add(new_key(store), name="x", kind=kind, params=params, url="https://example.com/h")
    assert store.alert_rules() == []


def test_a_rule_needs_an_active_key_and_a_safe_url(store: Store, clock: Clock) -> None:
    service = AlertService(store, clock=clock)
    with pytest.raises(ConfigError, match="no active API key"):
        service.add("nokey123", name="x", kind="season", params={}, url="https://example.com/h")
    with pytest.raises(ConfigError, match="user name or password"):
        service.add(new_key(store), name="x", kind="season", params={}, url="https://a:b@example.com/h")


def test_a_key_has_a_bounded_number_of_rules(store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("coinseason.services.alerts.service.MAX_RULES_PER_KEY", 2)
    service = AlertService(store, clock=clock)
    key = new_key(store)
    for name in ("a", "b"):
        service.add(key, name=name, kind="season", params={}, url="https://example.com/h")
    with pytest.raises(ConfigError, match="2 alert rules, the most"):
        service.add(key, name="c", kind="season", params={}, url="https://example.com/h")
    assert len(service.add(new_key(store, "other"), name="c", kind="season", params={}, url="https://e.com/h").rule.id)
