"""Who the client is behind a proxy: ``X-Forwarded-For`` and ``X-Forwarded-Proto`` believed only from the proxies
named in ``COINSEASON_FORWARDED_ALLOW_IPS`` (none by default).

The per-IP rate limit keys on the client address; a header any client can send must not choose it. Servers believe
these headers from 127.0.0.1 unless told otherwise (uvicorn does), so ``serve`` turns that off in the server and
the app applies uvicorn's own :class:`~uvicorn.middleware.proxy_headers.ProxyHeadersMiddleware` with exactly the
configured proxies, whichever server runs. With proxies configured, the client is the last address in
``X-Forwarded-For`` that is not one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

__all__ = ["behind_proxies"]


def behind_proxies(app: ASGIApp, allow_ips: Sequence[str]) -> ASGIApp:
    """``app`` reading the client address and scheme from the forwarded headers of requests that come from one of
    ``allow_ips`` (addresses or networks; ``*`` is any); ``app`` itself, untouched, when there are none."""
    if not allow_ips:
        return app
    middleware = ProxyHeadersMiddleware(app, trusted_hosts=list(allow_ips))  # type: ignore[arg-type]  # uvicorn types ASGI more narrowly
    return cast(ASGIApp, middleware)
