"""Exchange pair symbols (``BTCUSDT``) to the coin ids of a store's source (``bitcoin``).

The rule, in order:

1. Only pairs quoted in a US dollar stablecoin count: ``USDT``, ``FDUSD`` or ``USDC`` (:data:`QUOTES`, in order of
   preference), and their price is taken as the price in USD. Pairs in other quotes (``BTC``, ``BUSD``, ``TRY``,
   ``BRL``…) are skipped. The base asset is the pair without its quote (``BTCUSDT`` → ``BTC``).
2. Fiat currencies traded as bases (``EURUSDT``, ``GBPUSDT``…, :data:`NOT_COINS`) are skipped.
3. A curated override (:data:`OVERRIDES`) names the coin of a base whose symbol several coins share, when that coin
   is in the source.
4. Otherwise the coins of the source with that symbol (case-insensitive) are the candidates: one candidate is the
   coin; among several, a single one without a token class (not a stablecoin, wrapped or bridged token, liquid
   staking derivative or tokenized asset: an exchange's base asset is the native coin, not a bridged copy of it)
   is the coin; anything else is ambiguous and skipped, never guessed.

A coin quoted in several stablecoins takes the price of the most preferred quote that is fresh
(:class:`coinseason.live.intraday.IntradayBoard`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

QUOTES: tuple[str, ...] = ("USDT", "FDUSD", "USDC")
"""US dollar stablecoin quotes, most preferred first."""

NOT_COINS: frozenset[str] = frozenset(
    {"EUR", "GBP", "AUD", "TRY", "BRL", "JPY", "RUB", "UAH", "NGN", "ZAR", "PLN", "RON", "ARS", "MXN", "COP", "CZK"}
)
"""Fiat currencies that appear as the base of exchange pairs."""

OVERRIDES: dict[str, str] = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "BNB": "binancecoin",
    "SOL": "solana",
    "USDT": "tether",
    "USDC": "usd-coin",
    "FDUSD": "first-digital-usd",
    "BUSD": "binance-usd",
    "DAI": "dai",
    "USDE": "ethena-usde",
    "WBTC": "wrapped-bitcoin",
    "POL": "polygon-ecosystem-token",
    "TON": "the-open-network",
    "DOGE": "dogecoin",
    "PEPE": "pepe",
    "TRUMP": "official-trump",
    "FLOW": "flow",
    "SC": "siacoin",
    "W": "wormhole",
    "MASK": "mask-network",
    "LUNA": "terra-luna-2",
    "ALT": "altlayer",
    "JOE": "joe",
    "XAI": "xai-blockchain",
    "BB": "bouncebit",
    "PHB": "phoenix-global",
    "ACT": "act-i-the-ai-prophecy",
    "GAL": "project-galaxy",
    "ATH": "aethir",
}
"""Base asset → coin id where a symbol is shared: the coin the exchange lists under that ticker (CoinGecko ids; an
id the source lacks is not used). Extend it when a listed coin shows up in :attr:`SymbolMap.ambiguous`."""


@dataclass(frozen=True, slots=True)
class SymbolMap:
    """Pair symbol → (coin id, quote preference: 0 is the most preferred)."""

    pairs: dict[str, tuple[str, int]]
    bases: dict[str, str]
    """Base asset → coin id, for every base resolved."""
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Base assets skipped because several coins share their symbol, with those coins."""

    def resolve(self, pair: str) -> tuple[str, int] | None:
        """The coin and quote preference of ``pair``; None for a pair that does not count (see the module)."""
        return self.pairs.get(pair)

    @property
    def coin_ids(self) -> frozenset[str]:
        return frozenset(self.bases.values())


def build_symbol_map(coins: pl.DataFrame, *, overrides: dict[str, str] | None = None) -> SymbolMap:
    """The symbol map of a source from its coins (``coin_id``, ``symbol`` and, when present, ``token_class``).

    Pairs are resolved on demand by :meth:`SymbolMap.resolve`, so every pair of the exchange works without a list.
    """
    overrides = OVERRIDES if overrides is None else overrides
    known = set(coins["coin_id"].to_list())
    classes = coins["token_class"].to_list() if "token_class" in coins.columns else [None] * coins.height
    by_symbol: dict[str, list[tuple[str, bool]]] = {}
    ids, symbols = coins["coin_id"].to_list(), coins["symbol"].to_list()
    for coin_id, symbol, token_class in zip(ids, symbols, classes, strict=True):
        if symbol:
            by_symbol.setdefault(str(symbol).upper(), []).append((str(coin_id), token_class is None))
    bases: dict[str, str] = {}
    ambiguous: dict[str, tuple[str, ...]] = {}
    for base, candidates in by_symbol.items():
        if base in NOT_COINS:
            continue
        chosen = overrides.get(base)
        if chosen is not None and chosen in known:
            bases[base] = chosen
            continue
        if len(candidates) == 1:
            bases[base] = candidates[0][0]
            continue
        native = [coin for coin, unclassed in candidates if unclassed]
        if len(native) == 1:
            bases[base] = native[0]
        else:
            ambiguous[base] = tuple(sorted(coin for coin, _ in candidates))
    for base, coin_id in overrides.items():  # an override may name a coin listed under another symbol
        if coin_id in known and base not in bases and base not in NOT_COINS:
            bases[base] = coin_id
            ambiguous.pop(base, None)
    pairs = {base + quote: (coin, rank) for base, coin in bases.items() for rank, quote in enumerate(QUOTES)}
    return SymbolMap(pairs=pairs, bases=bases, ambiguous=ambiguous)
