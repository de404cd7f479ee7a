"""HTTP validators and gzip, shared by the API and the dashboard: strong ETags, ``If-None-Match`` matching, gzip
bytes and their ETag, and reading ``Accept-Encoding``. Plain functions over bytes and strings, no framework."""

from __future__ import annotations

import gzip
import hashlib
import re

__all__ = ["GZIP_LEVEL", "accepts_gzip", "etag_matches", "etag_of", "gzip_bytes", "gzip_etag"]

GZIP_LEVEL = 6
"""zlib's default level: within a few per cent of level 9's size on our JSON, in about a third of the time."""


def etag_of(body: bytes) -> str:
    """The strong ETag of a body: equal bytes, equal tag: ``"<blake2b-128 of the body, hex>"``."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE (RFC 9110 §8.8.3); etagc excludes DQUOTE, so a comma may sit inside
_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


def _opaque(tag: str) -> str:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``etag`` (RFC 9110 §13.1.2: ``*``, lists, weak comparison).

    A malformed header matches nothing, so the full response is sent.
    """
    if if_none_match is None:
        return False
    header = if_none_match.strip()
    if not header:
        return False
    if header == "*":
        return True
    wanted = _opaque(etag)
    position, end = 0, len(header)
    while True:
        while position < end and header[position] in " \t,":  # empty list elements are allowed
            position += 1
        if position == end:
            return False
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            return False
        if match.group(1) == wanted:
            return True
        position = match.end()


def gzip_bytes(body: bytes) -> bytes:
    """``body`` as gzip, the same bytes for the same body (no time stamp in the header)."""
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def gzip_etag(etag: str) -> str:
    """The strong ETag of the gzip variant of a body whose plain ETag is ``etag`` (a quoted strong tag).

    The two variants are two representations of one resource, so each has its own strong tag (RFC 9110 §8.8.3):
    the gzip one is the plain one's with ``-gzip`` appended inside the quotes.
    """
    return etag[:-1] + '-gzip"'


_ACCEPTS: dict[bytes, bool] = {}


def accepts_gzip(header: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value takes gzip (RFC 9110 §12.5.3): ``gzip`` or ``x-gzip`` with a q-value
    above 0, or, when neither is listed, ``*`` with one. Answers are kept: browsers repeat a handful of values."""
    known = _ACCEPTS.get(header)
    if known is not None:
        return known
    named: float | None = None
    anything: float | None = None
    for item in header.decode("latin-1").lower().split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            named = q if named is None else max(named, q)
        elif coding == "*":
            anything = q
    chosen = named if named is not None else anything
    accepted = chosen is not None and chosen > 0
    if len(_ACCEPTS) < 256:
        _ACCEPTS[header] = accepted
    return accepted
