"""The signature of a webhook request: HMAC-SHA256 with the endpoint's secret over ``<timestamp>.<body>``.

A receiver recomputes it from the ``X-Coinseason-Timestamp`` header and the raw body and compares in constant time;
it refuses a timestamp far from its own clock (a replayed request) and drops an event id it has seen (a retry).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "new_secret",
    "sign",
    "signature_header",
    "verify",
]

SIGNATURE_HEADER: Final = "X-Coinseason-Signature"
TIMESTAMP_HEADER: Final = "X-Coinseason-Timestamp"
EVENT_HEADER: Final = "X-Coinseason-Event-Id"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the prefix of every secret, not one
VERSION: Final = "v1"


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and 32 random bytes, URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of ``X-Coinseason-Signature``: ``v1=<hex>``."""
    return f"{VERSION}={sign(secret, timestamp, body)}"


def verify(secret: str, timestamp: str, body: bytes, header: str, *, now: int, tolerance: int = 300) -> bool:
    """Whether ``header`` signs ``body`` at ``timestamp`` under ``secret`` and the timestamp is within
    ``tolerance`` seconds of ``now`` (what a receiver checks)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    expected = sign(secret, int(timestamp), body)
    return any(
        hmac.compare_digest(expected, part.removeprefix(f"{VERSION}="))
        for part in header.split(",")
        if part.strip().startswith(f"{VERSION}=")
    )
