"""``coinseason serve`` as a real process: the hand-made market over HTTP and WebSocket, keys made with the CLI,
an empty store, and the refusal of several workers on DuckDB.

One server serves the whole module (DuckDB allows one process per file, so both keys are created, and one of them
revoked, with ``coinseason keys`` before it starts); anonymous access is off, so every request carries a key.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from coinseason.api.app import create_app
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.settings import Settings
from coinseason.store import DuckDBStore
from tests.api.serve_helpers import Server, coinseason, serve
from tests.api.test_app import market_csv
from tests.conftest import fixed_clock

Q: dict[str, str | int] = {"top": 3, "window": 2}


@dataclass(frozen=True)
class Served:
    server: Server
    key: str
    revoked_key: str

    def client(self, *, key: str | None = None) -> httpx.Client:
        headers = {"X-API-Key": key if key is not None else self.key}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=10.0)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve")
    db = str(root / "served.duckdb")
    keys = []
    for name in ("tests", "old"):
        made = coinseason("keys", "create", "--name", name, "--db", db)
        assert made.returncode == 0, made.stderr
        keys.append(made.stdout.strip())
    key, revoked_key = keys
    revoked = coinseason("keys", "revoke", revoked_key, "--db", db)
    assert revoked.returncode == 0, revoked.stderr
    args = ["--db", db, "--import", str(market_csv(root / "m.csv")), "--format", "tidy"]
    with serve(args, log=root / "server.log", env={"COINSEASON_ALLOW_ANONYMOUS": "false"}) as server:
        yield Served(server=server, key=key, revoked_key=revoked_key)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The same market in a store of its own, served in-process: what the real process must answer."""
    root = tmp_path_factory.mktemp("in_process")
    store = DuckDBStore(root / "api.duckdb")
    ImportService(store, clock=fixed_clock).import_file(market_csv(root / "m.csv"), FileFormat.TIDY)
    store.close()
    with TestClient(create_app(Settings(db=str(root / "api.duckdb")), clock=fixed_clock)) as client:
        yield client


def test_season_and_dominance_match_the_in_process_values(served: Served, in_process: TestClient) -> None:
    with served.client() as client:
        latest = client.get("/v1/season/latest", params=Q)
        assert latest.status_code == 200, latest.text
        body = latest.json()
        # hand-computed (see test_app): fast beats BTC, slow does not -> 50, neutral since day 3
        assert body["altcoin_season_index"] == 50.0 and body["season"] == "neutral"
        assert body["season_since"] == "2024-01-03" and body["date"] == "2024-01-10"
        assert body["btc_dominance"] == pytest.approx(100 * 1e9 * 1.1**9 / (1e9 * 1.1**9 + 1e8 * 1.2**9 + 5e7))
        compared: list[tuple[str, dict[str, str | int]]] = [
            ("/v1/season/latest", Q),
            ("/v1/season/history", Q),
            ("/v1/season/history", {**Q, "interval": "week"}),
            ("/v1/dominance/latest", {"exclude": "none"}),
            ("/v1/dominance/history", {"universe": "top:2", "exclude": "none"}),
            ("/v1/seasons", {"top": 2, "window": 2}),
        ]
        for path, params in compared:
            real = client.get(path, params=params)
            assert real.status_code == 200, (path, real.text)
            # both clocks are years after the data: "stale" agrees too, so the bodies are equal byte for byte
            assert real.json() == in_process.get(path, params=params).json(), path
        history = client.get("/v1/season/history", params=Q).json()["values"]
    assert [(v["date"], v["value"]) for v in history[1:4]] == [
        ("2024-01-02", None),
        ("2024-01-03", 50.0),
        ("2024-01-04", 50.0),
    ]


