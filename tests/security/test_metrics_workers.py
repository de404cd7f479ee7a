"""Metrics that do not lie: with two worker processes, every scrape of ``/metrics`` sums both workers and no
counter ever goes back (reproduction 9 of the security issue: a counter read 111, 87, 111); every answer is
labelled with its route template, refusals included, and only unknown paths are ``<unmatched>``.

The two-worker test runs a real ``coinseason serve --workers 2`` (each server ``serve`` can run) over a throw-away
PostgreSQL database (DuckDB serves one worker).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from coinseason.api.http.limits import MemoryRateLimiter
from coinseason.providers.files import FileFormat
from coinseason.server import create_app
from coinseason.services.importing import ImportService
from coinseason.services.keys import KeyService
from coinseason.settings import ApiSettings, Settings
from coinseason.store import open_store
from tests.conftest import fixed_clock, small_market_csv
from tests.security.edge_helpers import SERVERS, market_db_at, serving
from tests.store.postgres_server import fresh_database

VIEW = {"top": 3, "window": 2}
REQUESTS = 120
SCRAPES = 12
_SAMPLE = re.compile(
    r'^coinseason_http_requests_total\{(?P<labels>(?:[^"}]|"[^"]*")*)\} (?P<value>[0-9.e+]+)$', re.MULTILINE
)


def counts(text: str) -> dict[tuple[str, str], float]:
    """``coinseason_http_requests_total`` by (route, status), summed over methods."""
    found: dict[tuple[str, str], float] = {}
    for match in _SAMPLE.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        key = (labels["route"], labels["status"])
        found[key] = found.get(key, 0.0) + float(match["value"])
    return found


@pytest.fixture(scope="module")
def postgres_market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("metrics-pg")
    with fresh_database() as url:
        store = open_store(url)
        try:
            ImportService(store, clock=fixed_clock).import_file(small_market_csv(root / "m.csv"), FileFormat.TIDY)
        finally:
            store.close()
        yield url


@pytest.mark.parametrize("kind", SERVERS)
def test_two_workers_scrape_as_one(kind: str, postgres_market: str, tmp_path: Path) -> None:
    """API9 (improper inventory management: the metrics an operator watches must be true): 120 requests spread
    over two workers by 8 connections at once, scraped twelve times as they run and once after: no scrape ever
    goes back, and the last one counts all 120 (one worker's own figure would be short of it)."""
    with serving(kind, postgres_market, tmp_path, args=["--workers", "2"]) as server:

        def get(_: int) -> int:
            with httpx.Client(base_url=server.url, timeout=10.0) as client:
                return client.get("/v1/season/latest", params=VIEW).status_code

        def scrape() -> float:
            with httpx.Client(base_url=server.url, timeout=10.0) as client:
                text = client.get("/metrics").text
            return counts(text).get(("/v1/season/latest", "200"), 0.0)

        seen: list[float] = []
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = pool.map(get, range(REQUESTS))
            for _ in range(SCRAPES):
                seen.append(scrape())
            statuses = list(answers)
        seen.append(scrape())
        log = server.output()
    assert statuses == [200] * REQUESTS
    assert seen == sorted(seen), f"a scrape went back: {seen}"
    assert seen[-1] == REQUESTS, seen
    assert log.count("Spawning worker-") == 2 or log.count("Started server process") >= 2


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    root = tmp_path_factory.mktemp("labels")
    db = market_db_at(root)
    store = open_store(db)
    try:
        _, key = KeyService(store, clock=fixed_clock).create("labels")
    finally:
        store.close()
    settings = Settings(db=db, api=ApiSettings(allow_anonymous=False, rate_limit_per_minute=2))
    with TestClient(create_app(settings, limiter=MemoryRateLimiter())) as client:
        yield client, key


def test_refusals_are_labelled_with_their_route(keyed: tuple[TestClient, str]) -> None:
    """API9: a 401 (no key, a wrong key) and a 429 (over the key's limit of 2 a minute) are counted under the
    route they asked for, as the answers are; only a path no route serves is ``<unmatched>``."""
    keyed, key = keyed
    statuses = [keyed.get("/v1/season/latest", params=VIEW, headers={"X-API-Key": key}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    keyed.get("/v1/season/latest", params=VIEW)
    keyed.get("/v1/season/latest", params=VIEW, headers={"X-API-Key": "cs_wrong_key"})
    keyed.get("/v1/coins/nobody/history", headers={"X-API-Key": "cs_wrong_key"})
    keyed.get("/v1/no/such/route")
    found = counts(keyed.get("/metrics").text)
    assert found[("/v1/season/latest", "401")] == 2
    assert found[("/v1/season/latest", "200")] == 2
    assert found[("/v1/season/latest", "429")] == 1
    assert found[("/v1/coins/{coin_id}/history", "401")] == 1
    assert found[("<unmatched>", "401")] == 1
