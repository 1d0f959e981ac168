"""A serving process for the `verify process` and `attest` scenarios: a Python that
memory-maps a weights file (as a safetensors loader does), says so, and waits on its stdin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SERVER = """
import mmap, sys
with open(sys.argv[1], "rb") as f:
    weights = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
print("ready", flush=True)
sys.stdin.read()
"""


def serve(processes: list[subprocess.Popen[str]], weights: Path) -> subprocess.Popen[str]:
    """Start it on ``weights``; return once it has mapped them. ``processes`` (the adversarial
    ``processes`` fixture) kills and reaps it when the test ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(weights)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    processes.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc
