"""A self-contained HTML backtest report: headline figures and inline SVG charts (no script, no CDN)."""

from __future__ import annotations

import html
import math
from dataclasses import asdict

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.services.trading import BacktestReport

WIDTH, HEIGHT, PAD = 900, 260, 40
COLOURS = {"strategy": "#1f77b4", "btc": "#f7931a", "alt": "#2ca02c", "cash": "#9e9e9e"}
SHOWN = ("cagr", "volatility", "sharpe", "sortino", "max_drawdown", "max_drawdown_days", "calmar", "var_95", "cvar_95")


def _points(x: NDArray[np.float64], y: NDArray[np.float64], lo: float, hi: float) -> str:
    span = hi - lo if hi > lo else 1.0
    xs = PAD + x * (WIDTH - 2 * PAD)
    ys = HEIGHT - PAD - (y - lo) / span * (HEIGHT - 2 * PAD)
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True) if math.isfinite(b))


def _frame(title: str, body: str, lo: str, hi: str, first: str, last: str) -> str:
    return (
        f'<h2>{html.escape(title)}</h2><svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{html.escape(title)}"><rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" '
        f'height="{HEIGHT - 2 * PAD}" fill="none" stroke="#ccc"/>{body}'
        f'<text x="2" y="{PAD + 4}" font-size="10">{hi}</text>'
        f'<text x="2" y="{HEIGHT - PAD}" font-size="10">{lo}</text>'
        f'<text x="{PAD}" y="{HEIGHT - 10}" font-size="10">{first}</text>'
        f'<text x="{WIDTH - PAD - 60}" y="{HEIGHT - 10}" font-size="10">{last}</text></svg>'
    )


def _lines(title: str, series: dict[str, NDArray[np.float64]], dates: list[str], *, log: bool) -> str:
    x = np.linspace(0.0, 1.0, len(dates)) if len(dates) > 1 else np.zeros(len(dates))
    ys = {k: np.log10(np.maximum(v, 1e-12)) if log else v for k, v in series.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in ys.values()])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    body = "".join(
        f'<polyline fill="none" stroke="{COLOURS[k]}" stroke-width="1.2" points="{_points(x, v, lo, hi)}"/>'
        for k, v in ys.items()
    )
    legend = "".join(
        f'<text x="{PAD + 10 + i * 110}" y="{PAD - 8}" font-size="11" fill="{COLOURS[k]}">{k}</text>'
        for i, k in enumerate(series)
    )
    low, high = (10**lo, 10**hi) if log else (lo, hi)
    first, last = (dates[0], dates[-1]) if dates else ("", "")
    return _frame(title, body + legend, f"{low:,.3g}", f"{high:,.3g}", first, last)


def _allocation(frame: pl.DataFrame, dates: list[str]) -> str:
    x = np.linspace(0.0, 1.0, len(dates)) if len(dates) > 1 else np.zeros(len(dates))
    base = np.zeros(len(dates))
    body = ""
    for name in ("btc", "alt", "cash"):
        top = base + frame[f"weight_{name}"].to_numpy()
        upper = _points(x, top, 0.0, 1.0)
        lower = _points(x[::-1], base[::-1], 0.0, 1.0)
        body += f'<polygon fill="{COLOURS[name]}" fill-opacity="0.8" points="{upper} {lower}"/>'
        base = top
    legend = "".join(
        f'<text x="{PAD + 10 + i * 80}" y="{PAD - 8}" font-size="11" fill="{COLOURS[k]}">{k}</text>'
        for i, k in enumerate(("btc", "alt", "cash"))
    )
    return _frame("Allocation", body + legend, "0", "1", dates[0] if dates else "", dates[-1] if dates else "")


def render(report: BacktestReport) -> str:
    """The whole report as one HTML page."""
    daily = report.daily
    dates = [str(d) for d in daily["date"].to_list()]
    step = max(1, len(dates) // 1500)  # at most ~1,500 points per line
    thin = daily.gather_every(step)
    tdates = dates[::step]
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th>"
        + "".join(f"<td>{report.metrics[p].get(k, float('nan')):,.3f}</td>" for p in report.metrics)
        + "</tr>"
        for k in SHOWN
    )
    head = "".join(f"<th>{html.escape(p)}</th>" for p in report.metrics)
    params = ", ".join(f"{k}={v}" for k, v in asdict(report.params).items())
    charts = _lines(
        "Equity (log scale)",
        {
            "strategy": thin["equity"].to_numpy(),
            "btc": thin["btc_equity"].to_numpy(),
            "alt": thin["alt_equity"].to_numpy(),
        },
        tdates,
        log=True,
    )
    charts += _lines("Drawdown", {"strategy": thin["drawdown"].to_numpy()}, tdates, log=False)
    charts += _allocation(thin, tdates)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>coinseason backtest: {html.escape(report.params.strategy)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:960px}td,th{padding:2px 8px;text-align:right}"
        "table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}</style></head><body>"
        f"<h1>Backtest: {html.escape(report.params.strategy)}</h1>"
        f"<p><strong>Analysis of past data, not investment advice.</strong> Source {html.escape(report.source)}, "
        f"{html.escape(dates[0] if dates else '')} to {html.escape(dates[-1] if dates else '')}.</p>"
        f"<p>{html.escape(params)}</p>"
        f"<table><tr><th></th>{head}</tr>{rows}</table>{charts}<ul>{notes}</ul></body></html>"
    )
