"""``/v1/alerts`` and ``coinseason alerts``: keys required, each key sees only its own rules, bad input named in a
problem (API) or one line with exit code 2 (CLI), and a signed test event on demand."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from coinseason.api.app import create_app
from coinseason.cli.root import app as cli
from coinseason.services.keys import KeyService
from coinseason.settings import Settings, WebhookSettings
from coinseason.store import open_store
from coinseason.store.alert_records import AlertEvent
from tests.alerts.receiver import Receiver, signature_ok

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "store.duckdb")


def make_key(db: str, name: str) -> str:
    store = open_store(db)
    try:
        return KeyService(store, clock=lambda: NOW).create(name)[1]
    finally:
        store.close()


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    settings = Settings(db=db, webhook=WebhookSettings(allow_hosts=["127.0.0.1"]))
    with TestClient(create_app(settings)) as c:
        yield c


def rule(url: str = "https://example.com/hook", **params: object) -> dict[str, object]:
    return {"name": "alt season", "kind": "season", "params": {"top": 5, "window": 1, **params}, "url": url}


def test_alerts_need_a_key_and_each_key_sees_only_its_own(client: TestClient, db: str) -> None:
    mine, theirs = make_key(db, "mine"), make_key(db, "theirs")
    refused = client.get("/v1/alerts")
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert client.post("/v1/alerts", json=rule(), headers={"X-API-Key": "cs_nothing"}).status_code == 401

    made = client.post("/v1/alerts", json=rule(), headers={"X-API-Key": mine})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["params"]["level"] == 75.0 and body["armed_after"] is None
    again = client.post("/v1/alerts", json=rule(season="bitcoin"), headers={"X-API-Key": mine}).json()
    assert again["secret"] is None and again["endpoint"]["id"] == body["endpoint"]["id"]

    assert {r["id"] for r in client.get("/v1/alerts", headers={"X-API-Key": mine}).json()} == {body["id"], again["id"]}
    assert client.get("/v1/alerts", headers={"X-API-Key": theirs}).json() == []
    for method in ("GET", "DELETE"):
        hidden = client.request(method, f"/v1/alerts/{body['id']}", headers={"X-API-Key": theirs})
        assert hidden.status_code == 404 and hidden.headers["content-type"] == "application/problem+json"
    assert client.post(f"/v1/alerts/{body['id']}/test", headers={"X-API-Key": theirs}).status_code == 404

    assert client.delete(f"/v1/alerts/{body['id']}", headers={"X-API-Key": mine}).status_code == 204
    assert client.get(f"/v1/alerts/{body['id']}", headers={"X-API-Key": mine}).status_code == 404
    assert [r["id"] for r in client.get("/v1/alerts", headers={"X-API-Key": mine}).json()] == [again["id"]]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"params": {"level": 150}}, "level must be from 0 to 100"),
        ({"params": {"confirm_days": "soon"}}, "confirm_days must be a whole number"),
        ({"params": {"wat": 1}}, "unknown parameter"),
        ({"url": "https://user:pw@example.com/h"}, "user name or password"),
        ({"url": "gopher://example.com/h"}, "https://"),
        ({"kind": "weather"}, "kind"),
        ({"format": "fax"}, "format"),
    ],
)
def test_bad_rules_are_a_problem_naming_what_is_wrong(
    client: TestClient, db: str, change: dict[str, object], why: str
) -> None:
    key = make_key(db, "k")
    answer = client.post("/v1/alerts", json={**rule(), **change}, headers={"X-API-Key": key})
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    assert why in answer.text
    assert client.get("/v1/alerts", headers={"X-API-Key": key}).json() == []


def test_a_test_event_is_sent_signed_now(client: TestClient, db: str) -> None:
    key = make_key(db, "k")
    with Receiver() as receiver:
        made = client.post("/v1/alerts", json=rule(receiver.url), headers={"X-API-Key": key}).json()
        sent = client.post(f"/v1/alerts/{made['id']}/test", headers={"X-API-Key": key})
    assert sent.status_code == 200 and sent.json()["delivered"] is True and sent.json()["status"] == 200
    (got,) = receiver.received
    assert got.json()["type"] == "alert.test" and got.json()["id"] == sent.json()["event_id"]
    assert signature_ok(made["secret"], got)


def test_dead_letters_are_listed_and_replayed(client: TestClient, db: str) -> None:
    key = make_key(db, "k")
    made = client.post("/v1/alerts", json=rule(), headers={"X-API-Key": key}).json()
    event_id = "evt_" + "a" * 32
    store = open_store(db)
    try:
        store.record_alert_events(
            [AlertEvent(id=event_id, rule_id=made["id"], key_prefix=key.split("_")[1],
                        endpoint_id=made["endpoint"]["id"], type="season.entered", data_date=dt.date(2026, 1, 6),
                        transition="entered", active=True, payload='{"id": "x"}', created_at=NOW, status="dead",
                        attempts=7, last_error="answered 503")],
            [], {},
        )  # fmt: skip
    finally:
        store.close()
    other = make_key(db, "other")
    assert client.get("/v1/alerts/dead-letters", headers={"X-API-Key": other}).json() == []
    (dead,) = client.get("/v1/alerts/dead-letters", headers={"X-API-Key": key}).json()
    assert (dead["id"], dead["attempts"], dead["last_error"]) == (event_id, 7, "answered 503")
    assert client.post(f"/v1/alerts/dead-letters/{event_id}/replay", headers={"X-API-Key": other}).status_code == 404
    replayed = client.post(f"/v1/alerts/dead-letters/{event_id}/replay", headers={"X-API-Key": key})
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending" and replayed.json()["attempts"] == 0
    assert client.post(f"/v1/alerts/dead-letters/{event_id}/replay", headers={"X-API-Key": key}).status_code == 422
    (pending,) = client.get("/v1/alerts/events?status=pending", headers={"X-API-Key": key}).json()
    assert pending["id"] == event_id


def test_the_cli_manages_rules_and_refuses_bad_input_in_one_line(db: str) -> None:
    runner = CliRunner()
    key = make_key(db, "k")
    prefix = key.split("_")[1]
    added = runner.invoke(cli, ["alerts", "add", "--key", prefix, "--name", "doms", "--kind", "dominance",
                                "--level", "55", "--url", "https://example.com/h", "--db", db])  # fmt: skip
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    assert secret.startswith("whsec_") and "\n" not in secret
    listed = runner.invoke(cli, ["alerts", "list", "--format", "json", "--db", db])
    assert listed.exit_code == 0, listed.output
    (shown,) = json.loads(listed.stdout)
    assert shown["name"] == "doms" and "level=55.0" in shown["params"] and shown["url"] == "https://example.com/h"
    rule_id = shown["id"]

    bad = runner.invoke(cli, ["alerts", "add", "--key", prefix, "--name", "x", "--url", "ftp://example.com/h",
                              "--db", db])  # fmt: skip
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "https://" in bad.stderr
    unknown = runner.invoke(cli, ["alerts", "remove", "rul_0000000000000000", "--db", db])
    assert unknown.exit_code == 2 and "no alert rule" in unknown.stderr

    assert runner.invoke(cli, ["alerts", "remove", rule_id, "--db", db]).exit_code == 0
    assert "no alert rules yet" in runner.invoke(cli, ["alerts", "list", "--db", db]).stdout
    assert "no dead letters" in runner.invoke(cli, ["alerts", "dead", "--db", db]).stdout
