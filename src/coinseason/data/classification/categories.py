"""Evidence from the provider's categories (CoinGecko's tags).

Precise tags decide alone: ``Stablecoins``, any ``… Stablecoin`` (USD, EUR, Fiat-backed, Bridged,
Yield-Bearing, …), ``Synthetic Dollar``, ``Bridged USDC/USDT/DAI``; ``Liquid Staking Tokens``, ``Liquid Restaking
Tokens``, ``Liquid (Re)staked X``; ``Wrapped-Tokens``, ``Bridged WBTC/WETH``, ``Binance-Peg Tokens``,
``Tokenized BTC``, deposit receipts (``Compound Tokens``, ``cToken``, ``Aave Tokens``); ``Tokenized
Gold/Silver/Commodities/Treasury…/Stocks``. When several apply: tokenized asset, then stablecoin, then liquid
staking, then wrapped — so gold tokens tagged ``Stablecoins`` are tokenized assets, bridged stablecoins are
stablecoins, and a wrapped token also tagged ``Liquid Staking`` (wstETH) is a liquid-staking token.

Broad tags never decide alone, as they also cover protocol tokens: ``Stablecoin Protocol`` (ENA, FXS), ``Liquid
Staking`` and ``Restaking`` (LDO, RPL, EIGEN), ``Bridged-Tokens`` (SPX6900), ``Crypto-Backed Tokens`` (OHM),
``Tokenized Assets``, ``Tokenized Real Estate`` (protocol tokens). ``Liquid Staking``/``Restaking`` count when the
name says staked (Staked, Restaked); ``Bridged-Tokens``/``Crypto-Backed Tokens`` count when the name says bridged
or wrapped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from coinseason.data.classification.names import says_bridged_or_wrapped, says_staked
from coinseason.data.tidy import TokenClass

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
    name_staked = says_staked(name)
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
    if weak_wrapped and says_bridged_or_wrapped(name):
        return TokenClass.WRAPPED, "categories: " + "; ".join(weak_wrapped) + " + name says bridged/wrapped"
    return None
