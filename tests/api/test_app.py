"""The v1 API in-process: every endpoint over a small hand-made market, errors, keys, limits, cache, stream."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from coinseason.api.app import create_app
from coinseason.errors import ConfigError
from coinseason.services.keys import KeyService
from coinseason.settings import ApiSettings, Settings
from coinseason.store import DuckDBStore
from tests.api.conftest import UNREACHABLE_REDIS_URL
from tests.conftest import SMALL_MARKET_DAYS, fixed_clock, small_market_csv

DAYS = SMALL_MARKET_DAYS
market_csv = small_market_csv  # other API test modules import it from here


@pytest.fixture
def db(market_db: str) -> str:
    """The small market's store (other API test modules import this fixture from here)."""
    return market_db


def client_for(db: str, **api: Any) -> TestClient:
    """A client of the app over ``db`` with these API settings (``COINSEASON_*`` names without the prefix)."""
    settings = Settings(db=db, api=ApiSettings(**api))
    return TestClient(create_app(settings, clock=fixed_clock))


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with client_for(db) as c:
        yield c


Q = {"top": 3, "window": 2}


def test_season_latest(client: TestClient) -> None:
    r = client.get("/v1/season/latest", params=Q)
    assert r.status_code == 200, r.text
    body = r.json()
    # top 3 (tether excluded) = BTC, fast, slow: fast beats BTC, slow does not -> 50; neutral since day 3
    assert body["altcoin_season_index"] == 50.0 and body["bitcoin_season_index"] == 50.0
    assert body["season"] == "neutral" and body["season_since"] == "2024-01-03"
    assert body["date"] == "2024-01-10" and body["stale"] is True  # fixed clock is in 2026
    assert body["n_eligible"] == 2 and body["n_outperforming"] == 1
    assert body["btc_dominance"] == pytest.approx(100 * 1e9 * 1.1**9 / (1e9 * 1.1**9 + 1e8 * 1.2**9 + 5e7))
    assert body["method"]["exclusion"] == "default" and body["method"]["top"] == 3


