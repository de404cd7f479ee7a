"""Outbound HTTP for market-data providers: an exact rate limiter, retries with back-off, a circuit breaker.

Every provider call goes through one :class:`OutboundClient`, which, per attempt (retries included):

1. asks the :class:`CircuitBreaker` (open after ``breaker_failures`` consecutive failed attempts: calls fail at
   once with :class:`CircuitOpenError` until ``breaker_cooldown`` has passed; then one probe call is let through,
   closing the circuit on success and opening it again on failure);
2. waits for the :class:`SlidingWindowLimiter` (at most ``calls_per_minute`` requests in any sliding window of
   ``window`` seconds, plus ``margin`` seconds of slack for network jitter; exact: every request, first tries and
   retries alike, takes one slot, and a ``Retry-After`` from the server pauses every caller until then);
3. sends the request and sorts the outcome:

   - HTTP 429: :class:`RateLimitedError`, retried after ``Retry-After`` (seconds or an HTTP date) when the server
     sends one, otherwise after the back-off;
   - HTTP 5xx, time-outs, connection errors: retried with exponential back-off and jitter
     (``min(backoff_cap, backoff_base * 2**attempt)``, then a uniform draw in its upper half), or after the
     ``Retry-After`` a 5xx carries;
   - a body that is not JSON (malformed or truncated): retried at most ``malformed_retries`` times;
   - any other 4xx: :class:`coinseason.errors.ProviderError` at once, naming provider, endpoint, status and the
     vendor's message (a wrong key or a plan without the endpoint does not pass by retrying);
   - HTTP 200: the vendor's ``check`` hook may still turn the payload into an error (CMC's ``status.error_code``).

After ``max_attempts`` attempts the last retryable error is raised as :class:`coinseason.errors.RetryableProviderError`
(its message says how many attempts were made). The clock and the sleep are injected, so tests run in fake time.

Why not ``aiolimiter``/``tenacity``: ``aiolimiter`` is a leaky bucket, which lets up to twice its rate through in
some 60 s windows, and the guarantee here is an exact sliding window; the retry loop needs the limiter, the
breaker and ``Retry-After`` in one place, which is a dozen lines here and more glue with ``tenacity``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import httpx
import orjson

from coinseason.errors import CircuitOpenError, ProviderError, RateLimitedError, RetryableProviderError, RetryLaterError
from coinseason.providers.base import Plan

__all__ = [
    "CircuitBreaker",
    "CircuitOpenError",
    "OutboundClient",
    "OutboundPolicy",
    "RateLimitedError",
    "RetryLaterError",
    "SlidingWindowLimiter",
    "parse_retry_after",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Check = Callable[[str, int, Any], None]
"""``check(endpoint, http_status, payload)``: raises a ProviderError when the payload carries an error."""

_BODY_EXCERPT: Final = 200
_MIN_SLEEP: Final = 1e-6


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """How one provider client may call out."""

    calls_per_minute: int
    window: float = 60.0
    """Length of the sliding window the limit applies to, seconds (60 for a per-minute plan)."""
    margin: float = 0.5
    """Extra seconds added to the window so network jitter never makes the server see more."""
    max_attempts: int = 4
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    max_retry_after: float = 120.0
    """A ``Retry-After`` longer than this is not waited for: the call fails with :class:`RateLimitedError`."""
    malformed_retries: int = 2
    breaker_failures: int = 5
    breaker_cooldown: float = 60.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.calls_per_minute < 1:
            raise ValueError("calls_per_minute must be at least 1")
        if self.window <= 0 or self.margin < 0:
            raise ValueError("window must be positive and margin not negative")
        if self.max_attempts < 1 or self.breaker_failures < 1:
            raise ValueError("max_attempts and breaker_failures must be at least 1")


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); ``None`` when unusable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now_epoch
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class SlidingWindowLimiter:
    """At most ``calls`` acquisitions in any window of ``window + margin`` seconds, by the injected clock.

    It keeps the times of the last ``calls`` acquisitions; a new one is granted at time ``now`` only when
    ``now - oldest >= window + margin``, so any half-open interval ``[t, t + window + margin)`` holds at most
    ``calls`` of them (and with ``margin > 0`` any closed ``window``-second interval too). Waiters are served in
    arrival order. :meth:`pause_until` (from a ``Retry-After``) holds every caller back until a time.
    """

    def __init__(
        self,
        calls: int,
        window: float = 60.0,
        *,
        margin: float = 0.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if calls < 1:
            raise ValueError("a limiter needs at least one call per window")
        self.calls = calls
        self.span = window + margin
        self._clock = clock
        self._sleep = sleep
        self._granted: deque[float] = deque(maxlen=calls)
        self._paused_until = -math.inf
        self._lock = asyncio.Lock()

    def pause_until(self, when: float) -> None:
        """Grant nothing before clock time ``when``."""
        self._paused_until = max(self._paused_until, when)

    def delay(self) -> float:
        """Seconds until a slot would be granted (0 when one is free now)."""
        now = self._clock()
        wait = self._paused_until - now
        if len(self._granted) == self.calls:
            wait = max(wait, self.span - (now - self._granted[0]))  # the form the guarantee is stated in
        return max(0.0, wait)

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self.delay()) > 0:
                await self._sleep(max(wait, _MIN_SLEEP))  # never a sleep too short to move the clock
            self._granted.append(self._clock())


class CircuitBreaker:
    """Closed → open after ``failures`` consecutive failures → half-open after ``cooldown`` → one probe decides."""

    def __init__(self, failures: int = 5, cooldown: float = 60.0, *, clock: Clock = time.monotonic) -> None:
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self.cooldown else "open"

    def before_call(self) -> float | None:
        """``None`` when a call may go; otherwise the seconds until the circuit lets a probe through."""
        if self._opened_at is None:
            return None
        remaining = self._opened_at + self.cooldown - self._clock()
        if remaining > 0:
            return remaining
        if self._probing:
            return self.cooldown
        self._probing = True
        return None

    def success(self) -> None:
        self._consecutive = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        self._consecutive += 1
        if self._probing or self._consecutive >= self.failures:
            self._opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """A call ended with neither a success nor a provider failure (e.g. a refused request): free the probe."""
        self._probing = False


class OutboundClient:
    """One provider's HTTP client: limiter, retries and breaker around ``httpx.AsyncClient.get``."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        policy: OutboundPolicy,
        *,
        headers: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        check: Check | None = None,
        clock: Clock = time.monotonic,
        epoch: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._headers = dict(headers or {})
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=policy.timeout)
        self._check = check
        self._clock = clock
        self._epoch = epoch
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.limiter = SlidingWindowLimiter(
            policy.calls_per_minute, policy.window, margin=policy.margin, clock=clock, sleep=sleep
        )
        self.breaker = CircuitBreaker(policy.breaker_failures, policy.breaker_cooldown, clock=clock)
        self.requests_sent = 0
        """Requests that left this client (every attempt counts)."""

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def get_json(self, path: str, params: Mapping[str, str | int | float] | None = None) -> Any:
        """GET ``base_url + path`` and decode its JSON, under the limits; see the module docstring."""
        endpoint = path
        attempts = 0
        malformed = 0
        while True:
            attempts += 1
            try:
                return await self._attempt(endpoint, params)
            except CircuitOpenError:
                raise
            except _Malformed as exc:
                malformed += 1
                error: RetryableProviderError = exc.error
                if malformed > self.policy.malformed_retries or attempts >= self.policy.max_attempts:
                    raise RetryableProviderError(
                        f"{error} (gave up after {attempts} attempt(s), {malformed} unreadable answer(s))"
                    ) from exc
                wait = self._backoff(attempts)
            except RetryLaterError as exc:
                if exc.retry_after is not None and exc.retry_after > self.policy.max_retry_after:
                    raise
                if attempts >= self.policy.max_attempts:
                    raise type(exc)(f"{exc} (gave up after {attempts} attempts)", exc.retry_after) from exc
                wait = exc.retry_after if exc.retry_after is not None else self._backoff(attempts)
            except RetryableProviderError as exc:
                if attempts >= self.policy.max_attempts:
                    raise RetryableProviderError(f"{exc} (gave up after {attempts} attempts)") from exc
                wait = self._backoff(attempts)
            await self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _name(self, endpoint: str) -> str:
        return f"{self.provider} {endpoint}"

    async def _attempt(self, endpoint: str, params: Mapping[str, str | int | float] | None) -> Any:
        blocked = self.breaker.before_call()
        if blocked is not None:
            raise CircuitOpenError(
                f"{self._name(endpoint)}: circuit open after {self.breaker.failures} consecutive failures; "
                f"next try in {blocked:.0f} s",
                blocked,
            )
        try:
            await self.limiter.acquire()
            self.requests_sent += 1
            try:
                response = await self._client.get(self.base_url + endpoint, params=params, headers=self._headers)
            except httpx.TimeoutException as exc:
                raise RetryableProviderError(f"{self._name(endpoint)}: timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise RetryableProviderError(f"{self._name(endpoint)}: connection failed ({exc!r})") from exc
            payload = self._decode(endpoint, response)
        except RetryLaterError as exc:
            if exc.retry_after is not None:
                self.limiter.pause_until(self._clock() + min(exc.retry_after, self.policy.max_retry_after))
            if isinstance(exc, RateLimitedError):
                self.breaker.release()  # the provider is up, it wants us slower
            else:
                self.breaker.failure()
            raise
        except (RetryableProviderError, _Malformed):
            self.breaker.failure()
            raise
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.success()
        return payload

    def _decode(self, endpoint: str, response: httpx.Response) -> Any:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._epoch())
        try:
            payload, readable = orjson.loads(response.content), True
        except orjson.JSONDecodeError:
            payload, readable = None, False
        if readable and self._check is not None:  # vendor codes first: they say more than the HTTP status
            try:
                self._check(endpoint, status, payload)
            except RateLimitedError as exc:
                if exc.retry_after is None and retry_after is not None:
                    raise RateLimitedError(f"{exc}; retry after {retry_after:.0f} s", retry_after) from exc
                raise
        if status == 429:
            raise RateLimitedError(
                f"{self._name(endpoint)}: HTTP 429 rate limited{_vendor_message(response)}"
                + ("" if retry_after is None else f"; retry after {retry_after:.0f} s"),
                retry_after,
            )
        if status >= 500:
            raise RetryLaterError(f"{self._name(endpoint)}: HTTP {status}{_vendor_message(response)}", retry_after)
        if not readable:
            if status >= 400:
                raise ProviderError(f"{self._name(endpoint)}: HTTP {status}: {_excerpt(response)}")
            raise _Malformed(
                RetryableProviderError(
                    f"{self._name(endpoint)}: HTTP {status} with a body that is not JSON "
                    f"({len(response.content)} bytes: {_excerpt(response)})"
                )
            )
        if status >= 400:
            raise ProviderError(f"{self._name(endpoint)}: HTTP {status}{_vendor_message(response)}")
        return payload


