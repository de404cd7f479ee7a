"""README's Python examples for the client and the MCP server run as written against a real server, only the
address (and for MCP the way to start ``coinseason``) swapped for the test's.

The market: BTC +1 %/day, "fast" +2 %/day, "slow" flat and "tether" (a stablecoin) over 120 days from 2024-01-01,
so with top=50 and window=90 the index is 50 (fast beats BTC, slow does not): neutral, since the first day with a
90-day return, 2024-03-31.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.serve_helpers import clean_env, serve

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2024, 1, 1)


def example(heading: str) -> str:
    """The first python block under ``heading`` in README.md."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, f"README has no python example under {heading}"
    return found[1]


def market(path: Path) -> Path:
    lines = ["coin_id,symbol,name,date,price,market_cap"]
    for i in range(120):
        day = START + dt.timedelta(days=i)
        lines.append(f"bitcoin,btc,Bitcoin,{day},{100 * 1.01**i},{1e9 * 1.01**i}")
        lines.append(f"fast,fst,Fast,{day},{10 * 1.02**i},{1e8 * 1.02**i}")
        lines.append(f"slow,slw,Slow,{day},5.0,5e7")
        lines.append(f"tether,usdt,Tether,{day},1.0,9e8")
    path.write_text("\n".join(lines) + "\n")
    return path


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("readme")
    path = str(root / "readme.duckdb")
    made = subprocess.run(
        [sys.executable, "-m", "coinseason", "import", str(market(root / "m.csv")), "--format", "tidy", "--db", path],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return path


def test_the_client_example(db: str, tmp_path: Path) -> None:
    code = example("Python client")
    assert "http://127.0.0.1:8000" in code
    small = {"COINSEASON_SEASON_MIN_ELIGIBLE": "0"}  # two altcoins: the minimum universe is another test's
    with serve(["--db", db], log=tmp_path / "server.log", env=small) as server:
        out = run(code.replace("http://127.0.0.1:8000", server.url)).splitlines()
    assert out[0] == "2024-04-29 neutral 50.0 since 2024-03-31"
    assert out[1].startswith("default ")
    # one of two altcoins beats BTC: one coin more makes altcoin season (a tie names it), both are far from BTC
    assert "neutral margin 1 to altcoin []" in out
    assert out[-1] == "422 ['top']"


def test_the_mcp_example(db: str) -> None:
    code = example("MCP server for AI assistants")
    spawn = 'StdioServerParameters(command="coinseason", args=["mcp"])'
    assert spawn in code
    small = "env={'COINSEASON_SEASON_MIN_ELIGIBLE': '0'}"  # two altcoins: the minimum universe is another test's
    ours = (
        f"StdioServerParameters(command={sys.executable!r}, args=['-m', 'coinseason', 'mcp', '--db', {db!r}], {small})"
    )
    out = run(code.replace(spawn, ours)).splitlines()
    assert "'current_season'" in out[0] and "'backtest'" in out[0]
    season, data_time, version = out[1].split(" ")
    assert (season, data_time) == ("neutral", "2024-04-29T00:00:00Z")
    assert version
