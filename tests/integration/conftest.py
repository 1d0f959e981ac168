"""Fixtures for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Release, make_release


@pytest.fixture(autouse=True)
def _isolated_cli_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every CLI test from an empty directory with none of the user's settings.

    The repository root has a chainguard.toml (the demo); verify reads ./chainguard.toml, so a
    test run from the root would silently pick it up. GitHub Actions sets GITHUB_STEP_SUMMARY,
    which verify appends to.
    """
    monkeypatch.chdir(tmp_path)
    for name in ("GITHUB_STEP_SUMMARY", "CHAINGUARD_KEY_PASSWORD", "CHAINGUARD_DEBUG", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def release(tmp_path: Path) -> Release:
    return make_release(tmp_path)
