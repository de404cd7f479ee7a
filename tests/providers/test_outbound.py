"""Outbound limits: exact sliding-window limiter, Retry-After, retries, circuit breaker, against the fake provider
server.

The server runs in process (httpx's ASGI transport) with the client's fake time as its own clock, so its limit and
the client's limiter read the same seconds and no test waits; only the time-out test needs a real socket.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinseason.errors import ProviderError, RetryableProviderError
from coinseason.providers.coingecko import CoinGeckoProvider
from coinseason.providers.http import (
    CircuitBreaker,
    CircuitOpenError,
    OutboundPolicy,
    RateLimitedError,
    SlidingWindowLimiter,
    parse_retry_after,
)
from tests.conftest import COINGECKO_DAILY, shared_file
from tests.fakes.clock import FakeTime
from tests.fakes.provider_server import FakeProviderServer, Fault, ProviderData, fake_provider, in_process_provider

T = TypeVar("T")
AS_OF = dt.datetime(2025, 7, 19, 12, 0, tzinfo=dt.UTC)  # the served day of the shared CoinGecko data


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def most_in_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` inside any half-open interval ``[t, t + window)``."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# ---------------------------------------------------------------------------------------------- pure pieces


def test_retry_after_seconds_and_http_date() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0 ", now) == 0.0
    date = email.utils.formatdate(now + 45, usegmt=True)  # e.g. "Tue, 14 Nov 2023 22:14:05 GMT"
    assert parse_retry_after(date, now) == 45.0
    assert parse_retry_after(email.utils.formatdate(now - 10, usegmt=True), now) == 0.0  # a date gone by
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_limiter_grants_the_plan_then_waits_for_the_oldest_slot() -> None:
    fake = FakeTime()
    limiter = SlidingWindowLimiter(3, 60.0, clock=fake.monotonic, sleep=fake.sleep)
    granted: list[float] = []

    async def go() -> None:
        for _ in range(7):
            await limiter.acquire()
            granted.append(fake.now - 1000.0)

    run(go())
    # hand-computed: three at once, the 4th when the 1st is 60 s old, and so on
    assert granted == [0.0, 0.0, 0.0, 60.0, 60.0, 60.0, 120.0]


@settings(max_examples=60, deadline=None)
@given(
    calls=st.integers(1, 6),
    gaps=st.lists(st.floats(0, 40, allow_nan=False), min_size=1, max_size=40),
    pauses=st.lists(st.tuples(st.integers(0, 39), st.floats(0, 90, allow_nan=False)), max_size=3),
)
def test_limiter_never_exceeds_the_plan_in_any_window(
    calls: int, gaps: list[float], pauses: list[tuple[int, float]]
) -> None:
    fake = FakeTime()
    limiter = SlidingWindowLimiter(calls, 60.0, clock=fake.monotonic, sleep=fake.sleep)
    granted: list[float] = []
    pause_at = dict(pauses)

    async def caller(i: int, delay: float) -> None:
        await fake.sleep(delay)
        if i in pause_at:
            limiter.pause_until(fake.now + pause_at[i])
        await limiter.acquire()
        granted.append(fake.now)

    async def go() -> None:
        for i, gap in enumerate(gaps):
            await caller(i, gap)

    run(go())
    assert len(granted) == len(gaps)
    assert most_in_window(granted, 60.0) <= calls


def test_circuit_breaker_opens_probes_and_recovers() -> None:
    fake = FakeTime()
    breaker = CircuitBreaker(failures=3, cooldown=30.0, clock=fake.monotonic)
    for _ in range(2):
        assert breaker.before_call() is None
        breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open"
    assert breaker.before_call() == 30.0
    fake.now += 29.0
    assert breaker.before_call() == pytest.approx(1.0)
    fake.now += 1.0
    assert breaker.before_call() is None  # the probe
    assert breaker.before_call() is not None  # only one probe at a time
    breaker.failure()  # the probe failed: open again for a full cool-down
    assert breaker.state == "open"
    assert breaker.before_call() == 30.0
    fake.now += 30.0
    assert breaker.before_call() is None
    breaker.success()
    assert breaker.state == "closed"
    assert breaker.before_call() is None


def test_policy_refuses_impossible_values() -> None:
    with pytest.raises(ValueError, match="calls_per_minute"):
        OutboundPolicy(calls_per_minute=0)


# ---------------------------------------------------------------------------------------------- the fake server


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def fresh(fake: FakeTime) -> FakeProviderServer:
    """The fake server in process, its clock the test's fake time."""
    shared_file(COINGECKO_DAILY)
    return in_process_provider(ProviderData.shared(), monotonic=fake.monotonic, now=lambda: AS_OF)


