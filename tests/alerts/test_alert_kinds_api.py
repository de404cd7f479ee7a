"""The consensus, margin and outlook kinds through ``/v1/alerts`` and ``coinseason alerts add``: accepted with their
defaults, bad parameters named in a problem (API) or one line with exit code 2 (CLI), nothing stored for them."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from coinseason.cli.root import app as cli
from tests.alerts.test_alert_api import client, db, make_key

__all__ = ["client", "db"]  # the fixtures

HOOK = "https://example.com/hook"


def test_the_api_adds_consensus_and_margin_rules(client: TestClient, db: str) -> None:
    key = make_key(db, "k")
    made = client.post(
        "/v1/alerts",
        json={"name": "split", "kind": "consensus", "params": {"watch": "agreement", "top": 20}, "url": HOOK},
        headers={"X-API-Key": key},
    )
    assert made.status_code == 201, made.text
    assert made.json()["params"] == {
        "source": None,
        "watch": "agreement",
        "confirm_days": 3,
        "top": 20,
        "window": 90,
        "exclude": "default",
    }
    close = client.post(
        "/v1/alerts",
        json={"name": "close", "kind": "margin", "params": {"level": 2}, "url": HOOK},
        headers={"X-API-Key": key},
    )
    assert close.status_code == 201, close.text
    assert (close.json()["params"]["level"], close.json()["params"]["hysteresis"]) == (2, 1)
    listed = client.get("/v1/alerts", headers={"X-API-Key": key}).json()
    assert sorted(r["kind"] for r in listed) == ["consensus", "margin"]


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ({"kind": "outlook", "params": {"level": 0.6}}, "an outlook rule needs a trained model"),
        ({"kind": "outlook", "params": {"level": 60}}, "level must be from 0 to 1"),
        ({"kind": "margin", "params": {}}, "a margin rule needs level"),
        ({"kind": "margin", "params": {"level": 1.5}}, "level must be a whole number"),
        ({"kind": "consensus", "params": {"watch": "mood"}}, "watch must be majority or agreement"),
        ({"kind": "consensus", "params": {"season": "winter"}}, "season must be altcoin or neutral or bitcoin"),
        ({"kind": "consensus", "params": {"level": 75}}, "unknown parameter(s) for a rule of kind consensus: level"),
    ],
)
def test_bad_rules_of_the_new_kinds_are_a_problem_naming_the_field(
    client: TestClient, db: str, rule: dict[str, object], why: str
) -> None:
    key = make_key(db, "k")
    answer = client.post("/v1/alerts", json={"name": "x", "url": HOOK, **rule}, headers={"X-API-Key": key})
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    assert why in answer.json()["detail"]
    assert client.get("/v1/alerts", headers={"X-API-Key": key}).json() == []


def test_the_cli_adds_the_new_kinds_and_refuses_bad_ones_in_one_line(db: str) -> None:
    runner = CliRunner()
    prefix = make_key(db, "k").split("_")[1]
    base = ["alerts", "add", "--key", prefix, "--url", HOOK, "--db", db]
    added = runner.invoke(cli, [*base, "--name", "close", "--kind", "margin", "--level", "2", "--top", "20"])
    assert added.exit_code == 0, added.output
    added = runner.invoke(cli, [*base, "--name", "grid", "--kind", "consensus", "--season", "bitcoin"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["alerts", "list", "--format", "json", "--db", db])
    shown = {r["name"]: r["params"] for r in json.loads(listed.stdout)}
    assert shown == {
        "close": "confirm_days=1, exclude=default, hysteresis=1, level=2, top=20, window=90",
        "grid": "confirm_days=3, season=bitcoin, watch=majority",
    }
    for args, why in [
        (["--kind", "outlook", "--level", "0.6"], "an outlook rule needs a trained model"),
        (["--kind", "margin", "--level", "2.5"], "level must be a whole number"),
        (["--kind", "consensus", "--watch", "mood"], "watch must be majority or agreement"),
        (["--kind", "outlook", "--level", "0.6", "--target", "moon"], "target must be altcoin_season_entry"),
    ]:
        bad = runner.invoke(cli, [*base, "--name", "bad", *args])
        assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and why in bad.stderr, bad.output