class _Malformed(Exception):
    """Internal: a body that is not JSON (retried at most ``malformed_retries`` times)."""

    def __init__(self, error: RetryableProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def _excerpt(response: httpx.Response) -> str:
    text = response.content[:_BODY_EXCERPT].decode("utf-8", "replace")
    return repr(text) + ("…" if len(response.content) > _BODY_EXCERPT else "")


def _vendor_message(response: httpx.Response) -> str:
    """``: <message>`` from the usual vendor error bodies, or ``""``."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return f": {_excerpt(response)}" if response.content else ""
    found = _find_message(body)
    return f": {found}" if found else ""


def _find_message(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("error_message", "error", "message", "status"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):
                found = _find_message(value)
                if found:
                    return found
    return None


# -- what every provider built on this client shares -------------------------------------------------------------


def plan_and_policy(
    base: Plan, *, base_url: str | None, calls_per_minute: int | None, policy: OutboundPolicy | None
) -> tuple[Plan, OutboundPolicy]:
    """The plan a provider runs under and the policy it calls out with: ``calls_per_minute`` (else the policy's,
    else the plan's) rules both; ``base_url`` replaces the plan's."""
    limit = calls_per_minute or (policy.calls_per_minute if policy else base.calls_per_minute)
    plan = Plan(base.name, limit, base.history_days, (base_url or base.base_url).rstrip("/"))
    policy = policy or OutboundPolicy(calls_per_minute=limit)
    if policy.calls_per_minute != limit:
        policy = replace(policy, calls_per_minute=limit)
    return plan, policy


class PlanProvider:
    """What the HTTP market providers share: the plan they run under, their outbound client and their clock."""

    _plan: Plan
    _http: OutboundClient
    _clock: Callable[[], dt.datetime]

    @property
    def plan(self) -> Plan:
        return self._plan

    @property
    def http(self) -> OutboundClient:
        """The outbound client (its limiter, breaker and request count)."""
        return self._http

    async def aclose(self) -> None:
        await self._http.aclose()

    def oldest_day(self) -> dt.date | None:
        """The first day the plan can serve today (``None``: no limit)."""
        days = self._plan.history_days
        return None if days is None else self._clock().date() - dt.timedelta(days=days)


def json_float(value: Any) -> float | None:
    """A finite JSON number as a float; anything else (booleans, strings, NaN, infinities) as ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def json_positive(value: Any) -> float | None:
    """:func:`json_float`, with 0 and below as ``None``: vendors send 0 for an unknown cap, volume or supply."""
    number = json_float(value)
    return number if number is not None and number > 0 else None


def json_timestamp(value: Any) -> dt.datetime | None:
    """An ISO 8601 text (``Z`` allowed) as a UTC datetime, a naive one read as UTC; anything else ``None``."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
