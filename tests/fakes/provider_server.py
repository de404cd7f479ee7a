"""A local fake of the CoinGecko and CoinMarketCap HTTP APIs, serving real recorded data, with limits and faults.

Two ways to run it: :func:`fake_provider`, a real HTTP server (uvicorn + Starlette) on ``127.0.0.1`` at a free
port, run in a background thread, so the providers' real httpx code paths (connections, time-outs, headers, JSON
decoding) are exercised end to end; and :func:`in_process_provider`, the same app called in process through
httpx's ASGI transport (``client=server.client()``), with the server's clocks injectable, for every test where a
real socket adds nothing.

Usage
-----
::

    from tests.fakes.provider_server import Fault, ProviderData, fake_provider

    with fake_provider(limit_per_minute=600, faults=[Fault("status", status=503, times=3)]) as server:
        server.base_url        # "http://127.0.0.1:PORT"
        server.coingecko_url   # base_url + "/api/v3"  (value for COINSEASON_COINGECKO_URL)
        server.cmc_url         # base_url              (value for COINSEASON_CMC_URL; paths start /v1, /v2)
        server.calls           # every request received (rejected and faulted ones included)
        server.rejected        # requests answered 429 by the server-side limit
        server.faulted         # requests answered by a fault
        server.log             # list of Call(time, path, query, status, kind), in arrival order
        server.paths()         # just the paths, in order
        server.shift_ranks(position=250, by=1)   # move the coin at rank 250 down one place, now
        server.ranking()       # CoinGecko ids in the order served now
        server.add_fault(Fault(...)); server.clear_faults(); server.reset_counters()
        server.reset()         # no calls, no faults, original ranking (for a server shared by several tests)
        server.wait_for(lambda log: len(log) >= 10, timeout=60)   # block until the log says so

    server = in_process_provider(monotonic=fake.monotonic)   # same server, no socket; its limit in fake time
    CoinGeckoProvider(..., base_url=server.coingecko_url, client=server.client())

``fake_provider(data=None, *, limit_per_minute=None, window=60.0, faults=(), history_days=None,
cmc_history=False, port=0, stamp_now=False)``

- ``data``: a :class:`ProviderData`; ``None`` loads the shared real data (``ProviderData.shared()``, cached per
  process): the CoinGecko daily parquet as of its last day (2025-07-19), the coin classification CSV for
  categories, the CMC top-200 parquet as of its last day (2024-12-11). ``ProviderData.from_frames(daily, ...)``
  builds one from a CoinGecko-daily-shaped polars frame (``date, coin_id, symbol, name, price_usd,
  market_cap_usd, volume_usd``) for small deterministic tests; ``as_of`` picks the day served as "now".
- ``limit_per_minute``: server-side limit over a sliding ``window`` (seconds, default 60) counting accepted
  requests; beyond it the answer is ``429`` with ``Retry-After`` (whole seconds until a slot frees) and the
  vendor's error body, and ``rejected`` grows. ``None``: no limit.
- ``history_days``: CoinGecko ``market_chart/range`` requests reaching further back than this many days before
  the served day are refused as the public API does (HTTP 401, ``error_code`` 10012). ``None``: no limit.
- ``cmc_history``: whether ``/v2/cryptocurrency/quotes/historical`` is in the (fake) key's plan; when not, it
  answers HTTP 403 with ``error_code`` 1006, as CMC does for a plan without the endpoint.
- ``stamp_now``: ``last_updated`` of the served CoinGecko ``/coins/markets`` rows is the time of serving, as the
  live API's is (default: the recorded day, deterministic for tests). Standalone, the server stamps the time of
  serving unless ``--recorded-stamps`` is given, so ``coinseason ingest run`` against it lands its snapshots.

``limit_per_minute``, ``window``, ``history_days`` and ``cmc_history`` are plain attributes of the server: a test
sharing one server (module-scoped fixture) may change them between calls, and ``reset()`` before each test.

Faults (:class:`Fault`) apply to requests whose path contains ``Fault.path`` (``""``: all); a fault skips the
first ``after`` matching requests, then hits the next ``times`` of them. The first firing fault answers:

- ``Fault("status", status=503, times=5)``: a burst of 5xx (or any status: ``status=401`` for N calls). The body
  is the vendor's error shape (CMC's ``status`` object for ``/v1``, ``/v2`` paths; ``error_code`` overrides its
  code, so ``Fault("status", status=200, error_code=1008, path="/v1/")`` is CMC's "HTTP 200 with an error").
  ``retry_after="3"`` (seconds or an HTTP date) adds the header.
- ``Fault("slow", delay=5.0)``: the normal answer, after ``delay`` seconds (a client time-out).
- ``Fault("malformed")``: HTTP 200 with a body that is not JSON (an HTML error page).
- ``Fault("truncated")``: HTTP 200 with the normal JSON cut in half (``Content-Length`` matches the cut body).
- ``Fault("shift", path="/coins/markets", rank=250, by=1)``: served normally, then the ranking changes: the
  coin at ``rank`` moves down ``by`` places, so a coin on page 1 moves to page 2 between two page requests.

Endpoints (query parameters as in the vendors' documentation)
------------------------------------------------------------
CoinGecko, under ``/api/v3``: ``/coins/markets`` (``vs_currency=usd``, ``order=market_cap_desc``, ``per_page``
≤ 250, ``page``, ``ids``, ``category``), ``/coins/{id}/market_chart/range`` (``from``, ``to``: UNIX seconds or
``YYYY-MM-DD``; one point per day at 00:00 UTC), ``/coins/list``, ``/coins/categories``,
``/coins/categories/list``, ``/coins/{id}`` (with ``categories``), ``/global``, ``/ping``. Rows have exactly the
keys of the recorded ``/coins/markets`` rows in ``../shared/data/coingecko/api_examples/``; values the data does
not hold (high/low 24 h, supplies other than circulating, fully diluted valuation) are ``null``.

CoinMarketCap: ``/v1/cryptocurrency/listings/latest`` (``start``, ``limit``), ``/v1/global-metrics/quotes/latest``
(totals and ``btc_dominance`` over the served top 200), ``/v2/cryptocurrency/quotes/historical`` (``id``,
``time_start``, ``time_end``). The CMC set has symbols only: ids are CMC's real numeric ids for a fixed list of
large coins (``BTC`` = 1, ``ETH`` = 1027, ...) and ``100000 + rank`` on the served day for the others; a coin's
history follows its symbol.

Run standalone: ``python -m tests.fakes.provider_server --port 8765 --limit 600``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson
import polars as pl
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "CMC_KNOWN_IDS",
    "IN_PROCESS_URL",
    "Call",
    "Fault",
    "FakeProviderServer",
    "ProviderData",
    "fake_provider",
    "in_process_provider",
]

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
COINGECKO_DAILY = DATA_DIR / "coingecko" / "coingecko_daily_2013-04-28_2025-07-19.parquet"
CLASSIFICATION = DATA_DIR / "coingecko" / "coin_classification.csv"
CMC_SNAPSHOTS = DATA_DIR / "cmc" / "cmc_daily_top200_2013-04-28_2024-12-11.parquet"

CMC_KNOWN_IDS: dict[str, int] = {
    "BTC": 1,
    "LTC": 2,
    "XRP": 52,
    "DOGE": 74,
    "XLM": 512,
    "USDT": 825,
    "ETH": 1027,
    "BCH": 1831,
    "BNB": 1839,
    "TRX": 1958,
    "LINK": 1975,
    "ADA": 2010,
    "USDC": 3408,
    "SOL": 5426,
    "AVAX": 5805,
    "SHIB": 5994,
    "DOT": 6636,
    "TON": 11419,
}
"""CoinMarketCap's own numeric ids of some large coins; other served coins get ``100000 + rank``."""

