"""The part of a call that is the same for the blocking and the asyncio client, without any I/O: the headers of a
request, and what its response means — a value, a wait before trying again, or an exception.

* **ETag reuse.** A GET answered with an ``ETag`` keeps its body (at most ``max_entries`` of them, least recently
  used out first); the next GET of the same URL sends ``If-None-Match`` and a ``304 Not Modified`` reuses the kept
  body, so an unchanged series is neither sent again nor parsed from new bytes.
* **429.** A ``Too Many Requests`` answer with ``Retry-After`` is tried again after that many seconds, as long as
  the waits of the call stay within ``max_wait`` seconds and ``max_retries`` tries; beyond that it raises
  :class:`~coinseason.client.errors.RateLimited` with the server's ``retry_after``.
* **Errors.** Every other failure becomes the :mod:`coinseason.client.errors` class of its status, carrying the
  ``application/problem+json`` fields (``detail``, ``instance``, the bad parameters) and the request id.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import httpx
import orjson

from coinseason.client.errors import (
    ApiError,
    InvalidRequest,
    NotFound,
    ParameterProblem,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    UnexpectedResponse,
)

__all__ = ["Call", "Done", "ETagCache", "Exchange", "RetryPolicy", "Wait"]

T = TypeVar("T")

DEFAULT_MAX_WAIT = 60.0
"""Seconds a call may spend waiting out 429 answers, in all, before it raises RateLimited."""
DEFAULT_MAX_RETRIES = 3
"""Tries after a 429 (so at most this many + 1 requests for one call)."""


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API request and how its body becomes the value the client method returns."""

    method: Literal["GET", "POST", "DELETE"]
    path: str
    decode: Callable[[bytes], T]
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    accept: frozenset[int] = frozenset({200})
    """Statuses whose body is the answer (``/readyz`` answers 503 with the same model)."""


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    value: T


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long one call may wait out rate limiting (429 with ``Retry-After``)."""

    max_wait: float = DEFAULT_MAX_WAIT
    max_retries: int = DEFAULT_MAX_RETRIES

    def __post_init__(self) -> None:
        if not self.max_wait >= 0:
            raise ValueError(f"max_wait must be zero or more seconds, not {self.max_wait}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be zero or more, not {self.max_retries}")


@dataclass(frozen=True, slots=True)
class _Kept:
    etag: str
    body: bytes


@dataclass
class ETagCache:
    """Bodies of GET answers by URL, with their ETag; safe to share between threads."""

    max_entries: int = 256
    _entries: OrderedDict[str, _Kept] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    hits: int = 0
    """Answers served from a kept body after a 304."""

    def get(self, url: str) -> _Kept | None:
        with self._lock:
            kept = self._entries.get(url)
            if kept is not None:
                self._entries.move_to_end(url)
            return kept

    def put(self, url: str, etag: str, body: bytes) -> None:
        if self.max_entries < 1:
            return
        with self._lock:
            self._entries[url] = _Kept(etag, body)
            self._entries.move_to_end(url)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Exchange:
    """Headers out, meaning in: what both clients share (see the module's docstring)."""

    def __init__(self, *, api_key: str | None, retry: RetryPolicy, etags: ETagCache) -> None:
        self.api_key = api_key
        self.retry = retry
        self.etags = etags

    def headers(self, request: httpx.Request) -> None:
        """Add the key and, for a GET whose body is kept, ``If-None-Match`` to ``request``."""
        if self.api_key is not None:
            request.headers["X-API-Key"] = self.api_key
        if request.method == "GET":
            kept = self.etags.get(str(request.url))
            if kept is not None:
                request.headers["If-None-Match"] = kept.etag

    def settle(self, call: Call[T], response: httpx.Response, *, waited: float, tries: int) -> Done[T] | Wait:
        """The value of ``response``, or how long to wait before the next try; raises the error it carries.
        ``waited``: seconds this call already waited; ``tries``: requests already sent before this one."""
        url = str(response.request.url)
        status = response.status_code
        if status == 304 and call.method == "GET":
            kept = self.etags.get(url)
            if kept is not None:
                self.etags.hits += 1
                return Done(_decoded(call, kept.body, response))
        if status in call.accept:
            body = response.content
            etag = response.headers.get("etag")
            if call.method == "GET" and etag and status == 200:
                self.etags.put(url, etag, body)
            return Done(_decoded(call, body, response))
        if status == 429:
            seconds = retry_after(response.headers.get("retry-after"), now=_now())
            if seconds is not None and tries < self.retry.max_retries and waited + seconds <= self.retry.max_wait:
                return Wait(seconds)
        raise error_of(response)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _decoded(call: Call[T], body: bytes, response: httpx.Response) -> T:
    try:
        return call.decode(body)
    except ApiError:
        raise
    except Exception as exc:  # a body the model or the CSV reader refuses: not what the API documents
        raise UnexpectedResponse(
            f"the answer is not what the API documents ({type(exc).__name__}: {str(exc)[:300]})",
            status=response.status_code,
            instance=response.request.url.path,
            request_id=response.headers.get("x-request-id"),
        ) from exc


def retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds named by a ``Retry-After`` header (delay-seconds or an HTTP date), None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


_CLASSES: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    413: InvalidRequest,
    422: InvalidRequest,
    429: RateLimited,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def error_of(response: httpx.Response) -> ApiError:
    """The exception a failed answer stands for, with its problem+json fields when it has them."""
    status = response.status_code
    kind = _CLASSES.get(status, ServerError)
    problem: dict[str, Any] = {}
    try:
        parsed = orjson.loads(response.content)
        if isinstance(parsed, dict):
            problem = parsed
    except orjson.JSONDecodeError:
        pass
    detail = problem.get("detail")
    if not isinstance(detail, str):
        detail = response.text[:300].strip() or response.reason_phrase or "no detail given"
    raw_errors = problem.get("errors")
    errors = tuple(
        ParameterProblem(str(e.get("parameter", "?")), str(e.get("message", "")))
        for e in (raw_errors if isinstance(raw_errors, list) else [])
        if isinstance(e, dict)
    )
    title = problem.get("title") if isinstance(problem.get("title"), str) else response.reason_phrase
    instance = problem.get("instance") if isinstance(problem.get("instance"), str) else response.request.url.path
    return kind(
        detail,
        status=status,
        title=title,
        instance=instance,
        errors=errors,
        request_id=response.headers.get("x-request-id"),
        retry_after=retry_after(response.headers.get("retry-after"), now=_now()),
    )
