"""What an alert rule watches, checked once when it is written: the kinds, their parameters and defaults, and the
:class:`~coinseason.core.alerts.Band` each one means.

* ``season`` — the Altcoin Season Index entering or leaving a season: ``season`` (``altcoin``: at or above
  ``level``, default 75; ``bitcoin``: at or below ``level``, default 25), left only beyond ``hysteresis`` points
  on the other side (default 5), each change confirmed on ``confirm_days`` days in a row (default 3); the series
  is chosen by ``top``, ``window``, ``exclude`` and ``source``.
* ``dominance`` — BTC dominance (% of the market) crossing ``level``: above after ``confirm_days`` days at or
  above it (default 1), below after as many days under ``level - hysteresis`` (default 0.5 points); the universe
  is ``universe`` (``all`` or ``top:N``), ``exclude`` and ``source``.
* ``consensus`` — the 64-variant grid of definitions (see ``/v1/season/consensus``). With ``watch=majority``
  (default): the season most variants hold entering or leaving ``season`` (``altcoin``, default; ``neutral`` or
  ``bitcoin``), each change confirmed on ``confirm_days`` days in a row (default 3); the grid is fixed, so only
  ``source`` chooses the series. With ``watch=agreement``: the headline variant (``top``, ``window``, ``exclude``)
  starting to disagree with the majority (``disagrees``) or agreeing again (``agrees``), confirmed the same way.
  A day with no value (no variant valued, or no headline value) keeps the state and breaks a run.
* ``margin`` — a close call: the headline variant's margin (the fewest coins that would have to change sides for its
  season to change, see ``/v1/season/margin``) falling to ``level`` coins or fewer (``close``; required), and
  ``clear`` again once it is above ``level + hysteresis`` (default 1 coin), each confirmed on ``confirm_days`` days
  (default 1); the headline is ``top``, ``window``, ``exclude`` and ``source``.
* ``outlook`` — the stored model's probability of ``target`` (``altcoin_season_entry``, default;
  ``bitcoin_season_entry`` or ``dominance_move``) within its horizon rising to ``level`` or above (``above``; a
  probability from 0 to 1, required), ``below`` once it is under ``level - hysteresis`` (default 0.05). Only the
  latest day is evaluated each time data lands (the outlook of one day is cheap, a history of them is not); the
  announced state is the rule's events (see :mod:`coinseason.services.alerts.outlook_rule`). A rule is refused at
  creation while the store holds no trained model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from coinseason.core.alerts import ENTERED, Band
from coinseason.core.labels import TARGETS
from coinseason.errors import ConfigError
from coinseason.services.analytics import SeasonQuery, parse_universe
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, MAX_TOP, MAX_WINDOW

__all__ = ["KINDS", "RuleSpec", "rule_spec"]

KINDS: Final = ("season", "dominance", "consensus", "margin", "outlook")
MAX_CONFIRM_DAYS: Final = 60
CONSENSUS_WATCH: Final = ("majority", "agreement")
SEASONS: Final = ("altcoin", "neutral", "bitcoin")

_TRANSITIONS: Final = {
    "season": ("entered", "left"),
    "dominance": ("above", "below"),
    "consensus": ("entered", "left"),
    "agreement": ("disagrees", "agrees"),
    "margin": ("close", "clear"),
    "outlook": ("above", "below"),
}


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
        if self.kind == "consensus":  # a 0/1 series: 1 on the days in the watched state
            return Band(enter=1.0, leave=1.0, above=True, confirm=p["confirm_days"])
        if self.kind == "margin":
            return Band(enter=p["level"], leave=p["level"] + p["hysteresis"], above=False, confirm=p["confirm_days"])
        if self.kind == "outlook":
            return Band(enter=p["level"], leave=p["level"] - p["hysteresis"], above=True, confirm=1)
        return Band(enter=p["level"], leave=p["level"] - p["hysteresis"], above=True, confirm=p["confirm_days"])

    def transition(self, change: int) -> str:
        """The name of a change (:data:`~coinseason.core.alerts.ENTERED` or LEFT) of this kind of rule."""
        name = "agreement" if self.kind == "consensus" and self.params["watch"] == "agreement" else self.kind
        entered, left = _TRANSITIONS[name]
        return entered if change == ENTERED else left

    def change(self, transition: str) -> int:
        """The change (:data:`~coinseason.core.alerts.ENTERED` or LEFT) a transition name stands for."""
        for entered_left in _TRANSITIONS.values():
            if transition in entered_left:
                return ENTERED if transition == entered_left[0] else -ENTERED
        raise ValueError(f"unknown transition {transition!r}")

    @property
    def series_key(self) -> tuple[Any, ...]:
        """Rules with the same key watch the same series (it is computed once for all of them)."""
        p = self.params
        if self.kind == "season":
            return ("season", p["source"], p["top"], p["window"], p["exclude"])
        if self.kind == "consensus" and p["watch"] == "majority":
            return ("consensus", p["source"], "majority", p["season"])
        if self.kind == "consensus":
            return ("consensus", p["source"], "agreement", p["top"], p["window"], p["exclude"])
        if self.kind == "margin":
            return ("margin", p["source"], p["top"], p["window"], p["exclude"])
        if self.kind == "outlook":
            return ("outlook", p["target"])
        return ("dominance", p["source"], p["universe"], p["exclude"])

    def season_query(self) -> SeasonQuery:
        """The headline variant (the defaults for a rule that has none: the consensus majority)."""
        p = self.params
        if "top" not in p:
            return SeasonQuery()
        return SeasonQuery(top=p["top"], window=p["window"], exclude=p["exclude"])


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
    out: dict[str, Any] = {}
    if kind == "outlook":  # the model's own source and exclusions
        out["target"] = _choice(given, "target", TARGETS[0], TARGETS)
        out["level"] = _number(given, "level", None, 0, 1)
        out["hysteresis"] = _number(given, "hysteresis", 0.05, 0, 1)
        if out["hysteresis"] > out["level"]:
            raise ConfigError(
                f"hysteresis must not be more than level ({out['level']:g}): a probability is not below 0"
            )
        return _checked(kind, out, given)
    out["source"] = _choice(given, "source", None, None)
    if kind == "consensus":
        out["watch"] = _choice(given, "watch", "majority", CONSENSUS_WATCH)
        if out["watch"] == "majority":
            out["season"] = _choice(given, "season", "altcoin", SEASONS)
        out["confirm_days"] = _integer(given, "confirm_days", 3, 1, MAX_CONFIRM_DAYS)
        if out["watch"] == "agreement":
            _headline(given, out)
        return _checked(kind, out, given)
    if kind == "margin":
        if given.get("level") is None:
            raise ConfigError(f"a margin rule needs level (a whole number of coins from 0 to {MAX_TOP})")
        out["level"] = _integer(given, "level", 0, 0, MAX_TOP)
        out["hysteresis"] = _integer(given, "hysteresis", 1, 0, MAX_TOP)
        out["confirm_days"] = _integer(given, "confirm_days", 1, 1, MAX_CONFIRM_DAYS)
        _headline(given, out)
        return _checked(kind, out, given)
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
    return _checked(kind, out, given)


def _headline(given: dict[str, Any], out: dict[str, Any]) -> None:
    """The headline variant of a consensus or margin rule."""
    out["top"] = _integer(given, "top", DEFAULT_TOP, 1, MAX_TOP)
    out["window"] = _integer(given, "window", DEFAULT_WINDOW, 1, MAX_WINDOW)
    out["exclude"] = _choice(given, "exclude", "default", ("default", "none"))


def _checked(kind: str, out: dict[str, Any], given: dict[str, Any]) -> RuleSpec:
    if given:
        raise ConfigError(f"unknown parameter(s) for a rule of kind {kind}: {', '.join(sorted(given))}")
    spec = RuleSpec(kind, out)
    try:
        spec.band  # noqa: B018 - checks the levels
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return spec
