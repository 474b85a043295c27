"""Waiting for a server process the tests started."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path


def wait_until_up(proc, url: str, log: Path, timeout: float) -> None:
    """Return once ``url`` answers HTTP 200; RuntimeError with the log's tail if ``proc`` exits
    or ``timeout`` seconds pass (the caller stops ``proc``)."""
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"{' '.join(map(str, proc.args[:3]))} did not start:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
