"""Stable coin identities for CoinMarketCap daily ranking snapshots, which carry symbols only.

CMC's historical top-200 pages name coins by ticker only, and tickers are not identifiers: two coins share
one on the same day (BITS, GLC, ARC, BNX, DTC, VIP, ONE, EGLD), a dead coin's ticker is taken by an unrelated
coin later, coins are renamed (MIOTA→IOTA) or redenominated (VEN→VET at 1:100), and they drop out of the
top 200 and come back. :func:`resolve_cmc_identities` cuts each symbol's rows into *tracks*, one coin each,
so that a return along one ``coin_id`` never mixes two coins. When in doubt it splits: one coin under two
ids loses a return; two coins under one id make a false one.

Method
------
0. **One coin twice on one day** (:mod:`~coinseason.data.cmc_identity.duplicates`), before anything else.
   Identical rows are kept once. Rows of one day and symbol that share their rank, or whose market caps are
   within 0.1 %, are one coin reported twice (two real coins sharing a ticker on one day are never that close:
   0.5 % at the closest, BITS on 2017-03-03): the row that continues the symbol's prices best on the nearest day
   before and after (within 7 days, stored coins included), and agrees best with its own market cap, is kept; the
   other is rejected with its reason, and when none is clearly best every copy is. A copy never opens a track.

Notation, for a row and a track last seen ``g`` days before it: ``dp = |Δ ln price|``,
``ds = |Δ ln supply|``. The supply is the circulating supply, else market cap / price; unknown when neither
is positive. The price is the price, else market cap / supply. Symbols are compared without case (CMC
showed both ``XAUt`` and ``XAUT``). Rows without a date, a symbol or a price get a null ``coin_id``.

1. **Continuation rule.** A row may continue a track of its symbol iff ``1 ≤ g ≤ MAX_GAP_DAYS`` (730) and
   either

   a. *confirmed move*: ``g = 1`` and the row's own 24 h change (column ``pct_change_24h``, % — used only
      when the input has it) agrees with the observed one: ``|ln(1 + pct/100) − Δ ln price| ≤ 0.1``; or
   b. ``dp ≤ PRICE_BOUND`` (ln 20) and

      - short gap, ``g ≤ SHORT_GAP_DAYS`` (7): not both ``ds > ln 3`` and ``dp > ln 1.5`` (a CMC supply
        correction leaves the price alone; a supply off by 3× with a price off by 1.5× is another coin or
        a redenomination);
      - long gap, ``g > 7``: both supplies known and ``ds ≤ LONG_GAP_SUPPLY_BOUND`` (ln 1.25).

2. **Assignment**, per symbol, day by day. Candidates are the symbol's tracks last seen 1–730 days before.
   A consistent pair costs ``dp + ds + GAP_PENALTY · ln g`` (``ds`` only when known; GAP_PENALTY = 0.25,
   so the track seen yesterday wins unless an older one fits clearly better). A day's rows (several when
   coins collide on a symbol) take candidates greedily, cheapest consistent pair first, each row and track
   at most once (on this file an exhaustive search for the most matches at least total cost gives the same
   ids). An unmatched row opens a new track. A track not matched stays open until unseen for 730 days, so
   a glitch day becomes a one-day track and the coin resumes its own track the next day, and a coin that
   left the top 200 is found again when it returns.
3. **Renames.** Track B takes the id of track A when all hold: A's last row is on day ``a`` and A has no
   later row; B's first row is on day ``b``, ``1 ≤ b − a ≤ RENAME_MAX_GAP_DAYS`` (2); B's symbol differs
   from A's and had no other row, nor seed, in the 730 days up to ``b``; ``dp ≤ ln 1.1``;
   ``ds ≤ ln 1.0005`` (CMC keeps the supply figure when it renames a coin; unrelated coins at the bottom of
   the ranking match to 0.08 %, e.g. BTO→WPR in 2018); ``|Δ rank| ≤ 10``; and the pairing is mutual and
   unique. A seed not continued by the rows has no rank, so it is never renamed from.
4. **Ids.** ``f"{symbol.lower()}@{first_date}"`` of a track's first row (``btc@2013-04-28``); a renamed
   track keeps its predecessor's id, a track continuing a seed the seed's id. A second new track with the
   same symbol and first day gets ``~2`` (then ``~3``…), in rank order.

5. **Glitch days** (:mod:`~coinseason.data.cmc_identity.glitches`). A track of one row on day ``d`` (not a
   seed's) takes the id of another track ``U`` of its symbol, of two rows at least (its seed counted), when ``U``
   has no row on ``d``, ``U``'s nearest row
   before ``d`` (its seed included) and nearest row after ``d`` (those that exist, at least one within 7 days)
   are all over ``K×`` below the row's price, or all over ``K×`` above it, where ``K`` is the quality gates'
   spike factor (10). The gates then flag the day as the coin's one-day spike, kept out of every index. A
   glitch day never makes a coin of its own.

Rows are first sorted by (date, rank, symbol, price, market cap, supply, pct_change_24h), so the same rows
give the same ids in any input order (rows equal on all of these are interchangeable).

Guarantee: between consecutive rows of one ``coin_id``, ``1 ≤ g ≤ 730`` and either ``g = 1`` with a
confirmed move, or ``dp ≤ ln 20`` with the short- or long-gap supply condition above (a rename step is
tighter still: ``g ≤ 2``, ``dp ≤ ln 1.1``, ``ds ≤ ln 1.0005``), or the row is a glitch day of rule 5, flagged by
the quality gates; and no ``coin_id`` has two rows on one day.

Calibration (CMC top 200, 2013-04-28 → 2024-12-11, 799,085 rows)
----------------------------------------------------------------
- Day-to-day ``dp`` over the symbols never shared on one day: median 0.034, p99 0.48, p99.9 1.19; the
  largest for BTC 0.46, ETH 1.30 (its first listed day), LTC 0.83, XRP 1.03, DOGE 1.52. 44 one-day steps
  exceed ln 20 (3.0) in eleven years: 21 are confirmed by the row's own 24 h change (LUNA −99.7 % on
  2022-05-12), the others are glitch days (VOLT ×7,900 for one day in 2014, reported change capped at
  9,000 %) or redenominations (BTT ÷1,000 with a −3.7 % change, XAUR).
- Supply tells coins apart where price cannot. Day to day it barely moves (p99 0.035) except for CMC
  corrections at a steady price (SOL, FIL, RSR: ``ds`` ≈ 1.7 with ``dp`` < 0.25), hence the short-gap rule
  looks at it only with a price move; the 1.5 there keeps VIP's two coins apart in April 2016 (a price
  1.5× off, a supply 15× off). After gaps of 60–730 days, 72 % of pairs whose supply differs more than
  e-fold (mostly re-used symbols: coins near rank 200 have similar market caps) still have a price within
  20×, while the same coin keeps its supply: ``ds ≤ ln 1.25`` holds for 86 % of the pairs with
  ``dp < 0.3`` after 60–240 days. The rest (unlocks, supply corrections during the gap) get new ids.
- Matching the result to CoinGecko histories (by symbol and a price within 10 %): no id spans two
  CoinGecko coins; 87 of the 487 matched CoinGecko coins are split over two or more ids, almost all after
  a gap with a supply change over 25 % or a gap over 730 days.
"""

