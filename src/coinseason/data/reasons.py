"""The one list of reasons a row is rejected or flagged, whichever way it enters (file import or live ingestion),
with the limits they state.

A *rejected* row is not stored; a *flagged* row is stored with a bit in ``flags`` that keeps its price and market
cap out of every index (the gap fill takes the day before). Every import and every ingestion counts both by
reason, in its report and in the import log (flags there as ``"flagged: <reason>"``).

The limits are far outside anything real, and were checked against both real data sets (CoinGecko 2013-2025,
CoinMarketCap top 200 2013-2024): the highest price there is 1.9e8 USD a unit (a thinly traded token), the largest
market cap 2.4e12 USD (Bitcoin, 2025), the largest circulating supply 1.6e19 given and 2.2e23 implied, and no
coin's market cap ever exceeded 1.16× the whole market's total of the day before or after (Bitcoin, 2013), but for
one CoinMarketCap glitch (LUNC on 2020-11-17 at 1.8e12 USD, 3.7× the whole market).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

EARLIEST_DAY: Final = dt.date(2009, 1, 3)
"""Bitcoin's genesis block: no market data can be older."""
MAX_PRICE: Final = 1e10
"""USD a unit: above it a price is not a price (50× the highest real one)."""
MAX_MARKET_CAP: Final = 1e14
"""USD: above it a market cap is not a market cap (40× Bitcoin's highest)."""
MAX_SUPPLY: Final = 1e24
"""Units: above it a circulating supply is not a supply."""
MARKET_MULTIPLE: Final = 3.0
"""A coin's market cap above this multiple of the whole market's total (every coin of the source, itself
included) on the day before or the day after, the larger of the two, is out of range."""
MARKET_MIN_COINS: Final = 10
"""A day's total is a market to judge by only when at least this many coins report a market cap that day (a file
of one coin, or a handful, says nothing of the whole market)."""

# -- rejections: one row alone ------------------------------------------------------------------------------------

REASON_NO_COIN: Final = "coin id missing"
REASON_BAD_DATE: Final = "date missing or not a calendar day"
REASON_EARLY_DATE: Final = f"date before {EARLIEST_DAY.isoformat()} (Bitcoin's genesis block)"
REASON_FUTURE_DATE: Final = "date after today (UTC)"
REASON_BAD_PRICE: Final = "price missing, zero, negative, NaN or infinite"
REASON_PRICE_RANGE: Final = f"price above {MAX_PRICE:.0e} USD"
REASON_BAD_MCAP: Final = "market cap zero, negative, NaN or infinite"
REASON_MCAP_RANGE: Final = f"market cap above {MAX_MARKET_CAP:.0e} USD"
REASON_BAD_VOLUME: Final = "volume negative, NaN or infinite"
REASON_BAD_SUPPLY: Final = "circulating supply negative, NaN or infinite"
REASON_SUPPLY_RANGE: Final = f"circulating supply above {MAX_SUPPLY:.0e}"

# -- rejections: a row among others ---------------------------------------------------------------------------------

REASON_CONFLICT: Final = "duplicated key (same coin and day) with different values"
REASON_ABOVE_MARKET: Final = (
    f"market cap above {MARKET_MULTIPLE:g}× the whole market's on the day before or after (the larger;"
    f" a market of {MARKET_MIN_COINS} coins or more)"
)
REASON_SAME_COIN_TWICE: Final = (
    "the same coin twice on one day (one symbol, and one rank or market caps within 0.1 %):"
    " kept the row that continues its prices"
)
REASON_SAME_COIN_UNDECIDED: Final = (
    "the same coin twice on one day (one symbol, and one rank or market caps within 0.1 %),"
    " and nothing tells which row is right"
)
REASON_STALE: Final = "stale: last updated longer ago than the heartbeat"
REASON_PRICE_DEVIATION: Final = "price off the other sources' median"

# -- flags: kept, out of every index ------------------------------------------------------------------------------

REASON_SPIKE: Final = "market cap one-day spike (over K× or under 1/K× both neighbours)"
REASON_PRICE_SPIKE: Final = "price one-day spike (over K× or under 1/K× both neighbours)"
REASON_FIRST_DAY: Final = "first day over K× or under 1/K× the day after (no day before to judge it by)"
REASON_PENDING: Final = "market cap or price jump over K× the day before, pending the next day"
REASON_SUPPLY_JUMP: Final = "circulating supply jump"
REASON_PROVIDER_GLITCH: Final = "marked a glitch by the provider (mcap_spike)"
REASON_MCAP_DEVIATION: Final = "market cap off the other sources' median"
REASON_PRICE_DISPUTED: Final = "price off the one other source (two sources: kept out of the indices, not deleted)"

REJECTIONS: Final[tuple[str, ...]] = (
    REASON_NO_COIN,
    REASON_BAD_DATE,
    REASON_EARLY_DATE,
    REASON_FUTURE_DATE,
    REASON_BAD_PRICE,
    REASON_PRICE_RANGE,
    REASON_BAD_MCAP,
    REASON_MCAP_RANGE,
    REASON_BAD_VOLUME,
    REASON_BAD_SUPPLY,
    REASON_SUPPLY_RANGE,
    REASON_CONFLICT,
    REASON_ABOVE_MARKET,
    REASON_SAME_COIN_TWICE,
    REASON_SAME_COIN_UNDECIDED,
    REASON_STALE,
    REASON_PRICE_DEVIATION,
)
"""Every reason a row is not stored."""

FLAGS: Final[tuple[str, ...]] = (
    REASON_SPIKE,
    REASON_PRICE_SPIKE,
    REASON_FIRST_DAY,
    REASON_PENDING,
    REASON_SUPPLY_JUMP,
    REASON_PROVIDER_GLITCH,
    REASON_MCAP_DEVIATION,
    REASON_PRICE_DISPUTED,
)
"""Every reason a stored row is kept out of the indices. ``K`` is the spike factor of the gates
(``COINSEASON_INGEST_SPIKE_FACTOR``, 10 by default); a supply jump is a move over the supply factor
(``COINSEASON_INGEST_SUPPLY_JUMP_FACTOR``, 5)."""

FLAGGED_PREFIX: Final = "flagged: "
"""How a flag's reason is written among the rejections of an import log row."""
