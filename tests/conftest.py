"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def vectors_root() -> Path:
    """Interoperability vectors: $CHAINGUARD_VECTORS, else ../shared/vectors beside the repo."""
    configured = os.environ.get("CHAINGUARD_VECTORS")
    return Path(configured) if configured else REPO_ROOT / ".." / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    root = vectors_root()
    if not root.is_dir():
        pytest.skip(f"interop vectors not found at {root} (set CHAINGUARD_VECTORS)")
    return root


@pytest.fixture(scope="session")
def deps_venv(tmp_path_factory: pytest.TempPathFactory) -> object:
    """One real venv with two tiny wheels pip-installed (tests/deps_helpers.py); read-only:
    tests that tamper with it work on ``deps_helpers.copy_venv``."""
    from deps_helpers import build_deps_venv

    return build_deps_venv(tmp_path_factory.mktemp("deps-venv"))


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own rollback state store, never the user's real one."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("CHAINGUARD_STATE_DIR", str(state))
    return state