def test_season_history_json_csv_and_intervals(client: TestClient) -> None:
    body = client.get("/v1/season/history", params={**Q, "from": "2024-01-02", "to": "2024-01-04"}).json()
    assert [(v["date"], v["value"]) for v in body["values"]] == [
        ("2024-01-02", None),
        ("2024-01-03", 50.0),
        ("2024-01-04", 50.0),
    ]
    assert body["method"]["window"] == 2
    r = client.get("/v1/season/history", params={**Q, "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0])[:2] == ["date", "value"] and len(rows) == 10
    weekly = client.get("/v1/season/history", params={**Q, "interval": "week"}).json()["values"]
    assert [w["date"] for w in weekly] == ["2024-01-01", "2024-01-08"]  # ISO weeks start on Monday


def test_breakdown_and_seasons(client: TestClient) -> None:
    body = client.get("/v1/season/breakdown", params={**Q, "date": "2024-01-05"}).json()
    assert body["date"] == "2024-01-05"
    assert [(v["coin_id"], v["beats_btc"]) for v in body["values"]] == [
        ("bitcoin", False),
        ("fast", True),
        ("slow", False),
    ]
    periods = client.get("/v1/seasons", params={"top": 2, "window": 2}).json()["values"]
    assert [(p["season"], p["start"], p["days"]) for p in periods] == [("altcoin", "2024-01-03", 8)]


def test_dominance(client: TestClient) -> None:
    latest = client.get("/v1/dominance/latest", params={"exclude": "none"}).json()
    total = 1e9 * 1.1**9 + 1e8 * 1.2**9 + 5e7 + 9e8
    assert latest["btc_dominance"] == pytest.approx(100 * 1e9 * 1.1**9 / total)
    assert latest["stablecoin_dominance"] == pytest.approx(100 * 9e8 / total)
    hist = client.get("/v1/dominance/history", params={"universe": "top:2", "exclude": "none"}).json()
    assert hist["values"][0]["value"] == pytest.approx(100 * 1e9 / 1.9e9)
    monthly = client.get("/v1/dominance/history", params={"interval": "month", "format": "csv"})
    assert monthly.text.startswith("date,value")


def test_coins_pagination_and_history(client: TestClient) -> None:
    first = client.get("/v1/coins", params={"limit": 2}).json()
    assert [c["coin_id"] for c in first["items"]] == ["bitcoin", "fast"] and first["next_cursor"]
    second = client.get("/v1/coins", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [c["coin_id"] for c in second["items"]] == ["slow", "tether"] and second["next_cursor"] is None
    excluded = client.get("/v1/coins", params={"class": "excluded"}).json()["items"]
    assert [(c["coin_id"], c["token_class"]) for c in excluded] == [("tether", "stablecoin")]
    assert client.get("/v1/coins", params={"q": "FAS"}).json()["items"][0]["coin_id"] == "fast"
    hist = client.get("/v1/coins/fast/history", params={"from": "2024-01-02", "to": "2024-01-03"}).json()
    assert [v["date"] for v in hist["values"]] == ["2024-01-02", "2024-01-03"]
    assert [v["price"] for v in hist["values"]] == pytest.approx([12.0, 14.4])
    assert client.get("/v1/coins/nope/history").status_code == 404


def test_methodology(client: TestClient) -> None:
    body = client.get("/v1/methodology").json()
    assert body["thresholds"] == {"altcoin_season_at": 75.0, "bitcoin_season_at": 25.0}
    assert [m["coin_id"] for m in body["exclusion_members"]["custom"]] == ["tether"]
    assert "altcoin_season_index" in body["definitions"]


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/v1/season/history", {"top": 0}, "top"),
        ("/v1/season/history", {"window": 731}, "window"),
        ("/v1/season/history", {"from": "2024-13-01"}, "from"),
        ("/v1/season/history", {"format": "xml"}, "format"),
        ("/v1/season/history", {"exclude": "/etc/passwd"}, "exclude"),
        ("/v1/dominance/history", {"universe": "top125"}, "universe"),
        ("/v1/coins", {"limit": 0}, "limit"),
    ],
)
def test_bad_input_is_a_problem_naming_the_parameter(
    client: TestClient, path: str, params: dict[str, object], parameter: str
) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and parameter in body["detail"]
    assert any(e["parameter"] == parameter for e in body["errors"])


def test_service_errors_are_problems(client: TestClient) -> None:
    r = client.get("/v1/season/history", params={"from": "2024-01-05", "to": "2024-01-01"})
    assert r.status_code == 422 and "after" in r.json()["detail"]
    r = client.get("/v1/seasons", params={"altcoin_at": 20, "bitcoin_at": 30})
    assert r.status_code == 422 and "threshold" in r.json()["detail"]
    r = client.get("/v1/season/latest", params={"source": "nope"})
    assert r.status_code == 422 and "no source 'nope'" in r.json()["detail"]
    r = client.get("/v1/season/latest", params={"window": 90})
    assert r.status_code == 404 and "no 90-day index" in r.json()["detail"]


def test_etag_and_304(client: TestClient) -> None:
    first = client.get("/v1/season/history", params=Q)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")
    again = client.get("/v1/season/history", params=Q, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/v1/season/history", params=Q, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


def test_key_in_url_is_refused(client: TestClient) -> None:
    r = client.get("/v1/season/latest", params={"api_key": "cs_x_y"})
    assert r.status_code == 400 and "X-API-Key header" in r.json()["detail"]


def test_keys_required_when_anonymous_is_off(db: str) -> None:
    store = DuckDBStore(db)
    record, key = KeyService(store, clock=fixed_clock).create("tests")
    _, revoked_key = KeyService(store, clock=fixed_clock).create("old")
    KeyService(store, clock=fixed_clock).revoke(revoked_key.split("_")[1])
    store.close()
    with client_for(db, allow_anonymous=False) as c:
        assert c.get("/v1/season/latest", params=Q).status_code == 401
        assert c.get("/v1/season/latest", params=Q, headers={"X-API-Key": key + "x"}).status_code == 401
        assert c.get("/v1/season/latest", params=Q, headers={"X-API-Key": revoked_key}).status_code == 401
        assert c.get("/v1/season/latest", params=Q, headers={"X-API-Key": "garbage"}).status_code == 401
        ok = c.get("/v1/season/latest", params=Q, headers={"X-API-Key": key})
        assert ok.status_code == 200 and ok.headers["x-ratelimit-limit"] == "600"
        assert c.get("/healthz").status_code == 200  # health needs no key


def test_anonymous_rate_limit(db: str) -> None:
    with client_for(db, anonymous_rate_limit_per_minute=3) as c:
        codes = [c.get("/v1/season/latest", params=Q).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = c.get("/v1/season/latest", params=Q)
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_health_ready_metrics(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "old" in ready.json()["reasons"][0]  # fixed clock: data is stale
    client.get("/v1/season/latest", params=Q)
    metrics = client.get("/metrics").text
    assert 'coinseason_http_requests_total{method="GET",route="/v1/season/latest",status="200"}' in metrics
    assert 'coinseason_data_age_seconds{source="custom"}' in metrics
    with client_for(str(tmp_path / "empty.duckdb")) as empty:
        body = empty.get("/readyz").json()
        assert body["status"] == "not ready" and "no data yet" in body["reasons"][0]
        assert empty.get("/v1/season/latest").status_code == 404


def test_stream_pushes_updates(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text('{"subscribe": ["dominance"]}')
        assert ws.receive_json() == {"subscribed": ["dominance"]}
        client.portal.call(client.app.state.publisher.data_landed)  # type: ignore[attr-defined]
        message = ws.receive_json()
        assert message["topic"] == "dominance" and message["data"]["date"] == "2024-01-10"
        metrics = client.get("/metrics").text
        assert "coinseason_stream_subscribers 1.0" in metrics
        assert "coinseason_stream_delivered_messages_total 1.0" in metrics  # dominance only: season has no taker
        assert "coinseason_stream_dropped_messages_total 0.0" in metrics
        ws.send_text("not json")
        assert "subscribe" in ws.receive_json()["error"]


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/season/latest",
        "/v1/season/history",
        "/v1/season/breakdown",
        "/v1/seasons",
        "/v1/dominance/latest",
        "/v1/dominance/history",
        "/v1/coins",
        "/v1/coins/{coin_id}/history",
        "/v1/methodology",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path


def test_the_redis_timeout_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COINSEASON_REDIS_TIMEOUT_SECONDS", raising=False)
    assert Settings.from_env().api.redis_timeout_seconds == 0.25
    monkeypatch.setenv("COINSEASON_REDIS_TIMEOUT_SECONDS", "2.0")
    assert Settings.from_env().api.redis_timeout_seconds == 2.0
    monkeypatch.setenv("COINSEASON_REDIS_TIMEOUT_SECONDS", "0")
    with pytest.raises(ConfigError, match="COINSEASON_REDIS_TIMEOUT_SECONDS: Input should be greater than 0"):
        Settings.from_env()


def test_the_rate_limiter_waits_for_redis_as_long_as_the_setting_says(market_db: str) -> None:
    with client_for(market_db, redis_url=UNREACHABLE_REDIS_URL, redis_timeout_seconds=0.75) as client:
        refused = client.get("/v1/season/latest", params=Q)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
    detail = refused.json()["detail"]
    assert "the rate limiter did not answer within 0.75 s" in detail and "127.0.0.1" not in detail


def test_ready_shows_job_status_and_ingestion_lag(client: TestClient) -> None:
    hooks = client.app.state.publisher  # type: ignore[attr-defined]
    assert client.get("/readyz").json()["jobs"] == {}
    # the fixed clock stands at 2026-11-24 12:00 UTC (tests/conftest.py); a snapshot landed 90 minutes before
    status = {"source": "custom", "stale": False, "last_success": "2026-11-24T10:30:00+00:00", "rejections": {}}
    hooks.register_status("ingestion", lambda: status)
    hooks.register_status("quiet", lambda: None)  # a job with nothing to say yet is left out
    assert client.get("/readyz").json()["jobs"] == {"ingestion": status}
    assert 'coinseason_ingestion_lag_seconds{source="custom"} 5400.0' in client.get("/metrics").text


def test_a_repeated_parameter_is_not_served_from_another_requests_cache(client: TestClient) -> None:
    # the route reads the last value of a repeated parameter: the two orders are two different requests
    first = client.get("/v1/season/history?top=3&window=2&window=3").json()
    second = client.get("/v1/season/history?top=3&window=3&window=2").json()
    assert (first["method"]["window"], second["method"]["window"]) == (3, 2)
