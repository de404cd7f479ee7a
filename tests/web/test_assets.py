"""The dashboard's page and assets as HTTP resources (no browser): served from the package, plotly.js from the
installed plotly package, gzip and ETags, nothing fetched from another host, nothing else under /assets/."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from coinseason.server import create_app
from coinseason.settings import ApiSettings, Settings
from coinseason.web import ASSETS


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("assets") / "empty.duckdb"
    with TestClient(create_app(Settings(db=str(db), api=ApiSettings(allow_anonymous=False)))) as c:
        yield c


def test_the_page_is_served_at_the_root_without_a_key(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>coinseason" in page.text
    assert client.get("/v1/season/latest").status_code == 401, "the API itself still wants a key here"


def test_everything_the_page_loads_comes_from_this_server(client: TestClient) -> None:
    page = client.get("/").text
    script = client.get("/assets/app.js").text
    linked = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/assets/plotly.min.js" in linked and "/assets/app.js" in linked and "/assets/style.css" in linked
    external = [u for u in linked if re.match(r"(?i)(https?:)?//", u)]
    assert external == [], f"the page must work offline, but links {external}"
    assert re.findall(r"https?://", script) == [], "app.js calls no other host"
    for url in linked:
        if url.startswith("/assets/"):
            assert client.get(url).status_code == 200, url


def test_plotly_is_the_installed_package_file_gzipped(client: TestClient) -> None:
    bundled = (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    raw = client.get("/assets/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert raw.status_code == 200 and "content-encoding" not in raw.headers
    assert raw.content == bundled
    with client.stream("GET", "/assets/plotly.min.js", headers={"Accept-Encoding": "gzip"}) as zipped:
        body = b"".join(zipped.iter_raw())
        assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == bundled
    assert len(body) < len(bundled) / 2
    assert raw.headers["cache-control"] == "public, max-age=86400"


@pytest.mark.parametrize("url", ["/", "/assets/app.js", "/assets/plotly.min.js"])
def test_head_answers_the_headers_of_get_without_a_body(client: TestClient, url: str) -> None:
    got = client.get(url, headers={"Accept-Encoding": "identity"})
    head = client.head(url, headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    for name in ("content-type", "etag", "cache-control"):
        assert head.headers[name] == got.headers[name], name
    zipped = client.head(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == b""


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip;q=0", False),
        ("gzip; q=0.0, identity", False),
        ("identity", False),
        ("br, gzip;q=0.5", True),
        ("*", True),
        ("*;q=1, gzip;q=0", False),
        ("x-gzip", True),
    ],
)
def test_gzip_only_when_the_client_takes_it(client: TestClient, accept: str, gzipped: bool) -> None:
    with client.stream("GET", "/assets/app.js", headers={"Accept-Encoding": accept}) as answer:
        body = b"".join(answer.iter_raw())
        assert ("content-encoding" in answer.headers) == gzipped
    script = (resources.files("coinseason.web") / "static" / "app.js").read_bytes()
    assert (gzip.decompress(body) if gzipped else body) == script


def test_etag_answers_304(client: TestClient) -> None:
    first = client.get("/assets/app.js")
    etag = first.headers["etag"]
    again = client.get("/assets/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/", headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("name", ["app.py", "..%2f__init__.py", "plotly.js", "index.html"])
def test_only_the_listed_assets_are_served(client: TestClient, name: str) -> None:
    assert client.get(f"/assets/{name}").status_code == 404


def test_the_dashboard_is_not_part_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith("/assets") for p in paths)


def test_every_listed_asset_ships_in_the_package() -> None:
    static = Path(str(resources.files("coinseason.web") / "static"))
    for name in ASSETS:
        if name != "plotly.min.js":
            assert (static / name).is_file(), name
    assert (static / "index.html").is_file()


def test_the_page_keeps_to_a_content_security_policy_of_its_own_files() -> None:
    """No inline script, no inline event handler, no style attribute in the page, and the page's own script builds no
    code from text and writes no HTML: a ``Content-Security-Policy`` of ``'self'`` scripts and styles lets all of it
    run (plotly's needs aside)."""
    page = (resources.files("coinseason.web") / "static" / "index.html").read_text()
    found: list[str] = []

    class Inline(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.in_script = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            names = {name for name, _ in attrs}
            if tag == "script":
                self.in_script = True
                if "src" not in names:
                    found.append("an inline <script>")
            found.extend(f"<{tag} {name}>" for name in names if name.startswith("on") or name == "style")

        def handle_endtag(self, tag: str) -> None:
            if tag == "script":
                self.in_script = False

        def handle_data(self, data: str) -> None:
            if self.in_script and data.strip():
                found.append("script text inline")

    Inline().feed(page)
    assert found == []
    script = (resources.files("coinseason.web") / "static" / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write"):
        assert sink not in script, sink
