"""The bodies webhooks carry: coinseason's own JSON event, and the ready formats of chat services (Slack and
Discord incoming webhooks, Telegram's ``sendMessage``), which take a line of text."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import orjson

from coinseason.errors import ConfigError

__all__ = ["FORMATS", "event_id", "event_payload", "format_body", "summary"]

FORMATS: Final = ("json", "slack", "discord", "telegram")
DISCORD_LIMIT: Final = 2000
"""Characters of a Discord message's ``content``."""


def event_id() -> str:
    """A new event id: ``evt_`` and 32 hex digits (random)."""
    return f"evt_{uuid.uuid4().hex}"


def event_payload(
    *,
    id: str,  # noqa: A002 - the event's field is named id
    type: str,  # noqa: A002 - the event's field is named type
    created_at: dt.datetime,
    rule: Mapping[str, Any],
    value: float | None,
    data_date: dt.date | None,
    method: Mapping[str, Any] | None,
    transition: str | None = None,
    revokes: Mapping[str, Any] | None = None,
) -> str:
    """The JSON event (sorted keys, so the stored text is stable): id, type, when it was raised, the rule, the
    value and the day of data it is about (``data_date``), how the series is made (``method``) and, for an
    ``alert.revoked`` event, the event it takes back."""
    body: dict[str, Any] = {
        "id": id,
        "type": type,
        "created_at": created_at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "rule": dict(rule),
        "transition": transition,
        "value": value,
        "data_date": data_date.isoformat() if data_date else None,
        "method": dict(method) if method is not None else None,
    }
    if revokes is not None:
        body["revokes"] = dict(revokes)
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()


def summary(payload: Mapping[str, Any]) -> str:
    """One line a person reads: what happened, to which rule, at what value, on which day."""
    rule = payload.get("rule") or {}
    name = rule.get("name") or rule.get("id") or "coinseason alert"
    value = payload.get("value")
    shown = f" at {value:.2f}" if isinstance(value, int | float) else ""
    day = f" on {payload['data_date']}" if payload.get("data_date") else ""
    kind = payload.get("type", "alert")
    if kind == "alert.revoked":
        gone = (payload.get("revokes") or {}).get("type", "an alert")
        return f"coinseason: {name}: revised data no longer shows {gone}{day}; that alert is withdrawn"
    if kind == "alert.test":
        return f"coinseason: {name}: test event, delivery works"
    return f"coinseason: {name}: {kind}{shown}{day}"


def format_body(fmt: str, payload: str, url: str) -> bytes:
    """What is POSTed to an endpoint of format ``fmt``: the event itself (``json``) or a chat message."""
    if fmt == "json":
        return payload.encode()
    text = summary(orjson.loads(payload))
    if fmt == "slack":
        return orjson.dumps({"text": text})
    if fmt == "discord":
        return orjson.dumps({"content": text[:DISCORD_LIMIT]})
    if fmt == "telegram":
        chat = parse_qs(urlsplit(url).query).get("chat_id")
        if not chat:
            raise ConfigError("a telegram endpoint's URL names the chat: …/bot<TOKEN>/sendMessage?chat_id=<ID>")
        return orjson.dumps({"chat_id": chat[0], "text": text})
    raise ConfigError(f"webhook format must be one of {', '.join(FORMATS)}, not {fmt!r}")
