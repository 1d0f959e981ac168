"""pylock.toml (PEP 751, the standard lock file) → the dependencies it locks.

Shape: ``lock-version = "1.0"``; ``[[packages]]`` with ``name``, optional ``version`` and
``marker``, and where the distribution comes from: ``wheels = [{…, hashes = {sha256 = …}}]``
and/or ``sdist = {…, hashes = {…}}``, or ``archive`` (with hashes), ``vcs`` (with
``commit-id``) or ``directory``. A lock-version with a major version other than 1 is refused
(the PEP requires it); a newer minor version is read with a note.

Our checks decide (their messages, exit 3). Where the installed ``packaging`` has its own
reader (``packaging.pylock``, packaging 26.0 and later), a lock they accept is also handed to it
as a second opinion on the PEP's other rules (``created-by``, a wheel's url or path, …): what it
refuses becomes a note, not an error, since installers (uv, pip) write locks it reads and
older chainguard releases accepted the rest.
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
    normalise_hash,
    read_bounded,
)
from chainguard.errors import LockfileError
from chainguard.models import Dependency, ManifestKind, ObservedDependencies

KIND: ManifestKind = "pylock"
SUPPORTED_MAJOR = 1
KNOWN_MINOR = 0


def collect_pylock(path: Path) -> ObservedDependencies:
    return parse_pylock(read_bounded(path, "lock file"), path)


def parse_pylock(data: bytes, path: Path) -> ObservedDependencies:
    source = str(path)
    doc = load_toml(data, source)
    toml = TomlReader(source)
    notes: list[str] = []
    if "lock-version" not in doc:
        raise toml.fail("lock-version is missing (not a PEP 751 lock file)")
    lock_version = toml.string(doc["lock-version"], "lock-version")
    major, minor = _version_pair(lock_version, toml)
    if major != SUPPORTED_MAJOR:
        raise toml.fail(
            f"unsupported lock-version {lock_version!r} (supported: {SUPPORTED_MAJOR}.x)"
        )
    if minor > KNOWN_MINOR:
        notes.append(f"{source}: lock-version {lock_version} is newer than 1.0; read as 1.0")
    if "packages" not in doc:
        raise toml.fail("packages is missing")
    deps: list[Dependency] = []
    for i, pkg in enumerate(toml.tables(doc["packages"], "packages")):
        deps.append(_package(pkg, f"packages[{i}]", toml, path, notes))
    notes += _packaging_opinion(doc, source)
    return ObservedDependencies(
        kind=KIND,
        name=path.name,
        source=source,
        dependencies=merge_duplicates(deps, source),
        notes=tuple(notes),
        files_checked=1,
    )


def _packaging_opinion(doc: dict[str, Any], source: str) -> list[str]:
    """packaging's own reader on a lock our checks accepted: a note if it refuses it."""
    try:
        from packaging.pylock import Pylock, PylockValidationError
    except ImportError:  # packaging < 26: no reader of its own
        return []
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a newer minor lock-version: our note says so
            Pylock.from_dict(doc)
    except PylockValidationError as e:
        reason = " ".join(str(e).split())
        return [f"{source}: not valid PEP 751 according to packaging.pylock: {reason}"]
    return []


def _version_pair(value: str, toml: TomlReader) -> tuple[int, int]:
    major, sep, minor = value.partition(".")
    if not (major.isdecimal() and sep and minor.isdecimal()):
        raise toml.fail(f"lock-version must look like '1.0', got {value!r}")
    return int(major), int(minor)


def _hashes(node: dict[str, Any], where: str, toml: TomlReader) -> list[str]:
    if "hashes" not in node:
        raise toml.fail(f"{where}.hashes is missing")
    table = toml.table(node["hashes"], f"{where}.hashes")
    if not table:
        raise toml.fail(f"{where}.hashes is empty")
    return [
        normalise_hash(alg, toml.string(value, f"{where}.hashes.{alg}"), f"{toml.source}: {where}")
        for alg, value in table.items()
    ]


def _package(
    pkg: dict[str, Any], where: str, toml: TomlReader, path: Path, notes: list[str]
) -> Dependency:
    raw_name = toml.required_string(pkg, "name", where)
    name = canonical_name(raw_name, f"{toml.source}: {where}.name")
    where = f"packages[{name}]"
    version = toml.optional_string(pkg, "version", where)
    marker = toml.optional_string(pkg, "marker", where)
    hashes: list[str] = []
    locator: str | None = None
    sources = [k for k in ("vcs", "directory", "archive") if k in pkg]
    has_dist = "wheels" in pkg or "sdist" in pkg
    if len(sources) > 1 or (sources and has_dist):
        raise toml.fail(f"{where} names more than one kind of source ({', '.join(sources)})")
    if "wheels" in pkg:
        for j, wheel in enumerate(toml.tables(pkg["wheels"], f"{where}.wheels")):
            hashes += _hashes(wheel, f"{where}.wheels[{j}]", toml)
    if "sdist" in pkg:
        hashes += _hashes(toml.table(pkg["sdist"], f"{where}.sdist"), f"{where}.sdist", toml)
    if "archive" in pkg:
        archive = toml.table(pkg["archive"], f"{where}.archive")
        hashes += _hashes(archive, f"{where}.archive", toml)
        locator = f"url:{_url_or_path(archive, f'{where}.archive', toml)}"
    elif "vcs" in pkg:
        vcs = toml.table(pkg["vcs"], f"{where}.vcs")
        kind = toml.required_string(vcs, "type", f"{where}.vcs")
        commit = toml.required_string(vcs, "commit-id", f"{where}.vcs")
        locator = f"vcs:{kind}+{_url_or_path(vcs, f'{where}.vcs', toml)}@{commit}"
    elif "directory" in pkg:
        directory = toml.table(pkg["directory"], f"{where}.directory")
        local = toml.required_string(directory, "path", f"{where}.directory")
        editable = directory.get("editable", False)
        if not isinstance(editable, bool):
            raise toml.fail(f"{where}.directory.editable must be a boolean")
        locator = f"{'editable' if editable else 'directory'}:{local}"
    elif not has_dist:
        raise toml.fail(f"{where} has no wheels, sdist, archive, vcs or directory")
    if version is None and locator is None:
        notes.append(f"{toml.source}: {where} has no version")
    return make_dependency(
        name,
        version,
        manifest=(KIND, path.name),
        source=toml.source,
        hashes=hashes,
        marker=marker,
        locator=locator,
    )


def _url_or_path(node: dict[str, Any], where: str, toml: TomlReader) -> str:
    url = toml.optional_string(node, "url", where)
    local = toml.optional_string(node, "path", where)
    if url is None and local is None:
        raise LockfileError(f"{toml.source}: {where} needs a url or a path")
    return url if url is not None else str(local)
