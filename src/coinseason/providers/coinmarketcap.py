"""CoinMarketCap's Pro API as a :class:`coinseason.providers.base.MarketProvider`.

Every call carries the key (``COINSEASON_CMC_API_KEY``) in the ``X-CMC_PRO_API_KEY`` header; the base URL is
``COINSEASON_CMC_URL`` (default ``https://pro-api.coinmarketcap.com``). Plans (``COINSEASON_CMC_PLAN``):

============  ==========  ==================================================
plan          calls/min   history (``/v2/cryptocurrency/quotes/historical``)
============  ==========  ==================================================
basic         30          none: the endpoint is not in the plan
hobbyist      30          the past 365 days
startup       30          the past 730 days
standard      60          the past 1,825 days
professional  90          the past 3,650 days
enterprise    120         no limit
============  ==========  ==================================================

The calls a minute are deliberately at or below what CMC publishes for each tier (override with
``COINSEASON_CMC_CALLS_PER_MINUTE``); the history depths follow CMC's plan table as this module was written: check
your key's plan. A request the plan refuses anyway (HTTP 403, error 1006) is a clear :class:`ProviderError`.

Errors: CMC puts a ``status`` object in every answer, HTTP 200 included, so ``status.error_code`` is checked on
every response. 1008 (minute rate limit) and 1011 (IP rate limit) are retried; 1009 / 1010 (daily or monthly
credits spent), 1001–1007 (key missing, invalid, unpaid, plan without the endpoint, disabled) and 400 are raised
at once, naming the code and CMC's message. ``credits_used`` adds up ``status.credit_count``.

Coin ids: live rows carry CMC's own numeric id, as ``cmc:<id>`` (``cmc:1`` is Bitcoin, ``cmc:1027`` Ether). It is
stable for the life of a coin (renames and new tickers keep it), unlike the ``symbol@first-date`` ids that
:mod:`coinseason.data.cmc_identity` gives the symbol-only daily snapshot files; the two id families are not
joined automatically (both live under the ``cmc`` source only if the caller chooses so).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import httpx
import polars as pl

from coinseason.clock import Clock, utc_now
from coinseason.errors import ConfigError, PlanLimitError, ProviderError, RetryableProviderError
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
    RateLimitedError,
    json_float,
    json_positive,
    json_timestamp,
    plan_and_policy,
)
from coinseason.settings import CmcSettings

__all__ = ["CMC_PLANS", "LISTING_PAGE", "CoinMarketCapProvider", "check_cmc_status", "cmc_coin_id"]

CMC_URL: Final = "https://pro-api.coinmarketcap.com"
CMC_PLANS: Final[dict[str, Plan]] = {
    "basic": Plan("basic", calls_per_minute=30, history_days=0, base_url=CMC_URL),
    "hobbyist": Plan("hobbyist", calls_per_minute=30, history_days=365, base_url=CMC_URL),
    "startup": Plan("startup", calls_per_minute=30, history_days=730, base_url=CMC_URL),
    "standard": Plan("standard", calls_per_minute=60, history_days=1825, base_url=CMC_URL),
    "professional": Plan("professional", calls_per_minute=90, history_days=3650, base_url=CMC_URL),
    "enterprise": Plan("enterprise", calls_per_minute=120, history_days=None, base_url=CMC_URL),
}
LISTING_PAGE: Final = 5000
"""CMC's largest ``limit`` for ``listings/latest``."""
RETRYABLE_CODES: Final = frozenset({1008, 1011})
QUOTA_CODES: Final = frozenset({1009, 1010})


def cmc_coin_id(cmc_id: int) -> str:
    """The coinseason id of a live CMC coin: ``cmc:<CMC's numeric id>``."""
    return f"cmc:{cmc_id}"


def check_cmc_status(endpoint: str, http_status: int, payload: Any) -> None:
    """Raise for a non-zero ``status.error_code`` (checked on every answer, HTTP 200 included)."""
    status = payload.get("status") if isinstance(payload, dict) else None
    if not isinstance(status, dict):
        return
    code = status.get("error_code")
    if code in (None, 0, "0"):
        return
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = -1
    text = f"coinmarketcap {endpoint}: error {code} (HTTP {http_status}): {status.get('error_message') or 'no message'}"
    if number in RETRYABLE_CODES:
        raise RateLimitedError(text)
    if number in QUOTA_CODES:
        raise ProviderError(f"{text}; the key's call credits are spent until the plan's daily or monthly reset")
    if number == 1006:
        raise PlanLimitError(f"{text}; the key's plan does not include this endpoint")
    if http_status >= 500 or 500 <= number < 600:
        raise RetryableProviderError(text)
    raise ProviderError(text)


