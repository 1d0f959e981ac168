"""What every dependency collector shares: bounded reads, TOML with key paths in errors, and
the one way a Dependency is made (PEP 503 name, purl, sorted hashes, sorted extras).

Making every Dependency here keeps the collectors' output in the exact form sbom/read.py
returns after a round trip through the SBOM, so comparing "as signed" with "as read now" never
trips over ordering or spelling.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chainguard.errors import LockfileError
from chainguard.models import Dependency, ManifestKind, Property
from chainguard.sbom import vocabulary as v

# A lockfile for a large monorepo is a few MiB; anything far beyond that is not a lockfile.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024

# hashlib spellings accepted in lockfiles ("sha3-256" and "SHA256" are normalised to these).
HASH_ALGORITHMS = frozenset(v.HASHLIB_TO_CDX)


def read_bounded(path: Path, what: str = "file") -> bytes:
    """The bytes of a manifest, or a one-line LockfileError naming the path."""
    try:
        with path.open("rb") as f:
            # the size first: a regular file over the cap is refused unread
            too_large = os.fstat(f.fileno()).st_size > MAX_MANIFEST_BYTES
            data = b"" if too_large else f.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError as e:
        raise LockfileError(f"{path}: no such {what}") from e
    except IsADirectoryError as e:
        raise LockfileError(f"{path}: is a directory, not a {what}") from e
    except OSError as e:
        raise LockfileError(f"{path}: cannot read: {e.strerror or e}") from e
    if too_large or len(data) > MAX_MANIFEST_BYTES:
        raise LockfileError(f"{path}: larger than {MAX_MANIFEST_BYTES // 2**20} MiB; not a {what}")
    return data


def decode_text(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LockfileError(f"{source}: not UTF-8 (invalid byte at offset {e.start})") from e
    return text.removeprefix("\ufeff")


def load_toml(data: bytes, source: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 in CI
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    text = decode_text(data, source)
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LockfileError(f"{source}: invalid TOML: {one_line(str(e))}") from e
    except RecursionError as e:
        raise LockfileError(f"{source}: invalid TOML: nested too deeply") from e
    return doc


def one_line(message: str) -> str:
    return " ".join(message.split())


# --- typed access to parsed TOML, with the key path in every message -------------------------


class TomlReader:
    """Typed getters that raise ``LockfileError("<source>: <key path> must be …")``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str) -> LockfileError:
        return LockfileError(f"{self.source}: {message}")

    def table(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{where} must be a table, not {_type_name(value)}")
        return value

    def array(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(f"{where} must be an array, not {_type_name(value)}")
        return value

    def tables(self, value: object, where: str) -> list[dict[str, Any]]:
        return [
            self.table(item, f"{where}[{i}]") for i, item in enumerate(self.array(value, where))
        ]

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{where} must be a string, not {_type_name(value)}")
        if not value.isprintable():
            raise self.fail(f"{where} contains control characters")
        return value

    def optional_string(self, node: dict[str, Any], key: str, where: str) -> str | None:
        if key not in node:
            return None
        return self.string(node[key], f"{where}.{key}")

    def required_string(self, node: dict[str, Any], key: str, where: str) -> str:
        if key not in node:
            raise self.fail(f"{where}.{key} is missing")
        return self.string(node[key], f"{where}.{key}")


def _type_name(value: object) -> str:
    return {
        dict: "a table",
        list: "an array",
        str: "a string",
        int: "an integer",
        float: "a float",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)


# --- names, versions, hashes -------------------------------------------------------------------


def canonical_name(raw: str, where: str) -> str:
    """PEP 503 normalised name; an invalid project name is an error, not a guess."""
    from packaging.utils import InvalidName, canonicalize_name

    try:
        return str(canonicalize_name(raw, validate=True))
    except InvalidName as e:
        raise LockfileError(f"{where}: {raw!r} is not a valid project name") from e


def normalise_hash(algorithm: str, hexdigest: str, where: str) -> str:
    """``"<hashlib name>:<lowercase hex>"``, checked for a known algorithm and digest length."""
    alg = algorithm.strip().lower().replace("-", "_")
    if alg not in HASH_ALGORITHMS:
        known = ", ".join(sorted(HASH_ALGORITHMS))
        raise LockfileError(f"{where}: unsupported hash algorithm {algorithm!r} (known: {known})")
    digest = hexdigest.strip().lower()
    length = v.HASHLIB_TO_CDX[alg][1]
    if not v.is_hex(digest, length):
        raise LockfileError(f"{where}: {alg} hash must be {length} hex digits, got {hexdigest!r}")
    return f"{alg}:{digest}"


def parse_hash(value: str, where: str, separator: str = ":") -> str:
    """A hash written ``alg:hex`` (pip, uv, poetry)."""
    alg, sep, digest = value.partition(separator)
    if not sep:
        raise LockfileError(f"{where}: hash {value!r} must be written <algorithm>{separator}<hex>")
    return normalise_hash(alg, digest, where)


def purl(name: str, version: str | None) -> str:
    """``pkg:pypi/<name>@<version>`` as packageurl spells it (percent-encoded version)."""
    return f"pkg:pypi/{name}" + (f"@{quote(version, safe='-._~')}" if version else "")


def make_dependency(
    name: str,
    version: str | None,
    *,
    manifest: tuple[ManifestKind, str],
    source: str,
    hashes: Iterable[str] = (),
    record_sha256: str | None = None,
    marker: str | None = None,
    specifier: str | None = None,
    locator: str | None = None,
) -> Dependency:
    """The one constructor: canonical order of hashes and extras, purl, manifest ref."""
    extras = []
    if marker:
        extras.append(Property(v.MARKER, marker))
    if specifier is not None:
        extras.append(Property(v.SPECIFIER, specifier))
    if locator:
        extras.append(Property(v.LOCATOR, locator))
    return Dependency(
        name=name,
        version=version,
        hashes=tuple(sorted(set(hashes))),
        record_sha256=record_sha256,
        source=source,
        purl=purl(name, version),
        extras=tuple(sorted(extras, key=lambda p: (p.name, p.value))),
        manifest=f"{manifest[0]}:{manifest[1]}",
    )


def extra(d: Dependency, name: str) -> str | None:
    for p in d.extras:
        if p.name == name:
            return p.value
    return None


def merge_duplicates(deps: Iterable[Dependency], source: str) -> tuple[Dependency, ...]:
    """One entry per (name, version): a pin repeated under different markers is one pin.

    Hash sets are united and markers or-ed. The same name and version from two different
    sources (an index and a git URL) cannot be one component: that is an error.
    """
    merged: dict[tuple[str, str | None], Dependency] = {}
    for d in deps:
        key = (d.name, d.version)
        first = merged.get(key)
        if first is None:
            merged[key] = d
            continue
        if extra(first, v.LOCATOR) != extra(d, v.LOCATOR) or extra(first, v.SPECIFIER) != extra(
            d, v.SPECIFIER
        ):
            what = f"{d.name}=={d.version}" if d.version else d.name
            raise LockfileError(f"{source}: {what} is listed twice with different sources")
        markers = [m for m in (extra(first, v.MARKER), extra(d, v.MARKER)) if m]
        marker = None
        # No marker on either side means "always": the union is unconditional.
        if len(markers) == 2 and markers[0] != markers[1]:
            marker = f"({markers[0]}) or ({markers[1]})"
        elif len(markers) == 2:
            marker = markers[0]
        kind, _, name = first.manifest.partition(":")
        merged[key] = make_dependency(
            first.name,
            first.version,
            manifest=(kind, name),  # type: ignore[arg-type]
            source=first.source,
            hashes=(*first.hashes, *d.hashes),
            record_sha256=first.record_sha256,
            marker=marker,
            specifier=extra(first, v.SPECIFIER),
            locator=extra(first, v.LOCATOR),
        )
    return tuple(sorted(merged.values(), key=lambda d: (d.name, d.version or "")))
