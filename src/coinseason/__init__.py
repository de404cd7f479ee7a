"""coinseason: Bitcoin season or altcoin season, exactly, for any universe, window and exclusion set."""

from coinseason.errors import (
    CoinseasonError,
    ConfigError,
    DataError,
    FormatError,
    NoDataError,
    ProviderError,
    RetryableProviderError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "CoinseasonError",
    "ConfigError",
    "DataError",
    "FormatError",
    "NoDataError",
    "ProviderError",
    "RetryableProviderError",
    "StoreError",
    "__version__",
]
