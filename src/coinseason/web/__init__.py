"""The dashboard: one hand-written page at ``/`` over the public ``/v1`` API, its assets under ``/assets/``.

The chart library is the plotly.js bundled in the ``plotly`` Python package, served from the installed package, so
the page needs no internet. Assets are read once, kept in memory with a gzip copy and a strong ETag.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from coinseason.httpkit import accepts_gzip, etag_matches, etag_of, gzip_bytes, gzip_etag

__all__ = ["ASSETS", "mount_dashboard", "router"]

STATIC = resources.files("coinseason.web") / "static"
ASSETS: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "plotly.min.js": "text/javascript; charset=utf-8",
}
"""Every file served under ``/assets/`` and its media type; nothing else is."""
PAGE_CACHE = "no-cache"
"""The page and its own assets are revalidated on every load (their ETag answers 304), so an upgrade shows at once."""
PLOTLY_CACHE = "public, max-age=86400"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str
    cache_control: str


def _read(name: str) -> bytes:
    if name == "plotly.min.js":  # the plotly.js bundled in the installed plotly package: no CDN, works offline
        return (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return (STATIC / name).read_bytes()


def _load(name: str, media_type: str, cache_control: str) -> Asset:
    body = _read(name)
    return Asset(body, gzip_bytes(body), etag_of(body), media_type, cache_control)


class AssetCache:
    """Assets read on first use and kept: the files belong to the installed package and do not change under it."""

    def __init__(self) -> None:
        self._assets: dict[str, Asset] = {}
        self._lock = threading.Lock()
        self._warming = False

    def get(self, name: str) -> Asset:
        asset = self._assets.get(name)
        if asset is None:
            with self._lock:  # one reader per process: a second caller waits for the first one's result
                asset = self._assets.get(name)
                if asset is None:
                    if name == "index.html":
                        asset = _load(name, "text/html; charset=utf-8", PAGE_CACHE)
                    else:
                        cache = PLOTLY_CACHE if name == "plotly.min.js" else PAGE_CACHE
                        asset = _load(name, ASSETS[name], cache)
                    self._assets[name] = asset
        return asset

    def warm_in_background(self) -> None:
        """Read and gzip every asset in a daemon thread, once per process: gzipping plotly.js takes about 0.15 s,
        which the first visitor after a start would otherwise wait for. A failure here is left for the request
        that needs the asset to report."""
        if self._warming:
            return
        self._warming = True

        def warm() -> None:
            for name in ("index.html", *ASSETS):
                with contextlib.suppress(Exception):
                    self.get(name)

        threading.Thread(target=warm, name="coinseason-assets", daemon=True).start()


def _respond(request: Request, asset: Asset) -> Response:
    """The asset, gzipped when ``Accept-Encoding`` takes gzip (a q-value of 0 refuses it); 304 to a matching ETag;
    for HEAD the same status and headers without the body."""
    accept = request.headers.get("accept-encoding")
    packed = accept is not None and accepts_gzip(accept.encode("latin-1"))
    etag = gzip_etag(asset.etag) if packed else asset.etag
    headers = {"ETag": etag, "Cache-Control": asset.cache_control, "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if packed:
        headers["Content-Encoding"] = "gzip"
        body = asset.gzipped
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, media_type=asset.media_type, headers=headers)
    return Response(body, media_type=asset.media_type, headers=headers)


router = APIRouter(include_in_schema=False)
_cache = AssetCache()


@router.api_route("/", methods=["GET", "HEAD"])
def dashboard(request: Request) -> Response:
    return _respond(request, _cache.get("index.html"))


@router.api_route("/assets/{name}", methods=["GET", "HEAD"])
def asset(name: str, request: Request) -> Response:
    if name not in ASSETS:
        return Response(b"not found", status_code=404, media_type="text/plain")
    return _respond(request, _cache.get(name))


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard at ``/`` and its assets at ``/assets/{name}`` (outside ``/v1``: no key, no rate limit);
    the assets are read and compressed in the background from now on."""
    app.include_router(router)
    _cache.warm_in_background()
