"""Benchmark of the API service: a real ``coinseason serve`` over the full CoinGecko history, against a bare ASGI app.

Run ``python bench/api.py`` (``--quick`` for a smoke run). It needs ``wrk`` (``apt-get install -y wrk``) and a
Redis (``--redis-url``, default ``redis://127.0.0.1:6379/15``); without them it says so and exits 2. Each figure is
printed with its target and, where there is one, a ratio against a baseline measured in the same run; the exit
status is 1 when any target is missed.

Figures
-------
1. ``GET /v1/season/latest`` throughput, wrk -t2 -c64, against a bare ASGI app sending the same bytes (body and
   headers, fetched from the real server first) under the same uvicorn settings; rounds alternate between the two
   servers and the best round of each counts (other processes on the machine slow either at random)
2. p99 latency of the real server in that run (wrk ``--latency``, 64 connections; the best round)
3. ``/v1/season/history``, the full daily history, served from the ready-bytes cache: p50 over one connection
   (wrk, requests one after another)
4. uncached custom ``top``/``window``: sequential httpx requests of ``/v1/season/latest``, each (N, W) new
5. 1,000 WebSocket subscribers: from a publish on the Redis invalidation channel to each subscriber's receipt of
   the season update, p99; split into publish → first delivery (the server's reload and recompute) and first →
   p99 delivery (the fan-out)

Both servers bind 127.0.0.1 on free ports and are stopped at the end, also on errors.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx

from report import Figure, Report, section  # bench/report.py, beside this script

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PARQUET = Path("coingecko") / "coingecko_daily_2013-04-28_2025-07-19.parquet"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
LATEST = "/v1/season/latest"
HISTORY = "/v1/season/history"
HUGE_LIMIT = 1_000_000_000
"""Anonymous requests a minute: never reached, so the limiter is exercised but never refuses."""

THREADS, CONNECTIONS = 2, 64
TARGET_RATIO = 50.0
TARGET_P99_MS = 10.0
TARGET_HISTORY_P50_MS = 20.0
TARGET_CUSTOM_P50_MS = 50.0
TARGET_WS_P99_MS = 100.0
WS_CLIENTS = 1_000


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- processes ------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without ``COINSEASON_*`` settings (they would change what is measured), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSEASON_")}
    env.update(extra)
    return env


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL after 10 s."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@contextlib.contextmanager
def started(name: str, command: list[str], *, env: dict[str, str], log: Path, port: int) -> Iterator[Server]:
    """Start a server (its own process group), wait until it answers ``/healthz``, stop it on exit."""
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our interpreter and arguments
            command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = Server(name=name, url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        deadline = time.monotonic() + 180
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{server.url}/healthz").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not answer within 180 s:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)
        yield server
    finally:
        stop(process)


def coinseason_serve(
    db: Path, port: int, log: Path, extra_env: dict[str, str]
) -> contextlib.AbstractContextManager[Server]:
    command = [sys.executable, "-m", "coinseason", "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)]
    env = child_env({"COINSEASON_ANONYMOUS_RATE_LIMIT_PER_MINUTE": str(HUGE_LIMIT), **extra_env})
    return started("coinseason serve", command, env=env, log=log, port=port)


# -- the bare ASGI baseline -----------------------------------------------------------------------------------

Message = MutableMapping[str, Any]


def bare_app(body: bytes, headers: list[tuple[bytes, bytes]]) -> Callable[..., Awaitable[None]]:
    """An ASGI app answering every request with ``body`` and ``headers``, and ``/healthz`` with the same."""
    start: Message = {"type": "http.response.start", "status": 200, "headers": headers}
    message: Message = {"type": "http.response.body", "body": body}

    async def app(
        scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send(start)
        await send(message)

    return app


def serve_bare(port: int, response: Path) -> None:
    """The baseline server: the bare app under uvicorn with the settings ``coinseason serve`` uses."""
    import uvicorn

    saved = json.loads(response.read_text())
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in saved["headers"]]
    app = bare_app(bytes.fromhex(saved["body"]), headers)
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_config=None)


# -- wrk ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    """Socket errors and non-2xx/3xx answers."""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, *, threads: int, connections: int, seconds: float) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout  # noqa: S603

    def latency(q: str) -> float:
        found = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        return float(found[1]) * _UNITS[found[2]] if found else math.nan

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad[1]) if bad else 0) + (sum(int(x) for x in sockets.groups()) if sockets else 0)
    return WrkResult(
        requests_per_second=float(rate[1]) if rate else math.nan,
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(total[1]) if total else 0,
        errors=errors,
    )


# -- WebSocket fan-out ----------------------------------------------------------------------------------------


class Subscriber(asyncio.Protocol):
    """A minimal WebSocket client on a raw connection: the time a message is complete is taken in the event loop's
    own read callback, so 1,000 of them cost the measuring process little (a full client library would add its
    own per-message work to every receipt time)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.closing = False
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.next_text: asyncio.Future[tuple[float, bytes]] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET /v1/stream HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[: self.buffer.find(b"\r\n")])
            del self.buffer[: end + 4]
            if b" 101 " not in status:
                self.handshake.set_exception(RuntimeError(f"WebSocket refused: {status.decode(errors='replace')}"))
                return
            self.upgraded = True
            self.handshake.set_result(None)
        while (frame := self._frame()) is not None:
            opcode, payload = frame
            if opcode == 0x9:  # ping: answer, or the server closes the connection
                self.send(0xA, payload)
            elif opcode == 0x1 and not self.next_text.done():
                self.next_text.set_result((now, payload))
            elif opcode == 0x8 and not self.next_text.done():
                self.next_text.set_exception(RuntimeError(f"the server closed the stream: {payload[2:]!r}"))

    def _frame(self) -> tuple[int, bytes] | None:
        """The next whole (unfragmented, unmasked) server frame, taken off the buffer; None until one is there."""
        buffer = self.buffer
        if len(buffer) < 2:
            return None
        length, start = buffer[1] & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length, start = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length, start = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < start + length:
            return None
        opcode, payload = buffer[0] & 0x0F, bytes(buffer[start : start + length])
        del buffer[: start + length]
        return opcode, payload

    def send(self, opcode: int, payload: bytes) -> None:
        """One masked frame (clients must mask), payloads under 64 KiB."""
        assert self.transport is not None and len(payload) < 65_536
        mask = os.urandom(4)
        size = bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0x80 | 126]) + len(payload).to_bytes(2)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode]) + size + mask + masked)

    async def receive(self) -> tuple[float, bytes]:
        """The next text message and the time it was complete; then wait for the one after."""
        got = await self.next_text
        self.next_text = asyncio.get_running_loop().create_future()
        return got

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closing:
            return
        for future in (self.handshake, self.next_text):
            if not future.done():
                future.set_exception(RuntimeError(f"connection lost: {exc}"))


