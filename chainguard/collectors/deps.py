"""Dependency manifests: which collector reads a given file, decided by its content.

A lock is recognised from what it says, not what it is called (a ``uv.lock`` copied to
``deploy.lock`` is still a uv lock, and a file named ``uv.lock`` holding a poetry lock is a
poetry lock). The file name is only a tie-breaker for files that are not recognisable TOML:
a broken ``uv.lock`` is reported as a broken uv lock, and any other text is read as a
requirements file.

Adding a lock format is one module plus one line in ``LOCK_PARSERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from chainguard.collectors._deps import read_bounded
from chainguard.collectors.poetrylock import parse_poetrylock
from chainguard.collectors.pylock import parse_pylock
from chainguard.collectors.requirements import collect_requirements
from chainguard.collectors.uvlock import parse_uvlock
from chainguard.errors import LockfileError
from chainguard.models import ObservedDependencies

LockKind = Literal["requirements", "pylock", "uv-lock", "poetry-lock"]

# TOML lock formats: kind -> parser of (bytes, path). Requirements files are read from disk
# (their -r includes are other files), so they are not in this table.
LOCK_PARSERS: dict[LockKind, Callable[[bytes, Path], ObservedDependencies]] = {
    "pylock": parse_pylock,
    "uv-lock": parse_uvlock,
    "poetry-lock": parse_poetrylock,
}


def _kind_from_name(name: str) -> LockKind | None:
    if name == "uv.lock":
        return "uv-lock"
    if name == "poetry.lock":
        return "poetry-lock"
    if name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
        return "pylock"
    return None


def _kind_from_toml(doc: dict[str, Any]) -> LockKind | None:
    if "lock-version" in doc and ("packages" in doc or "created-by" in doc):
        return "pylock"
    metadata = doc.get("metadata")
    if isinstance(metadata, dict) and ("lock-version" in metadata or "content-hash" in metadata):
        return "poetry-lock"
    if "version" in doc and ("package" in doc or "requires-python" in doc):
        return "uv-lock"
    return None


def detect_lock_kind(data: bytes, path: Path) -> LockKind:
    """Which format ``data`` (read from ``path``) is in."""
    from chainguard.collectors._deps import load_toml

    try:
        doc = load_toml(data, str(path))
    except LockfileError:
        doc = None
    if doc is not None:
        by_content = _kind_from_toml(doc)
        if by_content is not None:
            return by_content
    by_name = _kind_from_name(path.name)
    if by_name is not None:
        return by_name  # its parser gives the precise error (invalid TOML, missing keys)
    if doc is not None and path.suffix == ".toml":
        raise LockfileError(
            f"{path}: TOML, but not a pylock.toml, uv.lock or poetry.lock "
            "(no lock-version, version or [metadata])"
        )
    return "requirements"


def collect_lock(path: Path, kind: LockKind | None = None) -> ObservedDependencies:
    """Read a requirements file or lockfile; ``kind`` None means recognise it."""
    if kind == "requirements":
        return collect_requirements(path)
    data = read_bounded(path, "lock file")
    kind = kind or detect_lock_kind(data, path)
    if kind == "requirements":
        return collect_requirements(path)
    return LOCK_PARSERS[kind](data, path)
