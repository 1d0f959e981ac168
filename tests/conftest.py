"""Shared pytest fixtures, and the one place every test's environment is isolated."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import vectors_root

# Variables of the developer's (or CI's) environment that would steer a run: a CI step summary
# verify appends to, a key password, a config file, debug output, colour.
_STEERING = (
    "GITHUB_STEP_SUMMARY",
    "CHAINGUARD_KEY_PASSWORD",
    "CHAINGUARD_REGISTRY_PASSWORD",
    "CHAINGUARD_CONFIG",
    "CHAINGUARD_DEBUG",
    "NO_COLOR",
)


@pytest.fixture(autouse=True)
def _isolated_environment(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test runs from its own empty directory, with its own rollback state store and none
    of the user's settings. The repository root has a chainguard.toml (the demo); verify reads
    ./chainguard.toml, so a test run from the root would silently pick it up. Returns the
    state store."""
    monkeypatch.chdir(tmp_path)
    for name in _STEERING:
        monkeypatch.delenv(name, raising=False)
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("CHAINGUARD_STATE_DIR", str(state))
    return state


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    root = vectors_root()
    if not root.is_dir():
        pytest.skip(f"interop vectors not found at {root} (set CHAINGUARD_VECTORS)")
    return root


@pytest.fixture(scope="session")
def deps_venv(tmp_path_factory: pytest.TempPathFactory) -> object:
    """One real venv with two tiny wheels pip-installed (support/deps.py); read-only: tests
    that tamper with it work on ``support.deps.copy_venv``."""
    from support.deps import build_deps_venv

    return build_deps_venv(tmp_path_factory.mktemp("deps-venv"))


# --- Sigstore tests: offline, and the trusted roots sigstore ships --------------------------------


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test: verification must be offline. Sigstore
    test modules use it for every test (``pytestmark = pytest.mark.usefixtures("offline")``)."""
    from support.sigstore_cases import refuse_network

    refuse_network(monkeypatch)


@pytest.fixture(scope="session")
def roots() -> dict[str, object]:
    """The production and staging trusted roots shipped with sigstore, loaded once."""
    from chainguard.trust.sigstore import load_trusted_root

    return {name: load_trusted_root(name, None) for name in ("production", "staging")}
