"""One webhook request: signed so a receiver can check it, sent to the checked address only, bounded in time and
in bytes read, no redirect followed; and the SSRF guard that refuses private, loopback and metadata addresses."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from coinseason.errors import ConfigError
from coinseason.services.alerts.delivery import Outcome, WebhookSender
from coinseason.services.alerts.payloads import format_body
from coinseason.services.alerts.signing import sign, verify
from coinseason.services.alerts.ssrf import BlockedAddress, check_url, resolve_target
from coinseason.settings import WebhookSettings
from coinseason.store.alert_records import WebhookEndpoint
from tests.alerts.receiver import Answer, Receiver, signature_ok

SECRET = "whsec_test-secret"  # noqa: S105 - a test secret
PAYLOAD = '{"id":"evt_1","type":"season.entered","value":80.0}'
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def endpoint(url: str, fmt: str = "json") -> WebhookEndpoint:
    return WebhookEndpoint("whe_1", "key12345", url, SECRET, fmt, NOW)


def send(url: str, settings: WebhookSettings, *, fmt: str = "json", resolver: object = None) -> Outcome:
    async def go() -> Outcome:
        kwargs = {"resolver": resolver} if resolver is not None else {}
        sender = WebhookSender(settings, **kwargs)  # type: ignore[arg-type]
        try:
            return await sender.send(endpoint(url, fmt), event_id="evt_1", event_type="season.entered", payload=PAYLOAD)
        finally:
            await sender.aclose()

    return asyncio.run(go())


def local(**fields: object) -> WebhookSettings:
    return WebhookSettings(allow_hosts=["127.0.0.1"], **fields)  # type: ignore[arg-type]


def test_a_delivery_is_signed_over_timestamp_and_body() -> None:
    with Receiver() as receiver:
        outcome = send(receiver.url, local())
    assert outcome == Outcome(True, status=200)
    (got,) = receiver.received
    assert got.body == PAYLOAD.encode() and got.headers["content-type"] == "application/json"
    assert got.headers["x-coinseason-event-id"] == "evt_1"
    assert signature_ok(SECRET, got)
    assert not signature_ok("whsec_another", got)
    stamp = got.headers["x-coinseason-timestamp"]
    assert verify(SECRET, stamp, got.body, got.headers["x-coinseason-signature"], now=int(stamp))
    assert not verify(SECRET, stamp, got.body + b" ", got.headers["x-coinseason-signature"], now=int(stamp))
    assert not verify(SECRET, stamp, got.body, got.headers["x-coinseason-signature"], now=int(stamp) + 301)


def test_the_signature_matches_one_computed_by_openssl() -> None:
    # printf '1700000000.{}' | openssl dgst -sha256 -hmac key
    expected = "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
    assert sign("key", 1_700_000_000, b"{}") == expected


def test_loopback_is_refused_unless_allowed() -> None:
    with Receiver() as receiver:
        refused = send(receiver.url, WebhookSettings())
        assert receiver.received == []
    assert not refused.delivered and refused.permanent and "127.0.0.1" in (refused.error or "")


@pytest.mark.parametrize(
    "address",
    ["10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd00:ec2::254",  # noqa: S104
     "fe80::1", "::ffff:127.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_a_name_resolving_to_a_private_address_is_refused(address: str) -> None:
    with pytest.raises(BlockedAddress):
        resolve_target("https://hooks.example.com/x", allow_hosts=[], resolver=lambda host, port: [address])


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(BlockedAddress):
        resolve_target("https://h.example/x", allow_hosts=[], resolver=lambda h, p: ["93.184.216.34", "10.1.1.1"])


def test_a_public_address_is_pinned_and_the_host_kept_for_tls() -> None:
    target = resolve_target("https://hooks.example.com/a?b=1", allow_hosts=[], resolver=lambda h, p: ["93.184.216.34"])
    assert target.pinned_url == "https://93.184.216.34:443/a?b=1"
    assert target.host_header == "hooks.example.com" and target.address == "93.184.216.34"


def test_the_request_goes_to_the_address_that_was_checked() -> None:
    """A name checked once and connected to by its checked address: the resolver is asked once per attempt, and the
    connection goes where it said (no second lookup an attacker's DNS could answer differently)."""
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with Receiver() as receiver:
        url = f"http://hooks.test:{receiver.port}/hook"
        outcome = send(url, WebhookSettings(allow_hosts=["hooks.test"]), resolver=resolver)
    assert outcome.delivered and asked == ["hooks.test"]
    assert receiver.received[0].headers["host"] == f"hooks.test:{receiver.port}"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "https://"),
        ("file:///etc/passwd", "https://"),
        ("https://user:pw@example.com/x", "user name or password"),
        ("https://user@example.com/x", "user name or password"),
        ("https:///x", "host name"),
        ("https://example.com/x#frag", "fragment"),
        ("https://exa mple.com/x", "spaces"),
        ("https://example.com:99999/x", "not a valid"),
    ],
)
def test_bad_urls_are_refused_before_any_lookup(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        check_url(url)


def test_redirects_are_not_followed() -> None:
    answer = Answer(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with Receiver(default=answer) as receiver:
        outcome = send(receiver.url, local())
    assert not outcome.delivered and outcome.permanent and outcome.status == 302
    assert len(receiver.received) == 1


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (429, False), (408, False),
                                                   (400, True), (404, True), (410, True)])  # fmt: skip
