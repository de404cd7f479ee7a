"""API keys: shown once when created, stored only as a hash, checked in constant time.

A key reads ``cs_<prefix>_<secret>``: ``prefix`` is 8 letters or digits, public, and names the key in lists and
logs; ``secret`` is 32 random bytes from :mod:`secrets` in URL-safe base64 (43 characters).

The store keeps the SHA-256 of the secret, not a slow password hash (scrypt, PBKDF2, argon2). Slow hashes exist
to make guessing a *human-chosen* password from a leaked hash expensive; a 256-bit random secret cannot be
guessed at any hashing speed, so the slowness would only cost every request its latency and open a CPU
exhaustion lever to anyone sending bad keys. This is how GitHub, Stripe and the like store API tokens.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import string
from typing import Final

from coinseason.clock import Clock
from coinseason.errors import ConfigError
from coinseason.store.protocols import KeyStore
from coinseason.store.records import ApiKeyRecord

KEY_PREFIX: Final = "cs_"
PREFIX_LENGTH: Final = 8
SECRET_BYTES: Final = 32
NAME_MAX_LENGTH: Final = 100
SECRET_LENGTH: Final = (SECRET_BYTES * 4 + 2) // 3
"""Characters of the secret: unpadded URL-safe base64 of SECRET_BYTES."""

_PREFIX_ALPHABET: Final = string.ascii_letters + string.digits  # URL-safe, and no "_" to blur the separators
_KEY: Final = re.compile(rf"cs_([A-Za-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{{SECRET_LENGTH}}})")
_KEY_LENGTH: Final = len(KEY_PREFIX) + PREFIX_LENGTH + 1 + SECRET_LENGTH
_NO_HASH: Final = hashlib.sha256(b"no key has this secret").hexdigest()


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of the secret part of a key: what the store keeps."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse_key(full_key: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed key, else None."""
    if len(full_key) != _KEY_LENGTH:
        return None
    found = _KEY.fullmatch(full_key)
    return (found[1], found[2]) if found else None


class KeyService:
    """Creates, verifies, lists and revokes API keys. ``clock`` gives the current UTC time."""

    def __init__(self, store: KeyStore, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(self, name: str) -> tuple[ApiKeyRecord, str]:
        """A new key named ``name``: its stored record and the full key, which nobody can see again."""
        name = _checked_name(name)
        created_at = self._clock()
        for _ in range(5):  # 62**8 prefixes: a collision is rare, two in a row rarer still
            prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
            if self._store.api_key(prefix) is None:
                break
        else:
            raise ConfigError("could not find a free API key prefix; try again")
        secret = secrets.token_urlsafe(SECRET_BYTES)
        self._store.add_api_key(prefix, name, hash_secret(secret), created_at)
        record = self._store.api_key(prefix)
        if record is None:  # pragma: no cover - the store just wrote it
            raise ConfigError(f"API key {prefix} vanished right after it was written")
        return record, f"{KEY_PREFIX}{prefix}_{secret}"

    def verify(self, full_key: str) -> ApiKeyRecord | None:
        """The record of an active key, or None when the key is malformed, unknown, wrong or revoked."""
        parts = parse_key(full_key)
        if parts is None:
            return None
        prefix, secret = parts
        record = self._store.api_key(prefix)
        # compare even when the prefix is unknown, so timing does not tell known prefixes apart
        matches = hmac.compare_digest(hash_secret(secret), record.secret_hash if record else _NO_HASH)
        if record is None or not matches or not record.active:
            return None
        return record

    def get(self, prefix: str) -> ApiKeyRecord | None:
        """The key with ``prefix``, revoked or not."""
        return self._store.api_key(prefix)

    def list(self) -> builtins.list[ApiKeyRecord]:
        """Every key, oldest first, revoked ones included (records hold the hash, never the secret)."""
        return self._store.api_keys()

    def revoke(self, prefix: str) -> bool:
        """Revoke the key with ``prefix`` now; False when it is unknown or revoked already."""
        return self._store.revoke_api_key(prefix, self._clock())


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ConfigError("an API key needs a name (who or what uses it)")
    if len(name) > NAME_MAX_LENGTH:
        raise ConfigError(f"API key name is {len(name)} characters long; at most {NAME_MAX_LENGTH} are allowed")
    if not name.isprintable():
        raise ConfigError("API key name must not contain control characters such as line breaks")
    return name
