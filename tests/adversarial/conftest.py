"""Fixtures for the attack scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
from adv_helpers import Release, make_release


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never pick up the repository's demo chainguard.toml or a CI step summary."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("CHAINGUARD_KEY_PASSWORD", raising=False)


@pytest.fixture
def release(tmp_path: Path) -> Release:
    return make_release(tmp_path)
