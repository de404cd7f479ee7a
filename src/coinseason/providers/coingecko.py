"""CoinGecko's HTTP API as a :class:`coinseason.providers.base.MarketProvider`.

Plans (``COINSEASON_COINGECKO_PLAN``; calls a minute can be overridden with ``COINSEASON_COINGECKO_CALLS_PER_MINUTE``):

========  =======================================  ==========  ====================================
plan      base URL                                 calls/min   history (``market_chart/range``)
========  =======================================  ==========  ====================================
keyless   ``https://api.coingecko.com/api/v3``     10          the past 365 days
demo      ``https://api.coingecko.com/api/v3``     30          the past 365 days
pro       ``https://pro-api.coingecko.com/api/v3`` 500         from 2013 (no limit)
========  =======================================  ==========  ====================================

The key (``COINSEASON_COINGECKO_API_KEY``) goes in the ``x-cg-demo-api-key`` or ``x-cg-pro-api-key`` header, never
in the URL. ``COINSEASON_COINGECKO_URL`` replaces the base URL (a local server in tests). Keyless calls are limited
to 10 a minute because CoinGecko's public limit varies with its traffic (its documentation says 10–30).

Endpoints: ``/coins/markets`` (250 a page, by market cap) for :meth:`CoinGeckoProvider.top`,
``/coins/{id}/market_chart/range`` for :meth:`~CoinGeckoProvider.history` (a history reaching back further than
the plan allows is refused before any call, naming the limit), ``/global`` for
:meth:`~CoinGeckoProvider.global_snapshot`, and ``/coins/list``, ``/coins/categories``, ``/coins/{id}``
(its ``categories``) and ``/coins/markets?category=`` for classification.

Pages that change between calls: the ranking can move while the pages of one snapshot are fetched, so a coin
shows on two pages and another on none. When a coin id appears twice, the whole snapshot is fetched again (at most
``refetch`` more times) and the first pass with no id twice is kept; when no pass is consistent, the union of the
passes is kept, each coin with its newest row, ordered by that row's rank, so no coin seen is lost or repeated
(a coin that no page ever showed cannot be: the snapshot then holds fewer than ``n`` rows).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import httpx
import polars as pl

from coinseason.clock import Clock, utc_now
from coinseason.errors import ConfigError, PlanLimitError, ProviderError
from coinseason.providers.base import (
    HISTORY_SCHEMA,
    SNAPSHOT_SCHEMA,
    CoinHistory,
    GlobalSnapshot,
    MarketSnapshot,
    Plan,
)
from coinseason.providers.http import (
    OutboundClient,
    OutboundPolicy,
    PlanProvider,
    json_float,
    json_positive,
    json_timestamp,
    plan_and_policy,
)
from coinseason.settings import CoinGeckoSettings

__all__ = ["COINGECKO_PLANS", "PAGE_SIZE", "CoinGeckoProvider"]

PUBLIC_URL: Final = "https://api.coingecko.com/api/v3"
PRO_URL: Final = "https://pro-api.coingecko.com/api/v3"
COINGECKO_PLANS: Final[dict[str, Plan]] = {
    "keyless": Plan("keyless", calls_per_minute=10, history_days=365, base_url=PUBLIC_URL),
    "demo": Plan("demo", calls_per_minute=30, history_days=365, base_url=PUBLIC_URL),
    "pro": Plan("pro", calls_per_minute=500, history_days=None, base_url=PRO_URL),
}
KEY_HEADERS: Final = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
PAGE_SIZE: Final = 250
"""CoinGecko's largest ``per_page`` for ``/coins/markets``."""


PLAN_LIMIT_CODE: Final = 10012
"""CoinGecko's ``error_code`` for a request beyond what the plan serves (history older than 365 days)."""


def check_coingecko_status(endpoint: str, http_status: int, payload: Any) -> None:
    """A refusal for the plan's limits (``error_code`` 10012, e.g. history beyond 365 days) is a
    :class:`PlanLimitError`: the same for every coin, said once. Other answers go on to the HTTP status checks."""
    if http_status < 400 or not isinstance(payload, dict):
        return
    error = payload.get("error")
    status = (error if isinstance(error, dict) else payload).get("status")
    if isinstance(status, dict) and status.get("error_code") == PLAN_LIMIT_CODE:
        raise PlanLimitError(
            f"coingecko {endpoint}: HTTP {http_status}: the plan does not serve this ({status.get('error_message')})"
        )


