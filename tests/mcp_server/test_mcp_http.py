"""``coinseason mcp --transport http`` as a real process: the API's keys and rate limits guard ``/mcp``, and the MCP
SDK's own streamable-HTTP client, sending its key, lists and calls the tools."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.api.serve_helpers import clean_env, coinseason, free_port, stop

RATE_LIMIT = 12
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@dataclass(frozen=True)
class Running:
    url: str
    key: str
    log: Path


@pytest.fixture
def running(market_db: str, tmp_path: Path) -> Iterator[Running]:
    made = coinseason("keys", "create", "--name", "assistant", "--db", market_db)
    assert made.returncode == 0, made.stderr
    port = free_port()
    env = clean_env({"COINSEASON_ALLOW_ANONYMOUS": "false", "COINSEASON_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT)})
    command = [sys.executable, "-m", "coinseason", "mcp", "--transport", "http"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--db", market_db]
    log = tmp_path / "mcp.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:  # up once /mcp answers (401: no key)
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.post(url, json=INITIALIZE, headers=MCP_HEADERS, timeout=1.0).status_code == 401:
                    break
            time.sleep(0.05)
        yield Running(url=url, key=made.stdout.strip(), log=log)
    finally:
        stop(process)


def test_mcp_over_http_takes_the_api_keys_and_limits(running: Running) -> None:
    refused = httpx.post(running.url, json=INITIALIZE, headers=MCP_HEADERS)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert "X-API-Key" in refused.json()["detail"]
    bad = httpx.post(running.url, json=INITIALIZE, headers={**MCP_HEADERS, "X-API-Key": "cs_AAAAAAAA_" + "A" * 43})
    assert bad.status_code == 401 and "invalid or revoked" in bad.json()["detail"]

    async def session() -> tuple[list[str], dict[str, Any] | None]:
        headers = {"X-API-Key": running.key}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30.0) as http,
            streamable_http_client(running.url, http_client=http) as (read, write),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            tools = await client.list_tools()
            result = await client.call_tool("current_season", {"top": 3, "window": 2})
            return [t.name for t in tools.tools], result.structured_content

    names, answer = asyncio.run(asyncio.wait_for(session(), timeout=60))
    assert "current_season" in names and "backtest" in names
    assert answer is not None
    assert answer["answer"]["altcoin_season_index"] == 50.0 and answer["method"]["top"] == 3

    statuses = []
    for _ in range(RATE_LIMIT + 1):  # the key's budget of the minute, partly spent by the session above
        answered = httpx.post(running.url, json=INITIALIZE, headers={**MCP_HEADERS, "X-API-Key": running.key})
        statuses.append(answered.status_code)
        if answered.status_code == 429:
            assert answered.headers["x-ratelimit-limit"] == str(RATE_LIMIT)
            assert 1 <= int(answered.headers["retry-after"]) <= 60
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}, statuses
