"""Token classification: which coins are stablecoins, wrapped, liquid-staking or tokenized assets.

These four classes (:class:`~coinseason.data.tidy.TokenClass`) are kept out of the season index and of
dominance by default: they are dollars, or claims on a coin already counted. Every decision records its
``basis`` (a human-readable why) and its ``source`` (``categories``, ``curated``, ``price_peg``, ``override``
or ``none``).

Evidence, first match wins
--------------------------
0. Curated exceptions (``not_excluded`` in the curated list, by coin id only): governance tokens that the
   provider tags with an exclusion category by mistake are not excluded on that tag.
1. Provider categories (:func:`class_from_categories`). Precise tags decide alone: ``Stablecoins``, any
   ``… Stablecoin`` (USD, EUR, Fiat-backed, Bridged, Yield-Bearing, …), ``Synthetic Dollar``, ``Bridged
   USDC/USDT/DAI``; ``Liquid Staking Tokens``, ``Liquid Restaking Tokens``, ``Liquid (Re)staked X``;
   ``Wrapped-Tokens``, ``Bridged WBTC/WETH``, ``Binance-Peg Tokens``, ``Tokenized BTC``, deposit receipts
   (``Compound Tokens``, ``cToken``, ``Aave Tokens``); ``Tokenized Gold/Silver/Commodities/Treasury…/Stocks``.
   When several apply: tokenized asset, then stablecoin, then liquid staking, then wrapped — so gold tokens
   tagged ``Stablecoins`` are tokenized assets, bridged stablecoins are stablecoins, and a wrapped token also
   tagged ``Liquid Staking`` (wstETH) is a liquid-staking token. Broad tags never decide alone, as they also
   cover protocol tokens: ``Stablecoin Protocol`` (ENA, FXS), ``Liquid Staking`` and ``Restaking`` (LDO, RPL,
   EIGEN), ``Bridged-Tokens`` (SPX6900), ``Crypto-Backed Tokens`` (OHM), ``Tokenized Assets``,
   ``Tokenized Real Estate`` (protocol tokens). ``Liquid Staking``/``Restaking`` count when the name says
   staked (Staked, Restaked); ``Bridged-Tokens``/``Crypto-Backed Tokens`` count when the name says bridged or wrapped.
2. The curated list shipped with the package (:func:`load_curated`), by coin id, then by symbol. A symbol
   match is weaker evidence (symbols collide) and its basis says so. Entries without a coin id match by
   symbol only. An entry with a coin id matches by symbol too when the source does not use CoinGecko ids
   (``coingecko_ids=False``), never when it does (``coingecko_ids=True``: another coin with the same ticker
   is another coin — FRAX the share token is not FRAX the dollar), and, when it is not said
   (``coingecko_ids=None``), only if its own coin id is absent from ``coins``.
3. A price peg (:mod:`coinseason.core.peg`) over the coin's whole daily history: to the US dollar (band
   [0.95, 1.05], median [0.98, 1.02]) → stablecoin; else to a reference coin given in ``references``
   (band [0.9, 1.35], median [0.95, 1.25]) → wrapped, or liquid staking when the name mentions staking
   (Staked, Restaked, StakeStone…), the symbol is ``st``/``wst`` + the asset (stETH, wstETH, stSOL), or, for a
   proof-of-stake asset, the symbol is a prefix + the asset (+ ``x``): rETH, cbETH, weETH, mSOL, JitoSOL,
   ETHx, BNBx — unless the name says bridged or wrapped, or the prefix ends in ``w`` (a vault or copy of the
   wrapped asset: re7WETH). Bitcoin and other assets without native staking get no symbol rule: a
   BTC-pegged token is wrapped unless its name mentions staking. A coin
   pegged to a reference that is itself a stablecoin or tokenized asset takes that class (a coin pegged to
   EURC is a stablecoin). The reference coins themselves are never peg-tested (bitcoin is not pegged to
   bitcoin); with fewer than 30 priced days there is no peg.
4. Otherwise no class (source ``none``).

Override files
--------------
A user's TOML file (:func:`load_overrides`), every key optional::

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

import functools
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core.peg import (
    ASSET_BAND,
    ASSET_MEDIAN_BAND,
    MIN_OBS,
    MIN_SHARE,
    USD_BAND,
    USD_MEDIAN_BAND,
    Band,
    PegStats,
    is_pegged_stats,
    peg_stats,
)
from coinseason.data.tidy import TokenClass
from coinseason.errors import ConfigError, DataError

SOURCE_CATEGORIES: Final = "categories"
SOURCE_CURATED: Final = "curated"
SOURCE_PRICE_PEG: Final = "price_peg"
SOURCE_OVERRIDE: Final = "override"
SOURCE_NONE: Final = "none"

DEFAULT_EXCLUDED: Final[tuple[TokenClass, ...]] = tuple(TokenClass)
"""Classes kept out of the season index and dominance unless the user says otherwise."""

CLASSIFICATION_SCHEMA: Final[dict[str, pl.DataType]] = {
    "coin_id": pl.String(),
    "token_class": pl.String(),
    "class_basis": pl.String(),
    "class_source": pl.String(),
}
"""Columns of the frame :func:`classify_coins` returns, in order."""

CURATED_RESOURCE: Final = "curated_tokens.toml"
NO_NATIVE_STAKING: Final[frozenset[str]] = frozenset({"BTC", "LTC", "DOGE", "BCH", "XMR", "ZEC", "ETC"})
"""Reference assets without native staking: a token pegged to them is wrapped unless its name says staked."""

_NO_REFERENCES: Final[Mapping[str, str]] = MappingProxyType({})
_VERSION = re.compile(r"^\d{4}\.(0[1-9]|1[0-2])\.\d+$")


@dataclass(frozen=True, slots=True)
class Classification:
    """One coin's class and why."""

    coin_id: str
    token_class: TokenClass | None
    basis: str
    source: str