def test_server_errors_are_retried_and_refusals_are_not(status: int, permanent: bool) -> None:
    with Receiver(default=Answer(status=status)) as receiver:
        outcome = send(receiver.url, local())
    assert (outcome.delivered, outcome.status, outcome.permanent) == (False, status, permanent)


def test_a_slow_endpoint_times_out() -> None:
    with Receiver(default=Answer(delay=2.0)) as receiver:
        outcome = send(receiver.url, local(timeout_seconds=0.3))
    assert not outcome.delivered and not outcome.permanent and "no answer within 0.3 s" in (outcome.error or "")


def test_a_huge_answer_is_read_only_up_to_the_cap() -> None:
    with Receiver(default=Answer(body=b"x" * 5_000_000)) as receiver:
        outcome = send(receiver.url, local(max_response_bytes=1024))
    assert outcome.delivered


def test_chat_formats_carry_one_line_of_text() -> None:
    payload = json.dumps({"type": "season.entered", "rule": {"name": "alts"}, "value": 80.0, "data_date": "2026-01-06"})
    line = "coinseason: alts: season.entered at 80.00 on 2026-01-06"
    assert json.loads(format_body("slack", payload, "https://hooks.slack.com/services/T/B/X")) == {"text": line}
    assert json.loads(format_body("discord", payload, "https://discord.com/api/webhooks/1/t")) == {"content": line}
    telegram = "https://api.telegram.org/bot123:abc/sendMessage?chat_id=-100200"
    assert json.loads(format_body("telegram", payload, telegram)) == {"chat_id": "-100200", "text": line}
    with pytest.raises(ConfigError, match="chat_id"):
        format_body("telegram", payload, "https://api.telegram.org/bot123:abc/sendMessage")


def test_the_readme_snippet_verifies_a_real_delivery() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("```python\nimport hashlib, hmac, time")
    snippet = readme[start + len("```python\n") : readme.index("```", start + 10)]
    namespace: dict[str, object] = {}
    exec(snippet, namespace)  # noqa: S102 - the README's own code, checked here
    readme_verify = namespace["verify"]
    with Receiver() as receiver:
        assert send(receiver.url, local()).delivered
    (got,) = receiver.received
    headers = {
        "X-Coinseason-Timestamp": got.headers["x-coinseason-timestamp"],
        "X-Coinseason-Signature": got.headers["x-coinseason-signature"],
    }
    assert readme_verify(SECRET, headers, got.body) is True  # type: ignore[operator]
    assert readme_verify("whsec_wrong", headers, got.body) is False  # type: ignore[operator]
    assert readme_verify(SECRET, headers, got.body + b"x") is False  # type: ignore[operator]
