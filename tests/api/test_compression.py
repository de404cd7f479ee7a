"""gzip: long cached answers have a gzip variant with its own strong ETag and ``Vary``, from the route and from the
front layer alike; short ones are never compressed; the rest of ``/v1`` is compressed on the fly, its ETag weak."""

from __future__ import annotations

import gzip

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coinseason.api.http.compression import GZIP_MIN_BYTES, OnTheFlyGZip
from coinseason.httpkit import accepts_gzip
from tests.api.test_app import client_for

HISTORY = "/v1/season/history?top=3&window=2"  # 10 days: about 1.7 KB of JSON
SHORT = "/v1/seasons?top=2&window=2"  # about 650 bytes
GZIP = {"Accept-Encoding": "gzip, deflate, br"}
PLAIN = {"Accept-Encoding": "identity"}


_SENT: dict[int, bytes] = {}


def raw(client: httpx.Client, url: str, headers: dict[str, str], method: str = "GET") -> httpx.Response:
    """The answer, its body as sent kept for :func:`body` (httpx itself would undo the gzip)."""
    with client.stream(method, url, headers=headers) as response:
        _SENT[id(response)] = b"".join(response.iter_raw())
    return response


def body(response: httpx.Response) -> bytes:
    return _SENT[id(response)]


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("br;q=1.0, *;q=0.1", True),
        ("identity", False),
        ("br, deflate", False),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("gzip;q=0, *", False),  # named with q=0: the wildcard does not bring it back
        ("*;q=0", False),
        ("gzip;q=nonsense", False),
        ("", False),
    ],
)
def test_accept_encoding_is_read_with_its_q_values(header: str, accepted: bool) -> None:
    assert accepts_gzip(header.encode()) is accepted


@pytest.mark.parametrize("hit", [False, True], ids=["from the route", "from the front layer"])
def test_a_long_answer_is_gzipped_with_its_own_strong_etag(market_db: str, hit: bool) -> None:
    with client_for(market_db) as client:
        if hit:  # both variants come from the cache entry the first request made
            client.get(HISTORY, headers=PLAIN)
        plain = raw(client, HISTORY, PLAIN)
        packed = raw(client, HISTORY, GZIP)
    assert len(body(plain)) >= GZIP_MIN_BYTES and "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body(packed)) == body(plain)
    assert len(body(packed)) < len(body(plain)) / 2
    assert packed.headers["content-length"] == str(len(body(packed)))
    assert packed.headers["content-type"] == plain.headers["content-type"] == "application/json"
    for response in (plain, packed):
        assert response.headers["vary"].lower() == "accept-encoding"
        assert not response.headers["etag"].startswith("W/")  # strong: each variant's bytes never change
    assert packed.headers["etag"] != plain.headers["etag"]  # two representations, two strong tags (RFC 9110 8.8.3)


def test_each_variant_is_revalidated_against_its_own_etag(market_db: str) -> None:
    with client_for(market_db) as client:
        plain_tag = client.get(HISTORY, headers=PLAIN).headers["etag"]
        packed_tag = raw(client, HISTORY, GZIP).headers["etag"]
        same_gzip = raw(client, HISTORY, {**GZIP, "If-None-Match": packed_tag})
        same_plain = raw(client, HISTORY, {**PLAIN, "If-None-Match": plain_tag})
        other = raw(client, HISTORY, {**GZIP, "If-None-Match": plain_tag})  # holds the plain bytes, asks for gzip
        both = raw(client, HISTORY, {**GZIP, "If-None-Match": f"{plain_tag}, W/{packed_tag}"})  # weak comparison
        head = raw(client, HISTORY, GZIP, method="HEAD")
    assert (same_gzip.status_code, body(same_gzip)) == (304, b"")
    assert same_gzip.headers["etag"] == packed_tag and same_gzip.headers["vary"].lower() == "accept-encoding"
    assert same_plain.status_code == 304 and same_plain.headers["etag"] == plain_tag
    assert other.status_code == 200 and other.headers["etag"] == packed_tag
    assert other.headers["content-encoding"] == "gzip"
    assert both.status_code == 304
    assert head.status_code == 200 and body(head) == b"" and head.headers["content-encoding"] == "gzip"
    assert head.headers["content-length"] == str(len(body(other)))


def test_a_short_answer_is_never_compressed_and_does_not_vary(market_db: str) -> None:
    with client_for(market_db) as client:
        first = raw(client, SHORT, GZIP)  # from the route
        again = raw(client, SHORT, GZIP)  # from the front layer
    for response in (first, again):
        assert response.status_code == 200 and len(body(response)) < GZIP_MIN_BYTES
        assert "content-encoding" not in response.headers and "vary" not in response.headers
    assert body(first) == body(again) and first.headers["etag"] == again.headers["etag"]


def test_csv_is_compressed_too_and_a_client_refusing_gzip_gets_plain_bytes(market_db: str) -> None:
    url = "/v1/dominance/history?interval=day"
    with client_for(market_db) as client:
        refusing = raw(client, url, {"Accept-Encoding": "gzip;q=0, identity"})
        packed = raw(client, url, GZIP)
    assert "content-encoding" not in refusing.headers
    assert gzip.decompress(body(packed)) == body(refusing)


def _app() -> OnTheFlyGZip:
    long_text = b"season " * 400

    def tagged(request: Request) -> Response:
        return Response(long_text, media_type="text/plain", headers={"ETag": '"plain-tag"'})

    def packed_by_route(request: Request) -> Response:
        headers = {"ETag": '"route-gzip"', "Content-Encoding": "gzip"}
        return Response(gzip.compress(long_text), media_type="text/plain", headers=headers)

    routes = [
        Route("/v1/tagged", tagged),
        Route("/v1/packed", packed_by_route),
        Route("/elsewhere", tagged),
    ]
    return OnTheFlyGZip(Starlette(routes=routes))


@pytest.mark.anyio
async def test_on_the_fly_gzip_weakens_the_etag_of_what_it_compresses() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        compressed = await client.get("/v1/tagged", headers=GZIP)
        plain = await client.get("/v1/tagged", headers=PLAIN)
        by_route = await client.get("/v1/packed", headers=GZIP)
        elsewhere = await client.get("/elsewhere", headers=GZIP)
    assert compressed.headers["content-encoding"] == "gzip" and compressed.content == b"season " * 400
    assert compressed.headers["etag"] == 'W/"plain-tag"'
    assert plain.headers["etag"] == '"plain-tag"' and "content-encoding" not in plain.headers
    assert by_route.headers["etag"] == '"route-gzip"'  # encoded by the route itself: left as it is
    assert "content-encoding" not in elsewhere.headers and elsewhere.headers["etag"] == '"plain-tag"'
