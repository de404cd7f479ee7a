"""Client identity: ``X-Forwarded-For`` chooses the per-IP rate-limit identity only when the request comes from a
proxy named in ``COINSEASON_FORWARDED_ALLOW_IPS`` (none by default), on both servers ``serve`` can run.

Reproduction 4 of the security issue: 300 requests from 127.0.0.1 with a new ``X-Forwarded-For`` each all got 200
against an anonymous limit of 120, because uvicorn believed the header from 127.0.0.1.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from coinseason.errors import ConfigError
from coinseason.settings import Settings
from tests.api.serve_helpers import Server
from tests.security.edge_helpers import SERVERS, market_db_at, serving

LIMIT = 120
REQUESTS = 300
VIEW = {"top": 3, "window": 2}
"""A view the small market can answer."""
LIMITED = {"COINSEASON_ANONYMOUS_RATE_LIMIT_PER_MINUTE": str(LIMIT)}


def rotating(server: Server, count: int, *, same: str | None = None) -> Counter[int]:
    """``count`` anonymous requests, each with another X-Forwarded-For (or all with ``same``); the status counts."""
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        for n in range(count):
            forwarded = same or f"203.0.{n // 250}.{n % 250 + 1}"
            headers = {"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"}
            answer = client.get("/v1/season/latest", params=VIEW, headers=headers)
            statuses[answer.status_code] += 1
    return statuses


@pytest.fixture(scope="module", params=SERVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def root(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(f"proxy-{kind}")


@pytest.fixture(scope="module")
def db(root: Path) -> str:
    return market_db_at(root)


def test_forwarded_for_is_ignored_by_default(kind: str, db: str, root: Path) -> None:
    """API4 (unrestricted resource consumption) / API8 (security misconfiguration): with no proxy configured, a
    rotating X-Forwarded-For from 127.0.0.1 does not escape the per-IP limit: 120 answered, 180 refused."""
    with serving(kind, db, root / "default", LIMITED) as server:
        statuses = rotating(server, REQUESTS)
    assert statuses == Counter({200: LIMIT, 429: REQUESTS - LIMIT})


def test_forwarded_for_is_the_client_behind_a_configured_proxy(kind: str, db: str, root: Path) -> None:
    """API8: with 127.0.0.1 configured as the proxy, each forwarded address is a client of its own (all 300 are
    answered), and one forwarded address alone is limited at 120."""
    env = {**LIMITED, "COINSEASON_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with serving(kind, db, root / "proxied", env) as server:
        assert rotating(server, REQUESTS) == Counter({200: REQUESTS})
        assert rotating(server, REQUESTS, same="198.51.100.7") == Counter({200: LIMIT, 429: REQUESTS - LIMIT})


def test_a_proxy_list_that_is_not_addresses_is_refused() -> None:
    """API8: a mistyped proxy list is an error naming the variable, not a silent trust of nothing (or all)."""
    with pytest.raises(ConfigError, match="COINSEASON_FORWARDED_ALLOW_IPS"):
        Settings.from_env(server={"forwarded_allow_ips": "10.0.0.1, proxy.internal"})
    assert Settings.from_env(server={"forwarded_allow_ips": "10.0.0.1, 10.1.0.0/16"}).server.forwarded_allow_ips == [
        "10.0.0.1",
        "10.1.0.0/16",
    ]
