"""The signed OMS manifest: what an OpenSSF model signature says about a model.

The statement's predicate (``predicateType`` ``https://model_signing/signature/v1.0``):

- ``serialization``: ``method`` (``files`` or ``shards``), ``hash_type``, ``allow_symlinks``,
  ``shard_size`` for shards (written by protobuf's Struct, hence often a float such as
  ``1000000000.0``) and, since v1.1, ``ignore_paths`` (relative paths left out);
- ``resources``: ``{name, algorithm, digest}`` per file (``files``) or per shard (``shards``:
  name ``path:start:end``, algorithm ``sha256-sharded-<size>``); a single-file model is one
  resource named ``.``;
- one subject: the model's name and the SHA-256 over the raw resource digests, concatenated in
  the order the predicate lists them (signers sort them by path components).

The oldest released format, model-signing 0.2 (``https://model_signing/Digests/v0.1``), is read
too (oms/legacy.py). The manifest is read from verified payload bytes only, never from a
re-serialisation.
"""

from __future__ import annotations

import hashlib
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chainguard._strictjson import shown
from chainguard.errors import BundleError, InputError, VerificationFailure
from chainguard.models import Subject, VerifiedStatement
from chainguard.oms.legacy import (
    OMS_PREDICATE_TYPE_V0_2,
    V0_2_MODEL_NAME,
    check_v0_2_annotations,
    v0_2_resources,
)
from chainguard.paths import unsafe_reason
from chainguard.trust.statement import statement_of

OMS_PREDICATE_TYPE = "https://model_signing/signature/v1.0"
SINGLE_FILE_NAME = "."

Method = Literal["files", "shards"]
_HASH_SIZES = {"sha256": 32}  # the hash types chainguard's engine reproduces
_HEX = frozenset(string.hexdigits)


@dataclass(frozen=True, slots=True)
class OmsResource:
    """One signed resource: a whole file, or the shard ``[start, end)`` of a file."""

    path: str
    digest: str  # lower-case hex
    start: int | None = None  # shards only
    end: int | None = None


@dataclass(frozen=True, slots=True)
class OmsManifest:
    """The signed model manifest, read from verified payload bytes only."""

    model_name: str
    method: Method
    hash_type: str
    allow_symlinks: bool
    resources: tuple[OmsResource, ...]
    shard_size: int | None = None
    ignore_paths: tuple[str, ...] = ()

    def paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.path for r in self.resources))


@dataclass(frozen=True, slots=True)
class _Serialization:
    """``predicate.serialization``, checked: how the resources were hashed."""

    method: Method
    hash_type: str
    allow_symlinks: bool
    shard_size: int | None
    ignore_paths: tuple[str, ...]

    @property
    def algorithm(self) -> str:
        """The algorithm every resource must name."""
        if self.shard_size is None:
            return self.hash_type
        return f"{self.hash_type}-sharded-{self.shard_size}"


def read_manifest(verified: VerifiedStatement, source: str) -> OmsManifest:
    """The OMS manifest in a verified statement.

    VerificationFailure ``subject-mismatch`` when the statement is not an OMS signature or its
    subject digest disagrees with its resources; BundleError when it is malformed; InputError
    when it uses a hash chainguard cannot reproduce.
    """
    if verified.predicate_type == OMS_PREDICATE_TYPE_V0_2:
        return _read_v0_2_manifest(verified, source)
    _check_predicate_type(verified.predicate_type, source)
    statement = statement_of(verified, source)
    subject, subject_digest = _one_subject(statement.subjects, source)
    serialization = _read_serialization(statement.predicate, source)
    resources = _read_resources(statement.predicate, serialization, source)
    _check_subject_digest(subject_digest, resources, source)
    return OmsManifest(
        model_name=subject.name,
        method=serialization.method,
        hash_type=serialization.hash_type,
        allow_symlinks=serialization.allow_symlinks,
        resources=resources,
        shard_size=serialization.shard_size,
        ignore_paths=serialization.ignore_paths,
    )