from coinseason.data.cmc_identity.duplicates import SAME_CAP_TOLERANCE, Deduplicated, drop_duplicate_coins
from coinseason.data.cmc_identity.glitches import attach_glitch_days
from coinseason.data.cmc_identity.observations import CONFIRM_COLUMN, TrackSeed
from coinseason.data.cmc_identity.renames import (
    RENAME_MAX_GAP_DAYS,
    RENAME_MAX_RANK_SHIFT,
    RENAME_PRICE_BOUND,
    RENAME_SUPPLY_BOUND,
)
from coinseason.data.cmc_identity.resolve import resolve_cmc_identities
from coinseason.data.cmc_identity.rules import (
    CONFIRM_TOLERANCE,
    GAP_PENALTY,
    LONG_GAP_SUPPLY_BOUND,
    MAX_GAP_DAYS,
    PRICE_BOUND,
    SHORT_GAP_DAYS,
    SHORT_GAP_PRICE_GUARD,
    SHORT_GAP_SUPPLY_GUARD,
)

__all__ = [
    "CONFIRM_COLUMN",
    "CONFIRM_TOLERANCE",
    "GAP_PENALTY",
    "LONG_GAP_SUPPLY_BOUND",
    "MAX_GAP_DAYS",
    "PRICE_BOUND",
    "RENAME_MAX_GAP_DAYS",
    "RENAME_MAX_RANK_SHIFT",
    "RENAME_PRICE_BOUND",
    "RENAME_SUPPLY_BOUND",
    "SAME_CAP_TOLERANCE",
    "SHORT_GAP_DAYS",
    "SHORT_GAP_PRICE_GUARD",
    "SHORT_GAP_SUPPLY_GUARD",
    "Deduplicated",
    "TrackSeed",
    "attach_glitch_days",
    "drop_duplicate_coins",
    "resolve_cmc_identities",
]
