"""A real ``coinseason serve`` over PostgreSQL, started with a password in ``--db`` and used with an API key,
including the ways a careless or hostile client puts the key in the URL (issue reproduction 5): neither the key nor
the password is anywhere in what the server wrote (start-up banner, access and error logs) or in ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.api.serve_helpers import Server, coinseason, serve
from tests.conftest import small_market_csv
from tests.security.bounds_support import PROBLEM_JSON, Q

PASSWORD = "Pw-7f3b9e-never-logged"  # noqa: S105 - the secret the test looks for
"""PostgreSQL on 127.0.0.1 trusts local connections: the password is sent and ignored, as a real one is sent."""


@dataclass(frozen=True)
class Run:
    server: Server
    key: str
    output: str
    metrics: str
    answers: dict[str, int]


def with_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{PASSWORD}@{host}"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One served run, requests made and the server stopped (its whole output read afterwards)."""
    from tests.store.postgres_server import fresh_database

    root = tmp_path_factory.mktemp("secrets")
    with fresh_database() as url:
        db = with_password(url)
        made = coinseason("keys", "create", "--name", "secrets", "--db", db)
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip()
        args = ["--db", db, "--import", str(small_market_csv(root / "m.csv")), "--format", "tidy"]
        env = {"COINSEASON_ALLOW_ANONYMOUS": "false", "COINSEASON_INGEST": "false"}
        answers: dict[str, int] = {}
        with serve(args, log=root / "server.log", env=env) as server:
            with httpx.Client(base_url=server.url, timeout=10.0) as client:
                keyed = {"X-API-Key": key}
                answers["header"] = client.get("/v1/season/latest", params=Q, headers=keyed).status_code
                answers["path"] = client.get(f"/v1/season/latest;api_key={key}", params=Q).status_code
                answers["path-keyed"] = client.get(f"/v1/season/latest;api_key={key}", headers=keyed).status_code
                answers["path-encoded"] = client.get(f"/v1/season/latest%3Bkey%3D{key}").status_code
                answers["bare-path"] = client.get(f"/v1/season/latest;{key}").status_code
                answers["query"] = client.get("/v1/season/latest", params={**Q, "api_key": key}).status_code
                answers["wrong"] = client.get("/v1/season/latest", headers={"X-API-Key": key + "x"}).status_code
                problem = client.get(f"/v1/season/latest;api_key={key}")
                assert problem.headers["content-type"] == PROBLEM_JSON and key not in problem.text
                answers["ws-path"] = asyncio.run(_ws_status(f"{server.ws_url}/v1/stream;api_key={key}"))
                metrics = client.get("/metrics").text
        yield Run(server=server, key=key, output=server.output(), metrics=metrics, answers=answers)


async def _ws_status(url: str) -> int:
    """The HTTP status a WebSocket handshake to ``url`` got (101 when it was accepted)."""
    try:
        async with asyncio.timeout(10), connect(url) as ws:
            with contextlib.suppress(Exception):
                await ws.recv()
            return 101 if ws.close_code is None else ws.close_code
    except InvalidStatus as refused:
        return refused.response.status_code


def test_keys_in_the_path_or_the_query_are_refused(run: Run) -> None:
    """API2:2023 Broken Authentication (keys in URLs end up in logs, proxies and histories): a path parameter is
    refused with 400 even beside a valid key, as a key in the query is."""
    assert run.answers["header"] == 200
    for way in ("path", "path-keyed", "path-encoded", "bare-path", "query"):
        assert run.answers[way] == 400, (way, run.answers)
    assert run.answers["wrong"] == 401
    assert run.answers["ws-path"] in (403, 1008), run.answers


def test_neither_the_key_nor_the_password_is_in_the_logs_or_the_metrics(run: Run) -> None:
    """API8:2023 Security Misconfiguration (secrets in logs and metrics): the whole output of the run and a scrape
    of /metrics, searched for the key, its secret part and the database password."""
    secret_part = run.key.split("_", 2)[2]  # cs_<prefix>_<secret>: the secret may itself hold "_"
    assert len(secret_part) >= 32
    for where, text in (("output", run.output), ("metrics", run.metrics)):
        assert run.key not in text, where
        assert secret_part not in text, where
        assert PASSWORD not in text, where
    # the banner and the access lines were written (the search above looked at something)
    assert "coinseason serving http://127.0.0.1" in run.output and ":[redacted]@127.0.0.1" in run.output
    assert '"path":"/v1/season/latest;[redacted]"' in run.output
    assert "coinseason_http_requests_total" in run.metrics