def provider(
    server: FakeProviderServer,
    fake: FakeTime,
    *,
    hook: Callable[[httpx.Request], Any] | None = None,
    socket: bool = False,
    **policy: Any,
) -> CoinGeckoProvider:
    """A CoinGecko client of ``server`` in fake time ``fake``: in process, or over a real ``socket``."""
    fields: dict[str, Any] = {"calls_per_minute": 600, "margin": 0.0, **policy}
    hooks = {"request": [hook]} if hook is not None else {}
    timeout = fields.get("timeout", 10.0)
    if socket:
        client = httpx.AsyncClient(timeout=timeout, event_hooks=hooks)
    else:
        client = server.client(timeout=timeout, event_hooks=hooks)
    return CoinGeckoProvider(
        base_url=server.coingecko_url,
        policy=OutboundPolicy(**fields),
        client=client,
        clock=lambda: AS_OF,
        monotonic=fake.monotonic,
        sleep=fake.sleep,
        rng=random.Random(7),
    )


async def _use(p: CoinGeckoProvider, call: Callable[[CoinGeckoProvider], Coroutine[Any, Any, T]]) -> T:
    try:
        return await call(p)
    finally:
        await p.aclose()
        await p.http._client.aclose()


def test_429_with_retry_after_is_honoured_and_the_call_succeeds(fresh: FakeProviderServer, fake: FakeTime) -> None:
    fresh.add_fault(Fault("status", status=429, retry_after="7", path="/global"))
    snap = run(_use(provider(fresh, fake), lambda p: p.global_snapshot()))
    assert snap.total_market_cap > 0
    assert fresh.calls == 2
    assert fake.sleeps == [7.0]  # exactly the server's Retry-After, no back-off added


def test_503_with_an_http_date_retry_after_is_honoured(fresh: FakeProviderServer, fake: FakeTime) -> None:
    when = email.utils.formatdate(AS_OF.timestamp() + 30, usegmt=True)  # read against the provider's clock
    fresh.add_fault(Fault("status", status=503, retry_after=when, path="/global"))
    assert run(_use(provider(fresh, fake), lambda p: p.global_snapshot())).total_market_cap > 0
    assert fresh.calls == 2
    assert fake.sleeps == [30.0]


def test_server_side_limit_answers_429_and_the_client_waits_it_out(fresh: FakeProviderServer, fake: FakeTime) -> None:
    """A client configured above the server's limit (2 calls in any second) is held back by Retry-After and still
    succeeds: the third of three calls at once is refused, waits the second the server names, and lands."""
    fresh.limit_per_minute, fresh.window = 2, 1.0
    results = run(_use(provider(fresh, fake), lambda p: asyncio.gather(*(p.global_snapshot() for _ in range(3)))))
    assert len(results) == 3
    assert fresh.rejected == 1
    assert fresh.calls == 4
    assert fake.sleeps == [1.0]


def test_burst_of_5xx_is_retried_with_growing_jittered_backoff(fresh: FakeProviderServer, fake: FakeTime) -> None:
    fresh.add_fault(Fault("status", status=503, times=3, path="/global"))
    run(_use(provider(fresh, fake, backoff_base=1.0), lambda p: p.global_snapshot()))
    assert fresh.calls == 4
    assert len(fake.sleeps) == 3
    for attempt, slept in enumerate(fake.sleeps):
        ceiling = 2.0**attempt
        assert ceiling / 2 <= slept <= ceiling


def test_5xx_beyond_the_attempts_is_a_retryable_error_saying_so(fresh: FakeProviderServer, fake: FakeTime) -> None:
    fresh.add_fault(Fault("status", status=502, times=10, path="/global"))
    with pytest.raises(RetryableProviderError, match=r"HTTP 502.*gave up after 4 attempts"):
        run(_use(provider(fresh, fake), lambda p: p.global_snapshot()))
    assert fresh.calls == 4


@pytest.fixture(scope="module")
def served() -> Iterator[FakeProviderServer]:
    """The fake server over a real socket: a client time-out needs one."""
    shared_file(COINGECKO_DAILY)
    with fake_provider(ProviderData.shared()) as running:
        yield running


