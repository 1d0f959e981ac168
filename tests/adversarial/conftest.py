"""Fixtures for the attack scenarios (environment isolation: tests/conftest.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.release import MODEL_FILES, Release, make_release


@pytest.fixture
def release(tmp_path: Path) -> Release:
    """A model release built with the library API."""
    return make_release(tmp_path, models={"weights": MODEL_FILES})


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes a test starts: killed and reaped when it ends, pass or fail."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
