"""Bounds the server process keeps before the app sees anything: the WebSocket message size at the protocol layer
and the number of requests at once (uvicorn), and the choice of server (``--server``, ``COINSEASON_SERVER``).

Reproduction 2 of the security issue: the 4 KiB WebSocket limit applied only after uvicorn had buffered up to
16 MiB of a message. granian has no setting for it: there the app's own check (after the message is read) is what
applies, tested with the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from coinseason.cli import Runtime, app
from coinseason.settings import Settings
from tests.conftest import fixed_clock
from tests.security.edge_helpers import market_db_at, open_sockets, serving, wait_closed

MESSAGE_LIMIT = 4096


def test_uvicorn_refuses_a_websocket_message_over_the_limit_while_reading_it(tmp_path: Path) -> None:
    """API4 (unrestricted resource consumption): a 64 KiB message on /v1/stream is refused by the protocol layer
    (close 1009, message too big) against a 4 KiB limit, and the server serves on."""
    env = {"COINSEASON_MAX_WS_MESSAGE_BYTES": str(MESSAGE_LIMIT)}
    with serving("uvicorn", market_db_at(tmp_path), tmp_path, env) as server:

        async def oversized() -> int | None:
            async with connect(f"{server.ws_url}/v1/stream", max_size=None) as socket:
                await socket.send("x" * 65_536)
                try:
                    await asyncio.wait_for(socket.recv(), timeout=30)
                except ConnectionClosed as closed:
                    return closed.rcvd.code if closed.rcvd is not None else None
            return None

        assert asyncio.run(oversized()) == 1009
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_uvicorn_answers_503_over_its_concurrency_bound(tmp_path: Path) -> None:
    """API4: with COINSEASON_SERVER_MAX_CONNECTIONS=4 and four connections held open, a fifth request is answered
    503 at once instead of queueing without end."""
    env = {"COINSEASON_SERVER_MAX_CONNECTIONS": "4"}
    with serving("uvicorn", market_db_at(tmp_path), tmp_path, env) as server:
        held = open_sockets(server.port, 4, b"")
        try:
            _, answer = wait_closed(open_sockets(server.port, 1, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
        finally:
            for sock in held:
                sock.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]


runner = CliRunner()


@pytest.fixture
def root_logging() -> Iterator[None]:
    """``serve`` configures logging onto the runner's stderr: put the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def launched_with(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[int, str, list[Settings]]:
    launched: list[Settings] = []
    result = runner.invoke(
        app,
        ["serve", "--db", str(tmp_path / "s.duckdb"), *args],
        obj=Runtime(clock=fixed_clock, run_server=launched.append),
        env={"COLUMNS": "200", **env},
    )
    return result.exit_code, result.stderr, launched


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "granian"),
        ([], {"COINSEASON_SERVER": "uvicorn"}, "uvicorn"),
        (["--server", "granian"], {"COINSEASON_SERVER": "uvicorn"}, "granian"),
        (["--server", "uvicorn"], {}, "uvicorn"),
    ],
)
@pytest.mark.usefixtures("root_logging")
def test_the_server_is_chosen_by_flag_or_setting(
    args: list[str], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    """API8 (security misconfiguration): the server ``serve`` hands its settings to is the one asked for."""
    code, stderr, launched = launched_with(args, env, tmp_path)
    assert code == 0, stderr
    assert [s.server.kind for s in launched] == [expected]


@pytest.mark.usefixtures("root_logging")
def test_an_unknown_server_is_refused_in_one_line(tmp_path: Path) -> None:
    """API8: a mistyped server name stops serve with exit 2 naming what is allowed, and nothing is served."""
    code, stderr, launched = launched_with(["--server", "gunicorn"], {}, tmp_path)
    assert code == 2 and launched == []
    assert "granian" in stderr and "uvicorn" in stderr
    code, stderr, launched = launched_with([], {"COINSEASON_SERVER": "gunicorn"}, tmp_path)
    assert code == 2 and launched == []
    assert "COINSEASON_SERVER" in stderr
