"""The API docs, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, from files installed with a package: no CDN.

The scripts and styles are those the ``fastapi-offline`` package ships (Swagger UI's bundle and stylesheet, ReDoc's
standalone bundle), served under ``/docs/assets/``; the pages have no inline script, so they run under the
Content-Security-Policy of every response (:mod:`coinseason.api.http.headers`), and they work offline. The pages
sit beside the dashboard, where a browser may keep an API key: nothing from another origin runs here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from coinseason.httpkit import accepts_gzip, etag_matches, etag_of, gzip_bytes, gzip_etag

__all__ = ["router"]

OPENAPI_URL = "/openapi.json"
_PACKAGE_STATIC = resources.files("fastapi_offline") / "static"
_PACKAGED = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
"""Files read from the installed package, by name, with their media type."""
_SWAGGER_INIT = f"""window.ui = SwaggerUIBundle({{
  url: "{OPENAPI_URL}",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}});
"""
_OWN = {"swagger-init.js": (_SWAGGER_INIT.encode(), "text/javascript; charset=utf-8")}
"""Scripts of our own (an inline script would need the CSP loosened)."""
_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>coinseason API - {title}</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
"""
SWAGGER_PAGE = (
    _HEAD.format(title="Swagger UI")
    + """<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-init.js"></script>
</body>
</html>
"""
)
REDOC_PAGE = (
    _HEAD.format(title="ReDoc")
    + f"""</head>
<body>
<redoc spec-url="{OPENAPI_URL}"></redoc>
<script src="/docs/assets/redoc.standalone.js"></script>
</body>
</html>
"""
)
ASSET_CACHE = "public, max-age=86400"
"""The packaged files change only with the package (their ETag changes with them)."""
PAGE_CACHE = "no-cache"


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str
    cache_control: str


class _Files:
    """Each file read (and gzipped) on first use, then kept: they belong to installed packages."""

    def __init__(self) -> None:
        self._files: dict[str, _File] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> _File | None:
        found = self._files.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._files.get(name)
            if found is None:
                made = _read(name)
                if made is None:
                    return None
                body, media_type, cache_control = made
                found = _File(body, gzip_bytes(body), etag_of(body), media_type, cache_control)
                self._files[name] = found
        return found


def _read(name: str) -> tuple[bytes, str, str] | None:
    if name == "/docs":
        return SWAGGER_PAGE.encode(), "text/html; charset=utf-8", PAGE_CACHE
    if name == "/redoc":
        return REDOC_PAGE.encode(), "text/html; charset=utf-8", PAGE_CACHE
    if name in _OWN:
        body, media_type = _OWN[name]
        return body, media_type, PAGE_CACHE
    if name in _PACKAGED:
        return (_PACKAGE_STATIC / name).read_bytes(), _PACKAGED[name], ASSET_CACHE
    return None


_files = _Files()
router = APIRouter(include_in_schema=False)


def _respond(request: Request, found: _File) -> Response:
    """The file, gzipped when the client takes gzip; 304 to a matching ETag; HEAD without the body."""
    accept = request.headers.get("accept-encoding")
    packed = found.media_type != "image/png" and accept is not None and accepts_gzip(accept.encode("latin-1"))
    etag = gzip_etag(found.etag) if packed else found.etag
    headers = {"ETag": etag, "Cache-Control": found.cache_control, "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    body = found.gzipped if packed else found.body
    if packed:
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, media_type=found.media_type, headers=headers)
    return Response(body, media_type=found.media_type, headers=headers)


@router.api_route("/docs", methods=["GET", "HEAD"])
def swagger_ui(request: Request) -> Response:
    page = _files.get("/docs")
    assert page is not None  # noqa: S101 - a page of this module
    return _respond(request, page)


@router.api_route("/redoc", methods=["GET", "HEAD"])
def redoc(request: Request) -> Response:
    page = _files.get("/redoc")
    assert page is not None  # noqa: S101 - a page of this module
    return _respond(request, page)


@router.api_route("/docs/assets/{name}", methods=["GET", "HEAD"])
def docs_asset(name: str, request: Request) -> Response:
    found = _files.get(name) if name in _PACKAGED or name in _OWN else None
    if found is None:
        return Response(b"not found", status_code=404, media_type="text/plain")
    return _respond(request, found)
