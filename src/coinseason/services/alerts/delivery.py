"""One webhook request, made safely: to the address the SSRF guard checked, signed, bounded in time and in the
bytes read back, no redirect followed, no proxy from the environment."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

import httpx

from coinseason import __version__
from coinseason.clock import Clock, utc_now
from coinseason.errors import ConfigError
from coinseason.services.alerts.payloads import format_body
from coinseason.services.alerts.signing import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header
from coinseason.services.alerts.ssrf import BlockedAddress, Resolver, check_url, resolve_target, system_resolver
from coinseason.settings import WebhookSettings
from coinseason.store.alert_records import WebhookEndpoint

__all__ = ["Outcome", "WebhookSender"]

USER_AGENT: Final = f"coinseason-webhooks/{__version__}"
CONNECT_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: ``delivered`` (a 2xx), else why not and whether trying again can help."""

    delivered: bool
    status: int | None = None
    error: str | None = None
    permanent: bool = False


class WebhookSender:
    """Sends signed webhook requests. ``resolver`` and ``transport`` are for tests (a fake DNS, a mock server);
    ``clock`` dates the signatures."""

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        clock: Clock = utc_now,
        resolver: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._resolver = resolver
        timeout = httpx.Timeout(settings.timeout_seconds, connect=min(CONNECT_SECONDS, settings.timeout_seconds))
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # no proxy or .netrc from the environment: the request goes where it was checked
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=0),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, endpoint: WebhookEndpoint, *, event_id: str, event_type: str, payload: str) -> Outcome:
        """POST ``payload`` (in the endpoint's format) to the endpoint, signed with its secret."""
        try:
            check_url(endpoint.url)
            body = format_body(endpoint.format, payload, endpoint.url)
        except ConfigError as exc:
            return Outcome(False, error=str(exc), permanent=True)
        try:
            target = await asyncio.to_thread(
                resolve_target, endpoint.url, allow_hosts=self.settings.allow_hosts, resolver=self._resolver
            )
        except BlockedAddress as exc:
            return Outcome(False, error=str(exc), permanent=True)
        except ConfigError as exc:  # a name that does not resolve (now): DNS may come back
            return Outcome(False, error=str(exc))
        timestamp = int(self._clock().timestamp())
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature_header(endpoint.secret, timestamp, body),
            EVENT_HEADER: event_id,
            "X-Coinseason-Event-Type": event_type,
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = self._client.build_request(
            "POST", target.pinned_url, content=body, headers=headers, extensions=extensions
        )
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                response = await self._client.send(request, stream=True)
                try:
                    await self._drain(response)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(False, error=f"no answer within {self.settings.timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:500])
        return _judged(response.status_code)

    async def _drain(self, response: httpx.Response) -> None:
        """Read at most ``max_response_bytes`` of the body, then stop: a huge answer costs nothing."""
        left = self.settings.max_response_bytes
        async for chunk in response.aiter_raw():
            left -= len(chunk)
            if left <= 0:
                break


def _judged(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome(True, status=status)
    if 300 <= status < 400:
        return Outcome(False, status, f"answered {status}: redirects are not followed", permanent=True)
    if status in (408, 425, 429) or status >= 500:
        return Outcome(False, status, f"answered {status}")
    return Outcome(False, status, f"answered {status}: the endpoint refuses the event", permanent=True)
