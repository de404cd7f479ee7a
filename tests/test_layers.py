"""The layer contract in pyproject.toml names every top-level module of coinseason, so none escapes it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "coinseason"
ENTRY_POINTS = {"__init__", "__main__"}


def test_every_top_level_module_is_in_a_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {part.strip().removeprefix("coinseason.") for layer in layers for part in layer.split("|")}
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    assert modules - ENTRY_POINTS - named == set(), "add these modules to the layers in pyproject.toml"
    assert named - modules == set(), "the layers name modules that do not exist"
