"""Fixtures for the CLI tests (environment isolation: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.release import Release, make_release, write_model


@pytest.fixture
def release(tmp_path: Path) -> Release:
    """A model release made by the CLI: keygen, sbom build and sign."""
    return make_release(tmp_path, models=[write_model(tmp_path / "weights")], via="cli")
