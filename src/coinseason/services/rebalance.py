"""Portfolio rebalancing for the current season: target weights, trades, expected slippage and cost, and risk
before and after. Analysis of past data, not investment advice."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core import performance as m
from coinseason.core import risk
from coinseason.core.basket import asset_returns
from coinseason.core.signals import ALT, BTC, STATE_NAMES, season_state
from coinseason.core.universe import NO_COIN
from coinseason.data.tidy import TokenClass
from coinseason.errors import ConfigError, DataError
from coinseason.services.trading import DISCLAIMER, TradingService
from coinseason.services.trading.params import check_top, check_window
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, Weighting

CASH = "cash"
"""Row name of the cash (stablecoin) holding; holdings of stablecoins count as cash."""
PROFILES: dict[str, dict[str, tuple[float, float, float]]] = {
    # (btc, alt, cash) by season
    "conservative": {"btc": (0.6, 0.0, 0.4), "neutral": (0.5, 0.1, 0.4), "alt": (0.5, 0.2, 0.3)},
    "balanced": {"btc": (0.8, 0.0, 0.2), "neutral": (0.6, 0.25, 0.15), "alt": (0.4, 0.5, 0.1)},
    "aggressive": {"btc": (1.0, 0.0, 0.0), "neutral": (0.6, 0.4, 0.0), "alt": (0.2, 0.8, 0.0)},
}
RISK_DAYS = 365
MAX_HOLDINGS = 500


@dataclass(frozen=True, slots=True)
class RebalancePlan:
    date: str
    season: str
    altcoin_season_index: float
    profile: str
    allocation: dict[str, float]
    """btc, alt, cash weights chosen for the season."""
    trades: pl.DataFrame
    """coin_id, current_value, target_value, trade_value, current_weight, target_weight, slippage_bps, cost."""
    before: dict[str, float]
    after: dict[str, float]
    total_cost: float
    notes: list[str]


def read_holdings(path: Path) -> pl.DataFrame:
    """Holdings from CSV or JSON (a list of records or ``{"holdings": [...]}``): ``coin_id`` and ``quantity``
    (units) or ``value_usd``."""
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            return holdings_frame(data["holdings"] if isinstance(data, dict) else data)
        return holdings_frame(pl.read_csv(path).to_dicts())
    except FileNotFoundError:
        raise ConfigError(f"holdings file {path} not found") from None
    except (json.JSONDecodeError, KeyError, pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise DataError(f"holdings file {path} is not a valid CSV or JSON holdings list: {exc}") from None


def holdings_frame(records: object) -> pl.DataFrame:
    """Validated ``coin_id, quantity, value_usd`` rows (one of the last two set per row)."""
    if not isinstance(records, list) or not records:
        raise DataError("holdings must be a non-empty list of {coin_id, quantity | value_usd}")
    if len(records) > MAX_HOLDINGS:
        raise DataError(f"at most {MAX_HOLDINGS} holdings")
    rows = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("coin_id"), str) or not rec["coin_id"]:
            raise DataError(f"holding {i + 1} has no coin_id")
        qty, value = rec.get("quantity"), rec.get("value_usd")
        if (qty is None) == (value is None):
            raise DataError(f"holding {rec['coin_id']!r} needs exactly one of quantity or value_usd")
        number = qty if qty is not None else value
        if not isinstance(number, int | float) or isinstance(number, bool) or not np.isfinite(number) or number < 0:
            raise DataError(f"holding {rec['coin_id']!r} has an invalid amount {number!r}")
        rows.append({"coin_id": rec["coin_id"], "quantity": qty, "value_usd": value})
    frame = pl.DataFrame(rows, schema={"coin_id": pl.String, "quantity": pl.Float64, "value_usd": pl.Float64})
    dup = frame["coin_id"].is_duplicated()
    if dup.any():
        raise DataError(f"coin {frame['coin_id'].filter(dup)[0]!r} is listed twice")
    return frame


def profile_allocation(profile: str, season: str) -> tuple[float, float, float]:
    if profile not in PROFILES:
        raise ConfigError(f"profile is conservative, balanced, aggressive or a target volatility, not {profile!r}")
    return PROFILES[profile][season]


def parse_profile(text: str) -> tuple[str, float | None]:
    """``conservative|balanced|aggressive`` or a target annual volatility (``0.4``, ``40%``, ``vol:0.4``)."""
    if text in PROFILES:
        return text, None
    raw = text.removeprefix("vol:").rstrip("%")
    try:
        value = float(raw) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise ConfigError(
            f"profile is conservative, balanced, aggressive or a target volatility such as 0.4, not {text!r}"
        ) from None
    if not 0.01 <= value <= 3.0:
        raise ConfigError(f"a target volatility must be between 0.01 and 3 (1 % to 300 % a year), not {value}")
    return "balanced", value


def rebalance(
    trading: TradingService,
    holdings: pl.DataFrame,
    profile: str,
    *,
    source: str | None = None,
    top: int = DEFAULT_TOP,
    window: int = DEFAULT_WINDOW,
    weighting: str = Weighting.CAP,
    fee_bps: float = 10.0,
    spread_bps: float = 10.0,
    impact: float = 0.1,
) -> RebalancePlan:
    """The plan that moves ``holdings`` to the ``profile``'s allocation for the season of the latest day."""
    check_top(top)
    check_window(window)
    inputs = trading.inputs
    loaded = inputs.loaded(source)
    eng = loaded.engine
    last = eng.n_days - 1
    col = {c: i for i, c in enumerate(eng.coin_ids)}
    stable = set(loaded.coins.filter(pl.col("token_class") == str(TokenClass.STABLECOIN))["coin_id"].to_list())
    unknown = [c for c in holdings["coin_id"] if c != CASH and c not in col]
    if unknown:
        raise DataError(f"coin(s) not in source {loaded.source!r}: {', '.join(unknown[:10])}")
    price = eng.price[last]
    values: dict[str, float] = {}
    for coin, qty, value in holdings.iter_rows():
        if coin == CASH or coin in stable:
            key, unit = CASH, 1.0
        else:
            key, unit = coin, float(price[col[coin]])
            if not np.isfinite(unit):
                raise DataError(f"coin {coin!r} has no price on {eng.end}: it cannot be valued")
        values[key] = values.get(key, 0.0) + (value if value is not None else qty * unit)
    total = sum(values.values())
    if total <= 0:
        raise DataError("the holdings are worth nothing at the latest prices")
    index = inputs.season_value(loaded, "default", top, window)
    state = int(season_state(index[last:])[0])
    season = {BTC: "btc", ALT: "alt"}.get(state, "neutral")
    name, target_vol = parse_profile(profile)
    btc_w, alt_w, cash_w = profile_allocation(name, season)
    # the alt basket as the backtests form it today: the top N with enough volume, not trading as a stablecoin
    basket_weights = Weighting.CAP if weighting == Weighting.CAP else Weighting.EQUAL
    basket = inputs.basket(loaded, "default", top, basket_weights, rebalance_days=1)
    held = basket.members[last] != NO_COIN
    members, inner = basket.members[last][held], basket.weights[last][held]
    risky = {eng.coin_ids[eng.btc]: btc_w}
    for c, w in zip(members, inner, strict=True):
        risky[eng.coin_ids[c]] = risky.get(eng.coin_ids[c], 0.0) + alt_w * float(w)
    notes = [DISCLAIMER]
    if target_vol is not None:
        mix = _volatility(eng.price, col, {k: v for k, v in risky.items() if v > 0}, last)
        scale = min(1.0 / max(btc_w + alt_w, 1e-12), target_vol / mix) if mix > 0 else 1.0
        risky = {k: v * scale for k, v in risky.items()}
        name = f"target volatility {target_vol:.0%}"
        notes.append(
            f"the {season} mix of the balanced profile scaled by {scale:.2f} to aim at {target_vol:.0%} a year"
        )
    target = {k: v for k, v in risky.items() if v > 0}
    target[CASH] = max(1.0 - sum(target.values()), 0.0)
    vol = inputs.volume(loaded)[last]
    coins = sorted(set(values) | set(target), key=lambda c: (c == CASH, -target.get(c, 0.0), c))
    rows = []
    for c in coins:
        now, want = values.get(c, 0.0), target.get(c, 0.0) * total
        trade = want - now
        if c == CASH or abs(trade) < 1e-9:
            slip = 0.0
        else:
            slip = float(risk.expected_slippage(trade, vol[col[c]], spread_bps=spread_bps, impact=impact))
            slip = slip if np.isfinite(slip) else float(risk.expected_slippage(trade, 1e6, spread_bps=spread_bps,
                                                                                 impact=impact))  # fmt: skip
        cost = 0.0 if c == CASH else abs(trade) * (fee_bps * 1e-4 + slip)
        rows.append((c, now, want, trade, now / total, want / total, slip * 1e4, cost))
    trades = pl.DataFrame(
        rows,
        schema=[
            "coin_id",
            "current_value",
            "target_value",
            "trade_value",
            "current_weight",
            "target_weight",
            "slippage_bps",
            "cost",
        ],  # fmt: skip
        orient="row",
    )
    before = _figures(eng.price, col, {c: v / total for c, v in values.items()}, last)
    after = _figures(eng.price, col, dict(zip(trades["coin_id"], trades["target_weight"], strict=True)), last)
    return RebalancePlan(
        date=str(eng.end),
        season=STATE_NAMES[state] if state in (BTC, ALT) else "neutral",
        altcoin_season_index=float(index[last]),
        profile=name,
        allocation={"btc": btc_w, "alt": alt_w, "cash": cash_w},
        trades=trades,
        before=before,
        after=after,
        total_cost=float(trades["cost"].sum()),
        notes=notes,
    )


