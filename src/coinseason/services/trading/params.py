"""One backtest's parameters, validated: a bad value is a :class:`ConfigError` naming it (one line in the CLI, a
problem+json 422 in the API), never a ``ValueError`` from the engine."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from coinseason.core.basket import MIN_VOLUME_USD, REBALANCE_DAYS
from coinseason.errors import ConfigError
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, MAX_TOP, MAX_WINDOW, NeutralRule, Strategy, Weighting

NEUTRAL_WEIGHTS: dict[NeutralRule, tuple[float, float, float]] = {
    NeutralRule.SPLIT: (0.5, 0.5, 0.0),
    NeutralRule.BTC: (1.0, 0.0, 0.0),
    NeutralRule.CASH: (0.0, 0.0, 1.0),
    NeutralRule.HOLD: (0.5, 0.5, 0.0),  # before the first season only: afterwards neutral days keep the last season
}
"""(BTC, alt basket, cash) weights of a neutral day, by rule."""
MAX_REBALANCE_DAYS = 3650
BasketKey = tuple[str, int, str, int, float, float]
"""exclude, top, weighting, rebalance_days, basket_drift, min_volume_usd."""

NameT = TypeVar("NameT", bound=StrEnum)


def choice(kind: type[NameT], value: str, name: str) -> NameT:
    """``value`` as a member of ``kind`` (a member, or its string); a :class:`ConfigError` naming ``name`` else."""
    try:
        return kind(value)
    except ValueError:
        names = [str(member) for member in kind]
        allowed = " or ".join(names) if len(names) == 2 else "one of " + ", ".join(names)
        raise ConfigError(f"{name} is {allowed}, not {value!r}") from None


def check_top(top: int) -> None:
    if not 1 <= top <= MAX_TOP:
        raise ConfigError(f"top must be between 1 and {MAX_TOP}, not {top}")


def check_window(window: int) -> None:
    if not 1 <= window <= MAX_WINDOW:
        raise ConfigError(f"window must be between 1 and {MAX_WINDOW} days, not {window}")


def check_not_negative(**values: float) -> None:
    """A :class:`ConfigError` naming the first of ``values`` that is negative."""
    for name, value in values.items():
        if value < 0:
            raise ConfigError(f"{name} cannot be negative")


@dataclass(frozen=True, slots=True)
class BacktestParams:
    """One parameter set. ``season-rotation``: BTC in Bitcoin season, the alt basket in altcoin season, ``neutral``
    in between (split 50/50, btc, cash, or hold the last season's allocation).

    ``strategy``, ``weighting`` and ``neutral`` also take their names as strings (the API's validated body):
    they are held as the :mod:`coinseason.vocab` members."""

    strategy: Strategy = Strategy.SEASON_ROTATION
    top: int = DEFAULT_TOP
    window: int = DEFAULT_WINDOW
    weighting: Weighting = Weighting.EQUAL
    exclude: str = "default"
    rebalance_days: int = REBALANCE_DAYS
    """Days between the basket's scheduled rebalances (1: re-formed every day)."""
    basket_drift: float = 0.0
    """Also rebalance the basket when a coin's weight drifts this far from its target (0: off)."""
    min_volume_usd: float = MIN_VOLUME_USD
    """Least traded volume of the day for a coin to be bought into the basket (0: no filter)."""
    altcoin_at: float = 75.0
    bitcoin_at: float = 25.0
    neutral: NeutralRule = NeutralRule.SPLIT
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
        object.__setattr__(self, "strategy", choice(Strategy, self.strategy, "strategy"))
        check_top(self.top)
        check_window(self.window)
        object.__setattr__(self, "weighting", choice(Weighting, self.weighting, "weighting"))
        object.__setattr__(self, "neutral", choice(NeutralRule, self.neutral, "neutral"))
        if not self.bitcoin_at < self.altcoin_at:
            raise ConfigError(f"bitcoin_at ({self.bitcoin_at}) must be below altcoin_at ({self.altcoin_at})")
        if self.confirm_days < 1 or self.lookback < 1:
            raise ConfigError("confirm_days and lookback must be at least 1")
        if not 1 <= self.rebalance_days <= MAX_REBALANCE_DAYS:
            raise ConfigError(f"rebalance_days must be between 1 and {MAX_REBALANCE_DAYS}, not {self.rebalance_days}")
        check_not_negative(
            threshold=self.threshold,
            fee_bps=self.fee_bps,
            spread_bps=self.spread_bps,
            impact=self.impact,
            basket_drift=self.basket_drift,
            min_volume_usd=self.min_volume_usd,
        )
        if self.capital <= 0:
            raise ConfigError("capital must be positive")

    def basket_key(self) -> BasketKey:
        return (self.exclude, self.top, self.weighting, self.rebalance_days, self.basket_drift, self.min_volume_usd)

    def signal_key(self) -> tuple[object, ...]:
        """What the strategy's state series depends on: sets with the same key share one series."""
        hold = self.neutral is NeutralRule.HOLD
        if self.strategy is Strategy.SEASON_ROTATION:
            return (self.strategy, self.exclude, self.top, self.window, self.altcoin_at, self.bitcoin_at,
                    self.confirm_days, hold)  # fmt: skip
        if self.strategy is Strategy.MOMENTUM:
            return (self.strategy, self.exclude, self.lookback, self.band, self.confirm_days, hold)
        return (self.strategy, self.exclude, self.top, self.window, self.index_low, self.dominance_high,
                self.index_high, self.confirm_days, hold)  # fmt: skip
