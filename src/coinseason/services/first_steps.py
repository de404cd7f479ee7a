"""What to do on an empty store, in one text every front end shows (the API's 404 problem detail, the CLI's error
line, ``/readyz``, the server's log, the page): the two routes to data, each with its exact commands."""

from __future__ import annotations

from typing import Final

IMPORT_ROUTE: Final = (
    "import a file: `coinseason import PATH --format F` (full history without a paid plan: a CoinGecko per-coin"
    " CSV download, --format coingecko-csv --coin ID; CoinMarketCap's daily listings saved with the R package"
    " crypto2, --format crypto2-listings; also tidy, coingecko-daily, cmc-snapshots)"
)
PROVIDER_ROUTE: Final = (
    "or configure a provider: `COINSEASON_INGEST_PROVIDER=coingecko` (keyless, or COINSEASON_COINGECKO_PLAN=demo|pro"
    " with COINSEASON_COINGECKO_API_KEY; or =cmc with COINSEASON_CMC_API_KEY and COINSEASON_CMC_PLAN), then"
    " `coinseason serve`: it backfills as far back as the plan reaches and keeps the daily snapshots going"
)
NO_DATA_YET: Final = f"{IMPORT_ROUTE}, {PROVIDER_ROUTE}"
"""The two routes, for a message that has said already that there is no data (``/readyz``)."""
EMPTY_STORE: Final = f"the store is empty, no data yet: {NO_DATA_YET}"
"""The empty-store message, naming both routes with their commands."""
