"""A progress bar on stderr for long hashing jobs (terminals only)."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------------- progress


class ProgressBar:
    """A minimal progress bar on stderr, for terminals only and only for long hashing jobs."""

    MIN_BYTES = 256 * 1024 * 1024

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty() and not os.environ.get("CI")
        self.total = 0
        self.done = 0
        self.last = 0.0
        self.lock = threading.Lock()

    def start(self, files: int, total_bytes: int) -> None:
        self.total = total_bytes
        self.enabled = self.enabled and total_bytes >= self.MIN_BYTES
        self.files = files

    def advance(self, nbytes: int) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.done += nbytes
            now = time.monotonic()
            if now - self.last < 0.1 and self.done < self.total:
                return
            self.last = now
            frac = self.done / self.total if self.total else 1.0
            bar = "#" * int(frac * 30)
            sys.stderr.write(
                f"\r{self.label} [{bar:<30}] {frac:6.1%} "
                f"{self.done / 2**20:,.0f}/{self.total / 2**20:,.0f} MiB"
            )
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
