"""Signed SBOM bytes -> ExpectedState. Strict, fast, stdlib only.

This runs on every verify, so it parses JSON itself: no cyclonedx, no jsonschema (their imports
alone would dominate verifying a small model). It does not check the CycloneDX schema; it checks,
strictly, everything chainguard relies on, and raises a one-line SbomError for anything else
that is wrong. Fields chainguard does not use are ignored.

Decisions worth knowing:
- Duplicate JSON keys are rejected: parsers disagree on which one wins, so a signed document
  with duplicates may not mean what the signer saw.
- An unsafe file path (see paths.py) is not an error: it is collected in
  ``ExpectedComponent.unsafe_paths`` (compare reports ``sbom-path-unsafe``) and left out of
  ``files`` so nothing ever opens it. The recorded root digest is still checked against every
  listed file, unsafe ones included, because that is what the writer digested: the check is
  about the document being self-consistent, and it touches no filesystem.
- A string that is not valid Unicode (a lone surrogate escape) in any field
  chainguard uses is an error: it cannot be digested, printed or opened.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chainguard.errors import SbomError
from chainguard.models import (
    DEFAULT_SHARD_SIZE,
    ComponentKind,
    Dependency,
    DeploymentInfo,
    ExpectedComponent,
    ExpectedState,
    FileDigest,
    FileList,
    ParquetInfo,
    Property,
    SafetensorsInfo,
    lines_digest,
    tree_digest,
)
from chainguard.sbom import vocabulary as v
from chainguard.sbom.packed import PackedFiles, split_lines
from chainguard.sbom.paths import every_path_safe, unsafe_reason

SUPPORTED_SPEC_VERSIONS = ("1.5", "1.6")
_SAFETENSORS_PROPS = (v.ST_TENSOR_COUNT, v.ST_DTYPES, v.ST_PARAMETERS)


class _Malformed(Exception):
    """What is wrong; read_sbom prefixes the source."""


class _DuplicateKeyError(ValueError):
    pass


def read_sbom(data: bytes, source: str) -> ExpectedState:
    """Parse SBOM bytes (already verified as signed) into the expected state.

    ``source`` names the bytes in messages (a path, or "signed payload").
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SbomError(f"{source}: not UTF-8 (invalid byte at offset {e.start})") from e
    try:
        doc = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_no_constant)
    except _DuplicateKeyError as e:
        raise SbomError(f"{source}: {e}") from e
    except json.JSONDecodeError as e:
        raise SbomError(f"{source}: not JSON: {e.msg} (line {e.lineno} column {e.colno})") from e
    except (ValueError, RecursionError) as e:  # NaN/Infinity, 5000-digit integers, deep nesting
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise SbomError(f"{source}: not JSON: {reason}") from e
    return read_sbom_document(doc, hashlib.sha256(data).hexdigest(), source)


def read_sbom_document(doc: object, sbom_sha256: str, source: str) -> ExpectedState:
    """The expected state from an SBOM already parsed by a strict parser (duplicate keys and
    NaN rejected, as trust/_json.loads_strict does for the signed statement): the verify path
    then parses the signed payload once instead of re-serialising and re-parsing its predicate,
    which took seconds for 100,000 files."""
    try:
        return _parse(doc, sbom_sha256)
    except _Malformed as e:
        raise SbomError(f"{source}: {e}") from None


