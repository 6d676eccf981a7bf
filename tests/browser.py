"""Headless Chromium for tests: render a local HTML file and read what its scripts produced.

No Python dependency: Chromium's own ``--dump-dom`` prints the DOM after the page's scripts ran
(``--virtual-time-budget`` lets timers, promises and image decoding finish first), and
``--enable-logging=stderr`` prints every console message and uncaught exception as a
``CONSOLE`` line, so a test can assert that the page logged nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Without the background-networking flags Chromium tries to reach Google services and stalls
# on a machine without network access.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def find_chromium() -> str | None:
    """Path of Debian's ``chromium`` (or ``chromium-browser``), None if not installed."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@dataclass
class Rendered:
    dom: str  # serialized DOM after scripts ran
    console: list[str]  # console messages and uncaught errors, one per line

    def attribute(self, marker: str, name: str) -> str | None:
        """Value of attribute ``name`` on the first start tag containing ``marker``."""
        for tag in re.findall(r"<[a-zA-Z][^>]*>", self.dom):
            if marker in tag:
                found = re.search(rf'\s{re.escape(name)}="([^"]*)"', tag)
                return found.group(1) if found else None
        return None


def render(chromium: str, page: Path, profile: Path, fragment: str = "",
           budget_ms: int = 5000) -> Rendered:
    """Load ``page`` (plus ``#fragment``) in a fresh profile; the DOM and console lines."""
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
         "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(dom=result.stdout, console=console)
