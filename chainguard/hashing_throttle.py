"""Being a good neighbour on a busy host: a read-rate limit and a low CPU and I/O priority.

``ReadThrottle`` is a token bucket the hashing engine draws from as it reads (hashing.hash_files,
``throttle=``): large files per 1 MiB buffer before it is read, small files as their batches
come back (the engine keeps only a bounded number of batches in flight, so waiting there holds
the workers back too). Over any run the bytes read stay within ``rate x elapsed + burst``.
"""

from __future__ import annotations

import os
import re
import threading
import time

from chainguard.errors import UsageError

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
}
_RATE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([KMG]I?B|B)?/S", re.IGNORECASE)
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([KMG]I?B|B)?", re.IGNORECASE)
# Below this a limit would take hours on a single model; above, it limits nothing.
MIN_RATE = 4096
MAX_RATE = 1 << 50


def parse_rate(text: str) -> int:
    """``"200MiB/s"`` → bytes per second. Units B, KB/MB/GB (10^3) and KiB/MiB/GiB (2^10),
    case-insensitive; ``/s`` is required. Anything else is a UsageError naming the value."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise UsageError(
            f"read rate {text!r}: expected a number, a unit and '/s', e.g. '200MiB/s' or '50MB/s'"
        )
    return _checked_rate(text, match.group(1), match.group(2))


def parse_size(text: str) -> int:
    """``"64MiB"`` → bytes, with the units of parse_rate."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"size {text!r}: expected a number and a unit, e.g. '64MiB'")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").upper()])


def _checked_rate(text: str, number: str, unit: str | None) -> int:
    rate = int(float(number) * _UNITS[(unit or "").upper()])
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UsageError(f"read rate {text!r}: must be between 4KiB/s and 1PiB/s")
    return rate


class ReadThrottle:
    """A token bucket of ``rate`` bytes per second holding at most ``burst`` bytes (1 MiB or
    a tenth of a second's worth, whichever is more). Thread-safe; ``take`` blocks until the
    bytes are allowed. It starts empty, so a run never reads faster than ``rate`` on average."""

    def __init__(self, rate: int, burst: int | None = None) -> None:
        if rate <= 0:
            raise UsageError("read rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1 << 20, rate // 10)
        self._tokens = 0.0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> None:
        """Wait until ``nbytes`` may be read (a request above ``burst`` drains the bucket and
        waits for the rest: it is never refused)."""
        if nbytes <= 0:
            return
        with self._lock:  # one reader waits at a time: a fair, strict order
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= nbytes
            if self._tokens < 0:
                wait = -self._tokens / self.rate
                time.sleep(wait)
                self._last = time.monotonic()
                self._tokens = 0.0


def lower_priority() -> list[str]:
    """Lower this process's CPU priority (nice 10) and I/O priority (idle class, Linux
    ioprio_set), where the OS allows; returns what was done, silently skipping the rest.
    Worker processes started afterwards inherit both."""
    done: list[str] = []
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < 10:
            os.nice(10 - os.getpriority(os.PRIO_PROCESS, 0))
        done.append("nice 10")
    except (AttributeError, OSError):
        pass
    if _set_idle_io_priority():
        done.append("I/O class idle")
    return done


def _set_idle_io_priority() -> bool:
    """ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE) through libc, on Linux only."""
    import platform
    import sys

    if not sys.platform.startswith("linux"):
        return False
    numbers = {"x86_64": 251, "aarch64": 30, "arm64": 30, "i686": 289, "i386": 289}
    number = numbers.get(platform.machine())
    if number is None:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        ioprio_class_idle, ioprio_class_shift, ioprio_who_process = 3, 13, 1
        value = ioprio_class_idle << ioprio_class_shift
        return int(libc.syscall(number, ioprio_who_process, 0, value)) == 0
    except (OSError, AttributeError):
        return False