def _returns(price: NDArray[np.float64], col: dict[str, int], coins: list[str], last: int) -> NDArray[np.float64]:
    span = slice(max(last - RISK_DAYS, 0), last + 1)
    return np.column_stack(
        [np.zeros(span.stop - span.start) if c == CASH else asset_returns(price[span, col[c]]) for c in coins]
    )[1:]


def _volatility(price: NDArray[np.float64], col: dict[str, int], weights: dict[str, float], last: int) -> float:
    coins = list(weights)
    return risk.portfolio_volatility(_returns(price, col, coins, last), [weights[c] for c in coins])


def _figures(price: NDArray[np.float64], col: dict[str, int], weights: dict[str, float], last: int) -> dict[str, float]:
    """Volatility, 1-day historical VaR / CVaR (95 %) of the fixed weights over the last year, HHI, top weight."""
    coins = [c for c, w in weights.items() if w > 0]
    w = np.array([weights[c] for c in coins])
    r = _returns(price, col, coins, last)
    port = r @ w
    risky = np.array([weights[c] for c in coins if c != CASH])
    return {
        "volatility": risk.portfolio_volatility(r, w),
        "var_95_1d": float(m.value_at_risk(port)),
        "cvar_95_1d": float(m.conditional_value_at_risk(port)),
        "max_drawdown_1y": float(m.max_drawdown(port)),
        "hhi": float(risk.herfindahl(risky)) if risky.size else 0.0,
        "top_weight": float(risky.max() / risky.sum()) if risky.size and risky.sum() > 0 else 0.0,
        "cash_weight": float(weights.get(CASH, 0.0)),
    }
