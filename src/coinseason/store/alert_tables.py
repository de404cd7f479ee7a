"""The alert tables, their queries (the same text in DuckDB and PostgreSQL, ``?`` placeholders) and
:class:`AlertTables`, the :class:`~coinseason.store.protocols.AlertStore` both backends share: each gives it one
way to read rows and one way to run statements in a single transaction."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from coinseason.store.alert_records import DEAD, PENDING, AlertEvent, AlertRule, WebhookEndpoint
from coinseason.store.records import utc

Statement = tuple[str, Sequence[Any]]


def alert_ddl(*, key: str) -> str:
    """The alert tables; ``key`` is the dialect's type of compared text columns."""
    return f"""
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id {key} PRIMARY KEY, key_prefix {key} NOT NULL, url VARCHAR NOT NULL, secret VARCHAR NOT NULL,
    format VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_rules (
    id {key} PRIMARY KEY, key_prefix {key} NOT NULL, name VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    params VARCHAR NOT NULL, endpoint_id {key} NOT NULL, created_at TIMESTAMPTZ NOT NULL, armed_after DATE,
    deleted_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS alert_events (
    id {key} PRIMARY KEY, rule_id {key} NOT NULL, key_prefix {key} NOT NULL, endpoint_id {key} NOT NULL,
    type VARCHAR NOT NULL, data_date DATE, transition VARCHAR, active BOOLEAN NOT NULL, payload VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, status VARCHAR NOT NULL, attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL, due_since TIMESTAMPTZ NOT NULL, last_error VARCHAR,
    delivered_at TIMESTAMPTZ
);
"""


ALERT_INDEXES: Final = """
CREATE INDEX IF NOT EXISTS alert_events_due ON alert_events (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS alert_events_rule ON alert_events (rule_id, active);
"""
"""PostgreSQL's indexes of the outbox, read every second by each replica (DuckDB scans its small table)."""

ENDPOINT_COLUMNS: Final = "id, key_prefix, url, secret, format, created_at"
RULE_COLUMNS: Final = "id, key_prefix, name, kind, params, endpoint_id, created_at, armed_after, deleted_at"
EVENT_COLUMNS: Final = (
    "id, rule_id, key_prefix, endpoint_id, type, data_date, transition, active, payload, created_at, status,"
    " attempts, next_attempt_at, due_since, last_error, delivered_at"
)
ADD_ENDPOINT: Final = f"INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608 - constant text
ENDPOINTS: Final = f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints"  # noqa: S608 - constant text
ADD_RULE: Final = f"INSERT INTO alert_rules ({RULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 - constant text
RULES: Final = f"SELECT {RULE_COLUMNS} FROM alert_rules"  # noqa: S608 - constant text
DELETE_RULE: Final = "UPDATE alert_rules SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL RETURNING id"
ARM_RULE: Final = "UPDATE alert_rules SET armed_after = ? WHERE id = ? AND armed_after IS NULL"
RULES_VERSION: Final = "SELECT count(*) + count(deleted_at) + count(armed_after), max(created_at) FROM alert_rules"
ADD_EVENT: Final = f"INSERT INTO alert_events ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 16)})"  # noqa: S608 - constant text
EVENTS: Final = f"SELECT {EVENT_COLUMNS} FROM alert_events"  # noqa: S608 - constant text
REVOKE_EVENT: Final = "UPDATE alert_events SET active = false WHERE id = ?"
UPDATE_DELIVERY: Final = (
    "UPDATE alert_events SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, delivered_at = ?"
    " WHERE id = ? AND status = ? RETURNING id"
)
REPLAY: Final = (
    "UPDATE alert_events SET status = 'pending', attempts = 0, next_attempt_at = ?, due_since = ?, last_error = NULL"
    " WHERE id = ? AND status = 'dead' RETURNING id"
)
NEXT_DUE: Final = "SELECT min(next_attempt_at) FROM alert_events WHERE status = 'pending'"
DELIVERY_COUNTS: Final = "SELECT status, count(*), coalesce(sum(attempts), 0) FROM alert_events GROUP BY status"


