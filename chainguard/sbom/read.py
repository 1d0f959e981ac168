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

from chainguard._strictjson import DuplicateKeyError, reject_duplicates
from chainguard.errors import SbomError, refuse_oversized
from chainguard.models import (
    ComponentKind,
    DeclaredPatch,
    Dependency,
    DeploymentInfo,
    ExpectedComponent,
    ExpectedState,
    FileDigest,
    FileList,
    Property,
    lines_digest,
    tree_digest,
)
from chainguard.paths import every_path_safe, unsafe_reason
from chainguard.sbom import fileshape
from chainguard.sbom import vocabulary as v
from chainguard.sbom.packed import PackedFiles, split_lines

SUPPORTED_SPEC_VERSIONS = ("1.5", "1.6")

# What is wrong; read_sbom prefixes the source.
_Malformed = v.Malformed


def read_sbom(data: bytes, source: str) -> ExpectedState:
    """Parse SBOM bytes (already verified as signed) into the expected state.

    ``source`` names the bytes in messages (a path, or "signed payload").
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SbomError(f"{source}: not UTF-8 (invalid byte at offset {e.start})") from e
    try:
        doc = json.loads(text, object_pairs_hook=reject_duplicates, parse_constant=_no_constant)
    except DuplicateKeyError as e:
        raise SbomError(f"{source}: duplicate JSON key {e.key[:100]!r}") from e
    except json.JSONDecodeError as e:
        raise SbomError(f"{source}: not JSON: {e.msg} (line {e.lineno} column {e.colno})") from e
    except (ValueError, RecursionError) as e:  # NaN/Infinity, 5000-digit integers, deep nesting
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise SbomError(f"{source}: not JSON: {reason}") from e
    return read_sbom_document(doc, hashlib.sha256(data).hexdigest(), source)


def read_sbom_document(doc: object, sbom_sha256: str, source: str) -> ExpectedState:
    """The expected state from an SBOM already parsed by a strict parser (duplicate keys and
    NaN rejected, as _strictjson.loads_strict does for the signed statement): the verify path
    then parses the signed payload once instead of re-serialising and re-parsing its predicate,
    which took seconds for 100,000 files."""
    try:
        return _parse(doc, sbom_sha256)
    except _Malformed as e:
        raise SbomError(f"{source}: {e}") from None


def read_sbom_file(path: Path) -> tuple[bytes, ExpectedState]:
    """Read an SBOM file; return its exact bytes (to compare with what was signed) and contents."""
    refuse_oversized(path, "SBOM", SbomError)
    try:  # any failure, a missing file included, is "cannot read SBOM" (a stable message)
        data = path.read_bytes()
    except OSError as e:
        raise SbomError(f"{path}: cannot read SBOM: {e.strerror or e}") from e
    return data, read_sbom(data, str(path))


# --- JSON ---------------------------------------------------------------------------------------


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


_quote = v.quote
_decimal = v.checked_decimal
_digest = v.checked_digest


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
    libraries: dict[str, str] = {}  # bom-ref → name, for what a declared patch affects
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
            ref = node.get("bom-ref")
            if isinstance(ref, str):
                libraries[ref] = dependencies[-1].name
        # Other component types carry nothing chainguard verifies.
    trees = {c.bom_ref for c in components}
    return ExpectedState(
        deployment=deployment,
        components=tuple(components),
        dependencies=tuple(dependencies),
        sbom_sha256=sbom_sha256,
        patches=_patches(root, trees, libraries),
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
    if "modelCard" in node:
        _model_card(node["modelCard"], kind, where)

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


# What a modelCard may hold (CycloneDX 1.6), and the modelParameters sbom build writes.
_MODEL_CARD_KEYS = {
    "bom-ref",
    "modelParameters",
    "quantitativeAnalysis",
    "considerations",
    "properties",
}
_MODEL_PARAMETER_TEXTS = ("architectureFamily", "modelArchitecture", "task")


def _model_card(value: object, kind: ComponentKind, where: str) -> None:
    """A modelCard is informative (never compared) but signed: its shape is checked, its
    content is not kept."""
    where = f"{where}: modelCard"
    if kind != "model":
        raise _Malformed(f"{where}: only a model may have one")
    card = _object(value, where)
    unknown = sorted(set(card) - _MODEL_CARD_KEYS)
    if unknown:
        raise _Malformed(f"{where}: unknown key {_quote(unknown[0])}")
    for key in ("quantitativeAnalysis", "considerations"):
        if key in card:
            _object(card[key], f"{where}.{key}")
    if "bom-ref" in card:
        _text(card["bom-ref"], f"{where}.bom-ref", non_empty=True)
    if "modelParameters" in card:
        parameters = _object(card["modelParameters"], f"{where}.modelParameters")
        for key in _MODEL_PARAMETER_TEXTS:
            if key in parameters:
                _text(parameters[key], f"{where}.modelParameters.{key}", non_empty=True)
    _properties(card, where)


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
            format_pieces=packed.formats,
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
    files = FileList(text, safe_others, format_pieces=packed.formats)
    return files, unsafe, count, total, digest


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


# The common case, checked in a few lines (one SHA-256 hash, one size property): exactly what
# _any_file accepts for that shape, as the same FileDigest; anything else gives None.
_plain_file = fileshape.plain_file_parser()


def _file(node: dict[str, object], parent: str, index: int) -> FileDigest:
    plain = _plain_file(node)
    return plain if plain is not None else _any_file(node, parent, index)


def _any_file(node: dict[str, object], parent: str, index: int) -> FileDigest:
    if node.get(fileshape.TYPE) != fileshape.FILE:
        raise _Malformed(f"{parent}: components[{index}]: nested components must be files")
    path = _text(node.get(fileshape.NAME), f"{parent}: components[{index}].name")
    where = f"{parent}: file {_quote(path)}"
    hashes = _hashes(node, where)
    sha256 = _single_hash(hashes, fileshape.SHA256, where)
    if sha256 is None:
        raise _Malformed(f"{where}: {fileshape.SHA256} hash missing")
    _digest(sha256, where, fileshape.SHA256)
    blake3 = _single_hash(hashes, fileshape.BLAKE3, where)
    if blake3 is not None:
        _digest(blake3, where, fileshape.BLAKE3)

    props, _ = _properties(node, where)
    return FileDigest(path=path, sha256=sha256, blake3=blake3, **fileshape.read_facts(props, where))


def _patches(
    root: dict[str, object], trees: set[str], libraries: dict[str, str]
) -> tuple[DeclaredPatch, ...]:
    """The patches the SBOM declares: each ``vulnerabilities[]`` entry carrying a
    chainguard:patch:requirement property (others are not chainguard's and are ignored).

    Strict, as chainguard writes them: a valid id, once; a valid requirement; resolved; and
    affecting exactly what the requirement names (the component, or the library components of
    that package), so a declaration cannot say one thing to chainguard and another to a
    reader of the CycloneDX fields."""
    if "vulnerabilities" not in root:
        return ()
    patches: list[DeclaredPatch] = []
    for i, item in enumerate(_list(root["vulnerabilities"], "vulnerabilities")):
        where = f"vulnerabilities[{i}]"
        node = _object(item, where)
        props, _ = _properties(node, where)
        if v.PATCH_REQUIREMENT not in props:
            continue
        pid = _text(node.get("id"), f"{where}: id", non_empty=True)
        where = f"patch {_quote(pid)}"
        requirement = props[v.PATCH_REQUIREMENT]
        expected = _patch_subjects(pid, requirement, trees, libraries, where)
        if any(p.id == pid for p in patches):
            raise _Malformed(f"{where} is declared twice")
        analysis = _object(node.get("analysis"), f"{where}: analysis")
        if analysis.get("state") != "resolved":
            raise _Malformed(f"{where}: analysis.state must be 'resolved'")
        affects = [
            _text(_object(a, f"{where}: affects[{j}]").get("ref"), f"{where}: affects[{j}].ref")
            for j, a in enumerate(_list(node.get("affects"), f"{where}: affects"))
        ]
        if sorted(affects) != expected:
            raise _Malformed(
                f"{where}: affects must be the components its requirement names "
                f"({', '.join(expected)})"
            )
        patches.append(DeclaredPatch(pid, requirement))
    return tuple(patches)


def _patch_subjects(
    pid: str, requirement: str, trees: set[str], libraries: dict[str, str], where: str
) -> list[str]:
    """The sorted bom-refs a declared patch must affect; Malformed for a bad id or
    requirement, or one naming nothing the SBOM lists."""
    # Only for an SBOM that declares patches: packaging is imported for a dependency one.
    from chainguard.errors import UsageError
    from chainguard.patches import DependencyRequirement, parse_patch_id, parse_requirement

    try:
        parse_patch_id(pid)
        parsed = parse_requirement(requirement)
    except UsageError as e:
        raise _Malformed(str(e)) from None
    if isinstance(parsed, DependencyRequirement):
        refs = sorted(ref for ref, name in libraries.items() if name == parsed.name)
        if not refs:
            raise _Malformed(f"{where}: the SBOM lists no library {_quote(parsed.name)}")
        return refs
    if parsed.bom_ref not in trees:
        raise _Malformed(f"{where}: the SBOM lists no component {_quote(parsed.bom_ref)}")
    return [parsed.bom_ref]


def _distribution_hashes(node: dict[str, object], where: str) -> list[tuple[str, str]]:
    """A library's distribution hashes: in its ``externalReferences`` of type distribution, as
    cyclonedx-py writes them, or (SBOMs written before) its own ``hashes``. Both at once is
    refused: a reader of either place alone would see another set."""
    found: list[tuple[str, str]] = []
    references = _list(node.get("externalReferences", []), f"{where}: externalReferences")
    for i, item in enumerate(references):
        reference = _object(item, f"{where}: externalReferences[{i}]")
        if reference.get("type") == v.DISTRIBUTION:
            found += _hashes(reference, f"{where}: externalReferences[{i}]")
    if found and "hashes" in node:
        raise _Malformed(f"{where}: hashes both on the library and on its distribution reference")
    return found or _hashes(node, where)


def _dependency(node: dict[str, object], where: str) -> Dependency:
    # Only when an SBOM lists libraries: packaging costs tens of milliseconds to import.
    from packaging.utils import canonicalize_name

    name = _text(node.get("name"), f"{where}: name", non_empty=True)
    where = f"library {_quote(name)}"
    hashes = []
    for alg, content in _distribution_hashes(node, where):
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
