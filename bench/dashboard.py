"""Benchmark of the dashboard: a real ``coinseason serve`` over the full CoinGecko history, driven by Chromium.

Run ``python bench/dashboard.py`` (``--rounds N``, default 5; ``--fresh N`` server starts, default 3). It needs
Debian's Chromium (``/usr/bin/chromium``, ``apt-get install -y chromium``) and the shared data beside the
repository; without them it says so and exits 2. Each figure is printed with its target and, where there is one, a
ratio against a baseline measured in the same run; the exit status is 1 when a target is missed.

Figures
-------
0. the first load on a freshly started server: a new ``coinseason serve`` over the same store (its start-up has
   computed only the standard series), one cold page load, the server then stopped; each of ``--fresh`` starts.
   This is what the first visitor after a restart waits: the page's other requests (periods, breakdown, the
   history) are computed on demand. Later loads are answered from the server's response cache.
1. time to first chart: from navigation start to the ``coinseason:first-chart`` performance mark (set when the
   first chart, the full daily season history, is drawn), in a fresh browser context (empty cache); the median of
   the rounds. Baseline: a bare page on the same server that loads the same plotly.js, fetches the same history and
   draws one line, nothing else (the floor any plotly page pays).
2. the same with a warm HTTP cache (plotly.js reused, data revalidated by ETag)
3. time until everything is drawn (all charts, the table), cold
4. page weight: bytes transferred on a cold load (Resource Timing ``transferSize``), with and without plotly.js,
   and the decoded sizes
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from report import Figure, Report, section  # bench/report.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test helpers start servers and find Chromium; the bench reuses them

from playwright.sync_api import Browser, sync_playwright  # noqa: E402

from tests.api.serve_helpers import Server, serve  # noqa: E402
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, ensure_chromium  # noqa: E402

PARQUET = ROOT.parent / "shared" / "data" / "coingecko" / "coingecko_daily_2013-04-28_2025-07-19.parquet"
FIRST_CHART_TARGET_MS = 1500.0
BASELINE_PATH = "/bench-baseline"
BASELINE_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="/assets/plotly.min.js"></script></head><body><div id="c" style="width:1200px;height:340px"></div>
<script>
fetch("/v1/season/history?top=50&window=90&exclude=default", {cache: "no-cache"}).then(r => r.json()).then(b => {
  const v = b.values;
  return Plotly.newPlot("c", [{type: "scatter", mode: "lines", x: v.map(p => p.date), y: v.map(p => p.value)}]);
}).then(() => { performance.mark("coinseason:first-chart"); document.body.dataset.ready = "1"; });
</script></body></html>"""
MARK = "() => performance.getEntriesByName('coinseason:first-chart')[0]?.startTime ?? null"
WEIGHT = """() => {
  const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')];
  return entries.map(e => ({name: e.name, transfer: e.transferSize, decoded: e.decodedBodySize}));
}"""


def load(browser: Browser, url: str, *, warm: bool = False) -> dict[str, Any]:
    """One page load in a fresh context (cold cache); with ``warm``, the second load in the same context."""
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    try:
        page = context.new_page()
        if url.endswith(BASELINE_PATH):
            page.route(url, lambda route: route.fulfill(body=BASELINE_PAGE, content_type="text/html"))
        page.goto(url)
        page.wait_for_function("document.body.dataset.ready >= 1", timeout=60_000)
        if warm:
            page.reload()
            page.wait_for_function("document.body.dataset.ready >= 1", timeout=60_000)
        done = page.evaluate("performance.now()")
        return {"first_chart": page.evaluate(MARK), "ready": done, "weight": page.evaluate(WEIGHT)}
    finally:
        context.close()


def first_loads(browser: Browser, db: Path, root: Path, env: dict[str, str], starts: int) -> list[dict[str, Any]]:
    """Figure 0, measured: one cold load on each of ``starts`` freshly started servers."""
    loads = []
    for i in range(starts):
        with serve(["--db", str(db)], log=root / f"fresh-{i}.log", env=env) as server:
            loads.append(load(browser, f"{server.url}/"))
    return loads


