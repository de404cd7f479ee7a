"""Response headers: security headers on every answer (cached ready bytes, 304s, refusals, errors, the page, the
docs) and what shared caches are told: public only with anonymous reads on; private to the key, varying on
``X-API-Key``, when a key is required (reproductions 6 and 7 of the security issue).

The app runs in this process (Starlette's test client drives the whole ASGI stack, the front layer included).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from coinseason.server import create_app
from coinseason.services.keys import KeyService
from coinseason.settings import ApiSettings, Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock
from tests.security.edge_helpers import market_db_at

VIEW = {"top": 3, "window": 2}
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_secure(answer: httpx.Response) -> None:
    for name, value in SECURITY.items():
        assert answer.headers.get_list(name) == [value], (answer.request.url, name, answer.headers)
    policy = answer.headers.get_list("content-security-policy")
    assert len(policy) == 1, answer.headers
    directives = dict(part.strip().split(" ", 1) for part in policy[0].split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no other origin
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert not any("http" in value or "*" in value for value in directives.values()), directives


def client_for(root: Path, **api: object) -> Iterator[tuple[TestClient, str]]:
    db = market_db_at(root)
    store = DuckDBStore(db)
    try:
        _, key = KeyService(store, clock=fixed_clock).create("headers")
    finally:
        store.close()
    app = create_app(Settings(db=db, api=ApiSettings(**api)))  # type: ignore[arg-type]
    with TestClient(app) as client:
        yield client, key


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    yield from client_for(tmp_path_factory.mktemp("anonymous"))


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    yield from client_for(tmp_path_factory.mktemp("keyed"), allow_anonymous=False)


def test_every_kind_of_answer_carries_the_security_headers(anonymous: tuple[TestClient, str]) -> None:
    """API8 (security misconfiguration): CSP, nosniff, X-Frame-Options and Referrer-Policy on the first answer,
    the ready-bytes answer, a 304, a refusal, a 404, a 422, the page, its assets, the docs, health and metrics."""
    client, _ = anonymous
    first = client.get("/v1/season/latest", params=VIEW)
    again = client.get("/v1/season/latest", params=VIEW)  # from the ready-bytes cache, before FastAPI
    assert first.status_code == again.status_code == 200
    answers = [
        first,
        again,
        client.get("/v1/season/latest", params=VIEW, headers={"If-None-Match": again.headers["etag"]}),
        client.get("/v1/season/latest", params={**VIEW, "api_key": "x"}),  # a key in the URL: refused
        client.get("/v1/season/latest", params={"top": 0}),  # 422
        client.get("/v1/no-such-thing"),
        client.get("/no-such-page"),
        client.get("/"),
        client.get("/assets/app.js"),
        client.get("/docs"),
        client.get("/redoc"),
        client.get("/docs/assets/swagger-ui-bundle.js"),
        client.get("/openapi.json"),
        client.get("/healthz"),
        client.get("/metrics"),
    ]
    assert [a.status_code for a in answers] == [
        200,
        200,
        304,
        400,
        422,
        404,
        404,
        200,
        200,
        200,
        200,
        200,
        200,
        200,
        200,
    ]
    for answer in answers:
        assert_secure(answer)


def test_anonymous_reads_may_be_kept_by_shared_caches(anonymous: tuple[TestClient, str]) -> None:
    """API8: with anonymous reads on, the answer is everyone's: public, and it does not vary on the key."""
    client, _ = anonymous
    for _ in range(2):  # made by the route, then from the ready bytes
        answer = client.get("/v1/season/latest", params=VIEW)
        assert answer.headers["cache-control"] == "public, max-age=60"
        assert "x-api-key" not in answer.headers.get("vary", "").lower()


def test_keyed_answers_are_private_to_the_key(keyed: tuple[TestClient, str]) -> None:
    """API8 / API3 (broken object property level authorization: a keyed answer must not reach another client
    through a shared cache): with a key required, every answer says private and varies on X-API-Key: made by the
    route, from the ready bytes (plain and gzip), the 304, and the refusal without a key."""
    client, key = keyed
    headers = {"X-API-Key": key}
    answers = [
        client.get("/v1/season/latest", params=VIEW, headers=headers),
        client.get("/v1/season/latest", params=VIEW, headers=headers),
        client.get("/v1/season/history", params=VIEW, headers={**headers, "Accept-Encoding": "gzip"}),
        client.get("/v1/season/history", params=VIEW, headers={**headers, "Accept-Encoding": "gzip"}),
    ]
    etag = answers[1].headers["etag"]
    answers.append(client.get("/v1/season/latest", params=VIEW, headers={**headers, "If-None-Match": etag}))
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 304]
    refused = client.get("/v1/season/latest", params=VIEW)
    assert refused.status_code == 401
    for answer in [*answers, refused]:
        assert "public" not in answer.headers["cache-control"]
        assert "private" in answer.headers["cache-control"]
        vary = [v.strip().lower() for v in answer.headers.get("vary", "").split(",")]
        assert "x-api-key" in vary, answer.headers
        assert_secure(answer)


def test_cors_answers_carry_each_header_once(tmp_path: Path) -> None:
    """API8: with CORS on, a cross-origin read still carries each security header exactly once."""
    for client, _ in client_for(tmp_path, cors_origins=["https://example.org"]):
        for _ in range(2):
            answer = client.get("/v1/season/latest", params=VIEW, headers={"Origin": "https://example.org"})
            assert answer.status_code == 200
            assert answer.headers["access-control-allow-origin"] == "https://example.org"
            assert_secure(answer)