def read_sbom_file(path: Path) -> tuple[bytes, ExpectedState]:
    """Read an SBOM file; return its exact bytes (to compare with what was signed) and contents."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SbomError(f"{path}: cannot read SBOM: {e.strerror or e}") from e
    return data, read_sbom(data, str(path))


# --- JSON ---------------------------------------------------------------------------------------


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(f"duplicate JSON key {key[:100]!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _object(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _Malformed(f"{where} must be an object")
    return value


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise _Malformed(f"{where} must be a list")
    return value


def _text(value: object, where: str, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _Malformed(f"{where} must be a string")
    if non_empty and not value:
        raise _Malformed(f"{where} must not be empty")
    if not v.is_text(value):
        raise _Malformed(f"{where} is not valid Unicode (lone surrogate)")
    return value


def _optional_text(node: dict[str, object], key: str, where: str) -> str | None:
    value = node.get(key)
    return None if value is None else _text(value, f"{where}: {key}")


def _quote(value: str) -> str:
    """repr() for messages: escapes control characters (one line), shortens long names."""
    return repr(value) if len(value) <= 100 else repr(value[:100]) + "..."


def _decimal(value: str, where: str, name: str) -> int:
    n = v.parse_decimal(value)
    if n is None:
        raise _Malformed(
            f"{where}: {name} must be a non-negative integer up to {v.MAX_DECIMAL} (2**63-1), "
            f"got {_quote(value)}"
        )
    return n


def _digest(value: str, where: str, what: str, length: int = 64) -> str:
    if not v.is_hex(value, length):
        raise _Malformed(f"{where}: {what} must be {length} lowercase hex digits")
    return value


def _properties(node: dict[str, object], where: str) -> tuple[dict[str, str], tuple[Property, ...]]:
    """chainguard: properties by name (each at most once), and all properties in order."""
    ours: dict[str, str] = {}
    everything: list[Property] = []
    for i, item in enumerate(_list(node.get("properties", []), f"{where}: properties")):
        prop = _object(item, f"{where}: properties[{i}]")
        name = _text(prop.get("name"), f"{where}: properties[{i}].name")
        value = _text(prop.get("value", ""), f"{where}: property {name!r} value")
        if name.startswith(v.PREFIX):
            if name in ours:
                raise _Malformed(f"{where}: property {name!r} appears twice")
            ours[name] = value
        everything.append(Property(name, value))
    return ours, tuple(everything)


def _hashes(node: dict[str, object], where: str) -> list[tuple[str, str]]:
    result = []
    for i, item in enumerate(_list(node.get("hashes", []), f"{where}: hashes")):
        entry = _object(item, f"{where}: hashes[{i}]")
        alg = _text(entry.get("alg"), f"{where}: hashes[{i}].alg")
        result.append((alg, _text(entry.get("content"), f"{where}: hashes[{i}].content")))
    return result


def _single_hash(hashes: list[tuple[str, str]], alg: str, where: str) -> str | None:
    found = [content for a, content in hashes if a == alg]
    if len(found) > 1:
        raise _Malformed(f"{where}: more than one {alg} hash")
    return found[0] if found else None


# --- document -----------------------------------------------------------------------------------


def _parse(doc: object, sbom_sha256: str) -> ExpectedState:
    root = _object(doc, "document")
    if root.get("bomFormat") != "CycloneDX":
        raise _Malformed("bomFormat must be 'CycloneDX'")
    spec = root.get("specVersion")
    if spec not in SUPPORTED_SPEC_VERSIONS:
        raise _Malformed(
            f"unsupported specVersion {spec!r} (supported: {', '.join(SUPPORTED_SPEC_VERSIONS)})"
        )
    deployment = _deployment(root)
    components: list[ExpectedComponent] = []
    dependencies: list[Dependency] = []
    seen: set[tuple[ComponentKind, str]] = set()
    for i, item in enumerate(_list(root.get("components", []), "components")):
        where = f"components[{i}]"
        node = _object(item, where)
        ctype = _text(node.get("type"), f"{where}: type")
        if ctype in v.TYPE_TO_KIND:
            component = _tree_component(node, v.TYPE_TO_KIND[ctype], where)
            if (component.kind, component.name) in seen:
                raise _Malformed(f"{component.kind} {_quote(component.name)} appears twice")
            seen.add((component.kind, component.name))
            components.append(component)
        elif ctype == "library":
            dependencies.append(_dependency(node, where))
        # Other component types carry nothing chainguard verifies.
    return ExpectedState(
        deployment=deployment,
        components=tuple(components),
        dependencies=tuple(dependencies),
        sbom_sha256=sbom_sha256,
    )


def _deployment(root: dict[str, object]) -> DeploymentInfo:
    where = "metadata.component"
    metadata = _object(root.get("metadata"), "metadata")
    node = _object(metadata.get("component"), where)
    name = _text(node.get("name"), f"{where}: name", non_empty=True)
    version = _text(node.get("version"), f"{where}: version", non_empty=True)
    props, _ = _properties(node, where)
    if v.SERIAL not in props:
        raise _Malformed(f"{where}: {v.SERIAL} property missing")
    serial = _decimal(props[v.SERIAL], where, v.SERIAL)
    expires = props.get(v.EXPIRES)
    if expires is not None and v.parse_rfc3339(expires) is None:
        raise _Malformed(f"{where}: {v.EXPIRES} is not an RFC 3339 date-time: {_quote(expires)}")
    return DeploymentInfo(
        name=name,
        version=version,
        serial=serial,
        expires=expires,
        bom_serial_number=_optional_text(root, "serialNumber", "document"),
    )


def _tree_component(node: dict[str, object], kind: ComponentKind, where: str) -> ExpectedComponent:
    name = _text(node.get("name"), f"{where}: name", non_empty=True)
    where = f"{kind} {_quote(name)}"
    bom_ref = f"{kind}:{name}"
    if node.get("bom-ref") != bom_ref:
        raise _Malformed(f"{where}: bom-ref must be {_quote(bom_ref)}")
    root_digest = _single_hash(_hashes(node, where), "SHA-256", where)
    if root_digest is None:
        raise _Malformed(f"{where}: SHA-256 root digest missing")
    _digest(root_digest, where, "SHA-256 root digest")
    props, all_props = _properties(node, where)
    scheme = props.get(v.ROOT_DIGEST)
    if scheme is None:
        raise _Malformed(f"{where}: {v.ROOT_DIGEST} property missing")
    if scheme != v.ROOT_DIGEST_SCHEME:
        raise _Malformed(f"{where}: unknown root digest scheme {_quote(scheme)}")

    listed = node.get("components", [])
    if isinstance(listed, PackedFiles):
        files, unsafe, count, total, digest = _packed_files(listed, where)
    else:
        files, unsafe, count, total, digest = _files(_list(listed, f"{where}: components"), where)
    if v.FILE_COUNT in props and _decimal(props[v.FILE_COUNT], where, v.FILE_COUNT) != count:
        raise _Malformed(f"{where}: {v.FILE_COUNT} does not match the {count} listed files")
    if v.TOTAL_SIZE in props and _decimal(props[v.TOTAL_SIZE], where, v.TOTAL_SIZE) != total:
        raise _Malformed(f"{where}: {v.TOTAL_SIZE} does not match the listed file sizes")
    # Every listed file, unsafe ones included: that is what the writer digested.
    if digest != root_digest:
        raise _Malformed(f"{where}: root digest does not match the listed files")
    return ExpectedComponent(
        kind=kind,
        name=name,
        bom_ref=bom_ref,
        root_digest=root_digest,
        files=files,
        version=_optional_text(node, "version", where),
        properties=all_props,
        unsafe_paths=tuple(sorted(unsafe)),
    )


# (safe files, unsafe paths, how many files, their total size, tree_digest of all of them)
_FileListing = tuple[Sequence[FileDigest], list[str], int, int, str]


def _files(items: list[object], where: str) -> _FileListing:
    files: list[FileDigest] = []
    paths: set[str] = set()
    for i, item in enumerate(items):
        f = _file(_object(item, f"{where}: components[{i}]"), where, i)
        if f.path in paths:
            raise _Malformed(f"{where}: file {_quote(f.path)} listed twice")
        paths.add(f.path)
        files.append(f)
    safe: list[FileDigest] = []
    unsafe: list[str] = []
    for f in files:
        if unsafe_reason(f.path) is None:
            safe.append(f)
        else:
            unsafe.append(f.path)
    ordered = tuple(sorted(safe, key=lambda f: f.path.encode()))
    return ordered, unsafe, len(files), sum(f.size for f in files), tree_digest(files)


def _packed_files(packed: PackedFiles, where: str) -> _FileListing:
    """The same checks and results as _files, in bulk: plain elements (sbom/packed.py) are
    exactly those _plain_file accepts, so only the other elements go through _file."""
    others = [
        _file(_object(item, f"{where}: components[{i}]"), where, i)
        for i, item in zip(packed.other_index, packed.other, strict=True)
    ]
    count = packed.plain_count + len(others)
    total = packed.total_size + sum(f.size for f in others)
    # As `sbom build` writes them (strictly in path order, only plain files), the lines are
    # unique and sorted as they stand: each piece is, and each ends before the next begins.
    # A run's paths passed the walk's checks (models.RenderedFiles), the others are checked.
    if (
        not others
        and all(map(str.__lt__, packed.lasts, packed.firsts[1:]))
        and every_path_safe(packed.names)
    ):
        files = FileList(
            packed.pieces,
            plain_size=total,
            plain_count=packed.plain_count,
            plain_digest=packed.digest,  # over these very pieces, if the packer could
        )
        return files, [], count, total, files.tree_digest()
    lines = split_lines("".join(packed.pieces))
    names = [line[: line.index("\0")] for line in lines]
    paths = set(names)
    paths.update(f.path for f in others)
    if len(paths) != count:
        _raise_listed_twice([*names, *(f.path for f in others)], where)
    del paths
    lines.sort()  # lines sort as their paths (no NUL in them)
    text = "".join(lines)
    if any("\0" in f.path for f in others):  # would not sort as its line: the slow, exact way
        digest = tree_digest([*others, *_plain_digests(lines)])
    elif others:
        extra = (f"{f.path}\0{f.size}\0{f.sha256}\n" for f in others)
        digest = lines_digest("".join(sorted([*lines, *extra])))
    else:
        digest = lines_digest(text)
    unsafe: list[str] = []
    if not every_path_safe(names):
        unsafe = [n for n in names if unsafe_reason(n) is not None]
        if unsafe:
            bad = set(unsafe)
            text = "".join(line for line in lines if line[: line.index("\0")] not in bad)
    safe_others = []
    for f in others:
        if unsafe_reason(f.path) is None:
            safe_others.append(f)
        else:
            unsafe.append(f.path)
    return FileList(text, safe_others), unsafe, count, total, digest


def _plain_digests(lines: list[str]) -> list[FileDigest]:
    return [
        FileDigest(path, int(size), sha256)
        for path, size, sha256 in (line[:-1].split("\0") for line in lines)
    ]


def _raise_listed_twice(paths: list[str], where: str) -> None:
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            raise _Malformed(f"{where}: file {_quote(path)} listed twice")
        seen.add(path)


def _plain_file(node: dict[str, object]) -> FileDigest | None:
    """The common case, checked in a few lines: one SHA-256 hash, one size property.

    Accepts exactly what _file would accept for that shape (and builds the same FileDigest);
    anything else returns None and goes through _file. Datasets list 100,000s of such files,
    and the general path costs ~40 us each.
    """
    hashes = node.get("hashes")
    props = node.get("properties")
    if not (
        node.get("type") == "file"
        and type(hashes) is list
        and len(hashes) == 1
        and type(props) is list
        and len(props) == 1
    ):
        return None
    h, p = hashes[0], props[0]
    if type(h) is not dict or type(p) is not dict or len(h) != 2 or len(p) != 2:
        return None
    name, sha256, size = node.get("name"), h.get("content"), p.get("value")
    if (
        h.get("alg") != "SHA-256"
        or p.get("name") != v.SIZE
        or type(name) is not str
        or type(sha256) is not str
        or type(size) is not str
        or not v.is_hex(sha256)
        or not v.is_text(name)
    ):
        return None
    n = v.parse_decimal(size)
    return None if n is None else FileDigest(name, n, sha256)


def _file(node: dict[str, object], parent: str, index: int) -> FileDigest:
    plain = _plain_file(node)
    return plain if plain is not None else _any_file(node, parent, index)


def _any_file(node: dict[str, object], parent: str, index: int) -> FileDigest:
    if node.get("type") != "file":
        raise _Malformed(f"{parent}: components[{index}]: nested components must be files")
    path = _text(node.get("name"), f"{parent}: components[{index}].name")
    where = f"{parent}: file {_quote(path)}"
    hashes = _hashes(node, where)
    sha256 = _single_hash(hashes, "SHA-256", where)
    if sha256 is None:
        raise _Malformed(f"{where}: SHA-256 hash missing")
    _digest(sha256, where, "SHA-256")
    blake3 = _single_hash(hashes, "BLAKE3", where)
    if blake3 is not None:
        _digest(blake3, where, "BLAKE3")

    props, _ = _properties(node, where)
    if v.SIZE not in props:
        raise _Malformed(f"{where}: {v.SIZE} property missing")
    size = _decimal(props[v.SIZE], where, v.SIZE)
    shard_size, shards = _shards(props, size, where)
    return FileDigest(
        path=path,
        size=size,
        sha256=sha256,
        blake3=blake3,
        shard_size=shard_size,
        shards=shards,
        safetensors=_safetensors(props, where),
        parquet=_parquet(props, where),
    )


def _shards(props: dict[str, str], size: int, where: str) -> tuple[int, tuple[str, ...]]:
    if v.SHARD_SIZE not in props and v.SHARDS not in props:
        return DEFAULT_SHARD_SIZE, ()
    if v.SHARD_SIZE not in props or v.SHARDS not in props:
        raise _Malformed(f"{where}: {v.SHARD_SIZE} and {v.SHARDS} must appear together")
    shard_size = _decimal(props[v.SHARD_SIZE], where, v.SHARD_SIZE)
    if shard_size == 0:
        raise _Malformed(f"{where}: {v.SHARD_SIZE} must be positive")
    if size <= shard_size:
        raise _Malformed(f"{where}: shards recorded for a file no larger than one shard")
    shards = tuple(props[v.SHARDS].split(","))
    expected = -(-size // shard_size)
    if len(shards) != expected:
        raise _Malformed(
            f"{where}: {len(shards)} shard digests, but {size} bytes make {expected} shards"
        )
    for s in shards:
        _digest(s, where, "each shard digest")
    return shard_size, shards


def _safetensors(props: dict[str, str], where: str) -> SafetensorsInfo | None:
    metadata = tuple(
        sorted(
            (name.removeprefix(v.ST_METADATA_PREFIX), value)
            for name, value in props.items()
            if name.startswith(v.ST_METADATA_PREFIX)
        )
    )
    present = [p for p in _SAFETENSORS_PROPS if p in props]
    if not present and not metadata:
        return None
    if len(present) != len(_SAFETENSORS_PROPS):
        missing = ", ".join(p for p in _SAFETENSORS_PROPS if p not in props)
        raise _Malformed(f"{where}: incomplete safetensors properties (missing {missing})")
    dtypes = tuple(props[v.ST_DTYPES].split(",")) if props[v.ST_DTYPES] else ()
    if not all(dtypes):
        raise _Malformed(f"{where}: {v.ST_DTYPES} has an empty entry")
    return SafetensorsInfo(
        tensor_count=_decimal(props[v.ST_TENSOR_COUNT], where, v.ST_TENSOR_COUNT),
        dtypes=dtypes,
        parameters=_decimal(props[v.ST_PARAMETERS], where, v.ST_PARAMETERS),
        metadata=metadata,
    )


def _parquet(props: dict[str, str], where: str) -> ParquetInfo | None:
    if v.PQ_ROWS not in props and v.PQ_COLUMNS not in props:
        return None
    if v.PQ_ROWS not in props or v.PQ_COLUMNS not in props:
        raise _Malformed(f"{where}: {v.PQ_ROWS} and {v.PQ_COLUMNS} must appear together")
    columns = v.parse_parquet_columns(props[v.PQ_COLUMNS])
    if columns is None:
        raise _Malformed(f"{where}: {v.PQ_COLUMNS} is not a list of name:TYPE")
    return ParquetInfo(rows=_decimal(props[v.PQ_ROWS], where, v.PQ_ROWS), columns=columns)


def _dependency(node: dict[str, object], where: str) -> Dependency:
    # Only when an SBOM lists libraries: packaging costs tens of milliseconds to import.
    from packaging.utils import canonicalize_name

    name = _text(node.get("name"), f"{where}: name", non_empty=True)
    where = f"library {_quote(name)}"
    hashes = []
    for alg, content in _hashes(node, where):
        known = v.CDX_TO_HASHLIB.get(alg)
        if known is None:
            continue  # an algorithm no lockfile records cannot be compared anyway
        hashlib_name, length = known
        hashes.append(f"{hashlib_name}:{_digest(content, where, alg, length)}")
    props, all_props = _properties(node, where)
    record = props.get(v.RECORD_SHA256)
    if record is not None:
        _digest(record, where, v.RECORD_SHA256)
    manifest = props.get(v.MANIFEST, "")
    if v.MANIFEST in props and not v.is_manifest_ref(manifest):
        raise _Malformed(f"{where}: {v.MANIFEST} must be '<kind>:<name>', got {_quote(manifest)}")
    consumed = (v.RECORD_SHA256, v.SOURCE, v.MANIFEST)
    return Dependency(
        name=str(canonicalize_name(name)),
        version=_optional_text(node, "version", where),
        hashes=tuple(sorted(set(hashes))),
        record_sha256=record,
        source=props.get(v.SOURCE, ""),
        purl=_optional_text(node, "purl", where) or "",
        extras=tuple(p for p in all_props if p.name not in consumed),
        manifest=manifest,
    )