@dataclass
class Fanout:
    latencies_ms: list[float]
    """Publish → receipt, every subscriber of every round."""
    first_ms: list[float]
    """Publish → first receipt, per round: the server's work before it sends anything."""
    spread_ms: list[float]
    """First receipt → p99 receipt, per round: the fan-out."""
    missing: int


async def ws_fanout(port: int, redis_url: str, *, clients: int, rounds: int, source: str) -> Fanout:
    """Connect ``clients`` subscribers of ``season``, then per round publish once and time every receipt."""
    import redis.asyncio as aioredis

    from coinseason.api.cache import RedisInvalidation

    loop = asyncio.get_running_loop()
    subscribers: list[Subscriber] = []

    async def open_one() -> Subscriber:
        host = f"127.0.0.1:{port}"
        async with asyncio.timeout(30):
            _, sub = await loop.create_connection(lambda: Subscriber(host), "127.0.0.1", port, local_addr=(source, 0))
            subscribers.append(sub)
            await sub.handshake
            sub.send(0x1, b'{"subscribe": ["season"]}')
            _, ack = await sub.receive()
        if json.loads(ack) != {"subscribed": ["season"]}:
            raise RuntimeError(f"unexpected answer to subscribe: {ack[:200]!r}")
        return sub

    result = Fanout(latencies_ms=[], first_ms=[], spread_ms=[], missing=0)
    invalidation = RedisInvalidation(aioredis.Redis.from_url(redis_url))
    try:
        for start in range(0, clients, 100):  # in batches: the listen backlog stays short
            await asyncio.gather(*(open_one() for _ in range(min(100, clients - start))))
        for _ in range(rounds):
            await asyncio.sleep(0.5)
            waiting = [asyncio.ensure_future(sub.receive()) for sub in subscribers]
            sent = time.perf_counter()
            await invalidation.publish()
            done, pending = await asyncio.wait(waiting, timeout=30)
            for task in pending:
                task.cancel()
            received = []
            for task in done:
                at, payload = task.result()  # a failed subscriber fails the run
                if b'"topic":"season"' not in payload:
                    raise RuntimeError(f"unexpected push: {payload[:200]!r}")
                received.append(at)
            result.missing += len(pending)
            latencies = [(t - sent) * 1000 for t in received]
            result.latencies_ms += latencies
            if latencies:
                result.first_ms.append(min(latencies))
                result.spread_ms.append(percentile(latencies, 99) - min(latencies))
    finally:
        for sub in subscribers:
            sub.close()
        await invalidation.close()
    return result


