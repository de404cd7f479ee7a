"""``/v1/alerts``: a key's alert rules, its events and dead letters. Every route needs an API key, and shows and
changes only that key's rules and events (another key's are "not found")."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from coinseason.api.deps import StateDep
from coinseason.api.state import ApiState
from coinseason.services.alerts.delivery import WebhookSender
from coinseason.services.alerts.payloads import FORMATS
from coinseason.services.alerts.rules import KINDS
from coinseason.services.alerts.service import AlertService, send_test
from coinseason.store.alert_records import AlertEvent, AlertRule, WebhookEndpoint

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

RuleId = Annotated[str, Path(pattern=r"^rul_[0-9a-f]{16}$", description="the rule's id")]
EventId = Annotated[str, Path(pattern=r"^evt_[0-9a-f]{32}$", description="the event's id")]


class AlertCreate(BaseModel):
    """A new rule: what to watch and where to send its events."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=100, description="what the rule is for")
    kind: Literal["season", "dominance", "consensus", "margin", "outlook"] = Field(
        description=f"one of {', '.join(KINDS)}"
    )
    params: dict[str, str | int | float | None] = Field(
        default_factory=dict,
        max_length=20,
        description="season: season, level, hysteresis, confirm_days, top, window, exclude, source; "
        "dominance: level, hysteresis, confirm_days, universe, exclude, source; "
        "consensus: watch (majority or agreement), season (majority), confirm_days, top, window, exclude "
        "(agreement), source; margin: level (coins), hysteresis, confirm_days, top, window, exclude, source; "
        "outlook: target, level (probability 0-1), hysteresis (needs a trained model)",
    )
    url: str = Field(max_length=2048, description="the webhook endpoint (https:// or http://)")
    format: Literal["json", "slack", "discord", "telegram"] = Field(
        default="json", description=f"body format: {', '.join(FORMATS)}"
    )


class EndpointOut(BaseModel):
    id: str
    url: str
    format: str


class AlertOut(BaseModel):
    id: str
    name: str
    kind: str
    params: dict[str, Any]
    endpoint: EndpointOut
    created_at: dt.datetime
    armed_after: dt.date | None = Field(description="transitions after this day raise events (set at first look)")


class AlertCreated(AlertOut):
    secret: str | None = Field(
        description="the endpoint's signing secret, shown once when the endpoint is new (else null: the secret of "
        "the key's endpoint with this URL is kept)"
    )


class EventOut(BaseModel):
    id: str
    rule_id: str
    type: str
    data_date: dt.date | None
    active: bool
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    last_error: str | None
    delivered_at: dt.datetime | None
    payload: dict[str, Any]


class TestOut(BaseModel):
    event_id: str
    delivered: bool
    status: int | None
    error: str | None


async def owner_key(state: StateDep, x_api_key: Annotated[str | None, Header()] = None) -> str:
    """The prefix of the request's API key: alerts belong to a key, so one is needed even to read."""
    if x_api_key is None:
        raise HTTPException(401, "alerts need an API key in the X-API-Key header", {"WWW-Authenticate": "ApiKey"})
    record = await asyncio.to_thread(state.keys.verify, x_api_key)
    if record is None:
        raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "ApiKey"})
    return record.prefix


Owner = Annotated[str, Depends(owner_key)]


def _service(state: ApiState) -> AlertService:
    return AlertService(state.store, clock=state.clock)


def _alert(rule: AlertRule, endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "kind": rule.kind,
        "params": rule.params,
        "endpoint": {"id": endpoint.id, "url": endpoint.url, "format": endpoint.format},
        "created_at": rule.created_at,
        "armed_after": rule.armed_after,
    }


def _event(event: AlertEvent) -> EventOut:
    return EventOut(
        id=event.id,
        rule_id=event.rule_id,
        type=event.type,
        data_date=event.data_date,
        active=event.active,
        status=event.status,
        attempts=event.attempts,
        created_at=event.created_at,
        next_attempt_at=event.next_attempt_at if event.status == "pending" else None,
        last_error=event.last_error,
        delivered_at=event.delivered_at,
        payload=orjson.loads(event.payload),
    )


@router.post("", status_code=201, response_model=AlertCreated, summary="Add an alert rule of your key")
async def add_alert(body: AlertCreate, state: StateDep, owner: Owner) -> AlertCreated:
    service = _service(state)
    made = await asyncio.to_thread(
        lambda: service.add(
            owner, name=body.name, kind=body.kind, params=dict(body.params), url=body.url, fmt=body.format
        )  # fmt: skip
    )
    return AlertCreated(**_alert(made.rule, made.endpoint), secret=made.new_secret)


@router.get("", response_model=list[AlertOut], summary="Your key's alert rules")
async def list_alerts(state: StateDep, owner: Owner) -> list[AlertOut]:
    service = _service(state)

    def build() -> list[AlertOut]:
        return [AlertOut(**_alert(rule, service.endpoint(rule))) for rule in service.rules(owner)]

    return await asyncio.to_thread(build)


@router.get("/events", response_model=list[EventOut], summary="Your key's alert events and their delivery")
async def list_events(
    state: StateDep,
    owner: Owner,
    rule_id: Annotated[str | None, Query(pattern=r"^rul_[0-9a-f]{16}$")] = None,
    status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventOut]:
    events = await asyncio.to_thread(_service(state).events, owner, rule_id=rule_id, status=status, limit=limit)
    return [_event(e) for e in events]


@router.get("/dead-letters", response_model=list[EventOut], summary="Your key's events that could not be delivered")
async def dead_letters(
    state: StateDep, owner: Owner, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[EventOut]:
    events = await asyncio.to_thread(_service(state).dead_letters, owner, limit=limit)
    return [_event(e) for e in events]


@router.post(
    "/dead-letters/{event_id}/replay", response_model=EventOut, summary="Send a dead letter again (new retries)"
)
async def replay(event_id: EventId, state: StateDep, owner: Owner) -> EventOut:
    return _event(await asyncio.to_thread(_service(state).replay, owner, event_id))


@router.get("/{rule_id}", response_model=AlertOut, summary="One of your key's alert rules")
async def get_alert(rule_id: RuleId, state: StateDep, owner: Owner) -> AlertOut:
    service = _service(state)

    def build() -> AlertOut:
        rule = service.rule(owner, rule_id)
        return AlertOut(**_alert(rule, service.endpoint(rule)))

    return await asyncio.to_thread(build)


@router.delete("/{rule_id}", status_code=204, summary="Remove an alert rule (its pending events are still sent)")
async def remove_alert(rule_id: RuleId, state: StateDep, owner: Owner) -> Response:
    await asyncio.to_thread(_service(state).remove, owner, rule_id)
    return Response(status_code=204)


@router.post("/{rule_id}/test", response_model=TestOut, summary="Send a signed test event to the rule's endpoint now")
async def test_alert(rule_id: RuleId, state: StateDep, owner: Owner) -> TestOut:
    sender = WebhookSender(state.settings.webhook, clock=state.clock)
    try:
        eid, outcome = await send_test(_service(state), owner, rule_id, sender)
    finally:
        await sender.aclose()
    return TestOut(event_id=eid, delivered=outcome.delivered, status=outcome.status, error=outcome.error)