def test_a_timeout_is_retried(served: FakeProviderServer, fake: FakeTime) -> None:
    """End to end: the server answers the first call after 1.5 s, past the client's 0.3 s time-out; the retry lands."""
    served.reset()
    served.add_fault(Fault("slow", delay=1.5, path="/global"))
    snap = run(_use(provider(served, fake, socket=True, timeout=0.3), lambda p: p.global_snapshot()))
    assert snap.btc_dominance > 0
    assert served.calls == 2
    assert [c.kind for c in served.log] == ["slow", "ok"]
    assert len(fake.sleeps) == 1


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_unreadable_json_is_retried_then_refused_clearly(fresh: FakeProviderServer, fake: FakeTime, kind: Any) -> None:
    fresh.add_fault(Fault(kind, times=1, path="/global"))
    assert run(_use(provider(fresh, fake), lambda p: p.global_snapshot())).total_market_cap > 0
    assert fresh.calls == 2
    fresh.reset()
    fresh.add_fault(Fault(kind, times=10, path="/global"))
    with pytest.raises(RetryableProviderError, match=r"not JSON.*gave up after 3 attempt\(s\), 3 unreadable"):
        run(_use(provider(fresh, fake), lambda p: p.global_snapshot()))
    assert fresh.calls == 3  # first try + malformed_retries (2)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_raised_at_once_with_the_vendor_message(
    fresh: FakeProviderServer, fake: FakeTime, status: int
) -> None:
    fresh.add_fault(Fault("status", status=status, times=5, path="/global"))
    with pytest.raises(ProviderError, match=f"coingecko /global: HTTP {status}: injected error {status}") as err:
        run(_use(provider(fresh, fake), lambda p: p.global_snapshot()))
    assert not isinstance(err.value, RetryableProviderError)
    assert fresh.calls == 1


def test_circuit_breaker_opens_after_k_failures_and_recovers_after_the_cooldown(
    fresh: FakeProviderServer, fake: FakeTime
) -> None:
    fresh.add_fault(Fault("status", status=500, times=3, path="/global"))
    p = provider(fresh, fake, max_attempts=1, breaker_failures=3, breaker_cooldown=30.0)

    async def scenario() -> None:
        for _ in range(3):
            with pytest.raises(RetryableProviderError, match="HTTP 500"):
                await p.global_snapshot()
        with pytest.raises(CircuitOpenError, match="circuit open after 3 consecutive failures"):
            await p.global_snapshot()
        assert fresh.calls == 3  # refused without a request
        fake.now += 30.0
        assert (await p.global_snapshot()).total_market_cap > 0  # the half-open probe succeeds
        assert p.http.breaker.state == "closed"
        assert (await p.global_snapshot()).total_market_cap > 0

    run(_use(p, lambda _: scenario()))
    assert fresh.calls == 5


def test_limiter_keeps_every_60s_window_within_the_plan_including_retries(
    fresh: FakeProviderServer, fake: FakeTime
) -> None:
    fresh.add_fault(Fault("status", status=503, times=2, after=1, path="/global"))
    fresh.add_fault(Fault("malformed", times=1, after=4, path="/global"))
    sent: list[float] = []

    async def stamp(request: httpx.Request) -> None:
        sent.append(fake.now)

    p = provider(fresh, fake, hook=stamp, calls_per_minute=4)

    async def burst() -> None:
        await asyncio.gather(*(p.global_snapshot() for _ in range(10)))

    run(_use(p, lambda _: burst()))
    assert len(sent) == 13 == fresh.calls  # 10 calls + 2 retried 503s + 1 retried malformed body
    assert most_in_window(sent, 60.0) == 4
    assert [c.time for c in fresh.log] == sent  # the server saw each request at the time the client sent it


def test_limiter_holds_against_the_servers_own_window(fresh: FakeProviderServer, fake: FakeTime) -> None:
    """The client at the server's own limit (3 calls in any second, no margin), both reading the same clock, is
    never refused: the limiter's window is the server's, to the second."""
    fresh.limit_per_minute, fresh.window = 3, 1.0
    p = provider(fresh, fake, calls_per_minute=3, window=1.0, margin=0.0)
    run(_use(p, lambda _: asyncio.gather(*(p.global_snapshot() for _ in range(6)))))
    assert fresh.rejected == 0
    assert fresh.calls == 6
    assert [c.time - 1000.0 for c in fresh.log] == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


def test_a_retry_after_beyond_the_policy_is_not_waited_for(fresh: FakeProviderServer, fake: FakeTime) -> None:
    fresh.add_fault(Fault("status", status=429, retry_after="3600", path="/global"))
    with pytest.raises(RateLimitedError, match="retry after 3600 s") as err:
        run(_use(provider(fresh, fake), lambda p: p.global_snapshot()))
    assert err.value.retry_after == 3600.0
    assert fake.sleeps == []