def endpoint_row(endpoint: WebhookEndpoint) -> tuple[Any, ...]:
    e = endpoint
    return (e.id, e.key_prefix, e.url, e.secret, e.format, utc(e.created_at))


def endpoint_record(row: Sequence[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(row[0], row[1], row[2], row[3], row[4], utc(row[5]))


def rule_row(rule: AlertRule) -> tuple[Any, ...]:
    r = rule
    deleted = utc(r.deleted_at) if r.deleted_at else None
    params = json.dumps(r.params, sort_keys=True)
    return (r.id, r.key_prefix, r.name, r.kind, params, r.endpoint_id, utc(r.created_at), r.armed_after, deleted)


def rule_record(row: Sequence[Any]) -> AlertRule:
    return AlertRule(
        id=row[0],
        key_prefix=row[1],
        name=row[2],
        kind=row[3],
        params=json.loads(row[4]),
        endpoint_id=row[5],
        created_at=utc(row[6]),
        armed_after=row[7],
        deleted_at=utc(row[8]) if row[8] else None,
    )


def event_row(event: AlertEvent) -> tuple[Any, ...]:
    e = event
    now = utc(e.created_at)
    return (
        e.id,
        e.rule_id,
        e.key_prefix,
        e.endpoint_id,
        e.type,
        e.data_date,
        e.transition,
        e.active,
        e.payload,
        now,
        e.status,
        e.attempts,
        utc(e.next_attempt_at) if e.next_attempt_at else now,
        utc(e.due_since) if e.due_since else now,
        e.last_error,
        utc(e.delivered_at) if e.delivered_at else None,
    )


def event_record(row: Sequence[Any]) -> AlertEvent:
    return AlertEvent(
        id=row[0],
        rule_id=row[1],
        key_prefix=row[2],
        endpoint_id=row[3],
        type=row[4],
        data_date=row[5],
        transition=row[6],
        active=bool(row[7]),
        payload=row[8],
        created_at=utc(row[9]),
        status=row[10],
        attempts=int(row[11]),
        next_attempt_at=utc(row[12]),
        due_since=utc(row[13]),
        last_error=row[14],
        delivered_at=utc(row[15]) if row[15] else None,
    )


def _where(conditions: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """`` WHERE a = ? AND …`` of the conditions whose value is not None (a value True means ``IS NULL`` of the
    column named after ``null:``)."""
    parts: list[str] = []
    params: list[Any] = []
    for column, value in conditions.items():
        if value is None:
            continue
        if column.startswith("null:"):
            parts.append(f"{column[5:]} IS NULL")
        else:
            parts.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


class AlertTables:
    """The :class:`~coinseason.store.protocols.AlertStore` methods over two primitives of the backend."""

    def _alert_rows(self, query: str, params: Sequence[Any], doing: str) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""
        raise NotImplementedError

    def _alert_write(self, statements: Sequence[Statement], doing: str) -> list[list[tuple[Any, ...]]]:
        """Run ``statements`` in one transaction; the rows each returned (``RETURNING``)."""
        raise NotImplementedError

    # -- endpoints and rules ------------------------------------------------------------------------------

    def add_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self._alert_write([(ADD_ENDPOINT, endpoint_row(endpoint))], f"webhook endpoint {endpoint.id} not written")

    def webhook_endpoints(self, key_prefix: str | None = None) -> list[WebhookEndpoint]:
        where, params = _where({"key_prefix": key_prefix})
        rows = self._alert_rows(ENDPOINTS + where + " ORDER BY created_at, id", params, "reading webhook endpoints")
        return [endpoint_record(r) for r in rows]

    def webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        rows = self._alert_rows(ENDPOINTS + " WHERE id = ?", [endpoint_id], "reading a webhook endpoint")
        return endpoint_record(rows[0]) if rows else None

    def add_alert_rule(self, rule: AlertRule) -> None:
        self._alert_write([(ADD_RULE, rule_row(rule))], f"alert rule {rule.id} not written")

    def alert_rules(self, key_prefix: str | None = None, *, deleted: bool = False) -> list[AlertRule]:
        where, params = _where({"key_prefix": key_prefix, "null:deleted_at": None if deleted else True})
        rows = self._alert_rows(RULES + where + " ORDER BY created_at, id", params, "reading alert rules")
        return [rule_record(r) for r in rows]

    def alert_rule(self, rule_id: str) -> AlertRule | None:
        rows = self._alert_rows(RULES + " WHERE id = ?", [rule_id], "reading an alert rule")
        return rule_record(rows[0]) if rows else None

    def delete_alert_rule(self, rule_id: str, at: dt.datetime) -> bool:
        done = self._alert_write([(DELETE_RULE, [utc(at), rule_id])], f"alert rule {rule_id} not deleted")
        return bool(done[0])

    def alert_rules_version(self) -> tuple[int, str]:
        rows = self._alert_rows(RULES_VERSION, [], "reading the alert rules' version")
        return int(rows[0][0]), str(rows[0][1])

    # -- events (the outbox) --------------------------------------------------------------------------------

    def record_alert_events(
        self, new: Sequence[AlertEvent], revoked: Sequence[str], armed: Mapping[str, dt.date]
    ) -> None:
        statements: list[Statement] = [(REVOKE_EVENT, [event_id]) for event_id in revoked]
        statements += [(ADD_EVENT, event_row(event)) for event in new]
        statements += [(ARM_RULE, [day, rule_id]) for rule_id, day in armed.items()]
        if statements:
            self._alert_write(statements, "alert events not written, none was")

    def alert_events(
        self,
        *,
        key_prefix: str | None = None,
        rule_id: str | None = None,
        status: str | None = None,
        active: bool | None = None,
        limit: int = 1000,
    ) -> list[AlertEvent]:
        where, params = _where({"key_prefix": key_prefix, "rule_id": rule_id, "status": status, "active": active})
        rows = self._alert_rows(
            EVENTS + where + " ORDER BY created_at, id LIMIT ?", [*params, limit], "reading alert events"
        )
        return [event_record(r) for r in rows]

    def alert_event(self, event_id: str) -> AlertEvent | None:
        rows = self._alert_rows(EVENTS + " WHERE id = ?", [event_id], "reading an alert event")
        return event_record(rows[0]) if rows else None

    def due_alert_events(self, now: dt.datetime, *, limit: int = 100) -> list[AlertEvent]:
        rows = self._alert_rows(
            EVENTS + " WHERE status = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at, id LIMIT ?",
            [PENDING, utc(now), limit],
            "reading the alert outbox",
        )
        return [event_record(r) for r in rows]

    def update_delivery(
        self,
        event_id: str,
        *,
        status: str,
        attempts: int,
        next_attempt_at: dt.datetime,
        last_error: str | None = None,
        delivered_at: dt.datetime | None = None,
    ) -> bool:
        params = [status, attempts, utc(next_attempt_at), last_error, utc(delivered_at) if delivered_at else None]
        done = self._alert_write(
            [(UPDATE_DELIVERY, [*params, event_id, PENDING])], f"delivery of alert event {event_id} not recorded"
        )
        return bool(done[0])

    def replay_alert_event(self, event_id: str, now: dt.datetime) -> bool:
        done = self._alert_write([(REPLAY, [utc(now), utc(now), event_id])], f"alert event {event_id} not replayed")
        return bool(done[0])

    def next_alert_due(self) -> dt.datetime | None:
        rows = self._alert_rows(NEXT_DUE, [], "reading the alert outbox")
        return utc(rows[0][0]) if rows and rows[0][0] is not None else None

    def delivery_counts(self) -> dict[str, tuple[int, int]]:
        rows = self._alert_rows(DELIVERY_COUNTS, [], "counting alert deliveries")
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}


__all__ = ["ALERT_INDEXES", "DEAD", "AlertTables", "alert_ddl"]
