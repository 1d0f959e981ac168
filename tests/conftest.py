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


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own rollback state store, never the user's real one."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("CHAINGUARD_STATE_DIR", str(state))
    return state
