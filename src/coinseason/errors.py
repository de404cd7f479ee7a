"""The one exception tree of coinseason, sorted by what the caller does about the error.

CoinseasonError
├── ConfigError                  fix the configuration: settings, options, exclusion files, a call's parameters
├── DataError                    fix the input: data that is wrong
│   ├── FormatError              a file that is not of the stated format: refused whole
│   └── ImportRejected           a file none of whose rows passed the quality gates: nothing imported
├── TemporaryError               retry later: a dependency is busy or out of reach, nothing is wrong with the call
│   ├── RetryableProviderError   a provider's 429, 5xx or time-out (also a ProviderError)
│   │   ├── RetryLaterError      ... with the server's Retry-After
│   │   │   └── RateLimitedError
│   │   └── CircuitOpenError     the circuit breaker refuses calls until its cool-down ends
│   ├── SnapshotRejected         too few rows of a snapshot passed the gates (also a ProviderError)
│   ├── LeaseHeld                another process ingests this source (also a StoreError)
│   ├── StoreUnavailable         the store's server is out of reach or its connection was lost (also a StoreError)
│   │   └── StoreBusy            another process held the embedded store's file longer than a call waits
│   ├── LimiterUnavailable       the shared rate limiter (Redis) did not answer
│   └── InvalidationUnavailable  the invalidation channel (Redis) did not take the message
├── ProviderError                a data provider failed for good (refused key, exhausted quota, bad request)
├── StoreError                   the store cannot be opened, read or written: fix the store or its URL
│   └── NoDataError              the store holds no data for what was asked: import or ingest it first
└── SubscriptionClosed           a stream subscription ended: stop reading
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


class ImportRejected(DataError):
    """Every row of a file was rejected by the quality gates: nothing is written (no import log row either);
    ``rejections`` counts them by reason."""

    def __init__(self, message: str, *, rows_read: int, rejections: dict[str, int]) -> None:
        super().__init__(message)
        self.rows_read = rows_read
        self.rejections = rejections


class TemporaryError(CoinseasonError):
    """A failure that may pass: try again later, the same call."""


class ProviderError(CoinseasonError):
    """A market-data provider failed."""


class PlanLimitError(ProviderError):
    """The provider's plan does not serve what was asked (history further back than it reaches, an endpoint it
    lacks): the same answer for every coin, so it is said once and nothing more is asked."""


class NothingStored(ProviderError):
    """A backfill ended without storing a row; the message says why."""


class RetryableProviderError(ProviderError, TemporaryError):
    """A provider failure that may pass: try again later."""


class RetryLaterError(RetryableProviderError):
    """A failure that may pass, with the server's ``Retry-After`` (seconds) when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(RetryLaterError):
    """The provider answered 429 (or its own rate-limit code)."""


class CircuitOpenError(RetryableProviderError):
    """The circuit breaker is open: the provider failed repeatedly, calls are refused until the cool-down ends."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SnapshotRejected(ProviderError, TemporaryError):
    """Too few rows of a snapshot passed the gates: nothing is written, the snapshot is tried again later."""


class StoreError(CoinseasonError):
    """The store cannot be opened, read or written."""


class NoDataError(StoreError):
    """The store holds no data for the request."""


class LeaseHeld(StoreError, TemporaryError):
    """Another process ingests this source right now."""


class StoreUnavailable(StoreError, TemporaryError):
    """The store's server refuses connections, is restarting, or dropped the connection: the same call may succeed
    shortly. ``reason`` says why in words safe to show anyone (no host, user or password); the message itself may
    name the store's URL and the driver's text, for logs and the command line."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StoreBusy(StoreUnavailable):
    """Another process (a CLI import, a server's write) held the embedded store's file longer than the call waits:
    the same call may succeed once it is done. The message names the file and the process holding it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="another process is using the embedded store's file")


class LimiterUnavailable(TemporaryError):
    """The shared rate limiter (Redis) did not answer: the API refuses the request (503) rather than serve unmetered.
    ``reason`` says why in words safe to show anyone (no host or password); the message may name the address."""

    def __init__(self, message: str, *, reason: str = "the rate limiter did not answer") -> None:
        super().__init__(message)
        self.reason = reason


class InvalidationUnavailable(TemporaryError):
    """The invalidation channel (Redis) did not take the message: other replicas keep serving their caches."""


class SubscriptionClosed(CoinseasonError):
    """The subscription was ended (unsubscribed, or the hub closed): there is nothing more to read."""
