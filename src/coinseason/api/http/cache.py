"""Hot responses kept as ready bytes with a strong ETag (and a gzip variant), least recently used out first.

The cache is emptied when new data lands (:mod:`coinseason.api.http.invalidation` carries that signal between
replicas).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from coinseason.api.http.compression import GZIP_MIN_BYTES, compressible
from coinseason.api.http.headers import PUBLIC, CachePolicy
from coinseason.httpkit import etag_of, gzip_bytes, gzip_etag

__all__ = ["CACHE_CONTROL", "CachedResponse", "Encoded", "ResponseCache", "cache_key"]

CACHE_CONTROL = PUBLIC.cached
"""What a cached response says to shared caches and browsers when anonymous reads are on (the default); a
:class:`ResponseCache` made with another :class:`~coinseason.api.http.headers.CachePolicy` says what it says."""


RawHeaders = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Encoded:
    """The gzip variant of a cached body, with its own strong ETag and ready headers."""

    body: bytes
    etag: str
    headers_200: RawHeaders = field(repr=False)
    headers_304: RawHeaders = field(repr=False)


@dataclass(frozen=True, slots=True)
class CachedResponse:
    body: bytes
    etag: str
    """A strong, quoted ETag: ``"<blake2b-128 of the body, hex>"``."""
    media_type: str
    route: str | None = field(default=None, compare=False)
    """The route template that made the body (for metrics and the access log), when known."""
    policy: CachePolicy = field(default=PUBLIC, compare=False, repr=False)
    """What caches are told (Cache-Control, Vary): public, or private to the key."""
    headers_200: RawHeaders = field(init=False, compare=False, repr=False)
    """Content-Type, Content-Length, ETag and Cache-Control (and Vary when there is a gzip variant), encoded once."""
    headers_304: RawHeaders = field(init=False, compare=False, repr=False)
    """ETag and Cache-Control (and Vary), encoded once."""
    gzip: Encoded | None = field(init=False, compare=False, repr=False)
    """The body compressed once, here, when it is long enough to be worth it
    (:mod:`coinseason.api.http.compression`)."""

    def __post_init__(self) -> None:
        encoded = None
        policy = self.policy
        control = (b"cache-control", policy.cached.encode())
        plain_vary = policy.vary_with(gzip=False)
        vary: RawHeaders = ((b"vary", plain_vary.encode()),) if plain_vary else ()
        if len(self.body) >= GZIP_MIN_BYTES and compressible(self.media_type):
            packed, etag = gzip_bytes(self.body), gzip_etag(self.etag)
            vary = ((b"vary", str(policy.vary_with(gzip=True)).encode()),)
            common: RawHeaders = ((b"etag", etag.encode()), control, *vary)
            first: RawHeaders = (
                (b"content-type", self.media_type.encode()),
                (b"content-length", str(len(packed)).encode()),
                (b"content-encoding", b"gzip"),
            )
            encoded = Encoded(packed, etag, first + common, common)
        common = ((b"etag", self.etag.encode()), control, *vary)
        first = ((b"content-type", self.media_type.encode()), (b"content-length", str(len(self.body)).encode()))
        object.__setattr__(self, "headers_200", first + common)
        object.__setattr__(self, "headers_304", common)
        object.__setattr__(self, "gzip", encoded)


def cache_key(path: str, query: str) -> str:
    """The response-cache key of a request: its parameters sorted by name; a repeated name keeps its values' order
    (the route reads the last one)."""
    if not query:
        return f"{path}?"
    return f"{path}?{'&'.join(sorted(query.split('&'), key=lambda part: part.partition('=')[0]))}"


class ResponseCache:
    """A least-recently-used map of request keys to ready responses; safe to call from worker threads."""

    def __init__(self, *, max_entries: int = 1024, policy: CachePolicy = PUBLIC) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries = max_entries
        self.policy = policy
        """What every kept response tells caches (public, or private to the key)."""
        self.generation = 0
        """Bumped by every :meth:`clear`; a body computed under an older generation is stale."""
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedResponse | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(
        self, key: str, body: bytes, media_type: str, *, generation: int | None = None, route: str | None = None
    ) -> CachedResponse:
        """Keep ``body`` under ``key`` (evicting the least recently used entry when full) and return the entry.

        With ``generation`` (read before computing the body), a body computed before a :meth:`clear` is returned
        but not kept, so a slow request cannot put old data back after new data landed. ``route``: the template of
        the route that made it.
        """
        entry = CachedResponse(body=body, etag=etag_of(body), media_type=media_type, route=route, policy=self.policy)
        with self._lock:
            if generation is not None and generation != self.generation:
                return entry
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
