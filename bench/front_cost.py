"""CPU time of one cached ``GET /v1/season/latest`` through the API's front layer, in-process (no server, no socket):
what the guards (key in the URL, path parameters, body bounds, rate limit, access line) add to the hot path.

Run ``python bench/front_cost.py``; to compare with another checkout, run it there too
(``PYTHONPATH=OTHER/src python bench/front_cost.py``). CPU time (``time.process_time``) rather than wall-clock, so
that other work on the machine disturbs it less; the best of ``--runs`` runs of ``--requests`` requests. Every figure
is information: the API's throughput target is measured by ``bench/api.py`` against a bare ASGI app.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

import coinseason
from coinseason.api.app import create_app
from coinseason.logs import configure_logging
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.settings import ApiSettings, Settings
from coinseason.store import DuckDBStore
from report import Figure, Report, section  # bench/report.py, beside this script

QUERY = b"top=3&window=2"


def small_market(folder: Path) -> str:
    """Ten days of four coins: enough for a cached season answer."""
    lines = ["coin_id,symbol,name,date,price,market_cap"]
    for i in range(10):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=i)
        lines += [
            f"bitcoin,btc,Bitcoin,{day},{100 * 1.1**i},{1e9 * 1.1**i}",
            f"fast,fst,Fast,{day},{10 * 1.2**i},{1e8 * 1.2**i}",
            f"slow,slw,Slow,{day},5.0,5e7",
            f"tether,usdt,Tether,{day},1.0,9e8",
        ]
    csv = folder / "m.csv"
    csv.write_text("\n".join(lines) + "\n")
    db = folder / "front.duckdb"
    store = DuckDBStore(db)
    ImportService(store, clock=lambda: dt.datetime.now(dt.UTC)).import_file(csv, FileFormat.TIDY)
    store.close()
    return str(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    print(f"coinseason from {Path(coinseason.__file__).parent}")
    report = Report()
    with tempfile.TemporaryDirectory() as folder:
        limits = ApiSettings(rate_limit_per_minute=10**9, anonymous_rate_limit_per_minute=10**9)
        app = create_app(Settings(db=small_market(Path(folder)), api=limits))
        configure_logging("INFO", json=True, stream=io.StringIO())  # the access line is written, to memory
        with TestClient(app) as client:
            assert client.get("/v1/season/latest", params={"top": 3, "window": 2}).status_code == 200
            scope: dict[str, Any] = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": "/v1/season/latest",
                "raw_path": b"/v1/season/latest",
                "root_path": "",
                "query_string": QUERY,
                "headers": [(b"host", b"bench"), (b"accept", b"*/*"), (b"user-agent", b"bench")],
                "client": ("127.0.0.1", 5000),
                "server": ("bench", 80),
            }
            statuses: set[int] = set()

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses.add(message["status"])

            async def run() -> None:
                for _ in range(args.requests):
                    await app(dict(scope), receive, send)

            section(f"cached GET /v1/season/latest, {args.runs} runs of {args.requests:,} requests")
            runs = []
            for _ in range(args.runs):
                t0 = time.process_time()
                asyncio.run(run())
                runs.append((time.process_time() - t0) / args.requests * 1e6)
            assert statuses == {200}, statuses
            report.add(Figure("CPU per cached request (best run)", min(runs), "µs"))
            report.note("runs: " + ", ".join(f"{r:.2f}" for r in runs))
    report.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
