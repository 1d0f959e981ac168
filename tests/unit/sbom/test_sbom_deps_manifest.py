"""Dependencies from manifests survive the SBOM round trip exactly, manifest name included."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from support import DEPS_FIXTURES
from support.deps import DepsVenv
from support.sbom_inputs import DEPLOYMENT, SERIAL_NUMBER, TIMESTAMP
from support.surgery import component_of, props, set_prop

from chainguard.collectors.deps import collect_lock
from chainguard.collectors.environment import collect_environment
from chainguard.errors import SbomError
from chainguard.models import Dependency, Property
from chainguard.sbom import vocabulary as v
from chainguard.sbom.build import build_sbom
from chainguard.sbom.read import read_sbom


def render(dependencies: tuple[Dependency, ...]) -> bytes:
    return build_sbom(
        DEPLOYMENT, (), dependencies, timestamp=TIMESTAMP, serial_number=SERIAL_NUMBER
    )


def key(d: Dependency) -> tuple[str, str, str]:
    return (d.manifest, d.name, d.version or "")


@pytest.mark.parametrize(
    "fixture",
    ["requirements-dev.txt", "pylock.toml", "uv.lock", "poetry.lock", "poetry-legacy/poetry.lock"],
)
def test_lock_dependencies_round_trip(fixture: str) -> None:
    observed = collect_lock(DEPS_FIXTURES / fixture)
    state = read_sbom(render(observed.dependencies), "sbom")
    assert sorted(state.dependencies, key=key) == sorted(observed.dependencies, key=key)


def test_environment_dependencies_round_trip(deps_venv: DepsVenv) -> None:
    observed = collect_environment(deps_venv.path)
    state = read_sbom(render(observed.dependencies), "sbom")
    assert sorted(state.dependencies, key=key) == sorted(observed.dependencies, key=key)


def test_one_distribution_in_two_manifests_is_two_components() -> None:
    lock = collect_lock(DEPS_FIXTURES / "uv.lock").dependencies
    reqs = collect_lock(DEPS_FIXTURES / "requirements.txt").dependencies
    doc = json.loads(render((*lock, *reqs)))
    refs = [c["bom-ref"] for c in doc["components"]]
    assert "pkg:pypi/requests@2.32.3#uv-lock:uv.lock" in refs
    assert "pkg:pypi/requests@2.32.3#requirements:requirements.txt" in refs
    assert len(refs) == len(set(refs))
    node = component_of(doc, "pkg:pypi/requests@2.32.3#uv-lock:uv.lock")
    assert props(node)[v.MANIFEST] == "uv-lock:uv.lock"


def test_sboms_without_manifest_names_still_read() -> None:
    legacy = Dependency("numpy", "2.1.0", purl="pkg:pypi/numpy@2.1.0")
    doc = json.loads(render((legacy,)))
    assert component_of(doc, "pkg:pypi/numpy@2.1.0")  # the old ref shape
    (read,) = read_sbom(json.dumps(doc).encode(), "sbom").dependencies
    assert read.manifest == ""


@pytest.mark.parametrize("value", ["uv.lock", "nonsense:uv.lock", "uv-lock:", "uv-lock:a/b"])
def test_a_malformed_manifest_property_is_rejected(value: str) -> None:
    doc = json.loads(render((Dependency("a", "1", manifest="uv-lock:uv.lock"),)))
    node = next(c for c in doc["components"] if c["type"] == "library")
    set_prop(node, v.MANIFEST, value)
    with pytest.raises(SbomError, match="chainguard:manifest must be '<kind>:<name>'"):
        read_sbom(json.dumps(doc).encode(), "sbom")


def test_the_builder_refuses_what_the_reader_would_reject() -> None:
    with pytest.raises(ValueError, match="manifest must be"):
        render((Dependency("a", "1", manifest="bogus"),))
    smuggled = Dependency("a", "1", extras=(Property(v.MANIFEST, "uv-lock:x"),))
    with pytest.raises(ValueError, match="extras may not use"):
        render((smuggled,))
    twice = Dependency("a", "1", manifest="uv-lock:uv.lock")
    with pytest.raises(ValueError, match="listed twice"):
        render((twice, replace(twice, hashes=())))


def test_a_lock_becomes_schema_valid_library_components() -> None:
    data = render(collect_lock(DEPS_FIXTURES / "uv.lock").dependencies)
    doc = json.loads(data)
    libraries = [c for c in doc["components"] if c["type"] == "library"]
    assert len(libraries) == 8
    assert all(c["purl"].startswith("pkg:pypi/") for c in libraries)
