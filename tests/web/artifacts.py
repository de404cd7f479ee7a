"""Lists the dashboard screenshots at the end of a run, also under xdist: loaded with ``-p tests.web.artifacts``
(pyproject's ``addopts``), so the controlling process has it whatever paths were asked for. A test records a saved
file as ``(SCREENSHOT, path)`` in its ``user_properties``, which its report carries from the worker."""

from __future__ import annotations

import pytest

SCREENSHOT = "screenshot"
"""The ``user_properties`` name of a saved screenshot's path."""
_saved: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _saved.extend(str(value) for name, value in report.user_properties if name == SCREENSHOT)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _saved:
        terminalreporter.section("dashboard screenshots")
        for path in _saved:
            terminalreporter.write_line(path)
