"""Every log field that holds a URL or a path is redacted the same way: credential-like query and path parameters,
the password of a URL's userinfo and of a key=value connection string, whoever logs them and wherever in the line
(message, extra field, exception). Problem bodies name the path without its parameters."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from coinseason.logs import REDACTED, redact, redact_path
from tests.security.bounds_support import app_for, assert_problem, market_db

SECRET = "s3cr3t-Value_42"  # noqa: S105 - what must never be written


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"postgresql://app:{SECRET}@db.internal:5432/prod", "postgresql://app:[redacted]@db.internal:5432/prod"),
        (f"redis://:{SECRET}@cache.internal:6379/0", "redis://:[redacted]@cache.internal:6379/0"),
        (f"connecting to rediss://default:{SECRET}@h:1 failed", "connecting to rediss://default:[redacted]@h:1 failed"),
        (f"host=db.internal password={SECRET} dbname=x", "host=db.internal password=[redacted] dbname=x"),
        (f"host=db password='{SECRET} x' user=y", "host=db password=[redacted] user=y"),
        (f"GET /v1/x?top=3&api_key={SECRET}&w=2", "GET /v1/x?top=3&api_key=[redacted]&w=2"),
        (f"/v1/season/latest;token={SECRET}", "/v1/season/latest;token=[redacted]"),
        (f"https://api.example/v1?Access_Token={SECRET}", "https://api.example/v1?Access_Token=[redacted]"),
        ("mailto-like user@example.com and a=b stay", "mailto-like user@example.com and a=b stay"),
    ],
)
def test_redact_blanks_every_kind_of_secret_in_a_text(text: str, kept: str) -> None:
    """API8:2023 Security Misconfiguration (credentials in logs): the one function every formatter applies."""
    assert redact(text) == kept
    assert REDACTED in kept or SECRET not in text


def test_redact_path_blanks_path_parameters_whatever_their_name() -> None:
    """API8:2023 Security Misconfiguration: a key after ``;`` has no name to recognise it by."""
    assert redact_path(f"/v1/season/latest;{SECRET}") == "/v1/season/latest;[redacted]"
    assert redact_path(f"/v1/a;x=1/b;key={SECRET}") == "/v1/a;[redacted]"
    assert redact_path("/v1/season/latest") == "/v1/season/latest"


def test_urls_in_messages_extra_fields_and_exceptions_are_redacted(log_stream: io.StringIO) -> None:
    """API8:2023 Security Misconfiguration: whoever logs a URL, however (a message argument, an extra field, an
    exception's text), its secrets are blanked."""
    log = logging.getLogger("coinseason.test")
    dsn = f"postgresql://app:{SECRET}@db.internal/prod"
    log.warning("store %s is unreachable", dsn, extra={"url": dsn, "target": f"http://h/x?token={SECRET}"})
    try:
        raise ConnectionError(f"could not reach {dsn}")
    except ConnectionError:
        log.exception("failed")
    text = log_stream.getvalue()
    assert SECRET not in text
    first, second = lines(log_stream)
    assert first["msg"] == "store postgresql://app:[redacted]@db.internal/prod is unreachable"
    assert first["url"] == "postgresql://app:[redacted]@db.internal/prod"
    assert first["target"] == "http://h/x?token=[redacted]"
    assert "could not reach postgresql://app:[redacted]@db.internal/prod" in second["exc"]


def test_the_access_line_and_the_problem_name_no_path_parameter(tmp_path: Path, log_stream: io.StringIO) -> None:
    """API2:2023 Broken Authentication: ``/v1/season/latest;api_key=KEY`` (reproduction 5) is refused with 400 and
    the key is neither in the access line's route and path nor in the problem's ``instance``; a path outside the
    API (the dashboard's) is logged the same way."""
    with TestClient(app_for(market_db(tmp_path))) as client:
        refused = client.get(f"/v1/season/latest;api_key={SECRET}")
        client.get(f"/index.html;token={SECRET}")
    body = assert_problem(refused, 400)
    assert body["instance"] == "/v1/season/latest;[redacted]" and "path parameters" in body["detail"]
    assert SECRET not in log_stream.getvalue()
    access = [line for line in lines(log_stream) if line["logger"] == "coinseason.access"]
    assert [(a["route"], a["path"], a["status"]) for a in access][0] == (
        "/v1/season/latest;[redacted]",
        "/v1/season/latest;[redacted]",
        400,
    )
    assert access[1]["path"] == "/index.html;[redacted]"
