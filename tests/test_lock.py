"""The committed locks pin every dependency of pyproject.toml at a version its range admits, with hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def pins(lock: str) -> dict[str, list[str]]:
    """Name -> every version the lock pins (a universal lock may pin one per Python version)."""
    found: dict[str, list[str]] = {}
    text = (ROOT / "requirements" / lock).read_text()
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            found.setdefault(canonicalize_name(match[1]), []).append(match[2])
    return found


LOCKS = {"main.lock": (), "dev.lock": ("dev",), "freqtrade.lock": ("freqtrade",)}
"""Each lock and the extras of pyproject.toml it installs beside the runtime dependencies."""
INPUTS = {"freqtrade.lock": ("build.in", "freqtrade.in")}
"""The requirement files compiled into a lock (``build.in`` unless named here)."""


def declared(lock: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in LOCKS[lock]:
        lines += project["optional-dependencies"][extra]
    for name in INPUTS.get(lock, ("build.in",)):
        text = (ROOT / "requirements" / name).read_text()
        lines += [line for line in text.splitlines() if line and line[0] != "#"]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_dependency_is_pinned_inside_its_range(lock: str) -> None:
    pinned = pins(lock)
    for requirement in declared(lock):
        versions = pinned.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} is required but not pinned in {lock}: refresh the lock"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} pins {requirement.name}=={version}, outside {requirement.specifier}: refresh the lock"
            )


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_carries_a_hash(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    missing = [entry.split()[0] for entry in entries if PIN.match(entry) and "--hash=sha256:" not in entry]
    assert not missing, f"pins without a hash in {lock}: {missing}"
    assert len(pins(lock)) > 20
