"""The curated token list shipped with the package (``curated_tokens.toml``), and how it matches coins.

Matching, by coin id, then by symbol:

* ``not_excluded`` entries (by coin id only) are exceptions: governance tokens that the provider tags with an
  exclusion category by mistake are not excluded on that tag (checked before the categories).
* An entry with a class matches its coin id. A symbol match is weaker evidence (symbols collide) and its basis
  says so. Entries without a coin id match by symbol only. An entry with a coin id matches by symbol too when
  the source does not use CoinGecko ids (``coingecko_ids=False``), never when it does (``coingecko_ids=True``:
  another coin with the same ticker is another coin — FRAX the share token is not FRAX the dollar), and, when it
  is not said (``coingecko_ids=None``), only if its own coin id is absent from the classified coins.

Every basis the list decides records its ``version`` (``YYYY.MM.N``).

Point in time: an entry classes its coin from the coin's first day (a token is a stablecoin or a wrapped token by
design, from launch: its own first days are known on those days), or from the entry's ``since`` date when it
says when the token became what it is.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Final

from coinseason.data.tidy import TokenClass
from coinseason.errors import ConfigError

CURATED_RESOURCE: Final = "curated_tokens.toml"
_VERSION = re.compile(r"^\d{4}\.(0[1-9]|1[0-2])\.\d+$")


@dataclass(frozen=True, slots=True)
class CuratedEntry:
    """One curated token: ``token_class`` None marks a ``not_excluded`` exception."""

    symbol: str
    token_class: TokenClass | None
    coin_id: str | None = None
    name: str | None = None
    by_symbol: bool = True
    note: str | None = None
    since: dt.date | None = None
    """The first day the class holds, when the token became what it is after its launch (None: from launch)."""


@dataclass(frozen=True, slots=True)
class CuratedList:
    """The curated token list: ``version`` is recorded in every basis it decides."""

    version: str
    entries: tuple[CuratedEntry, ...]
    by_coin_id: Mapping[str, CuratedEntry] = field(init=False, repr=False, compare=False)
    by_symbol: Mapping[str, tuple[CuratedEntry, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, CuratedEntry] = {}
        by_symbol: dict[str, list[CuratedEntry]] = {}
        for entry in self.entries:
            if entry.coin_id is not None:
                known = by_id.setdefault(entry.coin_id, entry)
                if known.token_class != entry.token_class:
                    raise ConfigError(
                        f"curated list {self.version}: coin_id {entry.coin_id!r} is listed as both "
                        f"{known.token_class} and {entry.token_class}"
                    )
            if entry.by_symbol and entry.token_class is not None:
                same = by_symbol.setdefault(entry.symbol.lower(), [])
                if same and same[0].token_class != entry.token_class:
                    raise ConfigError(
                        f"curated list {self.version}: symbol {entry.symbol!r} is listed as both "
                        f"{same[0].token_class} and {entry.token_class}; set by_symbol = false on one"
                    )
                same.append(entry)
        object.__setattr__(self, "by_coin_id", MappingProxyType(by_id))
        object.__setattr__(self, "by_symbol", MappingProxyType({key: tuple(value) for key, value in by_symbol.items()}))

    def __len__(self) -> int:
        return len(self.entries)


_ENTRY_KEYS: Final = frozenset({"symbol", "coin_id", "name", "by_symbol", "note", "since"})
_CURATED_SECTIONS: Final[dict[str, TokenClass | None]] = {
    **{cls.value: cls for cls in TokenClass},
    "not_excluded": None,
}


def _optional_str(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _since(value: object, where: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date | str):
        raise ConfigError(f"{where}: expected a date such as 2021-05-01, got {value!r}")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: expected a date such as 2021-05-01, got {value!r}") from exc


def _curated_entry(raw: object, section: str, index: int, origin: str) -> CuratedEntry:
    where = f"{origin}: {section}[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f'{where}: expected a table such as {{ symbol = "USDT" }}, got {raw!r}')
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_ENTRY_KEYS))})")
    symbol = _optional_str(raw.get("symbol"), f"{where}.symbol")
    if symbol is None:
        raise ConfigError(f"{where}: key 'symbol' is required")
    by_symbol = raw.get("by_symbol", True)
    if not isinstance(by_symbol, bool):
        raise ConfigError(f"{where}.by_symbol: expected true or false, got {by_symbol!r}")
    token_class = _CURATED_SECTIONS[section]
    coin_id = _optional_str(raw.get("coin_id"), f"{where}.coin_id")
    since = _since(raw.get("since"), f"{where}.since")
    if token_class is None:
        if coin_id is None:
            raise ConfigError(f"{where}: key 'coin_id' is required in not_excluded (no symbol exceptions)")
        if since is not None:
            raise ConfigError(f"{where}: key 'since' has no meaning in not_excluded")
        by_symbol = False
    return CuratedEntry(
        symbol=symbol,
        token_class=token_class,
        coin_id=coin_id,
        name=_optional_str(raw.get("name"), f"{where}.name"),
        by_symbol=by_symbol,
        note=_optional_str(raw.get("note"), f"{where}.note"),
        since=since,
    )


def parse_curated(text: str, *, origin: str) -> CuratedList:
    """Parse a curated list in the TOML format of ``curated_tokens.toml``; ``origin`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from exc
    version = data.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ConfigError(f"{origin}: key 'version' must be a string \"YYYY.MM.N\", got {version!r}")
    entries: list[CuratedEntry] = []
    for key, value in data.items():
        if key == "version":
            continue
        if key not in _CURATED_SECTIONS:
            raise ConfigError(f"{origin}: unknown key {key!r} (expected version, {', '.join(_CURATED_SECTIONS)})")
        if not isinstance(value, list):
            raise ConfigError(f"{origin}: key {key!r} must be an array of tables")
        entries.extend(_curated_entry(raw, key, i, origin) for i, raw in enumerate(value))
    return CuratedList(version=version, entries=tuple(entries))


@functools.cache
def load_curated() -> CuratedList:
    """The curated list shipped in the package (``coinseason/data/curated_tokens.toml``)."""
    resource = resources.files("coinseason.data").joinpath(CURATED_RESOURCE)
    return parse_curated(resource.read_text(encoding="utf-8"), origin=CURATED_RESOURCE)


def curated_match(
    coin_id: str,
    symbol: str | None,
    curated: CuratedList,
    present: Collection[str],
    coingecko_ids: bool | None,
) -> tuple[CuratedEntry, str] | None:
    """The curated entry that classifies the coin and the basis to record, or None (rules in the module
    docstring)."""
    entry = curated.by_coin_id.get(coin_id)
    if entry is not None and entry.token_class is not None:
        return entry, f"curated v{curated.version} (coin_id)"
    if not symbol:
        return None
    for candidate in curated.by_symbol.get(symbol.lower(), ()):
        if (
            candidate.coin_id is None
            or coingecko_ids is False
            or (coingecko_ids is None and candidate.coin_id not in present)
        ):
            basis = f"curated v{curated.version} (symbol {candidate.symbol}; weaker evidence: symbols collide)"
            return candidate, basis
    return None
