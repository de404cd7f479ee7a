"""Live feature providers: each vendor's HTTP API read into point-in-time rows ``(series, date, known_at, value)``.

* :class:`FearGreedProvider` — alternative.me ``/fng/?limit=N&format=json``: ``{"data": [{"value": "47",
  "value_classification": "Neutral", "timestamp": "1714521600"}, ...]}`` (strings; Unix seconds at 00:00 UTC);
* :class:`CoinMetricsProvider` — Coin Metrics community API v4 ``/timeseries/asset-metrics``: ``{"data": [{"asset":
  "btc", "time": "2024-01-01T00:00:00.000000000Z", "AdrActCnt": "812345"}, ...], "next_page_url": ...}``;
* :class:`FredProvider` — FRED ``/series/observations``: ``{"observations": [{"date": "2024-01-02", "value":
  "3.95"}, ...]}`` where ``"."`` is a missing value;
* :class:`BlockchainChartsProvider` — Blockchain.com ``/charts/<name>?format=json``: ``{"values": [{"x": 1442534400,
  "y": 188330}, ...]}``;
* :class:`StooqProvider` — Stooq daily CSV ``/q/d/l/?s=^spx&i=d``: ``Date,Open,High,Low,Close,Volume`` rows
  (``2024-01-02,4745.2,4754.33,4722.67,4742.83,0``), or the text ``No data`` for an unknown symbol.

News headlines have no provider: they are import-only (``coinseason features import PATH --format news``).

Every base URL is a constructor argument (tests and mirrors point it elsewhere). Calls go through
:class:`coinseason.providers.http.OutboundClient` (rate limit, retries with back-off, circuit breaker); errors are
:class:`~coinseason.errors.ProviderError` naming the provider and what was wrong. ``known_at`` follows the
publication lags of :mod:`coinseason.features.catalog`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from typing import Any, Final

import httpx
import polars as pl

from coinseason.errors import ProviderError, RetryableProviderError
from coinseason.features.catalog import FEATURE_SCHEMA, SERIES_LAG
from coinseason.providers.http import OutboundClient, OutboundPolicy

COINMETRICS_SERIES: Final[dict[str, dict[str, str]]] = {
    "btc": {
        "AdrActCnt": "btc_cm.adr_act_cnt",
        "TxTfrCnt": "btc_cm.tx_tfr_cnt",
        "HashRate": "btc_cm.hash_rate_ths",
        "FlowInExUSD": "btc_cm.flow_in_ex_usd",
        "CapMVRVCur": "btc_cm.cap_mvrv_cur",
        "FeeMeanUSD": "btc_cm.fee_mean_usd",
    },
    "eth": {"FlowInExUSD": "eth_cm.flow_in_ex_usd", "FeeMeanUSD": "eth_cm.fee_mean_usd"},
}
FRED_SERIES: Final[dict[str, str]] = {
    "DGS2": "fred.dgs2_pct",
    "DGS10": "fred.dgs10_pct",
    "DTWEXBGS": "fred.dtwexbgs_index",
    "SP500": "yahoo.sp500_close",
}
"""FRED series id -> stored series (``yahoo.sp500_close`` holds the S&P 500 close whichever source gave it)."""
STOOQ_SYMBOLS: Final[dict[str, str]] = {
    "^spx": "yahoo.sp500_close",
    "gld.us": "gld.close_usd",
    "dx.f": "yahoo.dxy_close",
}
"""Stooq symbol -> stored series: the S&P 500 index, the SPDR Gold Shares ETF, the ICE US dollar index (futures)."""
BLOCKCHAIN_CHARTS: Final[dict[str, str]] = {
    "n-unique-addresses": "btc_bc.n_unique_addresses",
    "n-transactions": "btc_bc.n_transactions",
    "hash-rate": "btc_bc.hash_rate_ths",
    "miners-revenue": "btc_bc.miners_revenue_usd",
}


def rows_of(points: Iterable[tuple[str, dt.date, float]]) -> pl.DataFrame:
    """Rows in :data:`FEATURE_SCHEMA` from ``(series, date, value)``, each known at its series' publication time;
    a day given twice keeps its last value."""
    latest: dict[tuple[str, dt.date], float] = {}
    for series, day, value in points:
        latest[(series, day)] = value
    keys = sorted(latest)
    return pl.DataFrame(
        {
            "series": [k[0] for k in keys],
            "date": [k[1] for k in keys],
            "known_at": [SERIES_LAG[k[0]](k[1]) for k in keys],
            "value": [latest[k] for k in keys],
        },
        schema=FEATURE_SCHEMA,
    )


def with_revisions(fetched: pl.DataFrame, stored: pl.DataFrame, now: dt.datetime) -> pl.DataFrame:
    """Fetched rows ready to store point in time next to ``stored`` (the rows of the same series already held).

    A day whose value equals the latest stored one keeps that row's ``known_at`` (nothing new); a day whose value
    differs is a revision, known from ``max(publication time, now)`` — a new row, the original stays, so a read
    "as known at t" still returns what was known then; a new day keeps its publication time."""
    if stored.height == 0 or fetched.height == 0:
        return fetched
    latest = (
        stored.sort("known_at")
        .group_by("series", "date")
        .last()
        .select("series", "date", pl.col("known_at").alias("_known"), pl.col("value").alias("_value"))
    )
    joined = fetched.join(latest, on=["series", "date"], how="left")
    same = pl.col("_value").is_not_null() & (pl.col("_value") == pl.col("value"))
    revised = pl.col("_value").is_not_null() & (pl.col("_value") != pl.col("value"))
    moment = pl.lit(now.astimezone(dt.UTC)).cast(FEATURE_SCHEMA["known_at"])
    known = (
        pl.when(same)
        .then(pl.col("_known"))
        .when(revised)
        .then(pl.max_horizontal(pl.col("known_at"), moment))
        .otherwise(pl.col("known_at"))
    )
    return joined.with_columns(known.alias("known_at")).select(list(FEATURE_SCHEMA)).cast(FEATURE_SCHEMA)  # type: ignore[arg-type]


def _number(provider: str, what: str, raw: Any) -> float | None:
    if raw is None or raw == ".":
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ProviderError(f"{provider}: {what} is not a number: {raw!r}") from None


def _shape(provider: str, payload: Any, key: str) -> list[Any]:
    items = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ProviderError(f"{provider}: the answer has no {key!r} list (unexpected shape)")
    return items


def _day_of_epoch(provider: str, raw: Any) -> dt.date:
    try:
        return dt.datetime.fromtimestamp(int(raw), tz=dt.UTC).date()
    except (TypeError, ValueError, OverflowError):
        raise ProviderError(f"{provider}: timestamp {raw!r} is not Unix seconds") from None


class _Provider:
    name: str = ""
    default_base_url: str = ""
    calls_per_minute: int = 30

    def __init__(
        self,
        base_url: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        policy: OutboundPolicy | None = None,
        outbound: OutboundClient | None = None,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.http = outbound or OutboundClient(
            self.name,
            self.base_url,
            policy or OutboundPolicy(calls_per_minute=self.calls_per_minute),
            client=client,
        )

    async def aclose(self) -> None:
        await self.http.aclose()


class FearGreedProvider(_Provider):
    """The Crypto Fear & Greed Index (alternative.me): ``limit=0`` is the whole history."""

    name = "alternative.me"
    default_base_url = "https://api.alternative.me"

    async def fetch(self, *, limit: int = 0) -> pl.DataFrame:
        payload = await self.http.get_json("/fng/", {"limit": limit, "format": "json"})
        points = []
        for item in _shape(self.name, payload, "data"):
            value = _number(self.name, "value", item.get("value"))
            if value is not None:
                points.append(("fng.value", _day_of_epoch(self.name, item.get("timestamp")), value))
        return rows_of(points)


class CoinMetricsProvider(_Provider):
    """Coin Metrics community API (no key): daily BTC and ETH network metrics, page by page."""

    name = "coinmetrics"
    default_base_url = "https://community-api.coinmetrics.io/v4"
    calls_per_minute = 60  # the community tier allows 10 requests per 6 seconds per IP

    async def fetch(self, asset: str, *, start: dt.date | None = None, max_pages: int = 100) -> pl.DataFrame:
        metrics = COINMETRICS_SERIES.get(asset)
        if metrics is None:
            raise ProviderError(f"{self.name}: no metrics configured for asset {asset!r} (btc or eth)")
        params: dict[str, str | int | float] = {
            "assets": asset,
            "metrics": ",".join(metrics),
            "frequency": "1d",
            "page_size": 10_000,
            # a metric outside the free tier (or not defined for the asset) is left out, not fatal for the rest
            "ignore_forbidden_errors": "true",
            "ignore_unsupported_errors": "true",
        }
        if start is not None:
            params["start_time"] = start.isoformat()
        points = []
        for _ in range(max_pages):
            payload = await self.http.get_json("/timeseries/asset-metrics", params)
            for item in _shape(self.name, payload, "data"):
                try:
                    day = dt.date.fromisoformat(str(item["time"])[:10])
                except (KeyError, ValueError):
                    raise ProviderError(f"{self.name}: row without a valid time: {item!r}"[:200]) from None
                for metric, series in metrics.items():
                    value = _number(self.name, metric, item.get(metric))
                    if value is not None:
                        points.append((series, day, value))
            token = payload.get("next_page_token") if isinstance(payload, dict) else None
            if not token:
                break
            params = {**params, "next_page_token": token}
        return rows_of(points)


class FredProvider(_Provider):
    """FRED (St. Louis Fed): US Treasury yields and the broad dollar index; needs a free API key."""

    name = "fred"
    default_base_url = "https://api.stlouisfed.org/fred"
    calls_per_minute = 60

    def __init__(self, api_key: str, base_url: str | None = None, **kwargs: Any) -> None:
        if not api_key:
            raise ProviderError("fred: an API key is needed (free at fred.stlouisfed.org)")
        super().__init__(base_url, **kwargs)
        self._key = api_key

    async def fetch(self, series_id: str, *, start: dt.date | None = None) -> pl.DataFrame:
        series = FRED_SERIES.get(series_id)
        if series is None:
            raise ProviderError(f"{self.name}: unsupported series {series_id!r} ({', '.join(FRED_SERIES)})")
        params: dict[str, str | int | float] = {"series_id": series_id, "api_key": self._key, "file_type": "json"}
        if start is not None:
            params["observation_start"] = start.isoformat()
        payload = await self.http.get_json("/series/observations", params)
        points = []
        for item in _shape(self.name, payload, "observations"):
            value = _number(self.name, series_id, item.get("value"))
            if value is not None:
                try:
                    day = dt.date.fromisoformat(str(item.get("date")))
                except ValueError:
                    raise ProviderError(f"{self.name}: date {item.get('date')!r} is not YYYY-MM-DD") from None
                points.append((series, day, value))
        return rows_of(points)


class BlockchainChartsProvider(_Provider):
    """Blockchain.com charts: daily Bitcoin addresses, transactions, hash rate and miner revenue."""

    name = "blockchain.com"
    default_base_url = "https://api.blockchain.info"

    async def fetch(self, chart: str, *, timespan: str = "all") -> pl.DataFrame:
        series = BLOCKCHAIN_CHARTS.get(chart)
        if series is None:
            raise ProviderError(f"{self.name}: unsupported chart {chart!r} ({', '.join(BLOCKCHAIN_CHARTS)})")
        payload = await self.http.get_json(
            f"/charts/{chart}", {"timespan": timespan, "format": "json", "sampled": "false"}
        )
        points = []
        for item in _shape(self.name, payload, "values"):
            value = _number(self.name, chart, item.get("y"))
            if value is not None:
                points.append((series, _day_of_epoch(self.name, item.get("x")), value))
        return rows_of(points)


class StooqProvider:
    """Stooq daily closes as CSV (no key): the S&P 500, GLD and the US dollar index (:data:`STOOQ_SYMBOLS`).

    Stooq answers CSV, not JSON, so this provider calls httpx directly: one request per symbol, a 429 or 5xx is a
    :class:`~coinseason.errors.RetryableProviderError`, anything else unexpected a ProviderError."""

    name = "stooq"
    default_base_url = "https://stooq.com"

    def __init__(self, base_url: str | None = None, *, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._own = client is None
        self._client = client or httpx.AsyncClient(timeout=30.0, follow_redirects=True)

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    async def fetch(self, symbol: str, *, start: dt.date | None = None) -> pl.DataFrame:
        series = STOOQ_SYMBOLS.get(symbol)
        if series is None:
            raise ProviderError(f"{self.name}: unsupported symbol {symbol!r} ({', '.join(STOOQ_SYMBOLS)})")
        try:
            response = await self._client.get(f"{self.base_url}/q/d/l/", params={"s": symbol, "i": "d"})
        except httpx.HTTPError as exc:
            raise RetryableProviderError(f"{self.name} {symbol}: request failed ({exc!r})") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableProviderError(f"{self.name} {symbol}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise ProviderError(f"{self.name} {symbol}: HTTP {response.status_code}")
        text = response.text
        if not text.lstrip().startswith("Date,"):
            raise ProviderError(f"{self.name} {symbol}: not a daily CSV (answer starts {text[:60]!r})")
        try:
            frame = pl.read_csv(io.StringIO(text), columns=["Date", "Close"], schema_overrides={"Date": pl.Utf8})
            days = frame["Date"].str.to_date("%Y-%m-%d")
            closes = frame["Close"].cast(pl.Float64)
        except pl.exceptions.PolarsError as exc:
            raise ProviderError(f"{self.name} {symbol}: unreadable CSV ({exc})") from exc
        points = [
            (series, day, float(close))
            for day, close in zip(days.to_list(), closes.to_list(), strict=True)
            if day is not None and close is not None and (start is None or day >= start)
        ]
        return rows_of(points)
