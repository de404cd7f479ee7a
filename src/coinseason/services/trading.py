"""Trading analytics over the season engine: point-in-time signals, rotation backtests and risk figures.

Builds the inputs of :mod:`coinseason.core.backtest` from an :class:`AnalyticsService`'s engine: BTC's daily
returns, the altcoin basket (formed on its rebalance days from that day's top N without BTC and the excluded
classes, liquid coins only, equal- or cap-weighted, drifting in between: :mod:`coinseason.core.basket`), cash (a
stablecoin, return 0), and the signal states of every day, each from data up to that day only.
Analysis of past data, not investment advice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core import performance as m
from coinseason.core import risk
from coinseason.core.backtest import (
    ASSET_NAMES,
    BacktestResult,
    Liquidity,
    Market,
    Strategy,
    allocation_table,
    run_backtest,
)
from coinseason.core.basket import (
    MIN_VOLUME_USD,
    MISSING_VOLUME_USD,
    PEG_DAYS,
    REBALANCE_DAYS,
    Basket,
    Weighting,
    asset_returns,
    build_basket,
)
from coinseason.core.panel import FloatMatrix, forward_fill, pivot_daily
from coinseason.core.signals import STATE_NAMES, confirmed, contrarian_state, momentum_state, season_state
from coinseason.core.universe import MAX_TOP, NO_COIN
from coinseason.errors import ConfigError, NoDataError
from coinseason.services.analytics import AnalyticsService, Loaded, engine_row

STRATEGIES = ("season-rotation", "momentum", "contrarian")
Neutral = Literal["split", "btc", "cash", "hold"]
NEUTRAL_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "split": (0.5, 0.5, 0.0),
    "btc": (1.0, 0.0, 0.0),
    "cash": (0.0, 0.0, 1.0),
    "hold": (0.5, 0.5, 0.0),  # before the first season only: afterwards neutral days keep the last season
}
VOLUME_FILL_DAYS = 30
"""An unknown volume is taken from the coin's last known volume at most this many days earlier (never later)."""
MAX_BASKETS = 16
"""Baskets kept built (each up to T x top x 3 arrays: tens of MB at top 500)."""
DISCLAIMER = "Analysis of past data, not investment advice."
BasketKey = tuple[str, int, str, int, float, float]
"""exclude, top, weighting, rebalance_days, basket_drift, min_volume_usd."""


