"""A typed Python client of the coinseason API: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio).

Built on httpx; every method returns the API's own pydantic response models (CSV answers as polars frames), pages
of coins are iterated for you, unchanged answers are reused through their ETag, rate limiting (429) is waited out
within a bound, and failures raise :mod:`coinseason.client.errors` read from the API's problem+json::

    from coinseason.client import Client

    with Client("http://127.0.0.1:8000", api_key="cs_...") as client:
        latest = client.season_latest(top=50, window=90)
        print(latest.season, latest.altcoin_season_index, latest.method.exclusion)
"""

from coinseason.client.asynchronous import AsyncClient
from coinseason.client.blocking import Client
from coinseason.client.errors import (
    ApiError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    UnexpectedResponse,
    Unreachable,
)
from coinseason.client.streaming import StreamMessage

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "ServerError",
    "StreamMessage",
    "Unauthorized",
    "Unavailable",
    "UnexpectedResponse",
    "Unreachable",
]
