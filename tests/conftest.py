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
    # A config named by the developer's environment must not steer any test.
    monkeypatch.delenv("CHAINGUARD_CONFIG", raising=False)
    return state


# --- Sigstore tests: offline, and the trusted roots sigstore ships --------------------------------


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test: verification must be offline. Sigstore
    test modules use it for every test (``pytestmark = pytest.mark.usefixtures("offline")``)."""
    from sigstore_cases import refuse_network

    refuse_network(monkeypatch)


@pytest.fixture(scope="session")
def roots() -> dict[str, object]:
    """The production and staging trusted roots shipped with sigstore, loaded once."""
    from chainguard.trust.sigstore import load_trusted_root

    return {name: load_trusted_root(name, None) for name in ("production", "staging")}