class CoinMarketCapProvider(PlanProvider):
    """CoinMarketCap over HTTP, with the plan's outbound limits. Construct, use, then :meth:`aclose`."""

    def __init__(
        self,
        api_key: str | None,
        plan: str = "basic",
        *,
        base_url: str | None = None,
        calls_per_minute: int | None = None,
        policy: OutboundPolicy | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if plan not in CMC_PLANS:
            raise ConfigError(f"unknown CoinMarketCap plan {plan!r}: use one of {', '.join(CMC_PLANS)}")
        if not api_key:
            raise ConfigError("CoinMarketCap needs an API key (COINSEASON_CMC_API_KEY)")
        self._plan, policy = plan_and_policy(
            CMC_PLANS[plan], base_url=base_url, calls_per_minute=calls_per_minute, policy=policy
        )
        self._http = OutboundClient(
            "coinmarketcap",
            self._plan.base_url,
            policy,
            headers={"X-CMC_PRO_API_KEY": api_key, "accept": "application/json"},
            client=client,
            check=check_cmc_status,
            clock=monotonic,
            epoch=lambda: clock().timestamp(),  # a Retry-After date is read against the provider's clock
            sleep=sleep,
            rng=rng,
        )
        self._clock = clock
        self.credits_used = 0
        """Sum of ``status.credit_count`` over the answers received."""

    @classmethod
    def from_settings(cls, settings: CmcSettings, **kwargs: Any) -> CoinMarketCapProvider:
        """The provider the ``COINSEASON_CMC_*`` settings describe (keyword arguments are passed on)."""
        if "policy" not in kwargs:
            limit = settings.calls_per_minute or CMC_PLANS[settings.plan].calls_per_minute
            kwargs["policy"] = OutboundPolicy(calls_per_minute=limit, timeout=settings.timeout_seconds)
        return cls(
            None if settings.api_key is None else settings.api_key.get_secret_value(),
            settings.plan,
            base_url=settings.url,
            calls_per_minute=settings.calls_per_minute,
            **kwargs,
        )

    @property
    def source(self) -> str:
        return "cmc"

    async def _get(self, path: str, params: dict[str, str | int | float] | None = None) -> dict[str, Any]:
        payload = await self._http.get_json(path, params)
        if not isinstance(payload, dict):
            raise ProviderError(f"coinmarketcap {path}: expected a JSON object")
        status = payload.get("status")
        if isinstance(status, dict) and isinstance(status.get("credit_count"), int):
            self.credits_used += status["credit_count"]
        return payload

    async def top(self, n: int) -> MarketSnapshot:
        """``/v1/cryptocurrency/listings/latest``: the top ``n`` by market cap (one call per 5,000 coins)."""
        if n < 1:
            raise ConfigError(f"top n must be at least 1, not {n}")
        observed_at = self._clock()
        rows: list[dict[str, Any]] = []
        seen: set[int] = set()
        start = 1
        while len(rows) < n:
            limit = min(n - len(rows), LISTING_PAGE)
            params: dict[str, str | int | float] = {
                "start": start,
                "limit": limit,
                "convert": "USD",
                "sort": "market_cap",
                "sort_dir": "desc",
            }
            data = (await self._get("/v1/cryptocurrency/listings/latest", params)).get("data")
            if not isinstance(data, list):
                raise ProviderError("coinmarketcap listings/latest: the answer has no 'data' list")
            for row in data:
                cmc_id = row.get("id") if isinstance(row, dict) else None
                if not isinstance(cmc_id, int):
                    raise ProviderError(f"coinmarketcap listings/latest: a row has no numeric 'id': {str(row)[:120]}")
                if cmc_id not in seen:  # a coin that moved down across a page boundary is kept once
                    seen.add(cmc_id)
                    rows.append(row)
            if len(data) < limit:
                break
            start += limit
        return MarketSnapshot(self.source, observed_at, _listing_frame(rows[:n]))

    async def history(self, coin_id: str, start: dt.date, end: dt.date) -> CoinHistory:
        """``/v2/cryptocurrency/quotes/historical`` daily quotes of ``cmc:<id>``, ``start`` to ``end`` inclusive."""
        if end < start:
            raise ConfigError(f"history of {coin_id}: end {end} is before start {start}")
        cmc_id = _numeric_id(coin_id)
        if self._plan.history_days == 0:
            raise PlanLimitError(
                f"coinmarketcap {self._plan.name} plan has no historical quotes "
                "(/v2/cryptocurrency/quotes/historical needs the hobbyist plan or above)"
            )
        oldest = self.oldest_day()
        if oldest is not None and start < oldest:
            raise PlanLimitError(
                f"coinmarketcap {self._plan.name} plan serves history only {self._plan.history_days} days back "
                f"(from {oldest}); {coin_id} was asked from {start}"
            )
        params: dict[str, str | int | float] = {
            "id": cmc_id,
            "time_start": f"{start.isoformat()}T00:00:00Z",
            "time_end": f"{end.isoformat()}T23:59:59Z",
            "interval": "daily",
            "count": min((end - start).days + 1, 10_000),
            "convert": "USD",
        }
        payload = await self._get("/v2/cryptocurrency/quotes/historical", params)
        quotes = _quotes(payload.get("data"), cmc_id)
        return CoinHistory(self.source, coin_id, _history_frame(quotes, start, end))

    async def global_snapshot(self) -> GlobalSnapshot:
        """``/v1/global-metrics/quotes/latest``: total market cap and CMC's own ``btc_dominance``."""
        data = (await self._get("/v1/global-metrics/quotes/latest")).get("data")
        if not isinstance(data, dict):
            raise ProviderError("coinmarketcap global-metrics/quotes/latest: the answer has no 'data' object")
        usd = (data.get("quote") or {}).get("USD") or {}
        total, btc = json_float(usd.get("total_market_cap")), json_float(data.get("btc_dominance"))
        if total is None or btc is None:
            raise ProviderError(
                "coinmarketcap global-metrics/quotes/latest: quote.USD.total_market_cap or btc_dominance is missing"
            )
        observed = json_timestamp(data.get("last_updated")) or self._clock()
        return GlobalSnapshot(self.source, observed, total, btc, json_float(data.get("eth_dominance")))


def _numeric_id(coin_id: str) -> int:
    text = coin_id.removeprefix("cmc:")
    if not text.isdigit():
        raise ConfigError(f"a live CoinMarketCap coin id is cmc:<number> (e.g. cmc:1 for Bitcoin), not {coin_id!r}")
    return int(text)


def _listing_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    usd = [((r.get("quote") or {}).get("USD") or {}) for r in rows]
    frame = pl.DataFrame(
        {
            "coin_id": [cmc_coin_id(r["id"]) for r in rows],
            "symbol": [r.get("symbol") for r in rows],
            "name": [r.get("name") for r in rows],
            "price": [json_float(q.get("price")) for q in usd],
            "market_cap": [json_positive(q.get("market_cap")) for q in usd],
            "volume": [json_positive(q.get("volume_24h")) for q in usd],
            "rank": [r.get("cmc_rank") if isinstance(r.get("cmc_rank"), int) else None for r in rows],
            "circulating_supply": [json_positive(r.get("circulating_supply")) for r in rows],
            "last_updated": [
                json_timestamp(q.get("last_updated") or r.get("last_updated")) for r, q in zip(rows, usd, strict=True)
            ],
        },
        schema=SNAPSHOT_SCHEMA,
    )
    return frame.sort("rank", nulls_last=True, maintain_order=True)


def _quotes(data: Any, cmc_id: int) -> list[Any]:
    """The ``quotes`` list of one coin: v2 keys the data by id (an object or a list), v1 gives the object."""
    entry: Any = data
    if isinstance(data, dict) and "quotes" not in data:
        entry = data.get(str(cmc_id))
    if isinstance(entry, list):
        entry = next((e for e in entry if isinstance(e, dict) and e.get("id") == cmc_id), None)
    quotes = entry.get("quotes") if isinstance(entry, dict) else None
    if not isinstance(quotes, list):
        raise ProviderError(f"coinmarketcap quotes/historical: no quotes for id {cmc_id} in the answer")
    return quotes


def _history_frame(quotes: list[Any], start: dt.date, end: dt.date) -> pl.DataFrame:
    by_day: dict[dt.date, tuple[float | None, float | None, float | None]] = {}
    for item in quotes:
        usd = ((item.get("quote") or {}).get("USD") or {}) if isinstance(item, dict) else {}
        when = json_timestamp(usd.get("timestamp") or (item.get("timestamp") if isinstance(item, dict) else None))
        if when is None:
            raise ProviderError("coinmarketcap quotes/historical: a quote has no timestamp")
        day = when.date()
        if start <= day <= end and day not in by_day:
            by_day[day] = (
                json_float(usd.get("price")),
                json_positive(usd.get("market_cap")),
                json_positive(usd.get("volume_24h")),
            )
    days = sorted(by_day)
    return pl.DataFrame(
        {
            "date": days,
            "price": [by_day[d][0] for d in days],
            "market_cap": [by_day[d][1] for d in days],
            "volume": [by_day[d][2] for d in days],
        },
        schema=HISTORY_SCHEMA,
    )
