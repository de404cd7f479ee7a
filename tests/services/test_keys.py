"""API keys: created once, stored as a hash, verified, listed and revoked; and the ``keys`` commands."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coinseason.cli.keys import keys_app
from coinseason.errors import ConfigError
from coinseason.services.keys import KeyService, hash_secret, parse_key
from coinseason.store import DuckDBStore, Store
from tests.conftest import FIXED_NOW, fixed_clock

KEY = re.compile(r"cs_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})")


@pytest.fixture
def service(any_store: Store) -> KeyService:
    return KeyService(any_store, clock=fixed_clock)


def test_create_returns_the_key_once_and_stores_its_hash(service: KeyService, any_store: Store) -> None:
    record, key = service.create("  dashboard  ")
    found = KEY.fullmatch(key)
    assert found is not None
    prefix, secret = found[1], found[2]
    assert (record.prefix, record.name, record.created_at, record.revoked_at) == (prefix, "dashboard", FIXED_NOW, None)
    stored = any_store.api_key(prefix)
    assert stored == record
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest() == hash_secret(secret)
    assert secret not in stored.secret_hash and stored.secret_hash != secret
    assert secret not in repr(stored) and stored.secret_hash not in repr(stored)


def test_keys_differ(service: KeyService) -> None:
    made = [service.create(f"k{i}") for i in range(5)]
    assert len({r.prefix for r, _ in made}) == 5
    assert len({k[12:] for _, k in made}) == 5


def test_verify(service: KeyService) -> None:
    record, key = service.create("bot")
    assert service.verify(key) == record
    prefix, secret = parse_key(key) or ("", "")
    other_secret = ("A" if secret[0] != "A" else "B") + secret[1:]
    assert service.verify(f"cs_{prefix}_{other_secret}") is None  # right prefix, wrong secret
    unknown = ("z" if prefix[0] != "z" else "y") + prefix[1:]
    assert service.verify(f"cs_{unknown}_{secret}") is None  # unknown prefix


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: "",
        lambda k: "cs_",
        lambda k: k[:-1],
        lambda k: k + "A",
        lambda k: k + "\n",
        lambda k: " " + k,
        lambda k: k.upper(),
        lambda k: "CS_" + k[3:],
        lambda k: k.replace("_", "-", 1),
        lambda k: k[:11] + "-" + k[12:],
        lambda k: k[:20] + "é" + k[21:],
        lambda k: k[:20] + "=" + k[21:],
        lambda k: k[:5] + "_" + k[6:],
        lambda k: k * 1000,
    ],
)
def test_malformed_keys_are_refused(service: KeyService, mangle: object) -> None:
    _, key = service.create("bot")
    assert callable(mangle)
    bad = mangle(key)
    assert bad != key
    assert service.verify(bad) is None


def test_revoke(service: KeyService) -> None:
    record, key = service.create("old")
    _, kept = service.create("kept")
    assert service.revoke(record.prefix) is True
    assert service.verify(key) is None
    assert service.verify(kept) is not None
    assert service.revoke(record.prefix) is False  # revoked already
    assert service.revoke("nokey123") is False
    revoked = service.get(record.prefix)
    assert revoked is not None and revoked.revoked_at == FIXED_NOW and not revoked.active


def test_list_never_exposes_the_secret(service: KeyService) -> None:
    secrets_made = []
    for name in ("a", "b"):
        _, key = service.create(name)
        secrets_made.append(key[12:])
    listed = service.list()
    assert sorted(r.name for r in listed) == ["a", "b"]  # same clock time: in prefix order
    for record in listed:
        values = [record.prefix, record.name, record.secret_hash, str(record.created_at), repr(record)]
        assert not any(secret in value for secret in secrets_made for value in values)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "two\nlines", "tab\there"])
def test_bad_names(service: KeyService, name: str) -> None:
    with pytest.raises(ConfigError):
        service.create(name)
    assert service.list() == []


def test_longest_name(service: KeyService) -> None:
    record, _ = service.create("n" * 100)
    assert record.name == "n" * 100


def test_a_taken_prefix_is_drawn_again(service: KeyService, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = service.create("first")
    draws = iter(first.prefix + "Zz9Zz9Zz")  # the first draw collides with the stored key, the second does not
    monkeypatch.setattr(secrets, "choice", lambda alphabet: next(draws))
    second, key = service.create("second")
    assert second.prefix == "Zz9Zz9Zz"
    assert service.verify(key) == second


def test_times_are_utc(any_store: Store) -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    service = KeyService(any_store, clock=lambda: dt.datetime(2026, 1, 1, 14, 0, tzinfo=plus_two))
    record, _ = service.create("tz")
    assert record.created_at == dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert record.created_at.utcoffset() == dt.timedelta(0)


# -- CLI --------------------------------------------------------------------------------------------------------

runner = CliRunner()


def keys(*args: str, code: int = 0) -> tuple[str, str]:
    result = runner.invoke(keys_app, list(args))
    assert result.exit_code == code, result.output
    return result.stdout, result.stderr


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    stdout, stderr = keys("create", "--name", "grafana", "--db", db)
    key = stdout.strip()
    found = KEY.fullmatch(key)
    assert found is not None, stdout  # the key alone on stdout
    prefix = found[1]
    assert "cannot be shown again" in stderr and prefix in stderr
    store = DuckDBStore(db)
    record = KeyService(store, clock=fixed_clock).verify(key)
    secret_hash = record.secret_hash if record else ""
    store.close()
    assert record is not None and record.name == "grafana"

    listed, _ = keys("list", "--db", db)
    assert prefix in listed and "grafana" in listed and "–" in listed  # not revoked
    assert found[2] not in listed and secret_hash not in listed

    out, _ = keys("revoke", prefix, "--db", db)
    assert f"Revoked API key {prefix}" in out
    out, _ = keys("revoke", f"cs_{prefix}", "--db", db)
    assert "revoked already" in out
    listed, _ = keys("list", "--db", db)
    assert "UTC" in listed.split(prefix, 1)[1]  # a revocation time
    assert secret_hash not in listed


def test_cli_revoke_unknown_prefix_exits_2(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    result = runner.invoke(keys_app, ["revoke", "nokey123", "--db", db])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no API key has the prefix 'nokey123'" in lines[0]


def test_cli_bad_name_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(keys_app, ["create", "--name", "", "--db", str(tmp_path / "cli.duckdb")])
    assert result.exit_code == 2 and "needs a name" in result.output


def test_cli_reads_the_store_from_the_environment(tmp_path: Path) -> None:
    db = str(tmp_path / "env.duckdb")
    result = runner.invoke(keys_app, ["create", "--name", "env"], env={"COINSEASON_DB": db})
    assert result.exit_code == 0, result.output
    result = runner.invoke(keys_app, ["list"], env={"COINSEASON_DB": db})
    assert result.exit_code == 0 and "env" in result.stdout


def test_cli_list_without_keys(tmp_path: Path) -> None:
    out, _ = keys("list", "--db", str(tmp_path / "empty.duckdb"))
    assert "no API keys yet" in out
