"""Names for dominance figures: which coins a share is taken of, and which are left out.

Published BTC dominance figures differ by several points because their universes differ (CoinMarketCap and
CoinGecko: every listed coin; TradingView's BTC.D: the top 125; coinseason's default: stablecoins and wrapped,
staked and tokenized tokens left out). Every dominance figure coinseason gives carries one of these names.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["WHOLE_MARKET_EXCLUDE", "WHOLE_MARKET_UNIVERSE", "dominance_basis", "is_whole_market"]

WHOLE_MARKET_UNIVERSE = "all"
WHOLE_MARKET_EXCLUDE = "none"
"""The whole market: every coin of the source, nothing left out, as CoinMarketCap and CoinGecko count it."""

_CLASS_NAMES = {
    "stablecoin": "stablecoins",
    "wrapped": "wrapped and bridged tokens",
    "liquid_staking": "liquid staking tokens",
    "tokenized_asset": "tokenized assets",
}


def is_whole_market(universe: str, excluded_classes: Sequence[str]) -> bool:
    return universe == WHOLE_MARKET_UNIVERSE and not excluded_classes


def _universe_words(universe: str) -> str:
    if universe == "all":
        return "every coin of the source"
    head, _, number = universe.partition(":")
    return f"the top {number} coins by market cap each day" if head == "top" else universe


def dominance_basis(universe: str, excluded_classes: Sequence[str]) -> str:
    """What a dominance figure is a share of, in words, e.g. ``whole market: every coin of the source, nothing
    excluded`` or ``every coin of the source except stablecoins, wrapped and bridged tokens, ...``."""
    coins = _universe_words(universe)
    if not excluded_classes:
        prefix = "whole market: " if universe == WHOLE_MARKET_UNIVERSE else ""
        return f"{prefix}{coins}, nothing excluded"
    left_out = [_CLASS_NAMES.get(c, c.replace("_", " ")) for c in excluded_classes]
    listed = left_out[0] if len(left_out) == 1 else ", ".join(left_out[:-1]) + " and " + left_out[-1]
    return f"{coins} except {listed}"