def test_csv_export(served: Served) -> None:
    with served.client() as client:
        json_values = client.get("/v1/season/history", params=Q).json()["values"]
        r = client.get("/v1/season/history", params={**Q, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["date"] for row in rows] == [v["date"] for v in json_values]
    assert [float(row["value"]) if row["value"] else None for row in rows] == [v["value"] for v in json_values]


def test_etag_gives_304(served: Served) -> None:
    with served.client() as client:
        first = client.get("/v1/season/latest", params=Q)
        etag = first.headers["etag"]
        again = client.get("/v1/season/latest", params=Q, headers={"If-None-Match": etag})
        changed = client.get("/v1/season/latest", params=Q, headers={"If-None-Match": '"other"'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert changed.status_code == 200 and changed.content == first.content


def test_bad_parameter_is_a_problem_naming_it(served: Served) -> None:
    with served.client() as client:
        r = client.get("/v1/season/history", params={"top": 0, "window": 2})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and "top" in body["detail"]
    assert [e["parameter"] for e in body["errors"]] == ["top"]


def test_key_in_the_url_is_refused_and_never_logged(served: Served) -> None:
    secret = served.key.split("_", 2)[2]  # cs_<prefix>_<secret>: the prefix has no "_", the secret may
    with served.client() as client:
        r = client.get("/v1/season/latest", params={**Q, "api_key": served.key})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert "X-API-Key header" in r.json()["detail"]
    assert secret not in served.server.output()


def test_one_json_access_line_per_request(served: Served) -> None:
    with served.client() as client:
        r = client.get("/v1/season/latest", params=Q, headers={"X-Request-ID": "serve-process-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "serve-process-1"
    deadline = time.monotonic() + 5
    while True:  # the line is written once the response is out: give the server a moment
        lines = [orjson.loads(line) for line in served.server.output().splitlines() if line.startswith("{")]
        mine = [line for line in lines if line.get("request_id") == "serve-process-1"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    [line] = mine
    assert set(line) == {
        "ts", "level", "logger", "msg", "request_id", "method", "route", "path", "status", "duration_ms", "client",
    }  # fmt: skip
    assert (line["logger"], line["level"], line["msg"]) == ("coinseason.access", "INFO", "GET /v1/season/latest 200")
    assert (line["path"], line["status"], line["client"]) == ("/v1/season/latest", 200, "127.0.0.1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["ts"])


def test_keys_made_with_the_cli_open_the_api(served: Served) -> None:
    with served.client() as client:
        ok = client.get("/v1/season/latest", params=Q)
        assert ok.status_code == 200 and ok.headers["x-ratelimit-limit"] == "600"
        missing = client.get("/v1/season/latest", params=Q, headers={"X-API-Key": ""})
        assert client.get("/healthz", headers={"X-API-Key": ""}).status_code == 200  # health needs no key
    with httpx.Client(base_url=served.server.url, timeout=10.0) as anonymous:
        none = anonymous.get("/v1/season/latest", params=Q)
    assert none.status_code == 401 and none.headers["www-authenticate"] == "ApiKey"
    assert "X-API-Key" in none.json()["detail"]
    assert missing.status_code == 401
    with served.client(key=served.revoked_key) as client:
        revoked = client.get("/v1/season/latest", params=Q)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    with served.client(key=served.key[:-1] + ("A" if served.key[-1] != "A" else "B")) as client:
        assert client.get("/v1/season/latest", params=Q).status_code == 401


def test_stream_subscribe_is_acknowledged(served: Served) -> None:
    async def talk() -> tuple[object, object]:
        url = f"{served.server.ws_url}/v1/stream"
        async with asyncio.timeout(10), connect(url, additional_headers={"X-API-Key": served.key}) as ws:
            await ws.send(orjson.dumps({"subscribe": ["season", "dominance"]}).decode())
            ack = orjson.loads(await ws.recv())
            await ws.send("not json")
            error = orjson.loads(await ws.recv())
        return ack, error

    ack, error = asyncio.run(talk())
    assert ack == {"subscribed": ["dominance", "season"]}
    assert isinstance(error, dict) and "subscribe" in error["error"]


def stream_metrics(server: Server) -> dict[str, float]:
    """The ``coinseason_stream_*`` samples of the server's ``/metrics`` (which needs no key)."""
    body = httpx.get(f"{server.url}/metrics", timeout=10.0).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name.startswith("coinseason_stream_")
    }


def wait_for_subscribers(server: Server, count: int) -> dict[str, float]:
    """``/metrics`` once it counts ``count`` stream subscribers (a closed socket is let go in the server's time)."""
    deadline = time.monotonic() + 10
    while (found := stream_metrics(server))["coinseason_stream_subscribers"] != count:
        assert time.monotonic() < deadline, f"{found} after 10 s, not {count} subscribers"
        time.sleep(0.05)
    return found


def test_stream_metrics_count_the_open_subscriptions(served: Served) -> None:
    wait_for_subscribers(served.server, 0)  # the sockets of earlier tests are gone

    async def subscribed() -> dict[str, float]:
        url = f"{served.server.ws_url}/v1/stream"
        async with asyncio.timeout(20), connect(url, additional_headers={"X-API-Key": served.key}) as ws:
            await ws.send(orjson.dumps({"subscribe": ["season", "dominance"]}).decode())
            assert orjson.loads(await ws.recv()) == {"subscribed": ["dominance", "season"]}
            return await asyncio.to_thread(wait_for_subscribers, served.server, 1)

    during = asyncio.run(subscribed())
    assert during == {
        "coinseason_stream_subscribers": 1.0,
        "coinseason_stream_dropped_messages_total": 0.0,
        "coinseason_stream_delivered_messages_total": 0.0,  # no data landed: nothing pushed yet
    }
    assert wait_for_subscribers(served.server, 0)["coinseason_stream_subscribers"] == 0.0


def test_stream_without_a_key_is_refused(served: Served) -> None:
    async def attempt() -> None:
        async with asyncio.timeout(10), connect(f"{served.server.ws_url}/v1/stream"):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(attempt())
    assert refused.value.response.status_code == 403


def test_an_empty_store_still_serves(tmp_path: Path) -> None:
    with serve(["--db", str(tmp_path / "empty.duckdb")], log=tmp_path / "server.log") as server:
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            health = client.get("/healthz")
            ready = client.get("/readyz")
            latest = client.get("/v1/season/latest")
        assert "no data yet" in server.output()
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 503 and ready.json()["status"] == "not ready"
    assert "no data" in ready.json()["reasons"][0]
    assert latest.status_code == 404 and latest.headers["content-type"] == "application/problem+json"
    assert "empty" in latest.json()["detail"] and "import" in latest.json()["detail"]


def test_several_workers_on_duckdb_are_refused_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "one-writer.duckdb"
    result = coinseason("serve", "--workers", "2", "--db", str(db), "--port", "1", timeout=30)
    assert result.returncode == 2
    message = " ".join(result.stderr.split())  # the line may be wrapped at the console's width when piped
    assert message.startswith("error: several workers need a PostgreSQL store") and "DuckDB" in message
    assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
    assert not db.exists()  # refused before touching the store
