"""Store → engine → results: the one service the CLI (and later the API) call for every number."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
import polars as pl

from coinseason.core.engine import SeasonEngine
from coinseason.core.resample import Interval, period_mean
from coinseason.core.season import (
    SEASON_NAMES,
    classify_season,
    published_round,
    season_periods,
)
from coinseason.data.tidy import TokenClass
from coinseason.errors import ConfigError, NoDataError
from coinseason.services.classify import EXCLUSION_METHOD, EXCLUSION_RULE, ClassificationService, ExclusionSet
from coinseason.services.dominance_basis import dominance_basis
from coinseason.services.first_steps import EMPTY_STORE
from coinseason.services.loaded_engine import Loaded, extend_loaded, load_engine
from coinseason.store.protocols import MarketData
from coinseason.store.records import SourceSummary

log = logging.getLogger("coinseason.analytics")

__all__ = [
    "EXCLUSION_RULE",
    "METHODOLOGY_VERSION",
    "AnalyticsService",
    "Loaded",
    "SeasonQuery",
    "engine_row",
    "extend_loaded",
    "load_engine",
    "parse_universe",
]

METHODOLOGY_VERSION = "1"

P = ParamSpec("P")
R = TypeVar("R")


def _engine_input(call: Callable[P, R]) -> Callable[P, R]:
    """The pure engine refuses bad parameters with ``ValueError`` (core knows nothing of coinseason's errors): a
    :class:`ConfigError` here, which the CLI and the API turn into one line or a problem+json naming it."""

    @functools.wraps(call)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    return checked


def engine_row(engine: SeasonEngine, day: dt.date) -> int:
    """The engine's row of ``day``; a :class:`ConfigError` naming the data's span when it is outside."""
    try:
        return engine.row_of(day)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class SeasonQuery:
    top: int = 50
    window: int = 90
    exclude: str = "default"
    btc_inside: bool = True
    fill: bool = True
    """Places of coins without W days of history go to the next-ranked coins (False: they stay empty)."""
    altcoin_at: float = 75.0
    bitcoin_at: float = 25.0

    def parameters(self) -> dict[str, object]:
        """The parameters that define the series (all but the exclusion set), for a method description."""
        return {
            "top": self.top,
            "window": self.window,
            "btc_inside": self.btc_inside,
            "fill": self.fill,
            "altcoin_at": self.altcoin_at,
            "bitcoin_at": self.bitcoin_at,
        }

    def __post_init__(self) -> None:
        if self.btc_inside and self.top < 2:
            raise ConfigError(
                f"top {self.top} with BTC taking one of the places leaves no altcoin to compare: give top 2 or"
                " more, or put BTC outside the universe"
            )
        if not self.bitcoin_at < self.altcoin_at:
            raise ConfigError(
                f"the Bitcoin season threshold ({self.bitcoin_at}) must be below the altcoin season threshold"
                f" ({self.altcoin_at})"
            )


def _window(dates: np.ndarray, start: dt.date | None, end: dt.date | None) -> np.ndarray:
    keep = np.ones(dates.size, bool)
    if start is not None:
        keep &= dates >= np.datetime64(start, "D")
    if end is not None:
        keep &= dates <= np.datetime64(end, "D")
    return keep


DEFAULT_MIN_ELIGIBLE = 20
"""The minimum universe when ``COINSEASON_SEASON_MIN_ELIGIBLE`` is not set (the setting's default)."""


def min_eligible_from_env() -> int:
    """``COINSEASON_SEASON_MIN_ELIGIBLE`` read through the settings when it is set, else the default: the settings
    (pydantic) load only when needed, which keeps a CLI query on a warm cache fast."""
    if not any(name.upper() == "COINSEASON_SEASON_MIN_ELIGIBLE" for name in os.environ):
        return DEFAULT_MIN_ELIGIBLE
    from coinseason.settings import SeasonSettings

    return SeasonSettings().min_eligible


class AnalyticsService:
    """Season index, dominance, season periods and breakdowns over a store; engines cached per source."""

    def __init__(
        self,
        store: MarketData,
        *,
        load: Callable[[MarketData, str], Loaded] = load_engine,
        sources: Callable[[], list[SourceSummary]] | None = None,
        min_eligible: int | None = None,
    ) -> None:
        """``load`` builds a source's engine from the store (:func:`load_engine`) and ``sources`` lists the store's
        sources (``store.sources``): the CLI passes those of an on-disk cache
        (:class:`coinseason.services.engine_cache.EngineCache`). ``min_eligible``: the minimum universe
        (:attr:`coinseason.core.engine.SeasonEngine.min_eligible`); None reads ``COINSEASON_SEASON_MIN_ELIGIBLE``
        (default 20), so every command that builds the service from the store alone uses the server's minimum."""
        self._store = store
        self._load = load
        self._list_sources = sources or store.sources
        self.min_eligible = min_eligible_from_env() if min_eligible is None else min_eligible
        self._loaded: dict[str, Loaded] = {}
        self._exclusions: dict[tuple[str, str], ExclusionSet] = {}
        self._sources: list[SourceSummary] | None = None
        self._classes = ClassificationService(store)
        self._load_lock = threading.Lock()
        self.extended: set[str] = set()
        """Sources this service got from an earlier one brought up to date (:meth:`refreshed`), not reloaded."""

    @property
    def store(self) -> MarketData:
        return self._store

    def refreshed(self) -> AnalyticsService:
        """A new service over the same store, for after new data landed: each source loaded here is brought up to
        date incrementally (:func:`extend_loaded`) when it can be, else left to load afresh. This one is unchanged
        and may go on answering meanwhile."""
        fresh = AnalyticsService(
            self._store, load=self._load, sources=self._list_sources, min_eligible=self.min_eligible
        )
        names = {s.source for s in fresh.sources()}
        for name, old in list(self._loaded.items()):
            if name not in names:
                continue
            try:
                loaded, why = extend_loaded(self._store, old)
            except Exception:  # the reload that follows reports a real problem with the store
                log.exception("bringing %s up to date failed: reloading it", name)
                continue
            if loaded is None:
                log.info("reloading %s: %s", name, why)
            else:
                log.info("brought %s up to date: %s", name, why)
                fresh._loaded[name] = loaded
                fresh.extended.add(name)
        return fresh

    def invalidate(self) -> None:
        """Forget everything loaded: new data landed in the store."""
        self._loaded.clear()
        self._exclusions.clear()
        self._sources = None

    def sources(self) -> list[SourceSummary]:
        if self._sources is None:
            self._sources = self._list_sources()
        return self._sources

    def source(self, source: str | None) -> str:
        names = [s.source for s in self.sources()]
        if not names:
            raise NoDataError(EMPTY_STORE)
        if source is None:
            if len(names) > 1:
                raise ConfigError(f"the store holds several sources ({', '.join(names)}): choose one with --source")
            return names[0]
        if source not in names:
            raise ConfigError(f"no source {source!r} in the store; it holds {', '.join(names)}")
        return source

    @_engine_input
    def loaded(self, source: str | None) -> Loaded:
        name = self.source(source)
        found = self._loaded.get(name)
        if found is None:
            with self._load_lock:  # one load per source however many requests miss at once
                found = self._loaded.get(name)
                if found is None:
                    found = self._loaded[name] = self._load(self._store, name)
        found.engine.min_eligible = self.min_eligible
        return found

    def exclusion(self, source: str | None, spec: str) -> ExclusionSet:
        loaded = self.loaded(source)
        if spec not in ("default", "none"):  # a file may change between calls: read it each time
            return self._classes.exclusion_set(loaded.source, spec, loaded.coins)
        key = (loaded.source, spec)
        if key not in self._exclusions:
            self._exclusions[key] = self._classes.exclusion_set(loaded.source, spec, loaded.coins)
        return self._exclusions[key]

    def method(self, source: str | None, exclude: str, **parameters: object) -> dict[str, object]:
        """How a series is made: source, methodology and exclusion-set version, parameters; for a dominance series
        (one with a ``universe``) also what its shares are of, in words."""
        loaded = self.loaded(source)
        excl = self.exclusion(loaded.source, exclude)
        if "universe" in parameters:
            parameters["dominance"] = dominance_basis(str(parameters["universe"]), excl.classes)
        return {
            "source": loaded.source,
            "methodology_version": METHODOLOGY_VERSION,
            "gap_days": loaded.engine.gap_days,
            "exclusion": excl.name,
            "exclusion_list_version": excl.version,
            "excluded_classes": list(excl.classes),
            "exclusion_rule": EXCLUSION_METHOD,
            "n_excluded": len(excl.ids & set(loaded.engine.coin_ids)),
            "min_eligible": self.min_eligible,
            **parameters,
        }

    def coins(self, source: str | None, *, kind: str | None = None) -> pl.DataFrame:
        """The coins of a source with their class, its basis and evidence, and first and last day seen.
        ``kind``: ``excluded`` (any class), one token class, or None for every coin."""
        coins = self.loaded(source).coins
        if kind == "excluded":
            coins = coins.filter(pl.col("token_class").is_not_null())
        elif kind is not None:
            known = {str(c) for c in TokenClass}
            if kind not in known:
                raise ConfigError(f"--class takes excluded or one of {', '.join(sorted(known))}, not {kind!r}")
            coins = coins.filter(pl.col("token_class") == kind)
        return coins.select(
            "coin_id",
            "symbol",
            "name",
            "token_class",
            "class_basis",
            "class_source",
            "class_since",
            "first_seen",
            "last_seen",
        )

    @_engine_input
    def coin_history(
        self, source: str | None, coin_id: str, *, start: dt.date | None = None, end: dt.date | None = None
    ) -> pl.DataFrame:
        """One coin's stored daily observations, as imported (no gap filling)."""
        name = self.source(source)
        frame = self._store.coin_observations(name, coin_id, start=start, end=end)
        if frame.height == 0 and coin_id not in set(self.loaded(name).coins["coin_id"].to_list()):
            raise NoDataError(f"no coin {coin_id!r} in source {name!r}")
        return frame

    # -- season ---------------------------------------------------------------------------------------------

    @_engine_input
    def season_history(
        self,
        query: SeasonQuery,
        *,
        source: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        interval: Interval = "day",
    ) -> pl.DataFrame:
        """``date, value`` (ASI) then bitcoin_season_index, n_eligible, n_outperforming, season."""
        loaded = self.loaded(source)
        excl = self.exclusion(loaded.source, query.exclude)
        eng = loaded.engine
        idx = eng.season_index(
            excl.exclusion, top=query.top, window=query.window, btc_inside=query.btc_inside, fill=query.fill
        )
        dates = eng.dates
        keep = _window(dates, start, end)
        if interval != "day":
            starts, means, _ = period_mean(dates[keep], idx.value[keep], interval)
            code = classify_season(means, altcoin_at=query.altcoin_at, bitcoin_at=query.bitcoin_at)
            return pl.DataFrame(
                {
                    "date": starts,
                    "value": means,
                    "bitcoin_season_index": 100.0 - means,
                    "season": [SEASON_NAMES[int(c)] for c in code],
                }
            ).with_columns(pl.col("date").cast(pl.Date))
        code = classify_season(idx.value[keep], altcoin_at=query.altcoin_at, bitcoin_at=query.bitcoin_at)
        return pl.DataFrame(
            {
                "date": dates[keep],
                "value": idx.value[keep],
                "bitcoin_season_index": idx.bitcoin_season_index[keep],
                "value_rounded": published_round(idx.value[keep]),
                "n_eligible": idx.n_eligible[keep],
                "n_outperforming": idx.n_outperforming[keep],
                "season": [SEASON_NAMES[int(c)] for c in code],
            }
        ).with_columns(
            pl.col("date").cast(pl.Date),
            pl.col("value").fill_nan(None),
            pl.col("bitcoin_season_index").fill_nan(None),
            pl.col("value_rounded").fill_nan(None),
        )

    @_engine_input
    def season_periods(
        self,
        query: SeasonQuery,
        *,
        source: str | None = None,
        min_days: int = 1,
        include_neutral: bool = False,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pl.DataFrame:
        loaded = self.loaded(source)
        excl = self.exclusion(loaded.source, query.exclude)
        eng = loaded.engine
        idx = eng.season_index(
            excl.exclusion, top=query.top, window=query.window, btc_inside=query.btc_inside, fill=query.fill
        )
        keep = _window(eng.dates, start, end)
        dates = eng.dates[keep]
        value = idx.value[keep]
        code = classify_season(value, altcoin_at=query.altcoin_at, bitcoin_at=query.bitcoin_at)
        runs = season_periods(value, code, min_days=min_days, include_neutral=include_neutral)
        return pl.DataFrame(
            {
                "season": [SEASON_NAMES[int(c)] for c in runs.code],
                "start": dates[runs.start],
                "end": dates[runs.end],
                "days": runs.length,
                "peak": runs.peak,
                "peak_date": dates[runs.peak_at],
                "ongoing": runs.end == value.size - 1,
            },
            schema_overrides={"days": pl.Int64},
        ).with_columns(pl.col("start").cast(pl.Date), pl.col("end").cast(pl.Date), pl.col("peak_date").cast(pl.Date))

    @_engine_input
    def breakdown(self, query: SeasonQuery, day: dt.date | None, *, source: str | None = None) -> pl.DataFrame:
        loaded = self.loaded(source)
        excl = self.exclusion(loaded.source, query.exclude)
        eng = loaded.engine
        b = eng.breakdown(
            excl.exclusion,
            day or eng.end,
            top=query.top,
            window=query.window,
            btc_inside=query.btc_inside,
            fill=query.fill,
        )
        ids = eng.coin_ids[b.coins]
        symbols = dict(zip(loaded.coins["coin_id"], loaded.coins["symbol"], strict=True))
        return (
            pl.DataFrame(
                {
                    "rank": b.rank,
                    "coin_id": ids.astype(str),
                    "symbol": [symbols.get(c) for c in ids],
                    "coin_return_pct": 100.0 * b.coin_return,
                    "btc_return_pct": np.full(b.coins.size, 100.0 * b.btc_return),
                    "eligible": b.eligible,
                    "beats_btc": b.beats,
                }
            )
            .with_columns(pl.col("coin_return_pct").fill_nan(None), pl.col("btc_return_pct").fill_nan(None))
            .sort("rank")
        )

    # -- dominance ------------------------------------------------------------------------------------------

    @_engine_input
    def dominance_history(
        self,
        *,
        universe: str = "all",
        exclude: str = "default",
        source: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        interval: Interval = "day",
    ) -> pl.DataFrame:
        """``date, value`` (BTC dominance %) then eth, stablecoin, others, total, total2, total3, n_coins."""
        top = parse_universe(universe)
        loaded = self.loaded(source)
        excl = self.exclusion(loaded.source, exclude)
        eng = loaded.engine
        dom = eng.dominance(excl.exclusion, top=top)
        stable_excluded = str(TokenClass.STABLECOIN) in excl.classes
        stable_share = np.full(dom.total.size, np.nan) if stable_excluded else dom.stablecoin
        columns = {
            "value": dom.btc,
            "eth_dominance": dom.eth,
            "stablecoin_dominance": stable_share,
            "total": dom.total,
            "total2": dom.total2,
            "total3": dom.total3,
        }
        keep = _window(eng.dates, start, end) & (dom.total > 0)
        dates = eng.dates[keep]
        if interval != "day":
            stacked = np.column_stack([v[keep] for v in columns.values()])
            starts, means, _ = period_mean(dates, stacked, interval)
            frame = pl.DataFrame({"date": starts, **{k: means[:, i] for i, k in enumerate(columns)}})
        else:
            frame = pl.DataFrame(
                {"date": dates, **{k: v[keep] for k, v in columns.items()}, "n_coins": dom.n_coins[keep]}
            )
        return frame.with_columns(pl.col("date").cast(pl.Date), pl.col(pl.Float64).fill_nan(None))


def parse_universe(text: str) -> int | None:
    """``all`` → None, ``top:N`` → N."""
    if text == "all":
        return None
    head, _, number = text.partition(":")
    if head != "top" or not number.isdigit():
        raise ConfigError(f"--universe takes all or top:N (e.g. top:125), not {text!r}")
    return int(number)