IN_PROCESS_URL = "http://fake-provider.test"
"""The base URL of a server run in process (:func:`in_process_provider`): no socket, any host name will do."""

_EPOCH = dt.date(1970, 1, 1)
_CG_RATE_LIMIT_MESSAGE = (
    "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our "
    "API plans for higher rate limits."
)
_HTML_ERROR = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"

FaultKind = Literal["status", "slow", "malformed", "truncated", "shift"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault; see the module docstring."""

    kind: FaultKind
    times: int = 1
    after: int = 0
    path: str = ""
    status: int = 503
    error_code: int | None = None
    retry_after: str | None = None
    delay: float = 5.0
    rank: int = 250
    by: int = 1


@dataclass(frozen=True, slots=True)
class Call:
    """One request the server received."""

    time: float
    """The server's monotonic clock (``time.monotonic()`` unless injected) when it arrived."""
    path: str
    query: str
    status: int
    kind: str
    """``ok``, ``rejected`` (server-side limit) or the fault kind that answered."""


def _day_ms(day: dt.date) -> int:
    return (day - _EPOCH).days * 86_400_000


def _iso(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _slug(name: str) -> str:
    keep = "".join(ch.lower() if ch.isalnum() else "-" for ch in name)
    return "-".join(part for part in keep.split("-") if part)


@dataclass(slots=True)
class ProviderData:
    """What the fake server serves: real rows, prepared once."""

    as_of: dt.date
    markets: list[dict[str, Any]]
    """CoinGecko ``/coins/markets`` rows, by market cap (``market_cap_rank`` is set when serving)."""
    history: pl.DataFrame
    """``coin_id, date, price, market_cap, volume`` sorted by coin and date, up to ``as_of``."""
    coins: list[dict[str, Any]]
    categories: dict[str, list[str]]
    """coin id -> CoinGecko category names."""
    cmc_as_of: dt.date | None = None
    cmc_listings: list[dict[str, Any]] = field(default_factory=list)
    cmc_history: pl.DataFrame | None = None
    """``symbol, date, price, market_cap, volume, circulating_supply`` up to ``cmc_as_of``."""
    _history_index: dict[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def shared(cls) -> ProviderData:
        """The real shared data sets (cached per process)."""
        return _shared_data()

    @classmethod
    def from_frames(
        cls,
        daily: pl.DataFrame,
        *,
        as_of: dt.date | None = None,
        categories: dict[str, list[str]] | None = None,
        cmc: pl.DataFrame | None = None,
        cmc_as_of: dt.date | None = None,
    ) -> ProviderData:
        """Build from a CoinGecko-daily-shaped frame (and optionally a CMC-snapshot-shaped one)."""
        frame = daily.select(
            pl.col("date"),
            pl.col("coin_id"),
            pl.col("symbol") if "symbol" in daily.columns else pl.lit(None, pl.String).alias("symbol"),
            pl.col("name") if "name" in daily.columns else pl.lit(None, pl.String).alias("name"),
            pl.col("price_usd").cast(pl.Float64).alias("price"),
            pl.col("market_cap_usd").cast(pl.Float64).alias("market_cap"),
            pl.col("volume_usd").cast(pl.Float64).alias("volume"),
        ).filter(pl.col("price").is_not_null())
        day = as_of or frame["date"].max()
        if not isinstance(day, dt.date):
            raise ValueError("the CoinGecko frame has no dated row")
        frame = frame.filter(pl.col("date") <= day).sort("coin_id", "date")
        history = frame.select("coin_id", "date", "price", "market_cap", "volume")
        data = cls(
            as_of=day,
            markets=_markets(frame, day),
            history=history,
            coins=_coins(frame),
            categories=dict(categories or {}),
        )
        if cmc is not None:
            data.cmc_as_of, data.cmc_listings, data.cmc_history = _cmc(cmc, cmc_as_of)
        data._history_index = _index(history)
        return data

    def coin_history(self, coin_id: str) -> pl.DataFrame | None:
        span = self._history_index.get(coin_id)
        return None if span is None else self.history.slice(span[0], span[1] - span[0])


def _index(history: pl.DataFrame) -> dict[str, tuple[int, int]]:
    runs = (
        history.with_row_index("i")
        .group_by("coin_id")
        .agg(pl.col("i").min().alias("lo"), pl.col("i").max().alias("hi"))
    )
    return {cid: (int(lo), int(hi) + 1) for cid, lo, hi in runs.iter_rows()}


def _markets(frame: pl.DataFrame, day: dt.date) -> list[dict[str, Any]]:
    extremes = frame.group_by("coin_id").agg(
        pl.col("price").max().alias("ath"),
        pl.col("date").get(pl.col("price").arg_max()).alias("ath_date"),
        pl.col("price").min().alias("atl"),
        pl.col("date").get(pl.col("price").arg_min()).alias("atl_date"),
    )
    yesterday = frame.filter(pl.col("date") == day - dt.timedelta(days=1)).select(
        "coin_id", pl.col("price").alias("price_1d"), pl.col("market_cap").alias("cap_1d")
    )
    today = (
        frame.filter(pl.col("date") == day)
        .join(yesterday, on="coin_id", how="left")
        .join(extremes, on="coin_id", how="left")
        .sort(["market_cap", "coin_id"], descending=[True, False], nulls_last=True)
    )
    rows: list[dict[str, Any]] = []
    for r in today.iter_rows(named=True):
        price, cap = float(r["price"]), _num(r["market_cap"])
        price_1d, cap_1d = _num(r["price_1d"]), _num(r["cap_1d"])
        rows.append(
            {
                "id": r["coin_id"],
                "symbol": r["symbol"] or "",
                "name": r["name"] or r["coin_id"],
                "image": None,
                "current_price": price,
                "market_cap": cap or 0,
                "market_cap_rank": None,
                "fully_diluted_valuation": None,
                "total_volume": _num(r["volume"]),
                "high_24h": None,
                "low_24h": None,
                "price_change_24h": None if price_1d is None else price - price_1d,
                "price_change_percentage_24h": None if not price_1d else 100 * (price / price_1d - 1),
                "market_cap_change_24h": None if cap is None or cap_1d is None else cap - cap_1d,
                "market_cap_change_percentage_24h": None if cap is None or not cap_1d else 100 * (cap / cap_1d - 1),
                "circulating_supply": None if cap is None else cap / price,
                "total_supply": None,
                "max_supply": None,
                "ath": _num(r["ath"]),
                "ath_change_percentage": None if not r["ath"] else 100 * (price / r["ath"] - 1),
                "ath_date": None if r["ath_date"] is None else _iso(r["ath_date"]),
                "atl": _num(r["atl"]),
                "atl_change_percentage": None if not r["atl"] else 100 * (price / r["atl"] - 1),
                "atl_date": None if r["atl_date"] is None else _iso(r["atl_date"]),
                "roi": None,
                "last_updated": _iso(day),
                "_has_cap": cap is not None,
            }
        )
    return rows


def _coins(frame: pl.DataFrame) -> list[dict[str, Any]]:
    names = frame.group_by("coin_id").agg(pl.col("symbol").last(), pl.col("name").last()).sort("coin_id")
    return [{"id": cid, "symbol": sym or "", "name": name or cid} for cid, sym, name in names.iter_rows()]


def _cmc(snapshots: pl.DataFrame, as_of: dt.date | None) -> tuple[dt.date, list[dict[str, Any]], pl.DataFrame]:
    day = as_of or snapshots["date"].max()
    if not isinstance(day, dt.date):
        raise ValueError("the CMC frame has no dated row")
    today = snapshots.filter(pl.col("date") == day).sort("rank")
    listings: list[dict[str, Any]] = []
    used: set[int] = set()
    for r in today.iter_rows(named=True):
        symbol = str(r["symbol"])
        cmc_id = CMC_KNOWN_IDS.get(symbol.upper(), 0)
        if cmc_id == 0 or cmc_id in used:
            cmc_id = 100_000 + int(r["rank"])
        used.add(cmc_id)
        stamp = f"{day.isoformat()}T23:59:00.000Z"
        listings.append(
            {
                "id": cmc_id,
                "name": symbol,
                "symbol": symbol,
                "slug": symbol.lower(),
                "num_market_pairs": None,
                "date_added": None,
                "tags": [],
                "max_supply": None,
                "circulating_supply": _num(r["circulating_supply"]),
                "total_supply": None,
                "infinite_supply": False,
                "platform": None,
                "cmc_rank": int(r["rank"]),
                "self_reported_circulating_supply": None,
                "self_reported_market_cap": None,
                "tvl_ratio": None,
                "last_updated": stamp,
                "quote": {
                    "USD": {
                        "price": _num(r["price_usd"]),
                        "volume_24h": _num(r["volume_24h_usd"]),
                        "volume_change_24h": None,
                        "percent_change_1h": None,
                        "percent_change_24h": _num(r["pct_change_24h"]),
                        "percent_change_7d": _num(r["pct_change_7d"]),
                        "market_cap": _num(r["market_cap_usd"]),
                        "market_cap_dominance": None,
                        "fully_diluted_market_cap": None,
                        "tvl": None,
                        "last_updated": stamp,
                    }
                },
            }
        )
    total = sum(row["quote"]["USD"]["market_cap"] or 0.0 for row in listings)
    for row in listings:
        cap = row["quote"]["USD"]["market_cap"]
        row["quote"]["USD"]["market_cap_dominance"] = None if cap is None or not total else 100 * cap / total
    history = (
        snapshots.filter(pl.col("date") <= day)
        .sort("date", "rank")
        .unique(["date", "symbol"], keep="first", maintain_order=True)
        .select(
            pl.col("symbol").str.to_uppercase(),
            "date",
            pl.col("price_usd").alias("price"),
            pl.col("market_cap_usd").alias("market_cap"),
            pl.col("volume_24h_usd").alias("volume"),
            "circulating_supply",
        )
    )
    return day, listings, history


@functools.cache
def _shared_data() -> ProviderData:
    for path in (COINGECKO_DAILY, CLASSIFICATION, CMC_SNAPSHOTS):
        if not path.is_file():
            raise FileNotFoundError(f"real data file not found: {path} (the shared data folder sits beside the repo)")
    classes = pl.read_csv(CLASSIFICATION, columns=["coin_id", "coingecko_categories"], infer_schema_length=0)
    categories = {
        cid: [c for c in cats.split(";") if c] for cid, cats in classes.drop_nulls("coingecko_categories").iter_rows()
    }
    return ProviderData.from_frames(
        pl.read_parquet(COINGECKO_DAILY), categories=categories, cmc=pl.read_parquet(CMC_SNAPSHOTS)
    )


# ----------------------------------------------------------------------------------------------- server


class FakeProviderServer:
    """State and routes of one fake server; use :func:`fake_provider` to run it."""

    def __init__(
        self,
        data: ProviderData,
        *,
        limit_per_minute: int | None = None,
        window: float = 60.0,
        faults: Sequence[Fault] = (),
        history_days: int | None = None,
        cmc_history: bool = False,
        stamp_now: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.data = data
        self._monotonic = monotonic
        """The clock of the server-side limit and of the call log (a test's fake time, shared with the client)."""
        self._now = now
        """The wall clock of the time stamps the server writes in its answers."""
        self.stamp_now = stamp_now
        """``last_updated`` of served CoinGecko market rows is the time of serving (as the live API's is), not
        the recorded day's: a client's staleness check then passes, as against the real API."""
        self.limit_per_minute = limit_per_minute
        self.window = window
        self.history_days = history_days
        self.cmc_history = cmc_history
        self.base_url = ""
        self.log: list[Call] = []
        self._lock = threading.Lock()
        self._logged = threading.Condition(self._lock)
        self._accepted: deque[float] = deque()
        self._faults: list[tuple[Fault, list[int]]] = [(f, [0]) for f in faults]
        self._order = list(range(len(data.markets)))
        self._cmc_order = list(range(len(data.cmc_listings)))
        self.app = Starlette(
            routes=[
                Route("/api/v3/ping", self._ping),
                Route("/api/v3/coins/markets", self._markets),
                Route("/api/v3/coins/list", self._coins_list),
                Route("/api/v3/coins/categories/list", self._categories_list),
                Route("/api/v3/coins/categories", self._categories),
                Route("/api/v3/coins/{id}/market_chart/range", self._market_chart_range),
                Route("/api/v3/coins/{id}", self._coin),
                Route("/api/v3/global", self._global),
                Route("/v1/cryptocurrency/listings/latest", self._cmc_listings),
                Route("/v1/global-metrics/quotes/latest", self._cmc_global),
                Route("/v2/cryptocurrency/quotes/historical", self._cmc_historical),
            ]
        )
        self.app.add_middleware(_GateMiddleware, server=self)

    # -- counters --------------------------------------------------------------------------------------------

    def client(self, *, timeout: float = 10.0, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client that calls this server's app in process (no socket): for a provider's ``client=``;
        ``kwargs`` go to :class:`httpx.AsyncClient` (e.g. ``event_hooks``)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), timeout=timeout, **kwargs)

    def wait_for(self, done: Callable[[list[Call]], bool], timeout: float) -> bool:
        """Block until ``done(log)`` holds (checked at each logged call); False when ``timeout`` seconds passed
        first (a safety net for a test that would otherwise hang, not a measure)."""
        with self._logged:
            return self._logged.wait_for(lambda: done(self.log), timeout=timeout)

    @property
    def coingecko_url(self) -> str:
        return f"{self.base_url}/api/v3"

    @property
    def cmc_url(self) -> str:
        return self.base_url

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.log)

    @property
    def rejected(self) -> int:
        with self._lock:
            return sum(1 for c in self.log if c.kind == "rejected")

    @property
    def faulted(self) -> int:
        with self._lock:
            return sum(1 for c in self.log if c.kind not in ("ok", "rejected"))

    def paths(self) -> list[str]:
        with self._lock:
            return [c.path for c in self.log]

    def reset_counters(self) -> None:
        with self._lock:
            self.log.clear()
            self._accepted.clear()

    def reset(self) -> None:
        """Back to the state at start: no calls, no faults, the original ranking (limits unchanged)."""
        with self._lock:
            self.log.clear()
            self._accepted.clear()
            self._faults.clear()
            self._order = list(range(len(self.data.markets)))
            self._cmc_order = list(range(len(self.data.cmc_listings)))

    def ranking(self) -> list[str]:
        """CoinGecko coin ids in the order currently served."""
        with self._lock:
            return [self.data.markets[i]["id"] for i in self._order]

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append((fault, [0]))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def shift_ranks(self, position: int = 250, by: int = 1, *, cmc: bool = False) -> None:
        """Move the coin at 1-based ``position`` down ``by`` places in the served ranking."""
        with self._lock:
            order = self._cmc_order if cmc else self._order
            if 1 <= position <= len(order):
                coin = order.pop(position - 1)
                order.insert(min(position - 1 + by, len(order)), coin)

    def _timestamp(self) -> str:
        return self._now().astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _cmc_status(self, **kwargs: Any) -> Any:
        return _cmc_status(self._timestamp(), **kwargs)

    def _cmc_error(self, http_status: int, code: int, message: str) -> Response:
        return _cmc_error(self._timestamp(), http_status, code, message)

    # -- gate: limit and faults ----------------------------------------------------------------------------

    def _admit(self, path: str, query: str) -> tuple[str, Fault | None, int]:
        """Decide a request: ``("rejected", None, retry_after)``, ``("ok", fault_or_None, 0)``."""
        now = self._monotonic()
        with self._lock:
            if self.limit_per_minute is not None:
                while self._accepted and now - self._accepted[0] >= self.window:
                    self._accepted.popleft()
                if len(self._accepted) >= self.limit_per_minute:
                    wait = max(1, math.ceil(self.window - (now - self._accepted[0])))
                    self.log.append(Call(now, path, query, 429, "rejected"))
                    self._logged.notify_all()
                    return "rejected", None, wait
                self._accepted.append(now)
            chosen: Fault | None = None
            for fault, seen in self._faults:
                if fault.path not in path:
                    continue
                hit = fault.after <= seen[0] < fault.after + fault.times
                seen[0] += 1
                if hit and chosen is None:
                    chosen = fault
            return "ok", chosen, 0

    def _record(self, path: str, query: str, status: int, kind: str) -> None:
        with self._lock:
            self.log.append(Call(self._monotonic(), path, query, status, kind))
            self._logged.notify_all()

    # -- CoinGecko -------------------------------------------------------------------------------------------

    async def _ping(self, request: Request) -> Response:
        return _json({"gecko_says": "(V3) To the Moon!"})

    def _ranked(self) -> list[dict[str, Any]]:
        with self._lock:
            order = list(self._order)
        rows = []
        for rank, i in enumerate(order, start=1):
            row = dict(self.data.markets[i])
            row["market_cap_rank"] = rank if row.pop("_has_cap") else None
            rows.append(row)
        return rows

    async def _markets(self, request: Request) -> Response:
        q = request.query_params
        if q.get("vs_currency", "").lower() != "usd":
            return _json({"error": "invalid vs_currency"}, 400)
        order = q.get("order", "market_cap_desc")
        if order not in ("market_cap_desc", "market_cap_asc"):
            return _json({"error": f"order {order} is not served by the fake"}, 400)
        try:
            per_page = min(max(int(q.get("per_page", "100")), 1), 250)
            page = max(int(q.get("page", "1")), 1)
        except ValueError:
            return _json({"error": "invalid per_page or page"}, 400)
        rows = self._ranked()
        if order == "market_cap_asc":
            rows.reverse()
        if "ids" in q:
            wanted = {part.strip() for part in q["ids"].split(",")}
            rows = [r for r in rows if r["id"] in wanted]
        if "category" in q:
            cat = q["category"]
            rows = [r for r in rows if cat in {_slug(c) for c in self.data.categories.get(r["id"], [])}]
        served = rows[(page - 1) * per_page : page * per_page]
        if self.stamp_now:
            now = self._timestamp()
            served = [{**r, "last_updated": now} for r in served]
        return _json(served)

    async def _coins_list(self, request: Request) -> Response:
        platform = request.query_params.get("include_platform", "false") == "true"
        return _json([{**c, "platforms": {}} if platform else c for c in self.data.coins])

    def _category_rows(self) -> dict[str, tuple[str, list[dict[str, Any]]]]:
        members: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        for row in self.data.markets:
            for name in self.data.categories.get(row["id"], []):
                members.setdefault(_slug(name), (name, []))[1].append(row)
        return members

    async def _categories_list(self, request: Request) -> Response:
        rows = [{"category_id": slug, "name": name} for slug, (name, _) in sorted(self._category_rows().items())]
        return _json(rows)

    async def _categories(self, request: Request) -> Response:
        out: list[dict[str, Any]] = []
        for slug, (name, rows) in self._category_rows().items():
            out.append(
                {
                    "id": slug,
                    "name": name,
                    "market_cap": sum(r["market_cap"] or 0 for r in rows),
                    "market_cap_change_24h": None,
                    "content": "",
                    "top_3_coins_id": [r["id"] for r in rows[:3]],
                    "top_3_coins": [],
                    "volume_24h": sum(r["total_volume"] or 0 for r in rows),
                    "updated_at": _iso(self.data.as_of),
                }
            )
        out.sort(key=lambda c: -float(c["market_cap"]))
        return _json(out)

    async def _coin(self, request: Request) -> Response:
        coin_id = request.path_params["id"]
        coin = next((c for c in self.data.coins if c["id"] == coin_id), None)
        if coin is None:
            return _json({"error": "coin not found"}, 404)
        return _json(
            {
                **coin,
                "web_slug": coin_id,
                "asset_platform_id": None,
                "platforms": {},
                "categories": self.data.categories.get(coin_id, []),
                "last_updated": _iso(self.data.as_of),
            }
        )

    async def _market_chart_range(self, request: Request) -> Response:
        coin_id = request.path_params["id"]
        q = request.query_params
        if q.get("vs_currency", "").lower() != "usd":
            return _json({"error": "invalid vs_currency"}, 400)
        try:
            start, end = _when(q["from"]), _when(q["to"])
        except (KeyError, ValueError):
            return _json({"error": "invalid from or to"}, 400)
        if self.history_days is not None:
            oldest = _day_ms(self.data.as_of - dt.timedelta(days=self.history_days)) / 1000
            if start < oldest:
                message = (
                    "Your request exceeds the allowed time range. Public API users are limited to querying "
                    f"historical data within the past {self.history_days} days. Upgrade to a paid plan to enjoy "
                    "full historical data access: https://www.coingecko.com/en/api/pricing. "
                )
                status = {"timestamp": self._timestamp(), "error_code": 10012, "error_message": message}
                body = {"error": {"status": status}}
                return _json(body, 401)
        days = self.data.coin_history(coin_id)
        if days is None:
            return _json({"error": "coin not found"}, 404)
        lo = _EPOCH + dt.timedelta(days=math.ceil(start / 86_400))
        hi = _EPOCH + dt.timedelta(days=math.floor(end / 86_400))
        days = days.filter(pl.col("date").is_between(lo, hi))
        stamps = [_day_ms(d) for d in days["date"].to_list()]
        return _json(
            {
                "prices": [[t, v] for t, v in zip(stamps, days["price"].to_list(), strict=True)],
                "market_caps": [[t, v or 0] for t, v in zip(stamps, days["market_cap"].to_list(), strict=True)],
                "total_volumes": [[t, v or 0] for t, v in zip(stamps, days["volume"].to_list(), strict=True)],
            }
        )

    async def _global(self, request: Request) -> Response:
        rows = self.data.markets
        total = sum(r["market_cap"] or 0 for r in rows)
        volume = sum(r["total_volume"] or 0 for r in rows)
        top = sorted(rows, key=lambda r: -(r["market_cap"] or 0))[:10]
        before = sum((r["market_cap"] or 0) - (r["market_cap_change_24h"] or 0) for r in rows)
        return _json(
            {
                "data": {
                    "active_cryptocurrencies": len(rows),
                    "upcoming_icos": 0,
                    "ongoing_icos": 0,
                    "ended_icos": 0,
                    "markets": 0,
                    "total_market_cap": {"usd": total},
                    "total_volume": {"usd": volume},
                    "market_cap_percentage": {r["symbol"]: 100 * r["market_cap"] / total for r in top if total},
                    "market_cap_change_percentage_24h_usd": 100 * (total / before - 1) if before else None,
                    "updated_at": (self.data.as_of - _EPOCH).days * 86_400,
                }
            }
        )

    # -- CoinMarketCap -------------------------------------------------------------------------------------

    async def _cmc_listings(self, request: Request) -> Response:
        q = request.query_params
        try:
            start = max(int(q.get("start", "1")), 1)
            limit = min(max(int(q.get("limit", "100")), 1), 5000)
        except ValueError:
            return self._cmc_error(400, 400, 'Invalid value for "start" or "limit"')
        with self._lock:
            order = list(self._cmc_order)
        rows = []
        for rank, i in enumerate(order, start=1):
            row = dict(self.data.cmc_listings[i])
            row["cmc_rank"] = rank
            rows.append(row)
        page = rows[start - 1 : start - 1 + limit]
        status = self._cmc_status(total_count=len(rows), credits=1 + (len(page) - 1) // 200)
        return _json({"data": page, "status": status})

    async def _cmc_global(self, request: Request) -> Response:
        rows = self.data.cmc_listings
        caps = {r["symbol"]: r["quote"]["USD"]["market_cap"] or 0.0 for r in reversed(rows)}
        total = sum(r["quote"]["USD"]["market_cap"] or 0.0 for r in rows)
        volume = sum(r["quote"]["USD"]["volume_24h"] or 0.0 for r in rows)
        stamp = f"{(self.data.cmc_as_of or self.data.as_of).isoformat()}T23:59:00.000Z"
        return _json(
            {
                "data": {
                    "active_cryptocurrencies": len(rows),
                    "total_cryptocurrencies": len(rows),
                    "active_market_pairs": 0,
                    "active_exchanges": 0,
                    "total_exchanges": 0,
                    "eth_dominance": 100 * caps.get("ETH", 0.0) / total if total else None,
                    "btc_dominance": 100 * caps.get("BTC", 0.0) / total if total else None,
                    "eth_dominance_yesterday": None,
                    "btc_dominance_yesterday": None,
                    "stablecoin_volume_24h": None,
                    "stablecoin_market_cap": None,
                    "last_updated": stamp,
                    "quote": {
                        "USD": {
                            "total_market_cap": total,
                            "total_volume_24h": volume,
                            "altcoin_volume_24h": None,
                            "altcoin_market_cap": total - caps.get("BTC", 0.0),
                            "last_updated": stamp,
                        }
                    },
                },
                "status": self._cmc_status(),
            }
        )

    async def _cmc_historical(self, request: Request) -> Response:
        if not self.cmc_history:
            return self._cmc_error(403, 1006, "Your API Key subscription plan doesn't support this endpoint.")
        q = request.query_params
        history = self.data.cmc_history
        try:
            cmc_id = int(q["id"])
            start = _when(q["time_start"])
            end = _when(q["time_end"]) if "time_end" in q else float("inf")
        except (KeyError, ValueError):
            return self._cmc_error(400, 400, 'Invalid value for "id", "time_start" or "time_end"')
        coin = next((r for r in self.data.cmc_listings if r["id"] == cmc_id), None)
        if coin is None or history is None:
            return self._cmc_error(400, 400, f'Invalid value for "id": "{cmc_id}"')
        days = history.filter(pl.col("symbol") == coin["symbol"].upper()).sort("date")
        quotes = []
        for r in days.iter_rows(named=True):
            stamp = _day_ms(r["date"]) / 1000 + 86_340
            if start <= stamp <= end:
                iso = f"{r['date'].isoformat()}T23:59:00.000Z"
                usd = {
                    "price": _num(r["price"]),
                    "volume_24h": _num(r["volume"]),
                    "market_cap": _num(r["market_cap"]),
                    "circulating_supply": _num(r["circulating_supply"]),
                    "total_supply": None,
                    "timestamp": iso,
                }
                quotes.append({"timestamp": iso, "quote": {"USD": usd}})
        body = {"id": cmc_id, "name": coin["name"], "symbol": coin["symbol"], "is_active": 1, "is_fiat": 0}
        return _json({"data": {str(cmc_id): {**body, "quotes": quotes}}, "status": self._cmc_status()})


class _GateMiddleware:
    """Pure ASGI middleware: server-side limit, faults and the call log in front of every route."""

    def __init__(self, app: Any, server: FakeProviderServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode()
        cmc = path.startswith(("/v1/", "/v2/"))
        decision, fault, wait = self.server._admit(path, query)
        if decision == "rejected":
            if cmc:
                response = self.server._cmc_error(429, 1008, "You've exceeded your API Key's HTTP request rate limit.")
            else:
                response = _json({"status": {"error_code": 429, "error_message": _CG_RATE_LIMIT_MESSAGE}}, 429)
            response.headers["Retry-After"] = str(wait)
            await response(scope, receive, send)
            return
        if fault is not None and fault.kind == "status":
            code = fault.error_code if fault.error_code is not None else fault.status
            if cmc:
                response = self.server._cmc_error(fault.status, code, f"injected error {code}")
            else:
                response = _json(
                    {"status": {"error_code": code, "error_message": f"injected error {code}"}}, fault.status
                )
            if fault.retry_after is not None:
                response.headers["Retry-After"] = fault.retry_after
            self.server._record(path, query, fault.status, "status")
            await response(scope, receive, send)
            return
        if fault is not None and fault.kind == "malformed":
            self.server._record(path, query, 200, "malformed")
            await Response(_HTML_ERROR, 200, media_type="application/json")(scope, receive, send)
            return
        if fault is not None and fault.kind == "slow":
            self.server._record(path, query, 200, "slow")  # logged on arrival: the client may give up first
            await asyncio.sleep(fault.delay)
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                captured.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        status = int(captured.get("status", 500))
        kind = "ok" if fault is None or fault.kind == "shift" else fault.kind
        if fault is not None and fault.kind == "truncated":
            body = body[: max(1, len(body) // 2)]
        headers = [(k, v) for k, v in captured.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        if kind != "slow":
            self.server._record(path, query, status, kind)
        if fault is not None and fault.kind == "shift":
            self.server.shift_ranks(fault.rank, fault.by, cmc=cmc)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _cmc_status(
    timestamp: str, *, total_count: int | None = None, credits: int = 1, code: int = 0, message: str | None = None
) -> Any:
    status: dict[str, Any] = {
        "timestamp": timestamp,
        "error_code": code,
        "error_message": message,
        "elapsed": 1,
        "credit_count": credits,
        "notice": None,
    }
    if total_count is not None:
        status["total_count"] = total_count
    return status


def _cmc_error(timestamp: str, http_status: int, code: int, message: str) -> Response:
    return _json({"status": _cmc_status(timestamp, credits=0, code=code, message=message)}, http_status)


def _when(text: str) -> float:
    """UNIX seconds, or a ``YYYY-MM-DD`` day / ISO time (UTC)."""
    try:
        return float(text)
    except ValueError:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()


# ----------------------------------------------------------------------------------------------- running


class _Runner(uvicorn.Server):
    """uvicorn's server, telling a waiting thread when it listens (instead of being polled)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def in_process_provider(
    data: ProviderData | None = None,
    *,
    limit_per_minute: int | None = None,
    window: float = 60.0,
    faults: Sequence[Fault] = (),
    history_days: int | None = None,
    cmc_history: bool = False,
    stamp_now: bool = False,
    monotonic: Callable[[], float] = time.monotonic,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> FakeProviderServer:
    """A :class:`FakeProviderServer` called in process (no socket, no thread): give providers
    ``base_url=server.coingecko_url`` (or ``cmc_url``) and ``client=server.client()``. ``monotonic`` and ``now``
    are the server's clocks: a test's fake time makes its limit and its time stamps exact."""
    server = FakeProviderServer(
        data or ProviderData.shared(),
        limit_per_minute=limit_per_minute,
        window=window,
        faults=faults,
        history_days=history_days,
        cmc_history=cmc_history,
        stamp_now=stamp_now,
        monotonic=monotonic,
        now=now,
    )
    server.base_url = IN_PROCESS_URL
    return server


@contextlib.contextmanager
def fake_provider(
    data: ProviderData | None = None,
    *,
    limit_per_minute: int | None = None,
    window: float = 60.0,
    faults: Sequence[Fault] = (),
    history_days: int | None = None,
    cmc_history: bool = False,
    port: int = 0,
    stamp_now: bool = False,
) -> Iterator[FakeProviderServer]:
    """Run a :class:`FakeProviderServer` on 127.0.0.1 in a background thread for the ``with`` block."""
    server = FakeProviderServer(
        data or ProviderData.shared(),
        limit_per_minute=limit_per_minute,
        window=window,
        faults=faults,
        history_days=history_days,
        cmc_history=cmc_history,
        stamp_now=stamp_now,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets: no 40 ms stalls
    sock.bind(("127.0.0.1", port))
    host, bound = sock.getsockname()
    config = uvicorn.Config(
        server.app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        loop="asyncio",
        timeout_graceful_shutdown=1,
    )
    runner = _Runner(config)

    def serve() -> None:
        try:
            asyncio.run(runner.serve(sockets=[sock]))
        finally:
            runner.ready.set()  # a server that failed to start wakes the waiting thread too

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    if not runner.ready.wait(timeout=15) or not runner.started:
        sock.close()
        raise RuntimeError("the fake provider server did not start")
    server.base_url = f"http://{host}:{bound}"
    try:
        yield server
    finally:
        runner.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake CoinGecko / CoinMarketCap API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--limit", type=int, default=None, help="server-side calls per minute")
    parser.add_argument("--history-days", type=int, default=None)
    parser.add_argument(
        "--recorded-stamps", action="store_true", help="last_updated of the recorded day, not the time of serving"
    )
    args = parser.parse_args(argv)
    stamp_now = not args.recorded_stamps  # standalone, it serves as the live API would: fresh rows
    with fake_provider(
        limit_per_minute=args.limit, history_days=args.history_days, port=args.port, stamp_now=stamp_now
    ) as server:
        print(f"serving {server.coingecko_url} and {server.cmc_url}/v1", flush=True)  # noqa: T201
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()  # until Ctrl-C


if __name__ == "__main__":
    main()