def report_first_loads(loads: list[dict[str, Any]], steady: float, report: Report) -> None:
    """Figure 0, reported, with its ratio to the cold first chart of a server that has answered once."""
    charts = [got["first_chart"] for got in loads]
    readies = [got["ready"] for got in loads]
    section("First load on a freshly started server (cold browser cache, server's response cache empty)")
    first = statistics.median(charts)
    ratio = f"{first / steady:.2f}× the warmed server's"
    report.add(Figure("first chart, first load after start (median)", first, "ms", FIRST_CHART_TARGET_MS, ratio=ratio))
    report.add(Figure("everything drawn, first load after start (median)", statistics.median(readies), "ms"))
    report.note(f"first chart per start (ms): {', '.join(f'{v:.0f}' for v in charts)}")
    report.note(f"everything drawn per start (ms): {', '.join(f'{v:.0f}' for v in readies)}")


def run(browser: Browser, server: Server, rounds: int, report: Report) -> float:
    """Figures 1-4; the median cold first chart."""
    page_url, baseline_url = f"{server.url}/", f"{server.url}{BASELINE_PATH}"
    load(browser, page_url)  # fills the server's response cache: figure 0 reports this first load apart
    cold, base, warm, ready = [], [], [], []
    weight: list[dict[str, Any]] = []
    for _ in range(rounds):  # alternate, so load on the machine falls on both alike
        got = load(browser, page_url)
        cold.append(got["first_chart"])
        ready.append(got["ready"])
        weight = got["weight"]
        base.append(load(browser, baseline_url)["first_chart"])
        warm.append(load(browser, page_url, warm=True)["first_chart"])
    first: float = statistics.median(cold)
    floor: float = statistics.median(base)
    section("Time to first chart (full daily history, localhost)")
    report.add(
        Figure("first chart, cold cache (median)", first, "ms", FIRST_CHART_TARGET_MS, ratio=f"{first / floor:.2f}×")
    )
    report.add(Figure("baseline: bare plotly page, same data (median)", floor, "ms"))
    report.add(Figure("first chart, warm cache (median)", statistics.median(warm), "ms", FIRST_CHART_TARGET_MS))
    report.add(Figure("everything drawn, cold cache (median)", statistics.median(ready), "ms"))
    report.note(f"cold rounds (ms): {', '.join(f'{v:.0f}' for v in cold)}")
    load1, _, _ = os.getloadavg()
    report.note(f"load average at the end: {load1:.1f} on {os.cpu_count()} CPUs: other processes slow both pages")

    section("Page weight (cold load)")
    plotly = [w for w in weight if w["name"].endswith("/assets/plotly.min.js")]
    transfer = sum(w["transfer"] for w in weight)
    decoded = sum(w["decoded"] for w in weight)
    report.add(Figure("transferred, everything", transfer / 1024, "KiB"))
    report.add(Figure("transferred, without plotly.js", (transfer - sum(w["transfer"] for w in plotly)) / 1024, "KiB"))
    report.add(Figure("plotly.js transferred (gzip)", sum(w["transfer"] for w in plotly) / 1024, "KiB"))
    report.add(Figure("decoded, everything", decoded / 1024, "KiB"))
    report.add(Figure("decoded, without plotly.js", (decoded - sum(w["decoded"] for w in plotly)) / 1024, "KiB"))
    for w in sorted(weight, key=lambda w: -w["transfer"]):
        report.note(f"{w['transfer'] / 1024:9.1f} KiB  {w['name'].removeprefix(server.url)}")
    return first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fresh", type=int, default=3, help="server starts measured for figure 0")
    args = parser.parse_args()
    reason = ensure_chromium()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 2
    if not PARQUET.is_file():
        print(f"the CoinGecko history is not at {PARQUET}", file=sys.stderr)
        return 2
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / "bench.duckdb"
        imported = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "coinseason", "import", str(PARQUET), "--format", "coingecko-daily", f"--db={db}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if imported.returncode != 0:
            print(imported.stderr, file=sys.stderr)
            return 2
        env = {"COINSEASON_ANONYMOUS_RATE_LIMIT_PER_MINUTE": "1000000000"}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                fresh = first_loads(browser, db, root, env, args.fresh)
                with serve(["--db", str(db)], log=root / "server.log", env=env) as server:
                    steady = run(browser, server, args.rounds, report)
                if fresh:
                    report_first_loads(fresh, steady, report)
            finally:
                browser.close()
    report.summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