class CoinGeckoProvider(PlanProvider):
    """CoinGecko over HTTP, with the plan's outbound limits. Construct, use, then :meth:`aclose`."""

    def __init__(
        self,
        plan: str = "keyless",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        calls_per_minute: int | None = None,
        policy: OutboundPolicy | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        refetch: int = 2,
    ) -> None:
        if plan not in COINGECKO_PLANS:
            raise ConfigError(f"unknown CoinGecko plan {plan!r}: use one of {', '.join(COINGECKO_PLANS)}")
        if plan == "keyless" and api_key:
            raise ConfigError("a CoinGecko API key is set but the plan is keyless: set the plan to demo or pro")
        if plan != "keyless" and not api_key:
            raise ConfigError(f"the CoinGecko {plan} plan needs an API key (COINSEASON_COINGECKO_API_KEY)")
        self._plan, policy = plan_and_policy(
            COINGECKO_PLANS[plan], base_url=base_url, calls_per_minute=calls_per_minute, policy=policy
        )
        headers = {"accept": "application/json"}
        if api_key:
            headers[KEY_HEADERS[plan]] = api_key
        self._http = OutboundClient(
            "coingecko",
            self._plan.base_url,
            policy,
            headers=headers,
            client=client,
            clock=monotonic,
            epoch=lambda: clock().timestamp(),  # a Retry-After date is read against the provider's clock
            sleep=sleep,
            rng=rng,
            check=check_coingecko_status,
        )
        self._clock = clock
        self._refetch = refetch

    @classmethod
    def from_settings(cls, settings: CoinGeckoSettings, **kwargs: Any) -> CoinGeckoProvider:
        """The provider the ``COINSEASON_COINGECKO_*`` settings describe (keyword arguments are passed on)."""
        if "policy" not in kwargs:
            limit = settings.calls_per_minute or COINGECKO_PLANS[settings.plan].calls_per_minute
            kwargs["policy"] = OutboundPolicy(calls_per_minute=limit, timeout=settings.timeout_seconds)
        return cls(
            settings.plan,
            api_key=None if settings.api_key is None else settings.api_key.get_secret_value(),
            base_url=settings.url,
            calls_per_minute=settings.calls_per_minute,
            **kwargs,
        )

    @property
    def source(self) -> str:
        return "coingecko"

    # -- markets -----------------------------------------------------------------------------------------------

    async def top(self, n: int) -> MarketSnapshot:
        """The top ``n`` coins by market cap, in ``ceil(n / 250)`` page requests (more if the pages shift)."""
        if n < 1:
            raise ConfigError(f"top n must be at least 1, not {n}")
        observed_at = self._clock()
        passes: list[list[dict[str, Any]]] = []
        for _ in range(self._refetch + 1):
            rows, consistent = await self._one_pass(n)
            if consistent:
                return self._snapshot(rows, observed_at)
            passes.append(rows)
        newest: dict[str, dict[str, Any]] = {}
        for rows in passes:  # later passes overwrite earlier rows of the same coin
            for row in rows:
                newest[row["id"]] = row
        merged = sorted(newest.values(), key=lambda r: (_rank_key(r), -(json_float(r.get("market_cap")) or 0.0)))
        return self._snapshot(merged[:n], observed_at)

    async def _one_pass(self, n: int) -> tuple[list[dict[str, Any]], bool]:
        per_page = min(n, PAGE_SIZE)
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        consistent = True
        for page in range(1, math.ceil(n / per_page) + 1):
            payload = await self._http.get_json(
                "/coins/markets",
                {"vs_currency": "usd", "order": "market_cap_desc", "per_page": per_page, "page": page},
            )
            got = _market_rows(payload)
            for row in got:
                if row["id"] in seen:
                    consistent = False
                    continue
                seen.add(row["id"])
                rows.append(row)
            if len(got) < per_page:
                break
        return rows[:n], consistent

    def _snapshot(self, rows: list[dict[str, Any]], observed_at: dt.datetime) -> MarketSnapshot:
        frame = pl.DataFrame(
            {
                "coin_id": [r["id"] for r in rows],
                "symbol": [r.get("symbol") for r in rows],
                "name": [r.get("name") for r in rows],
                "price": [json_float(r.get("current_price")) for r in rows],
                "market_cap": [json_positive(r.get("market_cap")) for r in rows],
                "volume": [json_positive(r.get("total_volume")) for r in rows],
                "rank": [_int(r.get("market_cap_rank")) for r in rows],
                "circulating_supply": [json_positive(r.get("circulating_supply")) for r in rows],
                "last_updated": [json_timestamp(r.get("last_updated")) for r in rows],
            },
            schema=SNAPSHOT_SCHEMA,
        )
        return MarketSnapshot(self.source, observed_at, frame.sort("rank", nulls_last=True, maintain_order=True))

    # -- history -----------------------------------------------------------------------------------------------

    async def history(self, coin_id: str, start: dt.date, end: dt.date) -> CoinHistory:
        """Daily points of ``coin_id`` from ``start`` to ``end`` inclusive (first point of each UTC day)."""
        if end < start:
            raise ConfigError(f"history of {coin_id}: end {end} is before start {start}")
        oldest = self.oldest_day()
        if oldest is not None and start < oldest:
            raise PlanLimitError(
                f"coingecko {self._plan.name} plan serves history only {self._plan.history_days} days back "
                f"(from {oldest}); {coin_id} was asked from {start}. A pro key (COINSEASON_COINGECKO_PLAN=pro) "
                "reaches back to 2013"
            )
        begin = dt.datetime.combine(start, dt.time(), dt.UTC)
        finish = dt.datetime.combine(end, dt.time(23, 59, 59), dt.UTC)
        params: dict[str, str | int | float] = {
            "vs_currency": "usd",
            "from": int(begin.timestamp()),
            "to": int(finish.timestamp()),
        }
        payload = await self._http.get_json(f"/coins/{coin_id}/market_chart/range", params)
        return CoinHistory(self.source, coin_id, _daily(payload, coin_id, start, end))

    # -- global and classification ------------------------------------------------------------------------------

    async def global_snapshot(self) -> GlobalSnapshot:
        """``/global``: total market cap (USD) and BTC / ETH dominance; ``observed_at`` is CoinGecko's
        ``updated_at`` (the clock when it is missing)."""
        payload = await self._http.get_json("/global")
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise ProviderError("coingecko /global: the answer has no 'data' object")
        shares = data.get("market_cap_percentage") or {}
        total = json_float((data.get("total_market_cap") or {}).get("usd"))
        btc = json_float(shares.get("btc"))
        if total is None or btc is None:
            raise ProviderError("coingecko /global: total_market_cap.usd or market_cap_percentage.btc is missing")
        updated = data.get("updated_at")
        observed = dt.datetime.fromtimestamp(updated, dt.UTC) if isinstance(updated, int | float) else self._clock()
        return GlobalSnapshot(self.source, observed, total, btc, json_float(shares.get("eth")))

    async def coins_list(self) -> pl.DataFrame:
        """``/coins/list``: ``coin_id, symbol, name`` of every active coin."""
        payload = await self._http.get_json("/coins/list")
        if not isinstance(payload, list):
            raise ProviderError("coingecko /coins/list: expected a JSON array")
        rows = [r for r in payload if isinstance(r, dict) and isinstance(r.get("id"), str)]
        return pl.DataFrame(
            {
                "coin_id": [r["id"] for r in rows],
                "symbol": [r.get("symbol") for r in rows],
                "name": [r.get("name") for r in rows],
            },
            schema={"coin_id": pl.String, "symbol": pl.String, "name": pl.String},
        )

    async def categories(self) -> pl.DataFrame:
        """``/coins/categories``: ``category_id, name, market_cap`` of every category."""
        payload = await self._http.get_json("/coins/categories")
        if not isinstance(payload, list):
            raise ProviderError("coingecko /coins/categories: expected a JSON array")
        rows = [r for r in payload if isinstance(r, dict) and isinstance(r.get("id"), str)]
        return pl.DataFrame(
            {
                "category_id": [r["id"] for r in rows],
                "name": [r.get("name") for r in rows],
                "market_cap": [json_float(r.get("market_cap")) for r in rows],
            },
            schema={"category_id": pl.String, "name": pl.String, "market_cap": pl.Float64},
        )

    async def coin_categories(self, coin_id: str) -> list[str]:
        """The category names CoinGecko gives one coin (``/coins/{id}``, market data left out)."""
        flags = ("localization", "tickers", "market_data", "community_data", "developer_data", "sparkline")
        payload = await self._http.get_json(f"/coins/{coin_id}", dict.fromkeys(flags, "false"))
        cats = payload.get("categories") if isinstance(payload, dict) else None
        if not isinstance(cats, list):
            raise ProviderError(f"coingecko /coins/{coin_id}: the answer has no 'categories' list")
        return [c for c in cats if isinstance(c, str) and c]

    async def category_members(self, category_id: str, n: int = PAGE_SIZE) -> list[str]:
        """Ids of the top ``n`` coins of a category (``/coins/markets?category=``): one call classifies many."""
        ids: list[str] = []
        per_page = min(n, PAGE_SIZE)
        for page in range(1, math.ceil(n / per_page) + 1):
            params: dict[str, str | int | float] = {
                "vs_currency": "usd",
                "category": category_id,
                "order": "market_cap_desc",
                "per_page": per_page,
                "page": page,
            }
            got = _market_rows(await self._http.get_json("/coins/markets", params))
            ids.extend(r["id"] for r in got if r["id"] not in ids)
            if len(got) < per_page:
                break
        return ids[:n]