def _read_v0_2_manifest(verified: VerifiedStatement, source: str) -> OmsManifest:
    """A model-signing 0.2 statement (oms/legacy.py): one subject per file, SHA-256 of each
    whole file; no model name, no ignore list, symlinks not followed."""
    from chainguard._strictjson import loads_strict

    statement = statement_of(verified, source)
    doc = loads_strict(verified.payload, source, BundleError)
    raw_subjects = doc.get("subject") if isinstance(doc, dict) else None
    check_v0_2_annotations(raw_subjects if isinstance(raw_subjects, list) else [], source)
    size = _HASH_SIZES["sha256"]
    resources = tuple(
        OmsResource(path, _hex_digest(digest, size, f"{source}: subject {shown(path)}"))
        for path, digest in v0_2_resources(statement.subjects, source)
    )
    return OmsManifest(
        model_name=V0_2_MODEL_NAME,
        method="files",
        hash_type="sha256",
        allow_symlinks=False,
        resources=resources,
    )


def signed_ignore_paths(manifest: OmsManifest) -> frozenset[str]:
    """The signer's ignore paths that can name something inside the model (others never do)."""
    return frozenset(p for p in manifest.ignore_paths if unsafe_reason(p) is None)


def model_name(path: Path) -> str:
    """The subject name model-signing gives a model: its last path component."""
    name = path.name
    if not name or name == "..":
        name = os.path.basename(path.resolve())
    return name


# ------------------------------------------------------------------------- reading, by step


def _check_predicate_type(predicate_type: str, source: str) -> None:
    if predicate_type != OMS_PREDICATE_TYPE:
        raise VerificationFailure(
            "subject-mismatch",
            f"{source}: the signature is not an OpenSSF model signature",
            expected=OMS_PREDICATE_TYPE,
            actual=predicate_type,
        )


def _one_subject(subjects: Sequence[Subject], source: str) -> tuple[Subject, str]:
    """The statement's one subject and its SHA-256 digest."""
    if len(subjects) != 1:
        raise BundleError(
            f"{source}: an OpenSSF model signature has one subject, not {len(subjects)}"
        )
    subject = subjects[0]
    subject_digest = subject.get("sha256")
    if subject_digest is None:
        raise BundleError(f"{source}: the statement subject has no sha256 digest")
    return subject, subject_digest


def _read_serialization(predicate: dict[str, object], source: str) -> _Serialization:
    where = f"{source}: predicate.serialization"
    serialization = _field(predicate, "serialization", f"{source}: predicate")
    if not isinstance(serialization, dict):
        raise BundleError(f"{where} is not an object")
    method = _field(serialization, "method", where)
    if method not in ("files", "shards"):
        raise BundleError(f"{where}: unknown method {shown(method)} (files or shards)")
    hash_type = _field(serialization, "hash_type", where)
    if not isinstance(hash_type, str) or not hash_type:
        raise BundleError(f"{where}: hash_type is not a string")
    if hash_type not in _HASH_SIZES:
        raise InputError(
            f"{source}: signed with hash {shown(hash_type)}; chainguard verifies OpenSSF model "
            f"signatures made with {', '.join(_HASH_SIZES)}"
        )
    allow_symlinks = serialization.get("allow_symlinks", False)
    if not isinstance(allow_symlinks, bool):
        raise BundleError(f"{where}: allow_symlinks is not true or false")
    shard_size: int | None = None
    if method == "shards":
        shard_size = _shard_size(_field(serialization, "shard_size", where), where)
    raw_ignore = serialization.get("ignore_paths", [])
    if not isinstance(raw_ignore, list) or not all(isinstance(p, str) for p in raw_ignore):
        raise BundleError(f"{where}: ignore_paths is not a list of strings")
    return _Serialization(
        method=method,
        hash_type=hash_type,
        allow_symlinks=allow_symlinks,
        shard_size=shard_size,
        ignore_paths=tuple(p.rstrip("/") for p in raw_ignore),
    )


