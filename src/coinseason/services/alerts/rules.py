"""What an alert rule watches, checked once when it is written: the kinds, their parameters and defaults, and the
:class:`~coinseason.core.alerts.Band` each one means.

* ``season`` — the Altcoin Season Index entering or leaving a season: ``season`` (``altcoin``: at or above
  ``level``, default 75; ``bitcoin``: at or below ``level``, default 25), left only beyond ``hysteresis`` points
  on the other side (default 5), each change confirmed on ``confirm_days`` days in a row (default 3); the series
  is chosen by ``top``, ``window``, ``exclude`` and ``source``.
* ``dominance`` — BTC dominance (% of the market) crossing ``level``: above after ``confirm_days`` days at or
  above it (default 1), below after as many days under ``level - hysteresis`` (default 0.5 points); the universe
  is ``universe`` (``all`` or ``top:N``), ``exclude`` and ``source``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from coinseason.core.alerts import ENTERED, Band
from coinseason.errors import ConfigError
from coinseason.services.analytics import SeasonQuery, parse_universe
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, MAX_TOP, MAX_WINDOW

__all__ = ["KINDS", "RuleSpec", "rule_spec"]

KINDS: Final = ("season", "dominance")
MAX_CONFIRM_DAYS: Final = 60

_TRANSITIONS: Final = {"season": ("entered", "left"), "dominance": ("above", "below")}


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A checked rule: its kind, every parameter (defaults filled in) and the band it watches."""

    kind: str
    params: dict[str, Any]

    @property
    def band(self) -> Band:
        p = self.params
        if self.kind == "season":
            above = p["season"] == "altcoin"
            leave = p["level"] - p["hysteresis"] if above else p["level"] + p["hysteresis"]
            return Band(enter=p["level"], leave=leave, above=above, confirm=p["confirm_days"])
        return Band(enter=p["level"], leave=p["level"] - p["hysteresis"], above=True, confirm=p["confirm_days"])

    def transition(self, change: int) -> str:
        """The name of a change (:data:`~coinseason.core.alerts.ENTERED` or LEFT) of this kind of rule."""
        entered, left = _TRANSITIONS[self.kind]
        return entered if change == ENTERED else left

    @property
    def series_key(self) -> tuple[Any, ...]:
        """Rules with the same key watch the same series (it is computed once for all of them)."""
        p = self.params
        if self.kind == "season":
            return ("season", p["source"], p["top"], p["window"], p["exclude"])
        return ("dominance", p["source"], p["universe"], p["exclude"])

    def season_query(self) -> SeasonQuery:
        return SeasonQuery(top=self.params["top"], window=self.params["window"], exclude=self.params["exclude"])


def _number(params: dict[str, Any], name: str, default: float | None, low: float, high: float) -> float:
    value = params.pop(name, default)
    if value is None:
        raise ConfigError(f"a rule of this kind needs {name} (a number from {low:g} to {high:g})")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be from {low:g} to {high:g}, not {number:g}")
    return number


def _integer(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.pop(name, default)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    number = int(value)
    if not low <= number <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, not {number}")
    return number


def _choice(params: dict[str, Any], name: str, default: str | None, choices: tuple[str, ...] | None) -> str | None:
    value = params.pop(name, default)
    if value is None:
        return None
    if not isinstance(value, str) or (choices is not None and value not in choices):
        allowed = " or ".join(choices) if choices else "a name"
        raise ConfigError(f"{name} must be {allowed}, not {value!r}")
    if len(value) > 64:
        raise ConfigError(f"{name} is longer than 64 characters")
    return value


def rule_spec(kind: str, params: dict[str, Any]) -> RuleSpec:
    """Check ``kind`` and ``params`` and fill in the defaults; a :class:`ConfigError` names what is wrong (an
    unknown parameter too)."""
    if kind not in KINDS:
        raise ConfigError(f"alert kind must be one of {', '.join(KINDS)}, not {kind!r}")
    given = dict(params)
    out: dict[str, Any] = {"source": _choice(given, "source", None, None)}
    out["exclude"] = _choice(given, "exclude", "default", ("default", "none"))
    if kind == "season":
        season = _choice(given, "season", "altcoin", ("altcoin", "bitcoin"))
        out["season"] = season
        out["level"] = _number(given, "level", 75.0 if season == "altcoin" else 25.0, 0, 100)
        out["hysteresis"] = _number(given, "hysteresis", 5.0, 0, 50)
        out["confirm_days"] = _integer(given, "confirm_days", 3, 1, MAX_CONFIRM_DAYS)
        out["top"] = _integer(given, "top", DEFAULT_TOP, 1, MAX_TOP)
        out["window"] = _integer(given, "window", DEFAULT_WINDOW, 1, MAX_WINDOW)
    else:
        out["level"] = _number(given, "level", None, 0, 100)
        out["hysteresis"] = _number(given, "hysteresis", 0.5, 0, 50)
        out["confirm_days"] = _integer(given, "confirm_days", 1, 1, MAX_CONFIRM_DAYS)
        universe = _choice(given, "universe", "all", None) or "all"
        parse_universe(universe)
        out["universe"] = universe
    if given:
        raise ConfigError(f"unknown parameter(s) for a {kind} rule: {', '.join(sorted(given))}")
    spec = RuleSpec(kind, out)
    try:
        spec.band  # noqa: B018 - checks the levels
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return spec