# --- provider categories ---------------------------------------------------------------------------------

_TOKENIZED = re.compile(
    r"^Tokenized (Gold|Silver|Commodit|Treasur|Stocks?$|Equit|Money Market|Bonds?$|Funds?$)", re.IGNORECASE
)
_STABLE_EXACT: Final = frozenset({"Stablecoins", "Synthetic Dollar"})
_BRIDGED_STABLE = re.compile(r"^Bridged (USD[A-Za-z0-9]*|DAI|EUR[A-Za-z0-9]*)$")
_LST_EXACT: Final = frozenset({"Liquid Staking Tokens", "Liquid Restaking Tokens"})
_LST_STAKED = re.compile(r"^Liquid (Re)?[Ss]taked ")
_WRAPPED_EXACT: Final = frozenset(
    {"Wrapped-Tokens", "Tokenized BTC", "Binance-Peg Tokens", "Compound Tokens", "cToken", "Aave Tokens"}
)
_BRIDGED_WRAPPED = re.compile(r"^Bridged W[A-Z]{2,}$")
_WEAK_STAKING: Final = frozenset({"Liquid Staking", "Restaking"})
_WEAK_WRAPPED: Final = frozenset({"Bridged-Tokens", "Crypto-Backed Tokens"})

_NAME_STAKED = re.compile(r"staked", re.IGNORECASE)  # Staked, Restaked: corroborates a broad category
_NAME_STAKING = re.compile(r"stak", re.IGNORECASE)  # also Staking, StakeStone: for tokens already pegged
_NAME_WRAPPED = re.compile(r"\b(bridged|wrapped)\b|-peg\b", re.IGNORECASE)


def _is_stable_category(category: str) -> bool:
    return category in _STABLE_EXACT or category.endswith(" Stablecoin") or _BRIDGED_STABLE.match(category) is not None


def split_categories(categories: str | None) -> list[str]:
    """The provider's ``;``-separated category string as a list (empty for null or blank)."""
    if not categories:
        return []
    return [part.strip() for part in categories.split(";") if part.strip()]


def class_from_categories(categories: Sequence[str], name: str | None) -> tuple[TokenClass, str] | None:
    """The class the provider categories give, with the basis, or None (rules in the module docstring)."""
    tokenized = [c for c in categories if _TOKENIZED.match(c)]
    if tokenized:
        return TokenClass.TOKENIZED_ASSET, "categories: " + "; ".join(tokenized)
    stable = [c for c in categories if _is_stable_category(c)]
    if stable:
        return TokenClass.STABLECOIN, "categories: " + "; ".join(stable)
    staking = [c for c in categories if c in _LST_EXACT or _LST_STAKED.match(c)]
    if staking:
        return TokenClass.LIQUID_STAKING, "categories: " + "; ".join(staking)
    name_staked = bool(name and _NAME_STAKED.search(name))
    weak_staking = [c for c in categories if c in _WEAK_STAKING]
    wrapped = [c for c in categories if c in _WRAPPED_EXACT or _BRIDGED_WRAPPED.match(c)]
    if wrapped:
        if weak_staking or name_staked:
            why = "; ".join(wrapped + weak_staking) + (" + name says staked" if name_staked else "")
            return TokenClass.LIQUID_STAKING, f"categories: {why} (a wrapped staking token)"
        return TokenClass.WRAPPED, "categories: " + "; ".join(wrapped)
    if weak_staking and name_staked:
        return TokenClass.LIQUID_STAKING, "categories: " + "; ".join(weak_staking) + " + name says staked"
    weak_wrapped = [c for c in categories if c in _WEAK_WRAPPED]
    if weak_wrapped and name and _NAME_WRAPPED.search(name):
        return TokenClass.WRAPPED, "categories: " + "; ".join(weak_wrapped) + " + name says bridged/wrapped"
    return None