def _read_resources(
    predicate: dict[str, object], serialization: _Serialization, source: str
) -> tuple[OmsResource, ...]:
    raw_resources = _field(predicate, "resources", f"{source}: predicate")
    if not isinstance(raw_resources, list):
        raise BundleError(f"{source}: predicate.resources is not a list")
    size = _HASH_SIZES[serialization.hash_type]
    resources = tuple(
        _resource(entry, i, serialization.method, serialization.algorithm, size, source)
        for i, entry in enumerate(raw_resources)
    )
    keys = [(r.path, r.start) for r in resources]
    if len(set(keys)) != len(keys):
        raise BundleError(f"{source}: predicate.resources lists the same resource twice")
    if serialization.shard_size is not None:
        _check_shard_tiling(resources, serialization.shard_size, source)
    return resources


def _check_subject_digest(
    subject_digest: str, resources: Sequence[OmsResource], source: str
) -> None:
    # The subject binds the resources in the order they are listed (model-signing's verifier
    # hashes them in that order too); a mismatch means the signer was broken or malicious.
    actual = hashlib.sha256(b"".join(bytes.fromhex(r.digest) for r in resources)).hexdigest()
    if actual != subject_digest:
        raise VerificationFailure(
            "subject-mismatch",
            f"{source}: the signed subject digest does not match the signed resources",
            expected=f"sha256:{subject_digest}",
            actual=f"sha256:{actual}",
        )


def _field(obj: dict[str, object], key: str, where: str) -> object:
    if key not in obj:
        raise BundleError(f"{where}: {key} is missing")
    return obj[key]


def _shard_size(value: object, where: str) -> int:
    """protobuf's Struct stores numbers as doubles, so ``1000000000`` arrives as ``1e9``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BundleError(f"{where}: shard_size is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise BundleError(f"{where}: shard_size {value!r} is not a whole number of bytes")
        value = int(value)
    if value < 1:
        raise BundleError(f"{where}: shard_size {value} is not positive")
    return value


def _hex_digest(value: object, size: int, where: str) -> str:
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.issuperset(value):
        raise BundleError(f"{where}: digest is not {2 * size} hex characters")
    return value.lower()


def _resource(
    entry: object, index: int, method: Method, algorithm: str, size: int, source: str
) -> OmsResource:
    where = f"{source}: predicate.resources[{index}]"
    if not isinstance(entry, dict):
        raise BundleError(f"{where} is not an object")
    name = _field(entry, "name", where)
    if not isinstance(name, str) or not name:
        raise BundleError(f"{where}: name is not a non-empty string")
    where = f"{where} ({shown(name)})"
    if entry.get("algorithm") != algorithm:
        raise BundleError(
            f"{where}: algorithm {shown(entry.get('algorithm'))} disagrees with the "
            f"serialization ({algorithm})"
        )
    digest = _hex_digest(entry.get("digest"), size, where)
    if method == "files":
        return OmsResource(name, digest)
    # rsplit: a path may itself contain ':' (model-signing's own split would refuse it)
    parts = name.rsplit(":", 2)
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts[1:]):
        raise BundleError(f"{where}: a shard name must be path:start:end")
    path, start, end = parts[0], int(parts[1]), int(parts[2])
    if not path or end <= start:
        raise BundleError(f"{where}: empty path or empty shard")
    return OmsResource(path, digest, start, end)


def _check_shard_tiling(resources: Sequence[OmsResource], shard_size: int, source: str) -> None:
    """Every file's shards must be the consecutive ``shard_size`` slices model-signing makes."""
    by_path: dict[str, list[OmsResource]] = {}
    for r in resources:
        by_path.setdefault(r.path, []).append(r)
    for path, shards in by_path.items():
        shards.sort(key=lambda r: r.start or 0)
        position = 0
        for i, shard in enumerate(shards):
            assert shard.start is not None and shard.end is not None
            last = i == len(shards) - 1
            length = shard.end - shard.start
            if (
                shard.start != position
                or length > shard_size
                or (not last and length != shard_size)
            ):
                raise BundleError(
                    f"{source}: the shards of {shown(path)} do not tile the file in "
                    f"{shard_size}-byte pieces (at {shard.start}:{shard.end})"
                )
            position = shard.end


__all__ = [
    "OMS_PREDICATE_TYPE",
    "SINGLE_FILE_NAME",
    "Method",
    "OmsManifest",
    "OmsResource",
    "model_name",
    "read_manifest",
    "signed_ignore_paths",
]
