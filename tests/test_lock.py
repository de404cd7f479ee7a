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


def declared(*, dev: bool) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    if dev:
        lines += project["optional-dependencies"]["dev"]
    lines += [line for line in (ROOT / "requirements" / "build.in").read_text().splitlines() if line and line[0] != "#"]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(("lock", "dev"), [("main.lock", False), ("dev.lock", True)])
def test_every_dependency_is_pinned_inside_its_range(lock: str, dev: bool) -> None:
    pinned = pins(lock)
    for requirement in declared(dev=dev):
        versions = pinned.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} is in pyproject.toml but not pinned in {lock}: refresh the lock"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} pins {requirement.name}=={version}, outside {requirement.specifier}: refresh the lock"
            )


@pytest.mark.parametrize("lock", ["main.lock", "dev.lock"])
def test_every_pin_carries_a_hash(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    missing = [entry.split()[0] for entry in entries if PIN.match(entry) and "--hash=sha256:" not in entry]
    assert not missing, f"pins without a hash in {lock}: {missing}"
    assert len(pins(lock)) > 20
