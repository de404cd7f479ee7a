"""coinseason inside a freqtrade strategy: the season index, the season, dominance and (optionally) the outlook,
merged into the strategy's candles point in time.

**The look-ahead rule.** A daily coinseason value of day D describes the 00:00 UTC snapshot of D and is taken as
known at D+1 00:00 UTC, once the day has closed (its ``known_at``). It is joined only to candles that *open* at or
after ``known_at``; each candle gets the latest value known by its open, so a value never reaches a candle that
began before it existed, whatever the timeframe (5m, 1h, 4h, 1d, ...)::

    value of 2024-01-05, known 2024-01-06 00:00 UTC
    1h candles:  2024-01-05 23:00 → value of 01-04 | 2024-01-06 00:00 → value of 01-05
    1d candles:  2024-01-05       → value of 01-04 | 2024-01-06       → value of 01-05

freqtrade's own ``merge_informative_pair`` is one candle less strict: it lets a candle see what is known by its
*close* (the last 1h candle of 01-05 already sees the daily candle that closes at 01-06 00:00, since freqtrade acts
on closed candles). ``at="close"`` gives exactly that placement; the default, ``at="open"``, never lets a candle see
a value that did not exist when it opened.

**Where the values come from.** :func:`series_from_store` reads a local store (the DuckDB file or PostgreSQL URL
that ``coinseason import`` / ``serve`` use); :func:`series_from_server` asks a coinseason server through
:class:`coinseason.client.Client`. :class:`CoinseasonFeed` keeps one of them for a strategy and refreshes it.

Install into freqtrade's environment with ``pip install "coinseason[freqtrade]"``; see ``examples/`` for a strategy.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Self

import numpy as np
import polars as pl

from coinseason.client import Client
from coinseason.client.calls import DominanceHistoryArgs, SeasonHistoryArgs
from coinseason.clock import Clock, utc_now
from coinseason.errors import ConfigError
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.store import Store, open_store
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW

__all__ = [
    "KNOWN_AFTER",
    "SERIES_COLUMNS",
    "CoinseasonFeed",
    "SeriesQuery",
    "merge_coinseason",
    "series_from_server",
    "series_from_store",
    "timeframe_delta",
]

KNOWN_AFTER = dt.timedelta(days=1)
"""A daily value of day D is known this long after D 00:00 UTC: at D+1 00:00 UTC, once the day has closed."""
SERIES_COLUMNS = (
    "altcoin_season_index",
    "bitcoin_season_index",
    "season",
    "btc_dominance",
    "eth_dominance",
    "stablecoin_dominance",
    "total",
    "total2",
    "total3",
)
"""The daily columns merged into a strategy's dataframe (each prefixed, ``cs_`` by default), beside ``cs_date``: the
day the values describe."""
OUTLOOK_COLUMNS = ("outlook_altcoin_season_entry", "outlook_bitcoin_season_entry", "outlook_dominance_move")
_TIMEFRAME = re.compile(r"([1-9][0-9]*)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Frame(Protocol):
    """What the helper needs of a freqtrade dataframe (a pandas ``DataFrame``)."""

    def copy(self) -> Self: ...

    def __getitem__(self, key: str) -> Any: ...

    def __setitem__(self, key: str, value: Any) -> None: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """Which coinseason series to merge: the index of the top ``top`` coins over ``window`` days, the dominance of
    ``universe``, both with ``exclude``; ``outlook_days``: also the outlook's probabilities of that many last days
    (each day asks the model as of that day: keep it small)."""

    top: int = DEFAULT_TOP
    window: int = DEFAULT_WINDOW
    exclude: Literal["default", "none"] = "default"
    universe: str = "all"
    source: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    outlook_days: int = 0


def timeframe_delta(timeframe: str) -> dt.timedelta:
    """The length of a freqtrade timeframe: ``5m``, ``1h``, ``4h``, ``1d``, ``1w`` (``s`` for seconds)."""
    found = _TIMEFRAME.fullmatch(timeframe)
    if found is None:
        raise ConfigError(f"timeframe {timeframe!r} is not a number and one of s, m, h, d, w (e.g. 5m, 1h, 1d)")
    return dt.timedelta(**{_UNITS[found[2]]: int(found[1])})


def _daily(season: pl.DataFrame, dominance: pl.DataFrame) -> pl.DataFrame:
    """The index and dominance frames of the API/service shape joined into the :data:`SERIES_COLUMNS` by day."""
    left = season.select(
        "date",
        pl.col("value").alias("altcoin_season_index"),
        "bitcoin_season_index",
        "season",
    )
    right = dominance.select(
        "date",
        pl.col("value").alias("btc_dominance"),
        "eth_dominance",
        "stablecoin_dominance",
        "total",
        "total2",
        "total3",
    )
    return left.join(right, on="date", how="full", coalesce=True).sort("date")


def _with_outlook(frame: pl.DataFrame, answers: dict[dt.date, dict[str, Any]]) -> pl.DataFrame:
    names = {
        "altcoin_season_entry": OUTLOOK_COLUMNS[0],
        "bitcoin_season_entry": OUTLOOK_COLUMNS[1],
        "dominance_move": OUTLOOK_COLUMNS[2],
    }
    columns: dict[str, list[float | None]] = {name: [] for name in OUTLOOK_COLUMNS}
    for day in frame["date"].to_list():
        found = {t["target"]: t["probability"] for t in answers.get(day, {}).get("transitions", [])}
        for target, name in names.items():
            columns[name].append(found.get(target))
    return frame.with_columns(pl.Series(name, values, dtype=pl.Float64) for name, values in columns.items())


def _outlook_days(frame: pl.DataFrame, count: int) -> list[dt.date]:
    days: list[dt.date] = frame["date"].to_list()
    return days[-count:] if count > 0 else []


def series_from_store(store: Store | str, query: SeriesQuery = SeriesQuery()) -> pl.DataFrame:
    """The daily series of ``query`` read from a local store (a :class:`~coinseason.store.Store`, or its path or
    URL, opened and closed here): ``date`` then :data:`SERIES_COLUMNS` (and the outlook's, when asked)."""
    owned = isinstance(store, str)
    opened = open_store(store) if isinstance(store, str) else store
    try:
        analytics = AnalyticsService(opened)
        season_query = SeasonQuery(top=query.top, window=query.window, exclude=query.exclude)
        start, end = query.start, query.end
        frame = _daily(
            analytics.season_history(season_query, source=query.source, start=start, end=end),
            analytics.dominance_history(
                universe=query.universe, exclude=query.exclude, source=query.source, start=start, end=end
            ),
        )
        if query.outlook_days > 0:
            from coinseason.services.outlook import OutlookService  # the model stack loads only when asked

            outlook = OutlookService(opened, analytics)
            answers = {}
            for day in _outlook_days(frame, query.outlook_days):
                try:
                    answers[day] = outlook.outlook(day=day)
                except ConfigError:  # a day before the first walk-forward test block: no forecast as of then
                    continue
            frame = _with_outlook(frame, answers)
        return frame
    finally:
        if owned:
            opened.close()


def series_from_server(client: Client, query: SeriesQuery = SeriesQuery()) -> pl.DataFrame:
    """:func:`series_from_store`'s frame, asked of a coinseason server (its CSV answers; unchanged ones are reused
    through their ETag, so a strategy refreshing often costs the server little)."""
    season_args: SeasonHistoryArgs = {"top": query.top, "window": query.window, "exclude": query.exclude}
    dominance_args: DominanceHistoryArgs = {"universe": query.universe, "exclude": query.exclude}
    if query.source is not None:
        season_args["source"] = dominance_args["source"] = query.source
    if query.start is not None:
        season_args["start"] = dominance_args["start"] = query.start
    if query.end is not None:
        season_args["end"] = dominance_args["end"] = query.end
    frame = _daily(client.season_history_frame(**season_args), client.dominance_history_frame(**dominance_args))
    if query.outlook_days > 0:
        from coinseason.client.errors import InvalidRequest

        answers = {}
        for day in _outlook_days(frame, query.outlook_days):
            try:
                answers[day] = client.outlook(date=day).model_dump(mode="json")
            except InvalidRequest:  # a day before the first walk-forward test block
                continue
        frame = _with_outlook(frame, answers)
    return frame


def merge_coinseason(
    dataframe: Frame,
    series: pl.DataFrame,
    *,
    timeframe: str,
    at: Literal["open", "close"] = "open",
    prefix: str = "cs_",
    date_column: str = "date",
) -> Frame:
    """A copy of freqtrade's ``dataframe`` with the daily ``series`` merged point in time (see the module's rule):
    ``{prefix}date`` (the day the values describe) and each column of ``series`` under ``{prefix}{name}``, null
    where no value was known yet. ``dataframe[date_column]`` holds the candles' open times, UTC, as freqtrade's do.
    """
    if "date" not in series.columns:
        raise ConfigError("the coinseason series has no date column")
    step = timeframe_delta(timeframe)
    ordered = series.sort("date")
    known = ordered["date"].cast(pl.Datetime("ns")).to_numpy() + np.timedelta64(int(KNOWN_AFTER.total_seconds()), "s")
    opens = dataframe[date_column].to_numpy(dtype="datetime64[ns]")
    seen_at = opens + np.timedelta64(int(step.total_seconds()), "s") if at == "close" else opens
    row = np.searchsorted(known, seen_at, side="right") - 1  # the last value known by then
    missing = row < 0
    take = np.where(missing, 0, row)
    out = dataframe.copy()
    for name in ["date", *[c for c in ordered.columns if c != "date"]]:
        column = ordered[name]
        if ordered.height == 0:
            out[f"{prefix}{name}"] = np.full(len(dataframe), None, dtype=object)
            continue
        if column.dtype.is_float() or column.dtype.is_integer():
            values = column.cast(pl.Float64).fill_null(np.nan).to_numpy()[take]
            values[missing] = np.nan
        else:
            values = np.asarray(column.to_list(), dtype=object)[take]
            values[missing] = None
        out[f"{prefix}{name}"] = values
    return out


@dataclass
class CoinseasonFeed:
    """The coinseason series one strategy merges, fetched once and again at most every ``refresh`` (new days
    land once a day), from a local store (``db``) or a server (``url``, ``api_key``)."""

    db: str | None = None
    url: str | None = None
    api_key: str | None = None
    query: SeriesQuery = field(default_factory=SeriesQuery)
    refresh: dt.timedelta = dt.timedelta(minutes=30)
    clock: Clock = utc_now
    _series: pl.DataFrame | None = field(default=None, init=False, repr=False)
    _fetched: dt.datetime | None = field(default=None, init=False, repr=False)
    _client: Client | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if (self.db is None) == (self.url is None):
            raise ConfigError("give the feed either a store (db) or a coinseason server (url), not both or neither")

    @classmethod
    def from_env(cls, query: SeriesQuery = SeriesQuery(), *, environ: dict[str, str] | None = None) -> CoinseasonFeed:
        """A feed from ``COINSEASON_URL`` (+ ``COINSEASON_API_KEY``), else ``COINSEASON_DB``."""
        env = dict(os.environ) if environ is None else environ
        if env.get("COINSEASON_URL"):
            return cls(url=env["COINSEASON_URL"], api_key=env.get("COINSEASON_API_KEY"), query=query)
        if env.get("COINSEASON_DB"):
            return cls(db=env["COINSEASON_DB"], query=query)
        raise ConfigError("set COINSEASON_URL (a coinseason server) or COINSEASON_DB (a local store) for the feed")

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> CoinseasonFeed:
        """A feed from the ``"coinseason"`` section of a freqtrade configuration: ``url`` (+ ``api_key``) or
        ``db``, and any of ``top``, ``window``, ``exclude``, ``universe``, ``source``, ``outlook_days``; without
        ``url`` or ``db``, the environment's (:meth:`from_env`)."""
        series = ("top", "window", "exclude", "universe", "source", "outlook_days")
        known = {"url", "db", "api_key", *series}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(f"unknown coinseason option(s) {', '.join(unknown)}: use {', '.join(sorted(known))}")
        query = SeriesQuery(**{k: options[k] for k in series if k in options})
        if options.get("url"):
            return cls(url=str(options["url"]), api_key=options.get("api_key"), query=query)
        if options.get("db"):
            return cls(db=str(options["db"]), query=query)
        return cls.from_env(query)

    def series(self) -> pl.DataFrame:
        """The daily series, fetched again when older than ``refresh``."""
        now = self.clock()
        if self._series is None or self._fetched is None or now - self._fetched >= self.refresh:
            self._series = self._fetch()
            self._fetched = now
        return self._series

    def _fetch(self) -> pl.DataFrame:
        if self.db is not None:
            return series_from_store(self.db, self.query)
        if self._client is None:
            assert self.url is not None  # noqa: S101 - __post_init__ checked it
            self._client = Client(self.url, api_key=self.api_key)
        return series_from_server(self._client, self.query)

    def merge(self, dataframe: Frame, timeframe: str, *, at: Literal["open", "close"] = "open") -> Frame:
        """:func:`merge_coinseason` of this feed's series into ``dataframe``."""
        return merge_coinseason(dataframe, self.series(), timeframe=timeframe, at=at)
