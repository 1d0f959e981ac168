"""--max-read-rate: the token bucket the hashing reads draw from, its parser, and the low
priority attest asks for."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from chainguard.collectors.tree import collect_tree
from chainguard.errors import UsageError
from chainguard.hashing import CHUNK_SIZE, HashSettings
from chainguard.hashing_throttle import ReadThrottle, parse_rate, parse_size
from chainguard.models import tree_digest

KIB = 1024


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("200MiB/s", 200 * 1024**2),
        ("50MB/s", 50 * 10**6),
        ("1.5GiB/s", int(1.5 * 1024**3)),
        ("64kib/s", 64 * 1024),
        ("100000/s", 100000),
        (" 10 MiB/s ", 10 * 1024**2),
    ],
)
def test_parse_rate(text: str, rate: int) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    "text",
    [
        "",
        "200MiB",
        "200",
        "MiB/s",
        "-5MiB/s",
        "200 MiBps",
        "200MiB/min",
        "1e9/s",
        "0/s",
        "1/s",
        "200TiB/s",
        "200MiB/s/s",
        "nan/s",
    ],
)
def test_parse_rate_refuses_malformed(text: str) -> None:
    with pytest.raises(UsageError, match="read rate"):
        parse_rate(text)


def test_parse_size() -> None:
    assert parse_size("64MiB") == 64 * 1024**2
    with pytest.raises(UsageError, match="size"):
        parse_size("64 megs")


def _tree(root: Path, small: int, large: int) -> int:
    root.mkdir()
    for i in range(small):
        (root / f"s{i:03}.bin").write_bytes(os.urandom(16 * KIB))
    if large:
        (root / "large.bin").write_bytes(os.urandom(large))
    return small * 16 * KIB + large


@pytest.mark.slow
@pytest.mark.parametrize(
    ("small", "large", "rate"),
    [(40, 0, 256 * KIB), (8, 2 * CHUNK_SIZE, 1024 * KIB)],
    ids=["small-files", "large-file"],
)
def test_reads_stay_within_the_rate(tmp_path: Path, small: int, large: int, rate: int) -> None:
    total = _tree(tmp_path / "t", small, large)
    settings = HashSettings(shard_size=CHUNK_SIZE)
    # verify mode, no signed shards: each file is read once, whole
    unthrottled = collect_tree(tmp_path / "t", settings, mode="verify")
    started = time.monotonic()
    tree = collect_tree(tmp_path / "t", settings, mode="verify", throttle=ReadThrottle(rate))
    elapsed = time.monotonic() - started
    assert tree_digest(tree.files) == tree_digest(unthrottled.files)
    expected = total / rate  # 2.5 s and 2.1 s
    # never faster than the rate (less what one batch of small files reads before it is
    # charged), and not held back far beyond it
    assert elapsed >= expected - (small * 16 * KIB) / rate / 4 - 0.05, (elapsed, expected)
    assert elapsed <= expected + 2.0, (elapsed, expected)


def test_a_take_above_the_burst_waits_for_the_rest() -> None:
    throttle = ReadThrottle(1024 * KIB, burst=64 * KIB)
    started = time.monotonic()
    throttle.take(256 * KIB)
    throttle.take(0)
    assert 0.2 <= time.monotonic() - started < 1.0


def test_rate_must_be_positive() -> None:
    with pytest.raises(UsageError):
        ReadThrottle(0)


def test_lower_priority_in_a_child() -> None:
    """Lowered in a child process (it cannot be raised back), never an error; whatever it
    reports done is in effect."""
    import subprocess
    import sys

    code = (
        "import os; from chainguard.hashing_throttle import lower_priority; "
        "done = lower_priority(); print(os.getpriority(os.PRIO_PROCESS, 0)); print(done)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    priority, done = out.stdout.splitlines()
    if "nice 10" in done:
        assert int(priority) >= 10
    assert not out.stderr
