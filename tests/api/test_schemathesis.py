"""Schemathesis over the OpenAPI schema of the in-process app: no server error, no schema violation.

Every operation gets positive and negative cases (deterministic, so CI runs the same cases every time); every
response is checked against the schema: status code, content type, headers, body, and that invalid input is
refused and valid input accepted. The WebSocket stream is not in OpenAPI and is tested elsewhere.

Four ways in (OWASP API Security Top 10, 2023: API2 broken authentication, API8 security misconfiguration): anonymous
reads on without a key (every example), and, with fewer examples each, anonymous reads on with a valid key,
anonymous reads off with a valid key, and anonymous reads off without one (every /v1 answer a documented 401).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import APIOperation
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.schemas import OpenApiSchema

from coinseason.api.app import create_app
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.services.keys import KeyService
from coinseason.settings import ApiSettings, Settings
from coinseason.store import DuckDBStore
from tests.api.test_app import market_csv
from tests.conftest import fixed_clock

FRESH_NOW = dt.datetime(2024, 1, 10, 12, tzinfo=dt.UTC)
"""Half a day after the market's last day: the data is fresh, so /readyz answers 200 (not a 503 to excuse)."""


def fresh_clock() -> dt.datetime:
    return FRESH_NOW


Operation = APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Operation]

MAX_EXAMPLES = 40
"""Cases per operation and generation mode, anonymous reads on, no key."""
OTHER_EXAMPLES = 8
"""Cases per operation and generation mode in each of the other three ways in (a bound on CI time)."""


@dataclass(frozen=True)
class WayIn:
    name: str
    allow_anonymous: bool
    with_key: bool
    examples: int


WAYS_IN = [
    WayIn("anonymous", allow_anonymous=True, with_key=False, examples=MAX_EXAMPLES),
    WayIn("anonymous-keyed", allow_anonymous=True, with_key=True, examples=OTHER_EXAMPLES),
    WayIn("keyed", allow_anonymous=False, with_key=True, examples=OTHER_EXAMPLES),
    WayIn("keyed-without-key", allow_anonymous=False, with_key=False, examples=OTHER_EXAMPLES),
]


@dataclass(frozen=True)
class Fuzzed:
    schema: OpenApiSchema
    way: WayIn
    headers: dict[str, str]


ALERT_OPERATIONS = [
    "POST /v1/alerts",
    "GET /v1/alerts/events",
    "GET /v1/alerts/dead-letters",
    "POST /v1/alerts/dead-letters/{event_id}/replay",
    "GET /v1/alerts/{rule_id}",
    "DELETE /v1/alerts/{rule_id}",
    "POST /v1/alerts/{rule_id}/test",
]
"""Alerts need an API key (a header parameter): without one, every case is refused 401."""
WITH_PARAMETERS = [
    "GET /v1/season/latest",
    "GET /v1/season/history",
    "GET /v1/season/breakdown",
    "GET /v1/seasons",
    "GET /v1/dominance/latest",
    "GET /v1/dominance/history",
    "GET /v1/coins",
    "GET /v1/coins/{coin_id}/history",
    "GET /v1/signals",
    "POST /v1/backtests",
    "GET /v1/risk",
    "POST /v1/portfolio/rebalance",
    "GET /v1/outlook",
    "GET /v1/sentiment",
    "GET /v1/onchain",
    "GET /v1/correlations",
    *ALERT_OPERATIONS,
    "GET /v1/season/consensus",
    "GET /v1/season/consensus/history",
    "GET /v1/season/margin",
    "GET /v1/season/margin/history",
]
WITHOUT_PARAMETERS = ["GET /v1/methodology", "GET /healthz", "GET /readyz", "GET /metrics", "GET /v1/alerts"]
"""Operations without parameters (but the optional key header) have no invalid input: positive cases only."""
OPERATIONS = WITH_PARAMETERS + WITHOUT_PARAMETERS
CASES = [
    *[(label, mode) for label in WITH_PARAMETERS for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)],
    *[(label, GenerationMode.POSITIVE) for label in WITHOUT_PARAMETERS],
]


@pytest.fixture(scope="module", params=WAYS_IN, ids=[way.name for way in WAYS_IN])
def api_schema(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    way: WayIn = request.param
    root: Path = tmp_path_factory.mktemp("schemathesis")
    store = DuckDBStore(root / "api.duckdb")
    ImportService(store, clock=fixed_clock).import_file(market_csv(root / "m.csv"), FileFormat.TIDY)
    _, key = KeyService(store, clock=fixed_clock).create("schemathesis")
    api = ApiSettings(
        allow_anonymous=way.allow_anonymous,
        anonymous_rate_limit_per_minute=1_000_000,
        rate_limit_per_minute=1_000_000,
    )
    settings = Settings(db=str(root / "api.duckdb"), api=api)
    # the store is passed in: loading the schema runs the app's lifespan once, and a store the app opened itself
    # would be closed at its end
    app = create_app(settings, store=store, clock=fresh_clock)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Schema-valid requests may still break a rule OpenAPI cannot state: from <= to, a range of at most
    # max_range_days, bitcoin_at < altcoin_at, a source this store holds, a day inside the data, a cursor this API
    # gave out. Those are 422 problems (documented on every operation); every other refusal is a finding. Without
    # a key where one is required, every /v1 answer is a 401.
    accepted = [*PositiveDataAcceptanceConfig().expected_statuses, "422"]
    if not way.allow_anonymous and not way.with_key:
        accepted.append("401")
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(expected_statuses=accepted)
    try:
        yield Fuzzed(schema, way, {"X-API-Key": key} if way.with_key else {})
    finally:
        asgi.shutdown_lifespans()
        store.close()


def test_every_operation_is_fuzzed(api_schema: Fuzzed) -> None:
    labels = []
    for result in api_schema.schema.get_all_operations():
        assert isinstance(result, Ok), result  # the schema itself is valid
        labels.append(result.ok().label)
    assert sorted(labels) == sorted(OPERATIONS)


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label}-{mode.value}" for label, mode in CASES])
def test_operation_conforms_to_the_schema(api_schema: Fuzzed, label: str, mode: GenerationMode) -> None:
    method, path = label.split(" ", 1)
    operation = api_schema.schema[path][method]
    headers = api_schema.headers

    cases = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE and "source" in query_parameters(operation):
        # a random source name is only ever refused: send none (the store's only source) half of the time, so
        # that positive cases reach the computations
        cases = st.one_of(cases, cases.map(without_source))

    @hypothesis.settings(
        max_examples=api_schema.way.examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=cases)
    def check(case: Case) -> None:
        response = case.call_and_validate(headers=headers)  # every check schemathesis has, as configured above
        etag = response.headers.get("etag")
        if response.status_code == 200 and etag:
            # revalidation: the same request with the ETag it got answers 304, which the schema must allow
            again = case.call(headers={**headers, "If-None-Match": etag[0]})
            assert again.status_code == 304, again.status_code
            case.validate_response(again)

    check()


def query_parameters(operation: Operation) -> set[str]:
    return {parameter.name for parameter in operation.query}


def without_source(case: Case) -> Case:
    if case.query and "source" in case.query:
        case.query = {k: v for k, v in case.query.items() if k != "source"}
    return case
