"""The client keeps up with the API: every operation of the app's OpenAPI has a client method (blocking and
asyncio), and an answer carrying fields this client does not know still reads (a server newer than its client),
while the API's own models go on refusing them."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import httpx
import orjson
import pytest
from pydantic import ValidationError

from coinseason.api.app import create_app
from coinseason.api.models import SeasonLatest
from coinseason.client import AsyncClient, Client, UnexpectedResponse
from coinseason.client.calls import ENDPOINTS
from coinseason.settings import Settings

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(tmp_path: Path) -> set[tuple[str, str]]:
    spec = create_app(Settings(db=str(tmp_path / "empty.duckdb"))).openapi()
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS and (path.startswith("/v1/") or path in ("/healthz", "/readyz"))
    }


def test_every_api_operation_has_a_client_method(tmp_path: Path) -> None:
    operations = _operations(tmp_path)
    assert ("GET", "/v1/season/consensus") in operations  # the app's OpenAPI is the one read
    assert sorted(operations - ENDPOINTS.keys()) == [], "API operations without a client method in ENDPOINTS"
    assert sorted(ENDPOINTS.keys() - operations) == [], "ENDPOINTS names operations the API does not have"
    for names in ENDPOINTS.values():
        for name in names:
            assert callable(getattr(Client, name, None)), f"Client.{name}"
            method = getattr(AsyncClient, name, None)
            assert method is not None, f"AsyncClient.{name}"
            assert inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method), f"AsyncClient.{name}"


LATEST = {
    "date": "2024-01-10",
    "as_of": "2024-01-10T00:00:00Z",
    "stale": True,
    "altcoin_season_index": 50.0,
    "bitcoin_season_index": 50.0,
    "value_rounded": 50.0,
    "season": "neutral",
    "season_since": "2024-01-03",
    "n_eligible": 2,
    "n_outperforming": 1,
    "btc_dominance": 60.0,
    "btc_dominance_basis": "member coins",
    "btc_dominance_whole_market": 58.0,
    "glance": {
        "changes": [],
        "since": "2023-01-11",
        "high_52w": 50.0,
        "high_52w_date": "2024-01-10",
        "low_52w": 50.0,
        "low_52w_date": "2024-01-10",
    },
    "methodology_version": "1",
    "method": {
        "source": "custom",
        "methodology_version": "1",
        "gap_days": 3,
        "exclusion": "default",
        "exclusion_list_version": "1",
        "excluded_classes": ["stablecoin"],
        "n_excluded": 1,
        "top": 3,
        "window": 2,
    },
}
"""A ``/v1/season/latest`` answer as this version of the API writes it."""


def _newer(answer: dict[str, object]) -> bytes:
    """``answer`` as a newer server might write it: a new field at the top and one inside a nested object."""
    method = answer["method"]
    assert isinstance(method, dict)
    return orjson.dumps({**answer, "new_top_field": [1, 2], "method": {**method, "new_method_field": "x"}})


def _serving(body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(200, content=body, headers={"content-type": "application/json"})
    )


def test_an_answer_with_fields_unknown_to_the_client_still_reads() -> None:
    body = _newer(LATEST)
    with pytest.raises(ValidationError, match="new_"):  # the API's models themselves still forbid them
        SeasonLatest.model_validate_json(body)
    with Client("http://coinseason.test", transport=_serving(body)) as client:
        latest = client.season_latest(top=3, window=2)
    assert latest.altcoin_season_index == 50.0 and latest.method.window == 2
    assert latest.btc_dominance_whole_market == 58.0 and latest.glance.since.isoformat() == "2023-01-11"
    assert "new_top_field" not in latest.model_dump() and "new_method_field" not in latest.method.model_dump()

    async def read() -> SeasonLatest:
        transport = httpx.MockTransport(
            lambda request: httpx.Response(200, content=body, headers={"content-type": "application/json"})
        )
        async with AsyncClient("http://coinseason.test", transport=transport) as client:
            return await client.season_latest()

    assert asyncio.run(read()) == latest


def test_a_list_answer_with_unknown_fields_still_reads() -> None:
    rule = {
        "id": "rul_0123456789abcdef",
        "name": "alt season",
        "kind": "season",
        "params": {"level": 75.0},
        "endpoint": {"id": "end_1", "url": "https://example.com/hook", "format": "json", "new_field": 1},
        "created_at": "2026-06-01T12:00:00Z",
        "armed_after": None,
        "new_field": True,
    }
    with Client("http://coinseason.test", api_key="k", transport=_serving(orjson.dumps([rule]))) as client:
        rules = client.alerts()
    assert [(r.id, r.endpoint.url, r.params) for r in rules] == [
        ("rul_0123456789abcdef", "https://example.com/hook", {"level": 75.0})
    ]


def test_a_missing_field_is_still_an_unexpected_answer() -> None:
    """Leniency is about new fields only: an answer without a documented field is not what the API documents."""
    shorter = {k: v for k, v in LATEST.items() if k != "season"}
    with Client("http://coinseason.test", transport=_serving(orjson.dumps(shorter))) as client:
        with pytest.raises(UnexpectedResponse, match="season"):
            client.season_latest()
