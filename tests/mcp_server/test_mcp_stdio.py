"""``coinseason mcp`` over stdio, driven by the MCP SDK's own client: it lists every tool and calls each; every answer
is the API's answer for the same parameters (asked of the API in this process), with its method and data time.

The store holds the hand-made market of ``tests.conftest.small_market_csv``: with top=3 and window=2 the index is
50 (fast beats BTC, slow does not) from 2024-01-03 on.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest
from fastapi.testclient import TestClient
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from coinseason.api.app import create_app
from coinseason.settings import Settings
from tests.conftest import fixed_clock

TOOLS = [
    "current_season",
    "season_history",
    "season_breakdown",
    "season_periods",
    "season_consensus",
    "season_margin",
    "dominance_latest",
    "dominance_history",
    "methodology",
    "outlook",
    "backtest",
]
Q = {"top": 3, "window": 2}


@pytest.fixture
def api(market_db: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(db=market_db), clock=fixed_clock)) as client:
        yield client


def _server(db: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSEASON_")}
    return StdioServerParameters(command=sys.executable, args=["-m", "coinseason", "mcp", "--db", db], env=env)


def _session_results(db: str, calls: list[tuple[str, dict[str, Any]]], log: Path) -> tuple[list[Any], list[Any]]:
    """Spawn the server (its stderr into ``log``), list its tools and make ``calls``; every result, in order."""

    async def scenario(errlog: TextIO) -> tuple[list[Any], list[Any]]:
        async with stdio_client(_server(db), errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.list_tools()
                results = [await session.call_tool(name, arguments) for name, arguments in calls]
                return list(listed.tools), results

    with log.open("w") as errlog:
        return asyncio.run(asyncio.wait_for(scenario(errlog), timeout=120))


def test_every_tool_is_listed_and_answers_as_the_api(market_db: str, api: TestClient, tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("current_season", Q),
        ("season_history", {**Q, "start": "2024-01-02", "interval": "day", "points": 5}),
        ("season_breakdown", {**Q, "date": "2024-01-05"}),
        ("season_periods", {**Q, "neutral": True}),
        ("dominance_latest", {"universe": "top:2"}),
        ("dominance_history", {"interval": "day", "points": 3}),
        ("methodology", {"members": True}),
        ("outlook", {}),
        ("backtest", {**Q, "fee_bps": 20}),
        ("current_season", {"top": 0}),
        ("season_consensus", Q),
        ("season_consensus", {**Q, "start": "2024-01-02", "points": 5}),
        ("season_margin", {**Q, "band": 25, "date": "2024-01-05"}),
        ("season_margin", {**Q, "band": 25, "start": "2024-01-03", "end": "2024-01-06"}),
        ("season_margin", {**Q, "date": "2024-01-05", "start": "2024-01-03"}),
        ("season_margin", Q),
    ]
    tools, results = _session_results(market_db, calls, tmp_path / "mcp.log")

    assert [t.name for t in tools] == TOOLS
    for tool in tools:
        assert tool.description and len(tool.description) > 60, tool.name
        assert tool.output_schema is not None
        for name, schema in tool.input_schema["properties"].items():
            assert schema.get("description") or name in ("altcoin_at", "bitcoin_at"), (tool.name, name)
    answers = [r.structured_content for r in results]

    latest = answers[0]
    assert latest["answer"] == api.get("/v1/season/latest", params=Q).json()
    assert latest["answer"]["altcoin_season_index"] == 50.0 and latest["answer"]["season"] == "neutral"
    assert latest["method"]["top"] == 3 and latest["method"]["window"] == 2
    assert latest["data_time"] == "2024-01-10T00:00:00Z"

    history = answers[1]
    full = api.get("/v1/season/history", params={**Q, "from": "2024-01-02", "interval": "day"}).json()
    assert history["answer"]["values"] == full["values"][-5:]
    assert history["points_left_out"] == len(full["values"]) - 5 == 4
    assert history["method"] == full["method"] and history["data_time"] == "2024-01-10T00:00:00Z"

    breakdown = answers[2]
    assert breakdown["answer"] == api.get("/v1/season/breakdown", params={**Q, "date": "2024-01-05"}).json()
    assert breakdown["data_time"] == "2024-01-05T00:00:00Z"

    periods = answers[3]
    assert periods["answer"] == api.get("/v1/seasons", params={**Q, "neutral": "true"}).json()
    assert [(p["season"], p["start"], p["end"]) for p in periods["answer"]["values"]] == [
        ("neutral", "2024-01-03", "2024-01-10")
    ]

    dominance = answers[4]
    assert dominance["answer"] == api.get("/v1/dominance/latest", params={"universe": "top:2"}).json()
    btc, fast = 1e9 * 1.1**9, 1e8 * 1.2**9  # the top 2 of the day: BTC and fast (tether excluded)
    assert dominance["answer"]["btc_dominance"] == pytest.approx(100 * btc / (btc + fast))

    dominance_history = answers[5]
    full = api.get("/v1/dominance/history", params={"interval": "day"}).json()
    assert dominance_history["answer"]["values"] == full["values"][-3:]

    methodology = answers[6]
    assert methodology["answer"] == api.get("/v1/methodology").json()
    assert methodology["method"]["methodology_version"] == "1" and methodology["data_time"] is None

    outlook = results[7]  # no model trained on this store: the API's own 404, word for word
    refused = api.get("/v1/outlook")
    assert outlook.is_error and refused.status_code == 404
    assert refused.json()["detail"] in outlook.content[0].text

    backtest = answers[8]
    body = {"params": {**Q, "fee_bps": 20}, "daily": False}
    expected = api.post("/v1/backtests", json=body).json()
    assert backtest["answer"]["metrics"] == expected["metrics"]
    assert backtest["method"]["fee_bps"] == 20 and backtest["method"]["source"] == "custom"
    assert backtest["answer"]["days"]["last"] == "2024-01-10" and backtest["data_time"] == "2024-01-10T00:00:00Z"

    refused_top = results[9]
    assert refused_top.is_error and "top" in refused_top.content[0].text

    consensus = answers[10]
    assert consensus["answer"] == api.get("/v1/season/consensus", params=Q).json()
    assert consensus["answer"]["value"] == 50.0 and consensus["answer"]["n_variants"] == 64
    assert consensus["method"]["top"] == 3 and consensus["data_time"] == "2024-01-10T00:00:00Z"
    assert consensus["request"].startswith("GET /v1/season/consensus?top=3&window=2")

    consensus_history = answers[11]
    full = api.get("/v1/season/consensus/history", params={**Q, "from": "2024-01-02"}).json()
    assert consensus_history["answer"]["values"] == full["values"][-5:]
    assert consensus_history["points_left_out"] == len(full["values"]) - 5 == 4
    assert consensus_history["answer"]["grid"] == full["grid"] and consensus_history["method"] == full["method"]
    assert consensus_history["data_time"] == "2024-01-10T00:00:00Z"

    margin = answers[12]  # 1 of 2 altcoins beat BTC: one coin more or less changes the season
    assert margin["answer"] == api.get("/v1/season/margin", params={**Q, "band": 25, "date": "2024-01-05"}).json()
    assert margin["answer"]["margin"] == 1 and margin["data_time"] == "2024-01-05T00:00:00Z"

    margin_history = answers[13]
    range_ = {**Q, "band": 25, "from": "2024-01-03", "to": "2024-01-06"}
    assert margin_history["answer"] == api.get("/v1/season/margin/history", params=range_).json()
    assert [v["margin"] for v in margin_history["answer"]["values"]] == [1, 1, 1, 1]
    assert margin_history["points_left_out"] == 0 and margin_history["data_time"] == "2024-01-06T00:00:00Z"

    both = results[14]
    assert both.is_error and "not both" in both.content[0].text

    default_band = answers[15]  # no band given: the API's own default
    assert default_band["answer"] == api.get("/v1/season/margin", params=Q).json()
    assert default_band["answer"]["band_pct"] == 5.0 and "band" not in default_band["request"]


def test_a_store_without_data_is_a_clear_tool_error(tmp_path: Path) -> None:
    _, results = _session_results(str(tmp_path / "empty.duckdb"), [("current_season", {})], tmp_path / "mcp.log")
    assert results[0].is_error
    text = results[0].content[0].text
    assert "404: " in text and "import" in text  # the API's empty-store answer, saying what to do
