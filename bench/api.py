"""Benchmark of the API service: a real ``coinseason serve`` over the full CoinGecko history, against a bare ASGI app.

Run ``python bench/api.py`` (``--quick`` for a smoke run, ``--only http``, ``ws`` or ``landing`` for one part). It needs
``wrk`` (``apt-get install -y wrk``) and a Redis (``--redis-url``, default ``redis://127.0.0.1:6379/15``); without
them it says so and exits 2. Each figure is printed with its target and, where there is one, a ratio against a
baseline measured in the same run; the exit status is 1 when any target is missed.

Figures
-------
1. ``GET /v1/season/latest`` throughput, wrk -t2 -c64, against a bare ASGI app sending the same bytes (body and
   headers, fetched from the real server first) under the same uvicorn settings; rounds alternate between the two
   servers and the best round of each counts (other processes on the machine slow either at random). Beside it,
   the server CPU time per request of each (``/proc``), whose ratio is what the throughput ratio would be on an
   idle core and moves much less with the machine's load
2. p99 latency of the real server in that run (wrk ``--latency``, 64 connections; the best round); then, on the
   fastest server, p99 of the app and of the bare app again at 16 connections (64 saturate two shared cores)
3. ``/v1/season/history``, the full daily history, served from the ready-bytes cache: p50 over one connection
   (wrk, requests one after another)
4. uncached custom ``top``/``window``: sequential httpx requests of ``/v1/season/latest``, each (N, W) new
5. 1,000 WebSocket subscribers of ``season``, then one publish on the Redis invalidation channel a round ("data
   landed"), 5 rounds. The server reloads and recomputes in a worker thread, then stamps the new payload
   ``sent_at`` (wall clock) and queues the same bytes for every subscriber. The target figure runs from ``sent_at``
   (the new payload ready to send) to each subscriber's receipt (``time.time()`` in the client's read callback:
   same machine, same clock): the p99 over the 1,000 receipts of one publish, median over the publishes (the worst
   publish and the p99 of every receipt pooled are shown beside it: a stall of the shared machine during one
   publish shows there). Split into ready → first receipt and first → p99 receipt (the fan-out). Also shown:
   publish → receipt, p99 (from the moment data landed, reload included), and publish → ``sent_at`` (the reload,
   off the event loop)

3b. the two history endpoints with ``Accept-Encoding: gzip``: bytes sent against the plain bytes (the gzip variant
   is made once, when the response is cached), and the p50 of the cached gzip variant
6. data really landed → receipt: the history imported into a throw-away PostgreSQL database (``--postgres``), the
   server started over it, and before each publish one landing written to it, in turn: a day two months back
   rewritten (a full reload), the last day rewritten and a new day (the daily snapshot: incremental, days taken back
   and appended), a new day only (incremental, appended); p99 receipt per kind, the last two against the first

Both servers bind 127.0.0.1 on free ports and are stopped at the end, also on errors.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx

from report import Figure, Report, section  # bench/report.py, beside this script

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PARQUET = Path("coingecko") / "coingecko_daily_2013-04-28_2025-07-19.parquet"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
LATEST = "/v1/season/latest"
HISTORY = "/v1/season/history"
DOMINANCE_HISTORY = "/v1/dominance/history"
HUGE_LIMIT = 1_000_000_000
"""Anonymous requests a minute: never reached, so the limiter is exercised but never refuses."""

PLAIN = {"Accept-Encoding": "identity"}
"""httpx asks for gzip by default; wrk does not, so the bytes the bare apps copy are the plain ones."""

THREADS, CONNECTIONS = 2, 64
FEWER_CONNECTIONS = 16
"""p99 is measured again at this many connections: 64 saturate two shared cores, bare server included."""
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
    db: Path | str, port: int, log: Path, extra_env: dict[str, str], *, kind: str | None = None
) -> contextlib.AbstractContextManager[Server]:
    """``coinseason serve`` over ``db`` (a DuckDB file or a store URL), on the server ``kind`` (default: serve's)."""
    command = [sys.executable, "-m", "coinseason", "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)]
    if kind is not None:
        command += ["--server", kind]
    env = child_env(
        {
            "COINSEASON_ANONYMOUS_RATE_LIMIT_PER_MINUTE": str(HUGE_LIMIT),
            "COINSEASON_RATE_LIMIT_PER_MINUTE": str(HUGE_LIMIT),
            **extra_env,
        }
    )
    return started(f"coinseason serve ({kind or 'default'})", command, env=env, log=log, port=port)


def create_key(db: Path) -> str:
    """A new API key in the store ``db`` (``coinseason keys create``), for requests as a keyed client."""
    command = [sys.executable, "-m", "coinseason", "keys", "create", "--name", "bench", "--db", str(db)]
    done = subprocess.run(command, capture_output=True, text=True, env=child_env({}), check=True, timeout=120)  # noqa: S603
    found = re.search(r"\b(cs_[A-Za-z0-9_-]{20,})", done.stdout + done.stderr)
    if found is None:
        raise RuntimeError(f"no key in the output of keys create:\n{done.stdout}{done.stderr}")
    return found[1]


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


BARE_RESPONSE_ENV = "BENCH_BARE_RESPONSE"


def bare_from_env() -> Callable[..., Awaitable[None]]:
    """The bare app answering the response saved in the file ``$BENCH_BARE_RESPONSE`` (a factory, for servers
    that start workers of their own)."""
    saved = json.loads(Path(os.environ[BARE_RESPONSE_ENV]).read_text())
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in saved["headers"]]
    return bare_app(bytes.fromhex(saved["body"]), headers)


def serve_bare(port: int, response: Path, kind: str) -> None:
    """The baseline server: the bare app on the server ``kind`` run exactly as ``coinseason serve`` runs it."""
    from coinseason.cli import servers
    from coinseason.settings import ApiSettings, ServerSettings, Settings

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # workers import the factory from this folder
    os.environ[BARE_RESPONSE_ENV] = str(response)
    settings = Settings(db="unused", api=ApiSettings(host="127.0.0.1", port=port), server=ServerSettings(kind=kind))
    run = servers.run_granian if kind == "granian" else servers.run_uvicorn
    run(settings, target="api:bare_from_env")


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and every process below it (a server's workers), Linux ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        used = cpu_seconds(current)
        total += 0.0 if math.isnan(used) else used
        todo += children.get(current, [])
    return total


def sent_bytes(client: httpx.Client, url: str, accept_encoding: str) -> tuple[int, str | None]:
    """How many body bytes a GET sends with this ``Accept-Encoding``, and the content coding it says."""
    with client.stream("GET", url, headers={"Accept-Encoding": accept_encoding}) as answer:
        answer.raise_for_status()
        size = sum(len(chunk) for chunk in answer.iter_raw())
        return size, answer.headers.get("content-encoding")


def wrk(
    url: str, *, threads: int, connections: int, seconds: float, gzip: bool = False, key: str | None = None
) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    if gzip:
        command[1:1] = ["-H", "Accept-Encoding: gzip"]
    if key is not None:
        command[1:1] = ["-H", f"X-API-Key: {key}"]
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


@dataclass(frozen=True, slots=True)
class Receipt:
    at: float
    """``time.perf_counter()`` when the message was complete."""
    wall: float
    """``time.time()`` then: comparable with the server's ``sent_at`` (same machine, same clock)."""
    payload: bytes


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
        self.next_text: asyncio.Future[Receipt] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET /v1/stream HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        now, wall = time.perf_counter(), time.time()
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
                self.next_text.set_result(Receipt(now, wall, payload))
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

    async def receive(self) -> Receipt:
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
    """Publish on the invalidation channel (data landed) → receipt, every subscriber of every round."""
    from_ready_ms: list[float]
    """The server's ``sent_at`` (new payload ready, just before it is queued for every subscriber) → receipt."""
    ready_ms: list[float]
    """Publish → the server's ``sent_at``, per round: the reload and recompute, off the event loop."""
    first_ms: list[float]
    """``sent_at`` → first receipt, per round."""
    spread_ms: list[float]
    """First receipt → p99 receipt, per round: the fan-out."""
    p99_ms: list[float]
    """``sent_at`` → p99 receipt, per round."""
    missing: int
    kinds: list[str] = field(default_factory=list)
    """Per timed round: what landed (``land``'s answer), beside ``ready_ms`` and ``landed_p99_ms``."""
    landed_p99_ms: list[float] = field(default_factory=list)
    """Per timed round: publish → p99 receipt."""
    unasked: int = 0
    """Pushes that came between publishes (e.g. the server re-subscribing to Redis reloads and pushes)."""
    skipped: int = 0
    """Publishes not timed: what arrived was a push made before them."""


async def ws_fanout(
    port: int,
    redis_url: str,
    *,
    clients: int,
    rounds: int,
    source: str,
    land: Callable[[int], str] | None = None,
) -> Fanout:
    """Connect ``clients`` subscribers of ``season``, then per round publish once and time every receipt.

    ``land(round)``: writes new data to the server's store before the round's publish (in a thread) and says what
    kind of landing it was."""
    import redis.asyncio as aioredis

    from coinseason.api.http.invalidation import RedisInvalidation

    loop = asyncio.get_running_loop()
    subscribers: list[Subscriber] = []

    async def open_one() -> Subscriber:
        host = f"127.0.0.1:{port}"
        async with asyncio.timeout(30):
            _, sub = await loop.create_connection(lambda: Subscriber(host), "127.0.0.1", port, local_addr=(source, 0))
            subscribers.append(sub)
            await sub.handshake
            sub.send(0x1, b'{"subscribe": ["season"]}')
            ack = (await sub.receive()).payload
        if json.loads(ack) != {"subscribed": ["season"]}:
            raise RuntimeError(f"unexpected answer to subscribe: {ack[:200]!r}")
        return sub

    result = Fanout(latencies_ms=[], from_ready_ms=[], ready_ms=[], first_ms=[], spread_ms=[], p99_ms=[], missing=0)
    invalidation = RedisInvalidation(aioredis.Redis.from_url(redis_url))
    try:
        for start in range(0, clients, 100):  # in batches: the listen backlog stays short
            await asyncio.gather(*(open_one() for _ in range(min(100, clients - start))))
        for index in range(rounds):
            await asyncio.sleep(0.5)
            for sub in subscribers:  # a push between publishes (not one of ours) is counted, not timed
                if sub.next_text.done() and sub.next_text.exception() is None:
                    result.unasked += 1
                    sub.next_text = loop.create_future()
            kind = await asyncio.to_thread(land, index) if land is not None else "no change"
            waiting = [asyncio.ensure_future(sub.receive()) for sub in subscribers]
            sent, sent_wall = time.perf_counter(), time.time()
            await invalidation.publish()
            done, pending = await asyncio.wait(waiting, timeout=30)
            for task in pending:
                task.cancel()
            receipts: list[Receipt] = [task.result() for task in done]  # a failed subscriber fails the run
            stamps = set()
            for receipt in receipts:
                message = json.loads(receipt.payload)
                if message.get("topic") != "season":
                    raise RuntimeError(f"unexpected push: {receipt.payload[:200]!r}")
                stamps.add(message["sent_at"])
            if len(stamps) > 1:
                raise RuntimeError(f"one publish, several payloads: {sorted(stamps)}")
            result.missing += len(pending)
            ready = dt.datetime.fromisoformat(stamps.pop()).timestamp() if stamps else math.nan
            if ready < sent_wall:  # a push made before this publish, still on its way: not ours, not timed
                result.unasked += len(receipts)
                result.skipped += 1
                continue
            result.latencies_ms += [(r.at - sent) * 1000 for r in receipts]
            if receipts:
                result.kinds.append(kind)
                result.landed_p99_ms.append(percentile([(r.at - sent) * 1000 for r in receipts], 99))
                from_ready = [(r.wall - ready) * 1000 for r in receipts]
                result.from_ready_ms += from_ready
                result.ready_ms.append((ready - sent_wall) * 1000)
                result.first_ms.append(min(from_ready))
                result.p99_ms.append(percentile(from_ready, 99))
                result.spread_ms.append(result.p99_ms[-1] - min(from_ready))
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


SERVER_KINDS = ("granian", "uvicorn")
"""The servers ``coinseason serve --server`` can run; the first is its default."""


@dataclass
class Contender:
    """One server process in the throughput table: the app or the bare baseline, on one server."""

    kind: str
    app: str
    server: Server
    results: list[WrkResult] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)

    @property
    def best(self) -> WrkResult:
        return max(self.results, key=lambda r: r.requests_per_second)


def throughput_table(
    contenders: list[Contender], key: str, *, seconds: float, rounds: int, connections: int = CONNECTIONS
) -> None:
    """wrk against each contender in turn, ``rounds`` times (alternating, so a busy moment of the machine falls on
    any of them), with the API key; each round's server CPU time per request."""
    for contender in contenders:  # warm up
        wrk(f"{contender.server.url}{LATEST}", threads=THREADS, connections=connections, seconds=1, key=key)
    for _ in range(rounds):
        for contender in contenders:
            before = tree_cpu_seconds(contender.server.process.pid)
            got = wrk(
                f"{contender.server.url}{LATEST}", threads=THREADS, connections=connections, seconds=seconds, key=key
            )
            used = tree_cpu_seconds(contender.server.process.pid) - before
            contender.results.append(got)
            contender.cpu_us.append(1e6 * used / got.requests if got.requests else math.nan)


def print_table(contenders: list[Contender]) -> None:
    """The throughput table: one line per server and app, the best round of each."""
    print(f"\n  {'server':<9}{'app':<12}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}{'errors':>8}")
    for c in contenders:
        best = c.best
        errors = sum(r.errors for r in c.results)
        print(
            f"  {c.kind:<9}{c.app:<12}{best.requests_per_second:>10,.0f}{best.p50_ms:>9.2f}{best.p99_ms:>9.2f}"
            f"{min(c.cpu_us):>12.1f}{errors:>8}"
        )
    print()


def http_figures(report: Report, db: Path, tmp: Path, *, quick: bool) -> None:
    seconds = 3.0 if quick else 10.0
    rounds = 1 if quick else 2
    key = create_key(db)
    report.note(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with contextlib.ExitStack() as stack, httpx.Client(timeout=60, headers={"X-API-Key": key}) as client:
        apps: dict[str, Server] = {}
        for kind in SERVER_KINDS:
            apps[kind] = stack.enter_context(
                coinseason_serve(db, free_port(), tmp / f"serve-{kind}.log", {}, kind=kind)
            )
        real = apps[SERVER_KINDS[0]]
        cold = time.perf_counter()
        first = client.get(f"{real.url}{LATEST}", headers=PLAIN)  # what wrk gets: it asks for no compression
        report.note(f"first {LATEST}: {(time.perf_counter() - cold) * 1000:.1f} ms (warmed up at start)")
        first.raise_for_status()
        kept = [(k, v) for k, v in first.headers.multi_items() if k.lower() not in ("date", "server")]
        (tmp / "latest.json").write_text(json.dumps({"body": first.content.hex(), "headers": kept}))
        report.note(
            f"{LATEST}: {len(first.content):,} bytes, {len(kept)} headers (security headers, ETag, rate limit); "
            "each bare app sends these bytes and the same headers"
        )
        contenders: list[Contender] = []
        for kind in SERVER_KINDS:
            port = free_port()
            command = [sys.executable, __file__, "--bare-server", str(port), str(tmp / "latest.json"), kind]
            bare = stack.enter_context(
                started(f"bare ({kind})", command, env=child_env({}), log=tmp / f"bare-{kind}.log", port=port)
            )
            if client.get(f"{bare.url}{LATEST}", headers=PLAIN).content != first.content:
                raise RuntimeError(f"the bare app on {kind} does not send the same bytes")
            contenders += [Contender(kind, "bare", bare), Contender(kind, "coinseason", apps[kind])]
        throughput_table(contenders, key, seconds=seconds, rounds=rounds)
        report.note(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for c in contenders:
            for got, cpu in zip(c.results, c.cpu_us, strict=True):
                report.note(
                    f"wrk {c.kind} {c.app}: {got.requests_per_second:,.0f} req/s, p50 {got.p50_ms:.2f} ms, "
                    f"p99 {got.p99_ms:.2f} ms, {got.errors} errors; server CPU {cpu:.1f} µs/request"
                )
        print_table(contenders)
        bares = [c for c in contenders if c.app == "bare"]
        ours = [c for c in contenders if c.app == "coinseason"]
        fastest_bare = max(bares, key=lambda c: c.best.requests_per_second)
        fastest_ours = max(ours, key=lambda c: c.best.requests_per_second)
        errors = sum(r.errors for c in contenders for r in c.results)
        ratio = 100 * fastest_ours.best.requests_per_second / fastest_bare.best.requests_per_second
        report.add(
            Figure(
                f"{LATEST} throughput, keyed, access log on (wrk -t{THREADS} -c{CONNECTIONS} -d{seconds:g}s)",
                fastest_ours.best.requests_per_second,
                "req/s",
                ratio=f"on {fastest_ours.kind}; bare ASGI on {fastest_bare.kind} "
                f"{fastest_bare.best.requests_per_second:,.0f} req/s",
            )
        )
        report.add(
            Figure(
                f"{LATEST} throughput vs the fastest bare ASGI server",
                ratio if errors == 0 else math.nan,
                "%",
                TARGET_RATIO,
                at_least=True,
                ratio=f"{fastest_ours.best.requests_per_second:,.0f} ({fastest_ours.kind}) / "
                f"{fastest_bare.best.requests_per_second:,.0f} ({fastest_bare.kind}); {errors} errors",
            )
        )
        for kind in SERVER_KINDS:
            bare_c = next(c for c in bares if c.kind == kind)
            ours_c = next(c for c in ours if c.kind == kind)
            report.add(
                Figure(
                    f"  on {kind}: coinseason vs bare on the same server",
                    100 * ours_c.best.requests_per_second / bare_c.best.requests_per_second,
                    "%",
                    ratio=f"CPU {min(bare_c.cpu_us):.1f} (bare) / {min(ours_c.cpu_us):.1f} µs per request: "
                    f"{100 * min(bare_c.cpu_us) / min(ours_c.cpu_us):.0f} % (what the ratio would be on an idle core)",
                )
            )
        report.add(
            Figure(
                f"{LATEST} p99 at {CONNECTIONS} connections ({fastest_ours.kind})",
                min(r.p99_ms for r in fastest_ours.results),
                "ms",
                TARGET_P99_MS,
                ratio=f"bare p99 {min(r.p99_ms for r in fastest_bare.results):.2f} ms ({fastest_bare.kind})",
            )
        )

        fewer = [Contender(c.kind, c.app, c.server) for c in (fastest_bare, fastest_ours)]
        throughput_table(fewer, key, seconds=min(seconds, 5.0), rounds=rounds, connections=FEWER_CONNECTIONS)
        report.add(
            Figure(
                f"{LATEST} p99 at {FEWER_CONNECTIONS} connections ({fewer[1].kind})",
                min(r.p99_ms for r in fewer[1].results),
                "ms",
                ratio=f"bare p99 {min(r.p99_ms for r in fewer[0].results):.2f} ms ({fewer[0].kind}) at the same load; "
                f"{fewer[1].best.requests_per_second:,.0f} / {fewer[0].best.requests_per_second:,.0f} req/s",
            )
        )

        cold = time.perf_counter()
        history = client.get(f"{real.url}{HISTORY}")
        history.raise_for_status()
        cold_ms = (time.perf_counter() - cold) * 1000
        days = len(history.json()["values"])
        got = wrk(f"{real.url}{HISTORY}", threads=1, connections=1, seconds=min(seconds, 5.0), key=key)
        report.add(
            Figure(
                f"{HISTORY} ({days:,} days, {len(history.content) / 1e6:.1f} MB), cached, p50",
                got.p50_ms if got.errors == 0 else math.nan,
                "ms",
                TARGET_HISTORY_P50_MS,
                ratio=f"wrk, 1 connection, sequential; p99 {got.p99_ms:.2f} ms; first (uncached) {cold_ms:.1f} ms",
            )
        )

        for url in (HISTORY, DOMINANCE_HISTORY):  # gzip: made once when the entry is stored, both variants kept
            plain_bytes, _ = sent_bytes(client, f"{real.url}{url}", "identity")
            packed_bytes, coding = sent_bytes(client, f"{real.url}{url}", "gzip")
            report.add(
                Figure(
                    f"{url} with Accept-Encoding: gzip, body sent",
                    packed_bytes / 1024 if coding == "gzip" else math.nan,
                    "KiB",
                    ratio=f"{packed_bytes:,} bytes: {100 * packed_bytes / plain_bytes:.1f} % of the plain "
                    f"{plain_bytes:,} bytes ({plain_bytes / 1024:,.0f} KiB)",
                )
            )
        got = wrk(f"{real.url}{HISTORY}", threads=1, connections=1, seconds=min(seconds, 5.0), gzip=True, key=key)
        report.add(
            Figure(
                f"{HISTORY}, cached, gzip variant, p50",
                got.p50_ms if got.errors == 0 else math.nan,
                "ms",
                ratio=f"wrk, 1 connection, Accept-Encoding: gzip; p99 {got.p99_ms:.2f} ms",
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
    rounds = 1 if quick else 5
    env = {"COINSEASON_REDIS_URL": redis_url}
    try:
        with coinseason_serve(db, port, tmp / "serve-redis.log", env) as server:
            started_at = time.perf_counter()
            try:
                fanout = run_fast(ws_fanout(port, redis_url, clients=WS_CLIENTS, rounds=rounds, source=source))
            except RuntimeError as exc:
                tail = server.log.read_text(errors="replace").splitlines()[-20:]
                raise RuntimeError(f"{exc}; the server's last log lines:\n" + "\n".join(tail)) from exc
            resubscribed = [line for line in server.log.read_text(errors="replace").splitlines() if "subscri" in line]
            for line in resubscribed[:5]:
                report.note(f"server: {line[:200]}")
            for i, (ready_ms, first_ms, p99_ms) in enumerate(
                zip(fanout.ready_ms, fanout.first_ms, fanout.p99_ms, strict=True)
            ):
                report.note(
                    f"publish {i + 1}: payload ready after {ready_ms:.0f} ms, first receipt {first_ms:.1f} ms later, "
                    f"p99 receipt {p99_ms:.1f} ms later"
                )
            report.note(
                f"{WS_CLIENTS:,} subscribers connected, {rounds} publish(es), "
                f"{time.perf_counter() - started_at:.1f} s in all; {fanout.missing} receipts missing, "
                f"{fanout.unasked} pushes between publishes, {fanout.skipped} publish(es) not timed"
            )
            ready, landed = fanout.from_ready_ms, fanout.latencies_ms
            complete = fanout.missing == 0
            report.add(
                Figure(
                    f"{WS_CLIENTS:,} WebSocket subscribers, new payload ready → receipt, p99 of a publish",
                    statistics.median(fanout.p99_ms) if complete and fanout.p99_ms else math.nan,
                    "ms",
                    TARGET_WS_P99_MS,
                    ratio=f"median of {len(fanout.p99_ms)} publishes; worst {max(fanout.p99_ms, default=math.nan):.1f}"
                    f" ms; every receipt pooled: p50 {percentile(ready, 50):.1f}, p99 {percentile(ready, 99):.1f} ms",
                )
            )
            report.add(
                Figure(
                    "  split: payload ready → first receipt",
                    statistics.median(fanout.first_ms) if fanout.first_ms else math.nan,
                    "ms",
                    ratio="median over publishes",
                )
            )
            report.add(
                Figure(
                    "  split: first receipt → p99 receipt (the fan-out)",
                    statistics.median(fanout.spread_ms) if fanout.spread_ms else math.nan,
                    "ms",
                    ratio="median over publishes",
                )
            )
            report.add(
                Figure(
                    f"{WS_CLIENTS:,} WebSocket subscribers, data landed (publish) → receipt, p99",
                    percentile(landed, 99) if complete else math.nan,
                    "ms",
                    ratio=f"p50 {percentile(landed, 50):.1f} ms; reload + recompute off the event loop, median "
                    f"{statistics.median(fanout.ready_ms) if fanout.ready_ms else math.nan:.0f} ms",
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


LANDINGS = ("history rewritten", "daily: last day rewritten + a new day", "a new day only")
"""What the landing rounds write, in turn: a day two months back rewritten (a full reload), the last day's values
put back to other ones and a new day (the ingestion loop's daily snapshot), a new day alone."""


class Lander:
    """Writes each round's landing into the PostgreSQL store the server reads (the bench is a second writer)."""

    def __init__(self, url: str) -> None:
        from coinseason.store import open_store

        self.store = open_store(url)
        summary = self.store.sources()[0]
        self.source, self.last = summary.source, summary.last_date

    def __call__(self, index: int) -> str:
        import polars as pl

        from coinseason.store.records import ImportRecord

        kind = LANDINGS[index % len(LANDINGS)]
        last = self.store.observations_between(self.source, self.last, self.last)
        if kind == LANDINGS[0]:
            old = self.last - dt.timedelta(days=60)
            rows = self.store.observations_between(self.source, old, old).with_columns(pl.col("price") * 1.000001)
        else:
            new_day = last.with_columns(pl.col("date") + pl.duration(days=1), pl.col("price") * 1.001)
            rows = new_day if kind == LANDINGS[2] else pl.concat([last.with_columns(pl.col("price") * 0.999), new_day])
            self.last += dt.timedelta(days=1)
        record = ImportRecord(self.source, "bench", "bench-landing", "", dt.datetime.now(dt.UTC), 0)
        coins = pl.DataFrame(
            {"source": [], "coin_id": [], "symbol": [], "name": [], "categories": []},
            schema={
                "source": pl.String,
                "coin_id": pl.String,
                "symbol": pl.String,
                "name": pl.String,
                "categories": pl.String,
            },
        )
        self.store.write_import(coins, rows, record)
        return kind

    def close(self) -> None:
        self.store.close()


@contextlib.contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A new database on ``server`` (``postgresql://user@host:port``), dropped on exit."""
    import psycopg
    from psycopg import sql

    name = f"cs_bench_{os.urandom(6).hex()}"
    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as con:
            con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def landing_figures(report: Report, parquet: Path, tmp: Path, redis_url: str, postgres: str, *, quick: bool) -> None:
    """Data landed → WebSocket receipt when the store really changed: a full reload against the incremental one."""
    rounds = 2 * len(LANDINGS) if quick else 5 * len(LANDINGS)
    port = free_port()
    source = random_loopback()
    with postgres_database(postgres) as url:
        t0 = time.perf_counter()
        command = [sys.executable, "-m", "coinseason", "import", str(parquet), "--format", "coingecko-daily"]
        imported = subprocess.run(  # noqa: S603 - our interpreter and arguments
            [*command, "--db", url], capture_output=True, text=True, env=child_env({}), check=False, timeout=900
        )
        if imported.returncode != 0:
            raise RuntimeError(f"the import into PostgreSQL failed: {imported.stdout}{imported.stderr}")
        report.note(f"{parquet.name} imported into PostgreSQL in {time.perf_counter() - t0:.1f} s")
        lander = Lander(url)
        try:
            # 1,000 connections opened at once while the server may still be warming up: no limiter time-outs
            env = {"COINSEASON_REDIS_URL": redis_url, "COINSEASON_REDIS_TIMEOUT_SECONDS": "2.0"}
            with coinseason_serve(url, port, tmp / "serve-landing.log", env) as server:
                fanout = run_fast(
                    ws_fanout(port, redis_url, clients=WS_CLIENTS, rounds=rounds, source=source, land=lander)
                )
                for line in server.log.read_text(errors="replace").splitlines():
                    if "up to date" in line or "reloading coingecko" in line:
                        report.note(f"server: {line[:160]}")
        finally:
            lander.close()
            forget_keys(redis_url, f"coinseason:rl:anon:{source}")
    full = None
    for kind in LANDINGS:
        ready = [r for k, r in zip(fanout.kinds, fanout.ready_ms, strict=True) if k == kind]
        landed = [p for k, p in zip(fanout.kinds, fanout.landed_p99_ms, strict=True) if k == kind]
        median = statistics.median(landed) if landed else math.nan
        full = median if kind == LANDINGS[0] else full
        report.add(
            Figure(
                f"{WS_CLIENTS:,} subscribers, data landed → receipt p99: {kind}",
                median if fanout.missing == 0 else math.nan,
                "ms",
                ratio=(f"{100 * median / full:.0f} % of a full reload; " if full and kind != LANDINGS[0] else "")
                + f"median of {len(landed)}; reload median {statistics.median(ready) if ready else math.nan:.0f} ms",
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the shared data folder")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis for the WebSocket figure")
    parser.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL server for the landing figures (user@host:port URL)"
    )
    parser.add_argument("--only", choices=("http", "ws", "landing"), help="measure only one part")
    parser.add_argument("--bare-server", nargs=3, metavar=("PORT", "RESPONSE", "SERVER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(int(args.bare_server[0]), Path(args.bare_server[1]), args.bare_server[2])
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
        if args.only in (None, "http"):
            section(
                "HTTP: coinseason serve (1 worker, keyed, in-memory limiter, access log on) vs bare ASGI, both servers"
            )
            http_figures(report, db, tmp, quick=args.quick)
        if args.only in (None, "ws"):
            section("WebSocket: coinseason serve with Redis (limiter and invalidation)")
            ws_figures(report, db, tmp, args.redis_url, quick=args.quick)
        if args.only in (None, "landing"):
            section("Landing: data written to a PostgreSQL store, then announced (full reload vs incremental)")
            landing_figures(report, parquet, tmp, args.redis_url, args.postgres, quick=args.quick)
    report.summary()
    print(f"\n{time.perf_counter() - began:.0f} s in all")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
