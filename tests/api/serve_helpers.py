"""Real ``coinseason serve`` processes for tests and benchmarks: free ports, readiness, and a sure kill.

Every server binds 127.0.0.1 on a port the OS just gave out, writes its output to a log file (shown when it fails
to start), runs in its own process group (so ``--workers N`` children go with it) and is stopped on exit from
:func:`serve`, also when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT = 60.0
"""Seconds a server may take to answer /healthz (it may import a file first)."""
STOP_TIMEOUT = 10.0
TEST_REDIS_TIMEOUT = "2.0"
"""``COINSEASON_REDIS_TIMEOUT_SECONDS`` of every test server using Redis (unless the test sets its own): generous,
so that a loaded CI machine (browser tests beside it) does not make the rate limiter fail closed with 503s."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any ``COINSEASON_*`` setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSEASON_")}
    env.update(extra or {})
    return env


def coinseason(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m coinseason ARGS`` to completion (bounded by ``timeout``), capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "coinseason", *args],
        capture_output=True,
        text=True,
        env=clean_env(env),
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL when it has not exited within STOP_TIMEOUT."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)
    # workers of a supervisor killed first may linger: end whatever is left of the group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_healthy(server: Server, *, timeout: float = START_TIMEOUT) -> None:
    """Poll ``/healthz`` until it answers 200; a RuntimeError with the server's log when it exits or times out."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"coinseason serve exited with {server.process.returncode} before answering:\n{server.output()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{server.url}/healthz").status_code == 200:
                    return
            time.sleep(0.05)
    raise RuntimeError(f"coinseason serve did not answer /healthz within {timeout:g} s:\n{server.output()}")


@contextlib.contextmanager
def serve(
    args: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> Iterator[Server]:
    """``python -m coinseason serve --host 127.0.0.1 --port <free> ARGS``, healthy, stopped on exit."""
    if env is not None and "COINSEASON_REDIS_URL" in env:
        env = {"COINSEASON_REDIS_TIMEOUT_SECONDS": TEST_REDIS_TIMEOUT, **env}
    port = free_port()
    command = [sys.executable, "-m", "coinseason", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, stdout=sink, stderr=subprocess.STDOUT, env=clean_env(env), start_new_session=True
        )
    server = Server(url=f"http://127.0.0.1:{port}", port=port, process=process, log=log)
    try:
        wait_healthy(server, timeout=timeout)
        yield server
    finally:
        stop(process)