@dataclass(frozen=True, slots=True)
class BacktestParams:
    """One parameter set. ``season-rotation``: BTC in Bitcoin season, the alt basket in altcoin season, ``neutral``
    in between (split 50/50, btc, cash, or hold the last season's allocation)."""

    strategy: str = "season-rotation"
    top: int = 50
    window: int = 90
    weighting: Weighting = "equal"
    exclude: str = "default"
    rebalance_days: int = REBALANCE_DAYS
    """Days between the basket's scheduled rebalances (1: re-formed every day)."""
    basket_drift: float = 0.0
    """Also rebalance the basket when a coin's weight drifts this far from its target (0: off)."""
    min_volume_usd: float = MIN_VOLUME_USD
    """Least traded volume of the day for a coin to be bought into the basket (0: no filter)."""
    altcoin_at: float = 75.0
    bitcoin_at: float = 25.0
    neutral: Neutral = "split"
    confirm_days: int = 1
    lookback: int = 30
    band: float = 1.0
    index_low: float = 10.0
    dominance_high: float = 65.0
    index_high: float = 90.0
    threshold: float = 0.05
    fee_bps: float = 10.0
    spread_bps: float = 10.0
    impact: float = 0.1
    capital: float = 100_000.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy is one of {', '.join(STRATEGIES)}, not {self.strategy!r}")
        if not 1 <= self.top <= MAX_TOP:
            raise ConfigError(f"top must be between 1 and {MAX_TOP}, not {self.top}")
        if not 1 <= self.window <= 730:
            raise ConfigError(f"window must be between 1 and 730 days, not {self.window}")
        if self.weighting not in ("equal", "cap"):
            raise ConfigError(f"weighting is equal or cap, not {self.weighting!r}")
        if self.neutral not in NEUTRAL_WEIGHTS:
            raise ConfigError(f"neutral is one of {', '.join(NEUTRAL_WEIGHTS)}, not {self.neutral!r}")
        if not self.bitcoin_at < self.altcoin_at:
            raise ConfigError(f"bitcoin_at ({self.bitcoin_at}) must be below altcoin_at ({self.altcoin_at})")
        if self.confirm_days < 1 or self.lookback < 1:
            raise ConfigError("confirm_days and lookback must be at least 1")
        if not 1 <= self.rebalance_days <= 3650:
            raise ConfigError(f"rebalance_days must be between 1 and 3650, not {self.rebalance_days}")
        for name in ("threshold", "fee_bps", "spread_bps", "impact", "basket_drift", "min_volume_usd"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} cannot be negative")
        if self.capital <= 0:
            raise ConfigError("capital must be positive")

    def basket_key(self) -> BasketKey:
        return (self.exclude, self.top, self.weighting, self.rebalance_days, self.basket_drift, self.min_volume_usd)

    def signal_key(self) -> tuple[object, ...]:
        hold = self.neutral == "hold"
        if self.strategy == "season-rotation":
            return ("season", self.exclude, self.top, self.window, self.altcoin_at, self.bitcoin_at,
                    self.confirm_days, hold)  # fmt: skip
        if self.strategy == "momentum":
            return ("momentum", self.exclude, self.lookback, self.band, self.confirm_days, hold)
        return ("contrarian", self.exclude, self.top, self.window, self.index_low, self.dominance_high,
                self.index_high, self.confirm_days, hold)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BacktestReport:
    params: BacktestParams
    source: str
    daily: pl.DataFrame
    """date, state, weight_btc, weight_alt, weight_cash, return, equity, drawdown, turnover, cost, btc_equity,
    alt_equity."""
    metrics: dict[str, dict[str, float]]
    """Per portfolio (strategy, buy_hold_btc, buy_hold_alt): :data:`coinseason.core.performance.METRIC_NAMES` and,
    for the strategy, turnover (annual), exposure and trades."""
    notes: list[str] = field(default_factory=list)


