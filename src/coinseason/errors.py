"""The one exception tree of coinseason, sorted by what fixes the error.

CoinseasonError
├── ConfigError          bad settings, options or exclusion files: the user fixes the call
├── DataError            input data that is wrong
│   └── FormatError      a file that is not of the stated format: refused whole
├── ProviderError        a data provider failed
│   └── RetryableProviderError   worth trying again later (429, 5xx, time-outs)
└── StoreError           the store cannot be opened, read or written
    └── NoDataError      the store holds no data for what was asked
"""

from __future__ import annotations


class CoinseasonError(Exception):
    """Base of every error coinseason raises on purpose."""


class ConfigError(CoinseasonError):
    """A setting, option or configuration file is wrong."""


class DataError(CoinseasonError):
    """Input data is wrong."""


class FormatError(DataError):
    """A file is not of the format it was said to be; nothing of it is loaded."""


class ProviderError(CoinseasonError):
    """A market-data provider failed."""


class RetryableProviderError(ProviderError):
    """A provider failure that may pass: try again later."""


class StoreError(CoinseasonError):
    """The store cannot be opened, read or written."""


class NoDataError(StoreError):
    """The store holds no data for the request."""
