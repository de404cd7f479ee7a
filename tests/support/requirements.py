"""What a test needs from outside the repository: a skip that names it, or a failure under ``CI=true``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
"""The real data sets: ``../shared/data`` beside the repository."""


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test, or fail it under ``CI=true``, where every test must run."""
    if under_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def shared_file(path: Path) -> Path:
    """A file of ``../shared/data``: a skip naming what is missing (a failure under ``CI=true``)."""
    if not path.is_file():
        skip_or_fail(f"real data file not found: {path} (the shared data folder sits beside the repository)")
    return path
