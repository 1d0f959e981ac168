"""poetry.lock (Poetry 1.x and 2.x) → the dependencies it locks.

Shape: ``[[package]]`` with ``name``, ``version``, ``files = [{file = "…", hash = "sha256:…"}]``
and an optional ``[package.source]`` (``type = git|url|file|directory|legacy``); ``[metadata]``
with ``lock-version``: "2.x" (Poetry ≥ 1.5 writes "2.0", Poetry 2 writes "2.1") keeps the
files per package, "1.x" (older Poetry) under ``[metadata.files]``. Other major versions are
refused. Poetry 2 also writes ``markers`` per package (a string, or a table per group).
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

KIND: ManifestKind = "poetry-lock"
SUPPORTED_MAJORS = (1, 2)


def collect_poetrylock(path: Path) -> ObservedDependencies:
    return parse_poetrylock(read_bounded(path, "lock file"), path)


def parse_poetrylock(data: bytes, path: Path) -> ObservedDependencies:
    source = str(path)
    doc = load_toml(data, source)
    toml = TomlReader(source)
    if "metadata" not in doc:
        raise toml.fail("[metadata] is missing (not a poetry.lock)")
    metadata = toml.table(doc["metadata"], "metadata")
    lock_version = toml.required_string(metadata, "lock-version", "metadata")
    major = lock_version.partition(".")[0]
    if not major.isdecimal() or int(major) not in SUPPORTED_MAJORS:
        raise toml.fail(f"unsupported metadata.lock-version {lock_version!r} (supported: 1.x, 2.x)")
    legacy_files: dict[str, Any] = {}
    if "files" in metadata:  # lock-version 1.x
        legacy_files = toml.table(metadata["files"], "metadata.files")
    legacy = {canonical_name(k, f"{source}: metadata.files"): v for k, v in legacy_files.items()}
    deps = [
        _package(pkg, i, toml, path, legacy)
        for i, pkg in enumerate(toml.tables(doc.get("package", []), "package"))
    ]
    return ObservedDependencies(
        kind=KIND,
        name=path.name,
        source=source,
        dependencies=merge_duplicates(deps, source),
        files_checked=1,
    )


def _package(
    pkg: dict[str, Any], index: int, toml: TomlReader, path: Path, legacy: dict[str, Any]
) -> Dependency:
    raw_name = toml.required_string(pkg, "name", f"package[{index}]")
    name = canonical_name(raw_name, f"{toml.source}: package[{index}].name")
    where = f"package[{name}]"
    version = toml.required_string(pkg, "version", where)
    if "files" in pkg:
        files = toml.tables(pkg["files"], f"{where}.files")
        files_where = f"{where}.files"
    else:
        files = toml.tables(legacy.get(name, []), f"metadata.files.{name}")
        files_where = f"metadata.files.{name}"
    hashes = []
    for j, entry in enumerate(files):
        toml.required_string(entry, "file", f"{files_where}[{j}]")
        value = toml.required_string(entry, "hash", f"{files_where}[{j}]")
        hashes.append(parse_hash(value, f"{toml.source}: {files_where}[{j}]"))
    return make_dependency(
        name,
        version,
        manifest=(KIND, path.name),
        source=toml.source,
        hashes=hashes,
        marker=_marker(pkg, where, toml),
        locator=_locator(pkg, where, toml),
    )


def _marker(pkg: dict[str, Any], where: str, toml: TomlReader) -> str | None:
    if "markers" not in pkg:
        return None
    value = pkg["markers"]
    if isinstance(value, dict):  # per dependency group: the package applies when any does
        parts = [toml.string(m, f"{where}.markers.{g}") for g, m in sorted(value.items())]
        unique = sorted(set(parts))
        return unique[0] if len(unique) == 1 else " or ".join(f"({m})" for m in unique)
    return toml.string(value, f"{where}.markers")


def _locator(pkg: dict[str, Any], where: str, toml: TomlReader) -> str | None:
    if "source" not in pkg:
        return None
    src = toml.table(pkg["source"], f"{where}.source")
    kind = toml.required_string(src, "type", f"{where}.source")
    url = toml.required_string(src, "url", f"{where}.source")
    if kind == "legacy":  # a private index: like PyPI, the file hashes identify the artifacts
        return None
    if kind == "git":
        commit = toml.optional_string(src, "resolved_reference", f"{where}.source")
        commit = commit or toml.optional_string(src, "reference", f"{where}.source") or ""
        return f"vcs:git+{url}@{commit}"
    if kind == "url":
        return f"url:{url}"
    if kind == "file":
        return f"path:{url}"
    if kind == "directory":
        develop = src.get("develop", False)
        if not isinstance(develop, bool):
            raise toml.fail(f"{where}.source.develop must be a boolean")
        return f"{'editable' if develop else 'directory'}:{url}"
    raise toml.fail(f"{where}.source.type {kind!r} is not one of git, url, file, directory, legacy")
