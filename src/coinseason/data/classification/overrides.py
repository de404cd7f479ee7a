"""A user's exclusion choices, read from a TOML override file and applied over a classification.

Every key is optional::

    # classes kept out of the indices (default: all four)
    classes = ["stablecoin", "wrapped", "liquid_staking", "tokenized_asset"]

    [add]       # coin_id = class: force a class
    "my-coin" = "stablecoin"

    [remove]    # coin ids never excluded, whatever the evidence
    ids = ["dai"]

Top-level keys (``classes``) must come before the ``[add]`` and ``[remove]`` tables, as TOML requires.
Ids that are not in the classified frame are ignored, so one file can serve several sources. An id both
added and removed, an unknown key or class name, or a wrong type raises :class:`~coinseason.errors.ConfigError`
naming the file and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

import polars as pl

from coinseason.data.classification.records import SOURCE_OVERRIDE
from coinseason.data.tidy import TokenClass
from coinseason.errors import ConfigError

DEFAULT_EXCLUDED: Final[tuple[TokenClass, ...]] = tuple(TokenClass)
"""Classes kept out of the season index and dominance unless the user says otherwise."""


@dataclass(frozen=True, slots=True)
class Overrides:
    """A user's exclusion choices: which ``classes`` to exclude, coins to ``add`` to a class or ``remove``."""

    classes: tuple[TokenClass, ...] = DEFAULT_EXCLUDED
    """Excluded classes, without repeats, in :class:`TokenClass` order."""
    add: Mapping[str, TokenClass] = field(default_factory=lambda: MappingProxyType({}))
    remove: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        both = sorted(set(self.add) & self.remove)
        if both:
            raise ConfigError(f"coin id {both[0]!r} is both added and removed")


_OVERRIDE_KEYS: Final = ("classes", "add", "remove")
_CLASS_NAMES: Final = ", ".join(c.value for c in TokenClass)


def _token_class(value: object, where: str) -> TokenClass:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a class name ({_CLASS_NAMES}), got {value!r}")
    try:
        return TokenClass(value)
    except ValueError:
        raise ConfigError(f"{where}: unknown token class {value!r} (expected one of {_CLASS_NAMES})") from None


def load_overrides(path: Path) -> Overrides:
    """Read a user's override file (format in the module docstring); errors name the file and the key."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the override file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for key in data:
        if key not in _OVERRIDE_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} (allowed: {', '.join(_OVERRIDE_KEYS)})")

    classes = DEFAULT_EXCLUDED
    if "classes" in data:
        raw = data["classes"]
        if not isinstance(raw, list):
            raise ConfigError(f"{path}: key 'classes' must be an array of class names, got {raw!r}")
        named = {_token_class(v, f"{path}: key 'classes[{i}]'") for i, v in enumerate(raw)}
        classes = tuple(c for c in TokenClass if c in named)

    add: dict[str, TokenClass] = {}
    raw_add = data.get("add", {})
    if not isinstance(raw_add, dict):
        raise ConfigError(f"{path}: key 'add' must be a table of coin_id = class, got {raw_add!r}")
    for coin_id, value in raw_add.items():
        add[coin_id] = _token_class(value, f"{path}: key 'add.{coin_id}'")

    remove: frozenset[str] = frozenset()
    raw_remove = data.get("remove", {})
    if not isinstance(raw_remove, dict):
        raise ConfigError(f"{path}: key 'remove' must be a table with ids = [...], got {raw_remove!r}")
    for key in raw_remove:
        if key != "ids":
            raise ConfigError(f"{path}: unknown key 'remove.{key}' (allowed: ids)")
    ids = raw_remove.get("ids", [])
    if not isinstance(ids, list) or not all(isinstance(v, str) and v for v in ids):
        raise ConfigError(f"{path}: key 'remove.ids' must be an array of coin id strings, got {ids!r}")
    remove = frozenset(ids)

    both = sorted(set(add) & remove)
    if both:
        raise ConfigError(f"{path}: key 'add.{both[0]}': coin id is also in remove.ids")
    return Overrides(classes=classes, add=MappingProxyType(add), remove=remove)


def apply_overrides(classified: pl.DataFrame, overrides: Overrides, source_name: str) -> pl.DataFrame:
    """``classified`` with the user's adds and removes applied (source ``override``).

    ``source_name`` says where the overrides came from (usually the file name) and is written in the basis:
    ``override: add stablecoin (my.toml)``, ``override: remove (my.toml)``. Ids not in ``classified`` are
    ignored. An override holds on every day: its ``class_since`` (when the frame has one) is null.
    """
    ids: list[str] = []
    classes: list[str | None] = []
    bases: list[str] = []
    for coin_id, token_class in overrides.add.items():
        ids.append(coin_id)
        classes.append(token_class.value)
        bases.append(f"override: add {token_class.value} ({source_name})")
    for coin_id in sorted(overrides.remove):
        ids.append(coin_id)
        classes.append(None)
        bases.append(f"override: remove ({source_name})")
    if not ids:
        return classified
    table = pl.DataFrame(
        {"coin_id": ids, "_class": classes, "_basis": bases},
        schema={"coin_id": pl.String(), "_class": pl.String(), "_basis": pl.String()},
    )
    hit = pl.col("_basis").is_not_null()
    dated = "class_since" in classified.columns
    return (
        classified.join(table, on="coin_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(hit).then(pl.col("_class")).otherwise(pl.col("token_class")).alias("token_class"),
            pl.when(hit).then(pl.col("_basis")).otherwise(pl.col("class_basis")).alias("class_basis"),
            pl.when(hit).then(pl.lit(SOURCE_OVERRIDE)).otherwise(pl.col("class_source")).alias("class_source"),
            *([pl.when(hit).then(None).otherwise(pl.col("class_since")).alias("class_since")] if dated else []),
        )
        .drop("_class", "_basis")
    )
