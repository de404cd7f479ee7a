"""Debian's Chromium driven by Playwright, for the dashboard tests and ``bench/dashboard.py``.

Playwright's own browser download is never used: the browser is ``/usr/bin/chromium`` (the Debian ``chromium``
package, installed with apt-get when missing and possible). Tests skip without it, except under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path(os.environ.get("COINSEASON_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APT_TIMEOUT = 600.0


def ensure_chromium() -> str | None:
    """The Chromium executable, installing the Debian package when it is missing; None with the reason why not."""
    if CHROMIUM.is_file():
        return None
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return f"Chromium not found at {CHROMIUM} and apt-get cannot install it here (apt-get install -y chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "install", "-y", "chromium"], [apt, "update"], [apt, "install", "-y", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT, check=False)
        if command[1] == "install" and done.returncode == 0 and CHROMIUM.is_file():
            return None
    return f"Chromium not found at {CHROMIUM}; apt-get install -y chromium failed: {done.stderr.strip()[-300:]}"
