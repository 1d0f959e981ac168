"""Fixtures for the attack scenarios (environment isolation: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.release import MODEL_FILES, Release, make_release


@pytest.fixture
def release(tmp_path: Path) -> Release:
    """A model release built with the library API."""
    return make_release(tmp_path, models={"weights": MODEL_FILES})
