"""Which signed dependencies a lock or an environment is compared with."""

from __future__ import annotations

import pytest

from chainguard.api import check_dependencies, select_manifest
from chainguard.errors import UsageError
from chainguard.models import Dependency, DeploymentInfo, ExpectedState, ObservedDependencies


def state(*deps: Dependency) -> ExpectedState:
    return ExpectedState(DeploymentInfo("svc", "1"), (), deps)


def observed(kind: str, name: str, *deps: Dependency) -> ObservedDependencies:
    return ObservedDependencies(kind, name, f"/x/{name}", deps)  # type: ignore[arg-type]


UV = Dependency("a", "1", hashes=("sha256:" + "0" * 64,), manifest="uv-lock:uv.lock")
POETRY = Dependency("a", "1", manifest="poetry-lock:poetry.lock")
ENV = Dependency("a", "1", record_sha256="1" * 64, manifest="environment:.venv")


def test_same_name_wins_then_the_only_one_of_its_category() -> None:
    signed = state(UV, POETRY, ENV)
    assert select_manifest(signed, observed("uv-lock", "uv.lock"), None)[0] == "uv-lock:uv.lock"
    assert select_manifest(signed, observed("environment", "venv"), None)[0] == (
        "environment:.venv"
    )
    with pytest.raises(UsageError, match="several lockfiles"):
        select_manifest(signed, observed("requirements", "requirements.txt"), None)


def test_component_option_by_name_or_ref() -> None:
    signed = state(UV, POETRY, ENV)
    lock = observed("requirements", "requirements.txt")
    assert select_manifest(signed, lock, "poetry.lock")[0] == "poetry-lock:poetry.lock"
    assert select_manifest(signed, lock, "uv-lock:uv.lock")[0] == "uv-lock:uv.lock"
    with pytest.raises(UsageError, match="not a lockfile"):
        select_manifest(signed, lock, ".venv")
    with pytest.raises(UsageError, match=r"no lockfile named 'x' .*it has: poetry-lock"):
        select_manifest(signed, lock, "x")


def test_sboms_without_manifest_names_form_one_group() -> None:
    legacy = Dependency("a", "1")
    ref, deps = select_manifest(state(legacy), observed("uv-lock", "uv.lock"), None)
    assert (ref, deps) == ("", (legacy,))
    ref, _, _ = check_dependencies(state(legacy), observed("environment", "venv", legacy))
    assert ref == "(unnamed)"


def test_no_dependencies_of_that_category() -> None:
    with pytest.raises(UsageError, match="no dependencies from an environment"):
        select_manifest(state(UV), observed("environment", "venv"), None)


def test_hashes_required_by_default_only_for_locks() -> None:
    unhashed = Dependency("b", "2", manifest="uv-lock:uv.lock")
    _, findings, _ = check_dependencies(state(UV), observed("uv-lock", "uv.lock", UV, unhashed))
    assert [f.rule for f in findings] == ["dependency-unexpected", "dependency-unhashed"]
    _, findings, _ = check_dependencies(
        state(UV), observed("uv-lock", "uv.lock", UV, unhashed), require_hashes=False
    )
    assert [f.rule for f in findings] == ["dependency-unexpected"]
