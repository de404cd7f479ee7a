"""Where a webhook may go: a guard against server-side request forgery.

A webhook URL is given by a user, and the server makes the request: without a guard, a user could make it reach
what only the server can (its loopback, the private network, a cloud's metadata service). So:

* only ``http`` and ``https``, no user name or password in the URL, a host name that is not empty;
* the host is resolved here, and **every** address it resolves to must be globally routable (no private, loopback,
  link-local, multicast, reserved, shared or unspecified address — which covers ``169.254.169.254``, the
  metadata service of the big clouds), unless ``COINSEASON_WEBHOOK_ALLOW_HOSTS`` names the host (or the address);
* the request then goes to the very address checked (:class:`Target`), never resolved again, so the name cannot
  point elsewhere between the check and the connection (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from coinseason.errors import ConfigError

__all__ = ["BlockedAddress", "Resolver", "Target", "check_url", "resolve_target", "system_resolver"]

Resolver = Callable[[str, int], list[str]]
"""A host name and port to the IP addresses it resolves to (blocking: run it off the event loop)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(ConfigError):
    """The webhook's host resolves to an address it may not reach."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked destination: connect to ``address``, speak to ``host`` (Host header, TLS server name)."""

    scheme: str
    host: str
    port: int
    path: str
    """Path and query, as given."""
    address: str

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == default else f"{shown}:{self.port}"


def check_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path)`` of a webhook URL that passes the checks that need no DNS; a
    :class:`ConfigError` says which one it fails."""
    if len(url) > 2048:
        raise ConfigError("a webhook URL is at most 2048 characters long")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ConfigError("a webhook URL holds no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"not a valid webhook URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"a webhook URL must start with https:// or http://, not {parts.scheme or 'nothing'}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigError("a webhook URL must not hold a user name or password (use the signing secret instead)")
    host = (parts.hostname or "").lower()
    if not host:
        raise ConfigError("a webhook URL needs a host name")
    if parts.fragment:
        raise ConfigError("a webhook URL has no #fragment")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _blocked(address: IPAddress) -> bool:
    """Not globally routable: private, loopback, link-local, multicast, reserved, shared (100.64/10), unspecified;
    an IPv4-mapped IPv6 address is judged by its IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``getaddrinfo`` gives for ``host`` (TCP)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"the webhook host {host} does not resolve: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_target(url: str, *, allow_hosts: Collection[str], resolver: Resolver = system_resolver) -> Target:
    """The checked :class:`Target` of ``url``: every address its host resolves to must be allowed; the first one
    is the one to connect to. :class:`BlockedAddress` when one is not, :class:`ConfigError` for a bad URL."""
    scheme, host, port, path = check_url(url)
    allowed = {h.lower().strip("[]") for h in allow_hosts}
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolver(host, port)
    if not addresses:
        raise ConfigError(f"the webhook host {host} resolves to no address")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if _blocked(address) and host not in allowed and str(address) not in allowed:
            raise BlockedAddress(
                f"the webhook host {host} resolves to {address}, a private, loopback, link-local or reserved"
                " address: not reachable from coinseason unless COINSEASON_WEBHOOK_ALLOW_HOSTS names it"
            )
    return Target(scheme, host, port, path, addresses[0].split("%", 1)[0])
