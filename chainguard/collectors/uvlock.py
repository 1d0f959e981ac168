"""uv.lock (uv's universal lock file) → the dependencies it locks.

Shape: ``version = 1`` (plus ``revision``, which uv bumps for compatible additions);
``[[package]]`` with ``name``, ``version``, ``source = {registry|git|url|path|directory|
editable|virtual = …}``, ``sdist = {…, hash = "sha256:…"}`` and ``wheels = [{…, hash = …}]``.
The project itself (``editable``/``virtual`` source) is recorded like any package, with its
local locator and no hashes: it is not downloaded, so there is nothing to hash.
Forks (the same name at several versions, for different markers) are kept apart; their
``resolution-markers`` become the marker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainguard.collectors._deps import (
    TomlReader,
    canonical_name,
    load_toml,
    make_dependency,
    merge_duplicates,
    parse_hash,
    read_bounded,
)
from chainguard.models import Dependency, ManifestKind, ObservedDependencies

KIND: ManifestKind = "uv-lock"
SUPPORTED_VERSIONS = (1,)
_SOURCE_LOCATORS = {
    "git": "vcs:git+",
    "url": "url:",
    "path": "path:",
    "directory": "directory:",
    "editable": "editable:",
    "virtual": "virtual:",
}


def collect_uvlock(path: Path) -> ObservedDependencies:
    return parse_uvlock(read_bounded(path, "lock file"), path)


def parse_uvlock(data: bytes, path: Path) -> ObservedDependencies:
    source = str(path)
    doc = load_toml(data, source)
    toml = TomlReader(source)
    if "version" not in doc:
        raise toml.fail("version is missing (not a uv.lock)")
    version = doc["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise toml.fail(f"version must be an integer, not {type(version).__name__}")
    if version not in SUPPORTED_VERSIONS:
        raise toml.fail(f"unsupported uv.lock version {version} (supported: 1)")
    revision = doc.get("revision", 0)
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise toml.fail("revision must be an integer")
    deps = [
        _package(pkg, i, toml, path)
        for i, pkg in enumerate(toml.tables(doc.get("package", []), "package"))
    ]
    return ObservedDependencies(
        kind=KIND,
        name=path.name,
        source=source,
        dependencies=merge_duplicates(deps, source),
        files_checked=1,
    )


def _package(pkg: dict[str, Any], index: int, toml: TomlReader, path: Path) -> Dependency:
    raw_name = toml.required_string(pkg, "name", f"package[{index}]")
    name = canonical_name(raw_name, f"{toml.source}: package[{index}].name")
    where = f"package[{name}]"
    version = toml.optional_string(pkg, "version", where)
    locator = _locator(pkg, where, toml)
    hashes: list[str] = []
    if "sdist" in pkg:
        hashes += _hash(toml.table(pkg["sdist"], f"{where}.sdist"), f"{where}.sdist", toml)
    if "wheels" in pkg:
        for j, wheel in enumerate(toml.tables(pkg["wheels"], f"{where}.wheels")):
            hashes += _hash(wheel, f"{where}.wheels[{j}]", toml)
    key = f"{where}.resolution-markers"
    markers = [
        toml.string(m, f"{key}[{j}]")
        for j, m in enumerate(toml.array(pkg.get("resolution-markers", []), key))
    ]
    marker = markers[0] if len(markers) == 1 else " or ".join(f"({m})" for m in markers)
    return make_dependency(
        name,
        version,
        manifest=(KIND, path.name),
        source=toml.source,
        hashes=hashes,
        marker=marker or None,
        locator=locator,
    )


def _hash(node: dict[str, Any], where: str, toml: TomlReader) -> list[str]:
    # uv omits the hash for artifacts it cannot hash (a local directory); that is not an error.
    if "hash" not in node:
        return []
    return [parse_hash(toml.string(node["hash"], f"{where}.hash"), f"{toml.source}: {where}")]


def _locator(pkg: dict[str, Any], where: str, toml: TomlReader) -> str | None:
    if "source" not in pkg:
        raise toml.fail(f"{where}.source is missing")
    src = toml.table(pkg["source"], f"{where}.source")
    if "registry" in src:
        toml.string(src["registry"], f"{where}.source.registry")
        return None  # an index: the hashes identify the artifacts, whichever index served them
    for key, prefix in _SOURCE_LOCATORS.items():
        if key in src:
            value = toml.string(src[key], f"{where}.source.{key}")
            subdirectory = toml.optional_string(src, "subdirectory", f"{where}.source")
            return prefix + value + (f"#subdirectory={subdirectory}" if subdirectory else "")
    known = ", ".join(["registry", *_SOURCE_LOCATORS])
    raise toml.fail(f"{where}.source has none of {known}")