class TradingService:
    """Signals, backtests and risk figures for one store (engines shared with the :class:`AnalyticsService`)."""

    def __init__(self, analytics: AnalyticsService) -> None:
        self.analytics = analytics
        self._volume: dict[str, tuple[object, int, FloatMatrix, bool]] = {}
        self._baskets: dict[tuple[str, BasketKey], tuple[object, int, Basket]] = {}

    # -- inputs ---------------------------------------------------------------------------------------------

    def loaded(self, source: str | None) -> Loaded:
        loaded = self.analytics.loaded(source)
        if loaded.engine.btc == NO_COIN:
            raise NoDataError(f"source {loaded.source!r} has no Bitcoin: every strategy holds BTC")
        return loaded

    def volume(self, loaded: Loaded) -> FloatMatrix:
        """Daily volume, day × coin in the engine's columns, gaps filled from up to 30 earlier days."""
        eng = loaded.engine
        cached = self._volume.get(loaded.source)
        if cached is None or cached[0] is not eng or cached[1] != eng.n_days:  # new data: rebuild
            obs = self.analytics.store.observations(loaded.source, columns=("coin_id", "date", "volume"))
            col = {c: i for i, c in enumerate(eng.coin_ids)}
            frame = obs.filter(pl.col("volume") > 0).with_columns(
                pl.col("coin_id").replace_strict(col, default=-1, return_dtype=pl.Int64).alias("col"),
                (pl.col("date") - pl.lit(eng.start)).dt.total_days().alias("row"),
            )
            frame = frame.filter((pl.col("col") >= 0) & (pl.col("row") >= 0) & (pl.col("row") < eng.n_days))
            vol = pivot_daily(
                frame["row"].to_numpy(),
                frame["col"].to_numpy(),
                frame["volume"].to_numpy().astype(np.float64),
                n_days=eng.n_days,
                n_coins=eng.coin_ids.size,
            )
            filled = forward_fill(vol, limit=VOLUME_FILL_DAYS)
            cached = (eng, eng.n_days, filled, bool(np.isfinite(filled).any()))
            self._volume[loaded.source] = cached
        return cached[2]

    def has_volume(self, loaded: Loaded) -> bool:
        """Whether the source has any traded volume (without, the basket's volume filter is off)."""
        self.volume(loaded)
        return self._volume[loaded.source][3]

    def excluded(self, loaded: Loaded, exclude: str) -> frozenset[str]:
        return self.analytics.exclusion(loaded.source, exclude).ids

    def basket(
        self,
        loaded: Loaded,
        exclude: str,
        top: int,
        weighting: Weighting,
        *,
        rebalance_days: int = REBALANCE_DAYS,
        drift: float = 0.0,
        min_volume: float = MIN_VOLUME_USD,
    ) -> Basket:
        """The alt basket formed from the top ``top`` coins without BTC and the excluded classes (cached)."""
        if not self.has_volume(loaded):  # a source without volumes cannot filter on them
            min_volume = 0.0
        spec: BasketKey = (exclude, top, weighting, rebalance_days, drift, min_volume)
        key = (loaded.source, spec)
        eng = loaded.engine
        cached = self._baskets.get(key)
        if cached is None or cached[0] is not eng or cached[1] != eng.n_days:
            members = eng.universe(self.excluded(loaded, exclude), top, btc_inside=False)
            basket = build_basket(
                members,
                eng.price,
                eng.market_cap,
                self.volume(loaded),
                weighting=weighting,
                rebalance_days=rebalance_days,
                drift=drift if drift > 0 else None,
                min_volume=min_volume,
                peg_days=PEG_DAYS,
            )
            cached = (eng, eng.n_days, basket)
            while len(self._baskets) >= MAX_BASKETS:  # bounded: the key space is as large as the API's parameters
                self._baskets.pop(next(iter(self._baskets)))
            self._baskets[key] = cached
        return cached[2]

    def btc_returns(self, loaded: Loaded) -> NDArray[np.float64]:
        return asset_returns(loaded.engine.price[:, loaded.engine.btc])

    def season_value(self, loaded: Loaded, exclude: str, top: int, window: int) -> NDArray[np.float64]:
        return loaded.engine.season_index(self.excluded(loaded, exclude), top=top, window=window).value

    def btc_dominance(self, loaded: Loaded, exclude: str) -> NDArray[np.float64]:
        return loaded.engine.dominance(self.excluded(loaded, exclude), top=None).btc

    def raw_state(self, loaded: Loaded, p: BacktestParams) -> NDArray[np.int8]:
        """The strategy's state per day before confirmation."""
        if p.strategy == "season-rotation":
            value = self.season_value(loaded, p.exclude, p.top, p.window)
            return season_state(value, altcoin_at=p.altcoin_at, bitcoin_at=p.bitcoin_at)
        if p.strategy == "momentum":
            return momentum_state(self.btc_dominance(loaded, p.exclude), lookback=p.lookback, band=p.band)
        value = self.season_value(loaded, p.exclude, p.top, p.window)
        return contrarian_state(
            value,
            self.btc_dominance(loaded, p.exclude),
            index_low=p.index_low,
            dominance_high=p.dominance_high,
            index_high=p.index_high,
        )

    def rows(self, loaded: Loaded, start: dt.date | None, end: dt.date | None) -> slice:
        eng = loaded.engine
        first = engine_row(eng, start) if start is not None else 0
        last = engine_row(eng, end) if end is not None else eng.n_days - 1
        if last - first < 1:
            raise ConfigError(f"the backtest needs at least 2 days; from {start} to {end} gives {last - first + 1}")
        return slice(first, last + 1)

    def prepare(
        self, params: Sequence[BacktestParams], *, source: str | None, start: dt.date | None, end: dt.date | None
    ) -> tuple[Loaded, slice, Market, NDArray[np.int8], Strategy]:
        """Everything :func:`run_backtest` needs for ``params`` over the days from ``start`` to ``end``."""
        if not params:
            raise ConfigError("no parameter set to backtest")
        loaded = self.loaded(source)
        days = self.rows(loaded, start, end)
        n = loaded.engine.n_days
        leg_of: dict[BasketKey, int] = {}
        returns = [self.btc_returns(loaded), np.zeros(n)]
        vol_btc = self.volume(loaded)[:, loaded.engine.btc]
        vol_btc = np.where(vol_btc > 0, vol_btc, MISSING_VOLUME_USD)
        coins: list[tuple[FloatMatrix, FloatMatrix]] = [
            (np.ones((n, 1)), vol_btc[:, None]),
            (np.zeros((n, 0)), np.zeros((n, 0))),
        ]
        turnover = [np.zeros(n), np.zeros(n)]
        inner = [np.zeros(n), np.zeros(n)]
        series_of: dict[tuple[object, ...], int] = {}
        raw: list[NDArray[np.int8]] = []
        confirm: list[int] = []
        hold: list[bool] = []
        legs = np.zeros((len(params), 3), dtype=np.intp)
        series = np.zeros(len(params), dtype=np.intp)
        neutral = np.zeros((len(params), 3))
        for i, p in enumerate(params):
            bkey = p.basket_key()
            if bkey not in leg_of:
                b = self.basket(
                    loaded,
                    p.exclude,
                    p.top,
                    p.weighting,
                    rebalance_days=p.rebalance_days,
                    drift=p.basket_drift,
                    min_volume=p.min_volume_usd,
                )
                leg_of[bkey] = len(returns)
                returns.append(b.returns)
                coins.append((b.weights, b.volume))
                turnover.append(b.turnover)
                inner.append(b.inner_impact)
            skey = p.signal_key()
            if skey not in series_of:
                series_of[skey] = len(raw)
                raw.append(self.raw_state(loaded, p))
                confirm.append(p.confirm_days)
                hold.append(p.neutral == "hold")
            legs[i] = (0, leg_of[bkey], 1)
            series[i] = series_of[skey]
            neutral[i] = NEUTRAL_WEIGHTS[p.neutral]
        states = confirmed(np.column_stack(raw), days=np.array(confirm), hold_neutral=np.array(hold))
        is_cash = np.zeros(len(returns), dtype=bool)
        is_cash[1] = True
        market = Market(
            np.column_stack(returns)[days].copy(),
            Liquidity.of([(w[days], v[days]) for w, v in coins]),
            np.column_stack(turnover)[days].copy(),
            is_cash,
            np.column_stack(inner)[days].copy(),
        )
        market.returns[0] = 0.0

        def column(name: str) -> NDArray[np.float64]:
            return np.array([getattr(p, name) for p in params], dtype=np.float64)

        strategy = Strategy(
            legs=legs,
            series=series,
            allocation=allocation_table([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], neutral),
            threshold=column("threshold"),
            fee_bps=column("fee_bps"),
            spread_bps=column("spread_bps"),
            impact=column("impact"),
            capital=column("capital"),
        )
        return loaded, days, market, np.ascontiguousarray(states[days]), strategy

    # -- results --------------------------------------------------------------------------------------------

    def backtest(
        self,
        params: BacktestParams,
        *,
        source: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> BacktestReport:
        """One strategy with its daily weights and equity, against buy-and-hold BTC and the alt basket."""
        loaded, days, market, states, strategy = self.prepare([params], source=source, start=start, end=end)
        result = run_backtest(market, states, _with_buy_and_hold(strategy), keep_weights=True)
        assert result.weights is not None and result.turnover is not None and result.cost is not None  # noqa: S101
        r = result.returns[:, 0]
        btc, alt = result.returns[:, 1], result.returns[:, 2]  # after the same costs as the strategy
        weights = result.weights[:, 0, :].astype(np.float64)
        daily = pl.DataFrame(
            {
                "date": loaded.engine.dates[days],
                "state": [STATE_NAMES[int(s)] for s in states[:, 0]],
                **{f"weight_{a}": weights[:, i] for i, a in enumerate(ASSET_NAMES)},
                "return": r,
                "equity": m.wealth(r),
                "drawdown": m.drawdown(r),
                "turnover": result.turnover[:, 0],
                "cost": result.cost[:, 0],
                "btc_equity": m.wealth(btc),
                "alt_equity": m.wealth(alt),
            }
        ).with_columns(pl.col("date").cast(pl.Date))
        table = {
            "strategy": _scalars(m.summary(r)) | _extras(result, 0),
            "buy_hold_btc": _scalars(m.summary(btc)) | _extras(result, 1),
            "buy_hold_alt": _scalars(m.summary(alt)) | _extras(result, 2),
            "buy_hold_alt_before_costs": _scalars(m.summary(market.returns[:, 2])),
        }
        drift = f" or when a weight drifts {params.basket_drift:g} from its target" if params.basket_drift else ""
        notes = [
            DISCLAIMER,
            "A signal of day d trades on day d + 1 at that day's price (00:00 UTC); the portfolio starts in cash.",
            "Buy-and-hold BTC and alt basket buy on day 1 and pay the same fees, spread and impact as the strategy "
            "(the basket's own rebalancing included); buy_hold_alt_before_costs is the basket's gross return.",
            f"The alt basket is formed from the day's ranking every {params.rebalance_days} days{drift}, holding "
            f"coins with at least {params.min_volume_usd:,.0f} USD of volume that day and not trading as a USD "
            f"stablecoin over the previous {PEG_DAYS} days; it drifts with prices in between. A held coin "
            "without a price is worth 0 (a coin that dies while held takes its loss).",
            "Exclusions (stablecoins, wrapped, staking, tokenized) are decided from each coin's whole history, "
            "including a price-peg test: a form of look-ahead. The basket's own point-in-time USD-peg filter "
            "keeps stablecoins out without future data.",
        ]
        basket = self.basket(loaded, params.exclude, params.top, params.weighting,
                             rebalance_days=params.rebalance_days, drift=params.basket_drift,
                             min_volume=params.min_volume_usd)  # fmt: skip
        if not self.has_volume(loaded):
            notes.append("The source has no traded volumes: the basket's volume filter is off and every impact "
                         f"assumes {MISSING_VOLUME_USD:,.0f} USD a day.")  # fmt: skip
        empty = int((basket.weights[days].sum(axis=1) <= 0).sum())
        if empty:
            notes.append(f"The alt basket held nothing on {empty:,} of {daily.height:,} days (no coin passed its "
                         "filters, or before it was first formed): the alt leg was cash on those days.")  # fmt: skip
        return BacktestReport(params, loaded.source, daily, table, notes)

    def sweep(
        self,
        params: Sequence[BacktestParams],
        *,
        source: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        chunk: int = 1000,
    ) -> pl.DataFrame:
        """Metrics of many parameter sets, simulated together ``chunk`` at a time: one row per set."""
        _, _, market, states, strategy = self.prepare(params, source=source, start=start, end=end)
        rows: list[dict[str, float]] = []
        for lo in range(0, strategy.size, chunk):
            part = strategy.take(slice(lo, lo + chunk))
            result = run_backtest(market, states, part, daily=False)
            stats = m.summary(result.returns)
            extra = {
                "turnover": result.mean_turnover * m.DAYS_PER_YEAR,
                "exposure": result.mean_exposure,
                "trades": result.trades.astype(np.float64),
            }
            for j in range(part.size):
                rows.append({k: float(v[j]) for k, v in (stats | extra).items()})
        frame = pl.DataFrame([asdict(p) for p in params])
        return pl.concat([frame, pl.DataFrame(rows)], how="horizontal")

    def signals(
        self,
        *,
        source: str | None = None,
        exclude: str = "default",
        top: int = 50,
        window: int = 90,
        start: dt.date | None = None,
        end: dt.date | None = None,
        confirm_days: int = 3,
    ) -> pl.DataFrame:
        """Each day's season, momentum and contrarian states (default parameters) and the confirmed season."""
        loaded = self.loaded(source)
        days = self.rows(loaded, start, end) if (start or end) else slice(0, loaded.engine.n_days)
        base = BacktestParams(top=top, window=window, exclude=exclude)
        season = self.raw_state(loaded, base)
        mom = self.raw_state(loaded, BacktestParams(strategy="momentum", exclude=exclude))
        contra = self.raw_state(loaded, BacktestParams(strategy="contrarian", top=top, window=window, exclude=exclude))
        steady = confirmed(season, days=confirm_days)
        value = self.season_value(loaded, exclude, top, window)
        dom = self.btc_dominance(loaded, exclude)

        def names(s: NDArray[np.int8]) -> list[str]:
            return [STATE_NAMES[int(x)] for x in s[days]]

        return pl.DataFrame(
            {
                "date": loaded.engine.dates[days],
                "altcoin_season_index": value[days],
                "btc_dominance": dom[days],
                "season": names(season),
                "season_confirmed": names(steady),
                "momentum": names(mom),
                "contrarian": names(contra),
            }
        ).with_columns(pl.col("date").cast(pl.Date), pl.col(pl.Float64).fill_nan(None))

    def risk(
        self,
        *,
        source: str | None = None,
        exclude: str = "default",
        top: int = 50,
        weighting: Weighting = "equal",
        days: int = 365,
        order_usd: float = 100_000.0,
        spread_bps: float = 10.0,
        impact: float = 0.1,
        coins: Sequence[str] = (),
        end: dt.date | None = None,
    ) -> pl.DataFrame:
        """Risk and liquidity figures of BTC, the alt basket and ``coins`` over the ``days`` days to ``end``."""
        if not 2 <= days <= 20_000:
            raise ConfigError(f"days must be between 2 and 20000, not {days}")
        loaded = self.loaded(source)
        eng = loaded.engine
        last = engine_row(eng, end) if end is not None else eng.n_days - 1
        span = slice(max(last - days + 1, 0), last + 1)
        vol = self.volume(loaded)
        basket = self.basket(loaded, exclude, top, weighting)
        rows: list[dict[str, object]] = []
        btc_r = self.btc_returns(loaded)
        legs: list[tuple[str, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float | None]] = [
            ("btc", btc_r, vol[:, eng.btc], eng.market_cap[:, eng.btc], None),
        ]
        # a basket order splits over its coins by weight, each slipping against its own volume (at most 100 %)
        w, v_coins = basket.weights[last], basket.volume[last]
        held = (w > 0) & (v_coins > 0)  # a coin without weight costs nothing; one without volume is left out
        basket_slip = spread_bps * 1e-4 / 2 + float(
            (w[held] * np.minimum(1.0, impact * np.sqrt(w[held] * order_usd / v_coins[held]))).sum()
        )
        with np.errstate(divide="ignore"):
            basket_vol = np.where(basket.impact_factor > 0, 1.0 / basket.impact_factor**2, np.nan)
        legs.append((f"alt_basket_top{top}_{weighting}", basket.returns, basket_vol, np.full(eng.n_days, np.nan),
                     basket_slip))  # fmt: skip
        col = {c: i for i, c in enumerate(eng.coin_ids)}
        for coin in coins:
            if coin not in col:
                raise NoDataError(f"no coin {coin!r} in source {loaded.source!r}")
            c = col[coin]
            legs.append((coin, asset_returns(eng.price[:, c]), vol[:, c], eng.market_cap[:, c], None))
        for name, r, v, cap, fixed in legs:
            window_r = r[span]
            if fixed is not None:
                slip = fixed
            else:
                slip = float(risk.expected_slippage(order_usd, v[last], spread_bps=spread_bps, impact=impact))
            rows.append(
                {
                    "asset": name,
                    **_scalars(m.summary(window_r)),
                    "kelly_capped": float(risk.kelly_fraction(window_r, cap=0.5)),
                    "vol_target_50_exposure": float(risk.volatility_target(r[: last + 1], target=0.5, window=30)[-1]),
                    "volume_turnover": _median(risk.volume_turnover(v[span], cap[span])),
                    "amihud_per_musd": float(risk.amihud_illiquidity(window_r, v[span])),
                    "slippage_bps": float(slip) * 1e4,
                }
            )
        frame = pl.DataFrame(rows).with_columns(pl.col(pl.Float64).fill_nan(None))
        return frame


def _with_buy_and_hold(strategy: Strategy) -> Strategy:
    """``strategy`` (one set) followed by buy-and-hold BTC and buy-and-hold alt basket with its legs and costs:
    both hold their asset in every state, so they buy on day 1 and never trade again."""
    one = strategy.take(np.array([0, 0, 0], dtype=np.intp))
    allocation = one.allocation.copy()
    allocation[1] = np.array([1.0, 0.0, 0.0])
    allocation[2] = np.array([0.0, 1.0, 0.0])
    return Strategy(
        one.legs, one.series, allocation, one.threshold, one.fee_bps, one.spread_bps, one.impact, one.capital
    )


def _median(values: NDArray[np.float64]) -> float | None:
    """Median of the finite values; None when there is none."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def _scalars(values: dict[str, NDArray[np.float64]]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()}


def _extras(result: BacktestResult, j: int) -> dict[str, float]:
    return {
        "turnover": float(result.mean_turnover[j] * m.DAYS_PER_YEAR),
        "exposure": float(result.mean_exposure[j]),
        "trades": float(result.trades[j]),
        "costs": float(result.total_cost[j]),
    }
