"""gzip for API responses: once per cached body, on the fly for the rest of ``/v1``.

A cached response of at least :data:`GZIP_MIN_BYTES` is compressed once, when it is stored
(:class:`coinseason.api.http.cache.CachedResponse`), and both variants are kept; a client whose ``Accept-Encoding``
takes gzip gets the compressed bytes. The two variants are two representations of the resource, so each has its own
strong ETag (RFC 9110 §8.8.3: a strong validator is unique across every representation): the gzip one is the
plain one's with ``-gzip`` appended inside the quotes (:func:`coinseason.httpkit.gzip_etag`). Both carry
``Vary: Accept-Encoding``; a small body, never compressed, does not vary and carries no ``Vary``.

Anything else under ``/v1`` that reaches FastAPI is compressed on the fly by Starlette's ``GZipMiddleware``
(:class:`OnTheFlyGZip`); a strong ETag its route set for the plain bytes is then made weak (``W/"..."``), since
the compressed bytes are not the ones the tag was made for. Cache hits answered by the front layer never pass
through it.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coinseason.httpkit import GZIP_LEVEL, accepts_gzip

__all__ = ["GZIP_MIN_BYTES", "OnTheFlyGZip", "compressible"]

GZIP_MIN_BYTES = 1024
"""Bodies shorter than this are sent as they are: the saving would not pay for the work and the header."""
_APP_ENCODED = "coinseason.app_encoded"
"""Scope key set when the route itself sent an encoded body (a cached gzip variant)."""


def compressible(media_type: str) -> bool:
    """Whether a body of this media type is worth compressing (not in Starlette's list of already packed types)."""
    kind = media_type.partition(";")[0].strip().lower()
    return kind not in DEFAULT_EXCLUDED_CONTENT_TYPES and kind.partition("/")[0] + "/*" not in (
        DEFAULT_EXCLUDED_CONTENT_TYPES
    )


class OnTheFlyGZip:
    """Starlette's ``GZipMiddleware`` for the paths under ``prefixes`` (others pass untouched), with the ETag of a
    body it compressed made weak. A route that sent an encoded body itself is left as it is."""

    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...] = ("/v1",)) -> None:
        self.app = app
        self.prefixes = prefixes
        self.gzip = GZipMiddleware(self._noting, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        offered = [value for name, value in headers if name.lower() == b"accept-encoding"]
        if not (offered and accepts_gzip(b",".join(offered))):
            # Starlette looks for "gzip" anywhere in the header: what refuses it (gzip;q=0) is not shown to it
            scope = {**scope, "headers": [(n, v) for n, v in headers if n.lower() != b"accept-encoding"]}
        inner = scope

        async def weakening(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _tidied(message.get("headers", ()), weaken=not inner.get(_APP_ENCODED))
            await send(message)

        await self.gzip(inner, receive, weakening)

    async def _noting(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, noting in the scope whether its response start already names a content coding."""

        async def noted(message: Message) -> None:
            if message["type"] == "http.response.start" and any(
                name.lower() == b"content-encoding" for name, _ in message.get("headers", ())
            ):
                scope[_APP_ENCODED] = True
            await send(message)

        await self.app(scope, receive, noted)


def _tidied(headers: Iterable[tuple[bytes, bytes]], *, weaken: bool) -> list[tuple[bytes, bytes]]:
    """The headers with ``Vary`` said once (the route and the middleware may both add Accept-Encoding) and, when
    ``weaken`` and the body is encoded, a strong ETag made weak."""
    out: list[tuple[bytes, bytes]] = []
    vary: list[bytes] = []
    encoded = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"vary":
            for token in value.split(b","):
                token = token.strip()
                if token and token.lower() not in (seen.lower() for seen in vary):
                    vary.append(token)
            continue
        encoded = encoded or lowered == b"content-encoding"
        out.append((name, value))
    if weaken and encoded:
        out = [(n, b"W/" + v if n.lower() == b"etag" and not v.startswith(b"W/") else v) for n, v in out]
    if vary:
        out.append((b"vary", b", ".join(vary)))
    return out