# --- curated list ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CuratedEntry:
    """One curated token: ``token_class`` None marks a ``not_excluded`` exception."""

    symbol: str
    token_class: TokenClass | None
    coin_id: str | None = None
    name: str | None = None
    by_symbol: bool = True
    note: str | None = None


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


_ENTRY_KEYS: Final = frozenset({"symbol", "coin_id", "name", "by_symbol", "note"})
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
    if token_class is None:
        if coin_id is None:
            raise ConfigError(f"{where}: key 'coin_id' is required in not_excluded (no symbol exceptions)")
        by_symbol = False
    return CuratedEntry(
        symbol=symbol,
        token_class=token_class,
        coin_id=coin_id,
        name=_optional_str(raw.get("name"), f"{where}.name"),
        by_symbol=by_symbol,
        note=_optional_str(raw.get("note"), f"{where}.note"),
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


def _curated_match(
    coin_id: str,
    symbol: str | None,
    curated: CuratedList,
    present: Collection[str],
    coingecko_ids: bool | None,
) -> tuple[CuratedEntry, str] | None:
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


# --- price pegs ------------------------------------------------------------------------------------------


def _fmt_band(band: Band) -> str:
    return f"[{band[0]:g},{band[1]:g}]"


def _peg_basis(target: str, stats: PegStats, band: Band) -> str:
    return (
        f"price peg to {target}: {stats.share:.0%} of {stats.n_obs:,} days in {_fmt_band(band)}, "
        f"median {stats.median:.3f}"
    )


def pegged_asset_class(asset: str, symbol: str | None, name: str | None) -> tuple[TokenClass, str]:
    """Wrapped or liquid staking, for a token pegged to ``asset`` (rules in the module docstring)."""
    a = asset.lower()
    s = (symbol or "").lower()
    if name and _NAME_STAKING.search(name):
        return TokenClass.LIQUID_STAKING, "name mentions staking"
    if s in (f"st{a}", f"wst{a}"):
        return TokenClass.LIQUID_STAKING, f"symbol {symbol}: st- staking token"
    if name and _NAME_WRAPPED.search(name):
        return TokenClass.WRAPPED, "name says bridged/wrapped"
    if s.endswith(f"w{a}"):
        return TokenClass.WRAPPED, f"symbol {symbol}: a copy or vault of w{asset}"
    if asset.upper() not in NO_NATIVE_STAKING and s != a and s.endswith((a, f"{a}x")):
        return TokenClass.LIQUID_STAKING, f"symbol {symbol}: -{asset} staking token"
    return TokenClass.WRAPPED, "wrapped"


@dataclass(frozen=True, slots=True)
class _PegTable:
    """Per-coin slices of the ratio columns: ``usd`` and one column per reference."""

    starts: Mapping[str, tuple[int, int]]
    usd: NDArray[np.float64]
    refs: tuple[NDArray[np.float64], ...]


def _peg_table(prices: pl.DataFrame, ids: Collection[str], references: Mapping[str, str]) -> _PegTable:
    missing = [c for c in ("coin_id", "date", "price") if c not in prices.columns]
    if missing:
        raise DataError(f"prices: missing column(s) {', '.join(missing)}")
    price = pl.col("price")
    base = prices.lazy().select(
        pl.col("coin_id").cast(pl.String),
        pl.col("date"),
        pl.when(price.cast(pl.Float64) > 0).then(price.cast(pl.Float64)).alias("price"),
    )
    table = base.filter(pl.col("coin_id").is_in(list(ids))).unique(
        subset=["coin_id", "date"], keep="first", maintain_order=True
    )
    ref_cols: list[str] = []
    for i, ref_id in enumerate(references.values()):
        name = f"_ref{i}"
        ref = (
            base.filter((pl.col("coin_id") == ref_id) & pl.col("price").is_not_null())
            .group_by("date")
            .agg(pl.col("price").first().alias(name))
        )
        table = table.join(ref, on="date", how="left")
        ref_cols.append(name)
    frame = (
        table.select(
            "coin_id",
            pl.col("price").alias("_usd"),
            *[(pl.col("price") / pl.col(col)).alias(col) for col in ref_cols],
        )
        .sort("coin_id", maintain_order=True)
        .collect()
    )
    counts = frame.group_by("coin_id", maintain_order=True).len()
    starts: dict[str, tuple[int, int]] = {}
    offset = 0
    for coin, n in counts.iter_rows():
        starts[coin] = (offset, offset + n)
        offset += n
    return _PegTable(
        starts=starts,
        usd=frame["_usd"].fill_null(np.nan).to_numpy(),
        refs=tuple(frame[col].fill_null(np.nan).to_numpy() for col in ref_cols),
    )


def _peg_class(
    coin_id: str,
    symbol: str | None,
    name: str | None,
    table: _PegTable,
    references: Mapping[str, str],
    ref_classes: Mapping[str, TokenClass | None],
) -> Classification | None:
    span = table.starts.get(coin_id)
    if span is None:
        return None
    lo, hi = span
    usd = peg_stats(table.usd[lo:hi], band=USD_BAND)
    if is_pegged_stats(usd, median_band=USD_MEDIAN_BAND, min_share=MIN_SHARE, min_obs=MIN_OBS):
        return Classification(coin_id, TokenClass.STABLECOIN, _peg_basis("USD", usd, USD_BAND), SOURCE_PRICE_PEG)
    best: tuple[str, str, PegStats] | None = None
    for (asset, ref_id), ratios in zip(references.items(), table.refs, strict=True):
        stats = peg_stats(ratios[lo:hi], band=ASSET_BAND)
        pegged = is_pegged_stats(stats, median_band=ASSET_MEDIAN_BAND, min_share=MIN_SHARE, min_obs=MIN_OBS)
        if pegged and (best is None or stats.share > best[2].share):
            best = (asset, ref_id, stats)
    if best is None:
        return None
    asset, ref_id, stats = best
    basis = _peg_basis(asset, stats, ASSET_BAND)
    ref_class = ref_classes.get(ref_id)
    if ref_class in (TokenClass.STABLECOIN, TokenClass.TOKENIZED_ASSET):
        return Classification(coin_id, ref_class, f"{basis} ({ref_id} is a {ref_class})", SOURCE_PRICE_PEG)
    token_class, why = pegged_asset_class(asset, symbol, name)
    return Classification(coin_id, token_class, f"{basis}; {why}", SOURCE_PRICE_PEG)


# --- classify --------------------------------------------------------------------------------------------


def _prior_evidence(
    row: Mapping[str, Any],
    curated: CuratedList,
    present: Collection[str],
    coingecko_ids: bool | None,
) -> Classification | None:
    """Steps 0-2: curated exceptions, provider categories, curated list."""
    coin_id: str = row["coin_id"]
    exception = curated.by_coin_id.get(coin_id)
    if exception is not None and exception.token_class is None:
        why = f": {exception.note}" if exception.note else ""
        basis = f"curated v{curated.version} (coin_id): not excluded{why}"
        return Classification(coin_id, None, basis, SOURCE_CURATED)
    from_categories = class_from_categories(split_categories(row["categories"]), row["name"])
    if from_categories is not None:
        return Classification(coin_id, from_categories[0], from_categories[1], SOURCE_CATEGORIES)
    match = _curated_match(coin_id, row["symbol"], curated, present, coingecko_ids)
    if match is not None:
        return Classification(coin_id, match[0].token_class, match[1], SOURCE_CURATED)
    return None


def _coin_rows(coins: pl.DataFrame) -> list[dict[str, Any]]:
    if "coin_id" not in coins.columns:
        raise DataError("coins: missing column coin_id")
    frame = coins.select(
        pl.col("coin_id").cast(pl.String),
        *[
            (pl.col(c).cast(pl.String) if c in coins.columns else pl.lit(None, dtype=pl.String)).alias(c)
            for c in ("symbol", "name", "categories")
        ],
    )
    if frame["coin_id"].null_count():
        raise DataError("coins: coin_id is null in some rows")
    duplicated = frame.filter(pl.col("coin_id").is_duplicated())["coin_id"].unique().sort()
    if duplicated.len():
        raise DataError(f"coins: duplicated coin_id {', '.join(duplicated.head(5).to_list())}")
    return frame.to_dicts()


def classify_coins(
    coins: pl.DataFrame,
    prices: pl.DataFrame | None,
    *,
    curated: CuratedList,
    references: Mapping[str, str] = _NO_REFERENCES,
    coingecko_ids: bool | None = None,
) -> pl.DataFrame:
    """Class and basis of every coin, by the evidence order of the module docstring.

    Parameters
    ----------
    coins : coin_id, symbol, name, categories (``;``-separated provider categories, nullable); symbol, name
        and categories may be absent (then null). One row per coin.
    prices : long frame coin_id, date, price (USD); None skips the price-peg test.
    curated : the curated list, usually :func:`load_curated`.
    references : asset → coin id of that asset in this source, e.g. ``{"BTC": "bitcoin", "ETH": "ethereum"}``,
        for pegs to assets; the USD peg needs none.
    coingecko_ids : whether ``coin_id`` holds CoinGecko ids, which decides when curated entries that have a
        coin id may match by symbol: True never, False always, None (not said) when the entry's id is absent
        from ``coins``. Entries without a coin id always match by symbol.

    Returns
    -------
    coin_id, token_class (a :class:`TokenClass` value or null), class_basis, class_source: one row per input
    coin, in input order.
    """
    rows = _coin_rows(coins)
    present = frozenset(row["coin_id"] for row in rows)
    reference_ids = set(references.values())
    decided: dict[str, Classification] = {}
    for row in rows:
        prior = _prior_evidence(row, curated, present, coingecko_ids)
        if prior is not None:
            decided[row["coin_id"]] = prior
    undecided = [row for row in rows if row["coin_id"] not in decided and row["coin_id"] not in reference_ids]
    if prices is not None and undecided:
        table = _peg_table(prices, [row["coin_id"] for row in undecided], references)
        ref_classes = {ref_id: c.token_class for ref_id, c in decided.items() if ref_id in reference_ids}
        for row in undecided:
            pegged = _peg_class(row["coin_id"], row["symbol"], row["name"], table, references, ref_classes)
            if pegged is not None:
                decided[row["coin_id"]] = pegged
    assets = {ref_id: asset for asset, ref_id in references.items()}
    out: list[Classification] = []
    for row in rows:
        coin_id = row["coin_id"]
        if coin_id in decided:
            out.append(decided[coin_id])
        elif coin_id in assets:
            basis = f"reference coin of {assets[coin_id]}: no category or curated entry, never peg-tested"
            out.append(Classification(coin_id, None, basis, SOURCE_NONE))
        else:
            tested = "price peg" if prices is not None else "price peg (no prices given)"
            basis = f"no exclusion category, curated entry or {tested}"
            out.append(Classification(coin_id, None, basis, SOURCE_NONE))
    return classifications_frame(out)


def classifications_frame(items: Iterable[Classification]) -> pl.DataFrame:
    """A classification frame (:data:`CLASSIFICATION_SCHEMA`) from :class:`Classification` records."""
    records = list(items)
    return pl.DataFrame(
        {
            "coin_id": [c.coin_id for c in records],
            "token_class": [None if c.token_class is None else c.token_class.value for c in records],
            "class_basis": [c.basis for c in records],
            "class_source": [c.source for c in records],
        },
        schema=CLASSIFICATION_SCHEMA,
    )


def excluded_ids(classified: pl.DataFrame, classes: Collection[TokenClass]) -> set[str]:
    """Coin ids of ``classified`` whose class is one of ``classes``."""
    wanted = [TokenClass(c).value for c in classes]
    hit = classified.filter(pl.col("token_class").is_in(wanted))
    return set(hit["coin_id"].to_list())


# --- user overrides --------------------------------------------------------------------------------------


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
    ignored.
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
    return (
        classified.join(table, on="coin_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(hit).then(pl.col("_class")).otherwise(pl.col("token_class")).alias("token_class"),
            pl.when(hit).then(pl.col("_basis")).otherwise(pl.col("class_basis")).alias("class_basis"),
            pl.when(hit).then(pl.lit(SOURCE_OVERRIDE)).otherwise(pl.col("class_source")).alias("class_source"),
        )
        .drop("_class", "_basis")
    )
