"""The front layer (one ASGI call before FastAPI): cache hits answered there keep every header, log line and
count of a request FastAPI answers; CORS still wraps keys and refusals; refusals reach WebSockets too."""

from __future__ import annotations

import io

import pytest
from starlette.websockets import WebSocketDisconnect

from coinseason.services.keys import KeyService
from coinseason.store import DuckDBStore
from tests.api.conftest import access_lines
from tests.api.test_app import client_for
from tests.conftest import fixed_clock

Q = {"top": 3, "window": 2}
ORIGIN = "https://dashboard.example"


def api_key(db: str) -> str:
    store = DuckDBStore(db)
    try:
        return KeyService(store, clock=fixed_clock).create("front")[1]
    finally:
        store.close()


def test_a_cache_hit_carries_the_same_headers_as_the_first_answer(market_db: str) -> None:
    # a short answer (under the 1 KiB that is gzipped), so content-length is the body's own length
    with client_for(market_db, anonymous_rate_limit_per_minute=10) as client:
        first = client.get("/v1/seasons", params=Q)  # made by the route
        hit = client.get("/v1/seasons", params=Q, headers={"X-Request-ID": "hit-1"})  # by the front layer
        assert hit.content == first.content
        for name in ("content-type", "etag", "cache-control", "x-ratelimit-limit"):
            assert hit.headers[name] == first.headers[name], name
        assert (first.headers["x-ratelimit-remaining"], hit.headers["x-ratelimit-remaining"]) == ("9", "8")
        assert hit.headers["x-request-id"] == "hit-1" and len(first.headers["x-request-id"]) == 32
        assert hit.headers["content-length"] == str(len(first.content))
        head = client.head("/v1/seasons", params=Q)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(first.content))
        not_modified = client.get("/v1/seasons", params=Q, headers={"If-None-Match": first.headers["etag"]})
        assert not_modified.status_code == 304 and not_modified.content == b""
        assert not_modified.headers["etag"] == first.headers["etag"]
        assert not_modified.headers["x-ratelimit-remaining"] == "6" and "x-request-id" in not_modified.headers


def test_the_query_order_does_not_matter_to_the_cache(market_db: str) -> None:
    with client_for(market_db) as client:
        first = client.get("/v1/season/latest?top=3&window=2")
        again = client.get("/v1/season/latest?window=2&top=3")
        assert again.headers["etag"] == first.headers["etag"]
        assert len(client.app.state.api.cache) == 1  # type: ignore[attr-defined]


def test_cache_hits_are_logged_and_counted_under_their_route(market_db: str, log_stream: io.StringIO) -> None:
    with client_for(market_db) as client:
        etag = client.get("/v1/coins/fast/history").headers["etag"]
        client.get("/v1/coins/fast/history", headers={"X-Request-ID": "again"})
        client.get("/v1/coins/fast/history", headers={"If-None-Match": etag})
        metrics = client.get("/metrics").text
    lines = [line for line in access_lines(log_stream) if line["path"] == "/v1/coins/fast/history"]
    assert [(line["route"], line["status"]) for line in lines] == [("/v1/coins/{coin_id}/history", 200)] * 2 + [
        ("/v1/coins/{coin_id}/history", 304)
    ]
    assert lines[1]["request_id"] == "again" and lines[1]["msg"] == "GET /v1/coins/{coin_id}/history 200"
    route = 'route="/v1/coins/{coin_id}/history"'
    assert f'coinseason_http_requests_total{{method="GET",{route},status="200"}} 2.0' in metrics
    assert f'coinseason_http_requests_total{{method="GET",{route},status="304"}} 1.0' in metrics


def test_refusals_are_counted_under_their_route_and_carry_a_request_id(market_db: str, log_stream: io.StringIO) -> None:
    with client_for(market_db, allow_anonymous=False) as client:
        refused = client.get("/v1/season/latest", params=Q, headers={"X-Request-ID": "no-key"})
        assert refused.status_code == 401 and refused.headers["x-request-id"] == "no-key"
        assert refused.headers["www-authenticate"] == "ApiKey"
        assert refused.json()["instance"] == "/v1/season/latest"
        metrics = client.get("/metrics").text
    [line] = [line for line in access_lines(log_stream) if line["request_id"] == "no-key"]
    assert (line["route"], line["status"]) == ("/v1/season/latest", 401)
    assert 'coinseason_http_requests_total{method="GET",route="/v1/season/latest",status="401"} 1.0' in metrics


@pytest.mark.parametrize("query", ["api_key=cs_x_y", "TOKEN=abc", "x%2Dapi%2Dkey=abc", "top=3&Key=abc"])
def test_a_key_in_the_url_is_refused_even_when_the_answer_is_cached(market_db: str, query: str) -> None:
    with client_for(market_db) as client:
        assert client.get("/v1/season/latest", params=Q).status_code == 200
        refused = client.get(f"/v1/season/latest?{query}")
        assert refused.status_code == 400 and "X-API-Key header" in refused.json()["detail"]


def test_a_parameter_merely_containing_key_is_not_refused(market_db: str) -> None:
    with client_for(market_db) as client:
        r = client.get("/v1/season/latest", params={**Q, "keyboard": "1"})
        assert r.status_code == 200


def test_a_websocket_without_a_key_is_closed_with_the_reason(market_db: str) -> None:
    with client_for(market_db, allow_anonymous=False) as client:
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/v1/stream") as ws:
            ws.receive_text()
        assert closed.value.code == 1008 and "API key" in closed.value.reason


def test_cors_preflight_needs_no_key_and_every_answer_names_the_origin(market_db: str) -> None:
    key = api_key(market_db)
    with client_for(market_db, allow_anonymous=False, cors_origins=[ORIGIN]) as client:
        preflight = client.options(
            "/v1/season/latest",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-api-key",
            },
        )
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in preflight.headers
        headers = {"Origin": ORIGIN, "X-API-Key": key}
        first = client.get("/v1/season/latest", params=Q, headers=headers)
        hit = client.get("/v1/season/latest", params=Q, headers=headers)
        for answer in (first, hit):
            assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == ORIGIN
            assert "ETag" in answer.headers["access-control-expose-headers"]
            assert "x-ratelimit-limit" in answer.headers and "x-request-id" in answer.headers
        refused = client.get("/v1/season/latest", params=Q, headers={"Origin": ORIGIN})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ORIGIN
        stranger = client.get("/v1/season/latest", params=Q, headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in stranger.headers
        plain = client.get("/v1/season/latest", params=Q, headers={"X-API-Key": key})  # no Origin: no CORS work
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_the_access_log_can_be_turned_off_and_requests_are_still_counted(
    market_db: str, log_stream: io.StringIO
) -> None:
    with client_for(market_db, access_log=False) as client:
        client.get("/v1/season/latest", params=Q)
        client.get("/v1/season/latest", params=Q)
        metrics = client.get("/metrics").text
    assert access_lines(log_stream) == []
    assert 'coinseason_http_requests_total{method="GET",route="/v1/season/latest",status="200"} 2.0' in metrics
