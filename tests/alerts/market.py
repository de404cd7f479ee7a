"""A market whose season index is known day by day: BTC and four alts, index over the top 5 with a 1-day window.

On each day BTC gains 1 %; an alt "wins" the day by gaining 2 %, else it stays flat. With ``top=5`` (BTC inside)
and ``window=1`` the index of a day is 25 x the number of alts that won it: ``winners[d]`` alts win day ``d``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store.protocols import Store

START = dt.date(2026, 1, 1)
ALTS = ("alpha", "beta", "gamma", "delta")
SEASON_PARAMS = {"top": 5, "window": 1}


def index_of(winners: int) -> float:
    return 25.0 * winners


def market_csv(path: Path, winners: list[int], *, start: dt.date = START) -> Path:
    """Rows for day 0 (the base) and one day per entry of ``winners`` (how many alts win that day: 0 to 4)."""
    prices = {"bitcoin": 50_000.0, **{alt: 10.0 * (i + 2) for i, alt in enumerate(ALTS)}}
    caps = {"bitcoin": 1e12, **{alt: 1e10 / (i + 1) for i, alt in enumerate(ALTS)}}
    lines = ["coin_id,symbol,name,date,price,market_cap"]

    def write(day: dt.date) -> None:
        for coin, price in prices.items():
            cap = caps[coin] * price / (50_000.0 if coin == "bitcoin" else 10.0 * (ALTS.index(coin) + 2))
            lines.append(f"{coin},{coin[:3]},{coin.title()},{day},{price!r},{cap!r}")

    write(start)
    for d, won in enumerate(winners, start=1):
        prices["bitcoin"] *= 1.01
        for alt in ALTS[:won]:
            prices[alt] *= 1.02
        write(start + dt.timedelta(days=d))
    path.write_text("\n".join(lines) + "\n")
    return path


def import_market(store: Store, path: Path, winners: list[int], *, now: dt.datetime) -> None:
    ImportService(store, clock=lambda: now).import_file(market_csv(path, winners), FileFormat.TIDY)
