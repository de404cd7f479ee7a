"""The headers every response carries, and what shared caches may keep.

Security headers (all responses, refusals and 304s included): a Content-Security-Policy allowing the page's own
scripts, styles and connections only (plotly and the API docs add inline styles, Swagger UI and plotly draw
``data:`` images; nothing is loaded from another origin), ``X-Content-Type-Options: nosniff``,
``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``.

Caching: with anonymous reads on, a cached answer is the same for everyone, so shared caches may keep it
(``public``); when a key is required, an answer is for the key's owner only (``private``, ``Vary: X-API-Key``).
A response that says nothing about caching is not to be stored (``no-store``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "CachePolicy", "RawHeaders", "cache_policy"]

RawHeaders = tuple[tuple[bytes, bytes], ...]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # plotly, Swagger UI and ReDoc set styles from script
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",  # ReDoc's search runs in a worker made from a blob
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: RawHeaders = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
MAX_AGE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """What caches are told, by whether a key is required."""

    cached: str
    """Cache-Control of an answer from the ready-bytes cache."""
    vary: tuple[str, ...]
    """The request headers such an answer depends on, besides Accept-Encoding for one with a gzip variant."""
    default: RawHeaders
    """Cache-Control (and Vary) added to a response that set no Cache-Control of its own."""

    def vary_with(self, gzip: bool) -> str | None:
        """The Vary value of a cached answer (with or without a gzip variant); None when it varies on nothing."""
        names = (*self.vary, "Accept-Encoding") if gzip else self.vary
        return ", ".join(names) or None


PUBLIC = CachePolicy(cached=f"public, max-age={MAX_AGE_SECONDS}", vary=(), default=((b"cache-control", b"no-store"),))
PRIVATE = CachePolicy(
    cached=f"private, max-age={MAX_AGE_SECONDS}",
    vary=("X-API-Key",),
    default=((b"cache-control", b"private, no-store"), (b"vary", b"X-API-Key")),
)


def cache_policy(*, allow_anonymous: bool) -> CachePolicy:
    """Public caching when anonymous reads are on, private (per key) when a key is required."""
    return PUBLIC if allow_anonymous else PRIVATE