def _market_rows(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, list):
        raise ProviderError("coingecko /coins/markets: expected a JSON array of coins")
    rows = [r for r in payload if isinstance(r, dict)]
    for row in rows:
        if not isinstance(row.get("id"), str):
            raise ProviderError(f"coingecko /coins/markets: a row has no string 'id': {str(row)[:120]}")
    return rows


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rank_key(row: Mapping[str, Any]) -> int:
    rank = _int(row.get("market_cap_rank"))
    return rank if rank is not None else 1 << 30


def _points(payload: Mapping[str, Any], key: str, coin_id: str) -> pl.DataFrame:
    points = payload.get(key)
    if not isinstance(points, list):
        raise ProviderError(f"coingecko market_chart/range of {coin_id}: '{key}' is missing")
    stamps: list[int] = []
    values: list[float | None] = []
    for point in points:
        if not (isinstance(point, list) and len(point) == 2 and isinstance(point[0], int | float)):
            raise ProviderError(f"coingecko market_chart/range of {coin_id}: a '{key}' point is not [ms, value]")
        stamps.append(int(point[0]))
        values.append(json_float(point[1]))
    return pl.DataFrame({"ms": stamps, key: values}, schema={"ms": pl.Int64, key: pl.Float64})


def _daily(payload: Any, coin_id: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    """The first point of each UTC day from ``start`` to ``end``; a 0 market cap or volume reads as unknown."""
    if not isinstance(payload, dict):
        raise ProviderError(f"coingecko market_chart/range of {coin_id}: expected a JSON object")
    frame = _points(payload, "prices", coin_id)
    for key in ("market_caps", "total_volumes"):
        frame = frame.join(_points(payload, key, coin_id).unique("ms", keep="first"), on="ms", how="left")
    days = (
        frame.sort("ms")
        .with_columns(pl.from_epoch("ms", time_unit="ms").dt.replace_time_zone("UTC").dt.date().alias("date"))
        .filter(pl.col("date").is_between(start, end))
        .unique("date", keep="first", maintain_order=True)
    )
    positive = [pl.when(pl.col(c) > 0).then(pl.col(c)).otherwise(None) for c in ("market_caps", "total_volumes")]
    return days.select(
        "date",
        pl.col("prices").alias("price"),
        positive[0].alias("market_cap"),
        positive[1].alias("volume"),
    ).cast(HISTORY_SCHEMA)  # type: ignore[arg-type]