def run_fast(coroutine: Coroutine[Any, Any, Fanout]) -> Fanout:
    """Run on uvloop when it is installed (it is, with uvicorn[standard]): the receipt times carry less overhead."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


# -- the run --------------------------------------------------------------------------------------------------


def preflight(data_dir: Path, redis_url: str) -> Path:
    """The parquet file; exit 2 naming what is missing (wrk, the data, Redis)."""
    if shutil.which("wrk") is None:
        print("wrk is not installed: install it with `apt-get install -y wrk` (Debian/Ubuntu) and run again")
        sys.exit(2)
    parquet = data_dir / PARQUET
    if not parquet.is_file():
        print(f"the CoinGecko data is not at {parquet}: pass --data-dir (the shared data folder)")
        sys.exit(2)
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        print(f"Redis at {redis_url} does not answer ({exc}): start Redis or pass --redis-url")
        sys.exit(2)
    finally:
        client.close()
    return parquet


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit (children inherit it) towards ``wanted``; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def random_loopback() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def forget_keys(redis_url: str, *keys: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        client.delete(*keys)
    finally:
        client.close()


def http_figures(report: Report, db: Path, tmp: Path, *, quick: bool) -> None:
    seconds = 3.0 if quick else 10.0
    rounds = 1 if quick else 2
    real_port, bare_port = free_port(), free_port()
    with coinseason_serve(db, real_port, tmp / "serve.log", {}) as real, httpx.Client(timeout=60) as client:
        cold = time.perf_counter()
        first = client.get(f"{real.url}{LATEST}")
        report.note(f"first {LATEST}: {(time.perf_counter() - cold) * 1000:.1f} ms (warmed up at start)")
        first.raise_for_status()
        kept = [(k, v) for k, v in first.headers.multi_items() if k.lower() not in ("date", "server")]
        (tmp / "latest.json").write_text(json.dumps({"body": first.content.hex(), "headers": kept}))
        report.note(f"{LATEST}: {len(first.content):,} bytes; baseline sends these bytes and the same headers")
        bare_command = [sys.executable, __file__, "--bare-server", str(bare_port), str(tmp / "latest.json")]
        bare_log = tmp / "bare.log"
        with started("bare ASGI app", bare_command, env=child_env({}), log=bare_log, port=bare_port) as bare:
            if client.get(f"{bare.url}{LATEST}").content != first.content:
                raise RuntimeError("the bare app does not send the same bytes")
            results: dict[str, list[WrkResult]] = {"bare": [], "real": []}
            for url in (bare.url, real.url):  # warm both up
                wrk(f"{url}{LATEST}", threads=THREADS, connections=CONNECTIONS, seconds=1)
            for _ in range(rounds):
                for name, url in (("bare", bare.url), ("real", real.url)):
                    got = wrk(f"{url}{LATEST}", threads=THREADS, connections=CONNECTIONS, seconds=seconds)
                    results[name].append(got)
                    report.note(
                        f"wrk {name}: {got.requests_per_second:,.0f} req/s, p50 {got.p50_ms:.2f} ms, "
                        f"p99 {got.p99_ms:.2f} ms, {got.errors} errors"
                    )
        best_bare = max(results["bare"], key=lambda r: r.requests_per_second)
        best_real = max(results["real"], key=lambda r: r.requests_per_second)
        errors = sum(r.errors for r in results["real"] + results["bare"])
        ratio = 100 * best_real.requests_per_second / best_bare.requests_per_second if errors == 0 else math.nan
        report.add(
            Figure(
                f"{LATEST} throughput (wrk -t{THREADS} -c{CONNECTIONS} -d{seconds:g}s)",
                best_real.requests_per_second,
                "req/s",
                ratio=f"bare ASGI {best_bare.requests_per_second:,.0f} req/s",
            )
        )
        report.add(
            Figure(
                f"{LATEST} throughput vs bare ASGI app",
                ratio,
                "%",
                TARGET_RATIO,
                at_least=True,
                ratio=f"{best_real.requests_per_second:,.0f} / {best_bare.requests_per_second:,.0f}",
            )
        )
        report.add(
            Figure(
                f"{LATEST} p99 at {CONNECTIONS} connections",
                min(r.p99_ms for r in results["real"]),
                "ms",
                TARGET_P99_MS,
                ratio=f"bare p99 {min(r.p99_ms for r in results['bare']):.2f} ms",
            )
        )

        cold = time.perf_counter()
        history = client.get(f"{real.url}{HISTORY}")
        history.raise_for_status()
        cold_ms = (time.perf_counter() - cold) * 1000
        days = len(history.json()["values"])
        got = wrk(f"{real.url}{HISTORY}", threads=1, connections=1, seconds=min(seconds, 5.0))
        report.add(
            Figure(
                f"{HISTORY} ({days:,} days, {len(history.content) / 1e6:.1f} MB), cached, p50",
                got.p50_ms if got.errors == 0 else math.nan,
                "ms",
                TARGET_HISTORY_P50_MS,
                ratio=f"wrk, 1 connection, sequential; p99 {got.p99_ms:.2f} ms; first (uncached) {cold_ms:.1f} ms",
            )
        )

        rng = random.Random(20250719)  # noqa: S311 - reproducible choice of queries
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < (50 if quick else 80):
            pair = (rng.randint(1, 200), rng.randint(1, 365))
            if pair != (50, 90):
                pairs.add(pair)
        custom: list[float] = []
        queries = sorted(pairs)
        rng.shuffle(queries)
        for top, window in queries:
            t0 = time.perf_counter()
            answer = client.get(f"{real.url}{LATEST}", params={"top": top, "window": window})
            custom.append((time.perf_counter() - t0) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"top={top} window={window}: {answer.status_code} {answer.text[:200]}")
        report.add(
            Figure(
                f"{LATEST} uncached custom top/window, p50 of {len(custom)}",
                percentile(custom, 50),
                "ms",
                TARGET_CUSTOM_P50_MS,
                ratio=f"httpx sequential; p90 {percentile(custom, 90):.1f} ms, max {max(custom):.1f} ms",
            )
        )


def ws_figures(report: Report, db: Path, tmp: Path, redis_url: str, *, quick: bool) -> None:
    port = free_port()
    source = random_loopback()  # an anonymous identity of this run alone in the shared limiter
    rounds = 1 if quick else 3
    env = {"COINSEASON_REDIS_URL": redis_url}
    try:
        with coinseason_serve(db, port, tmp / "serve-redis.log", env) as server:
            started_at = time.perf_counter()
            fanout = run_fast(ws_fanout(port, redis_url, clients=WS_CLIENTS, rounds=rounds, source=source))
            report.note(
                f"{WS_CLIENTS:,} subscribers connected, {rounds} publish(es), "
                f"{time.perf_counter() - started_at:.1f} s in all; {fanout.missing} receipts missing"
            )
            latencies = fanout.latencies_ms
            p99 = percentile(latencies, 99) if fanout.missing == 0 else math.nan
            first = statistics.median(fanout.first_ms) if fanout.first_ms else math.nan
            report.add(
                Figure(
                    f"{WS_CLIENTS:,} WebSocket subscribers, publish → receipt, p99",
                    p99,
                    "ms",
                    TARGET_WS_P99_MS,
                    ratio=f"p50 {percentile(latencies, 50):.1f} ms, max {max(latencies, default=math.nan):.1f} ms",
                )
            )
            report.add(
                Figure(
                    "  split: publish → first delivery (server reload + recompute)",
                    first,
                    "ms",
                    ratio="median over publishes",
                )
            )
            report.add(
                Figure(
                    "  split: first delivery → p99 delivery (fan-out)",
                    statistics.median(fanout.spread_ms) if fanout.spread_ms else math.nan,
                    "ms",
                    ratio="median over publishes",
                )
            )
            got = wrk(f"{server.url}{LATEST}", threads=THREADS, connections=CONNECTIONS, seconds=3.0)
            report.add(
                Figure(
                    f"{LATEST} throughput with the Redis rate limiter (3 s)",
                    got.requests_per_second,
                    "req/s",
                    ratio=f"p99 {got.p99_ms:.2f} ms, {got.errors} errors",
                )
            )
    finally:
        forget_keys(redis_url, f"coinseason:rl:anon:{source}", "coinseason:rl:anon:127.0.0.1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the shared data folder")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis for the WebSocket figure")
    parser.add_argument("--bare-server", nargs=2, metavar=("PORT", "RESPONSE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(int(args.bare_server[0]), Path(args.bare_server[1]))
        return 0
    parquet = preflight(args.data_dir, args.redis_url)
    limit = raise_fd_limit(4 * WS_CLIENTS + 1024)
    report = Report()
    began = time.perf_counter()
    print(
        f"coinseason API benchmark{' (quick)' if args.quick else ''}: load {os.getloadavg()[0]:.2f}, fd limit {limit}"
    )
    with tempfile.TemporaryDirectory(prefix="coinseason-bench-api-") as name:
        tmp = Path(name)
        db = tmp / "coingecko.duckdb"
        section("import")
        t0 = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "coinseason",
            "import",
            str(parquet),
            "--format",
            "coingecko-daily",
            "--db",
            str(db),
        ]
        imported = subprocess.run(  # noqa: S603 - our interpreter and arguments
            command, capture_output=True, text=True, env=child_env({}), check=False, timeout=600
        )
        if imported.returncode != 0:
            print(imported.stdout + imported.stderr)
            return 2
        report.note(f"{parquet.name} imported in {time.perf_counter() - t0:.1f} s")
        section("HTTP: coinseason serve (1 worker, in-memory limiter, access log on) vs bare ASGI")
        http_figures(report, db, tmp, quick=args.quick)
        section("WebSocket: coinseason serve with Redis (limiter and invalidation)")
        ws_figures(report, db, tmp, args.redis_url, quick=args.quick)
    report.summary()
    print(f"\n{time.perf_counter() - began:.0f} s in all")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
