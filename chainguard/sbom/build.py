"""Inventory -> CycloneDX 1.6 JSON bytes, validated against the official (strict) schema.

The document shape is specified in docs/formats.md. Every input is checked before cyclonedx is
imported, so that the builder can never write an SBOM that read.py would reject; the schema
validation at the end proves conformance and should never fail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from json.encoder import encode_basestring  # what json.dumps uses with ensure_ascii=False
from typing import TYPE_CHECKING, Any

import chainguard
from chainguard._extras import require_extra
from chainguard.collectors.modelconfig import ModelConfig
from chainguard.errors import SbomError
from chainguard.models import (
    ComponentKind,
    DeclaredPatch,
    Dependency,
    DeploymentInfo,
    FileDigest,
    tree_digest,
)
from chainguard.paths import unsafe_reason
from chainguard.sbom import fileshape
from chainguard.sbom import vocabulary as v

if TYPE_CHECKING:
    from cyclonedx.model import Property
    from cyclonedx.model.component import Component, Pedigree
    from cyclonedx.model.vulnerability import Vulnerability
    from cyclonedx.validation.json import JsonStrictValidator
    from packageurl import PackageURL

# Arrays are schema-validated in pieces of this many items; see _schema_parts.
_SCHEMA_CHUNK = 50
# Top-level keys first in this order (the rest follow as cyclonedx sorts them), so a human
# opening the file sees what it is before the thousands of file entries.
_TOP_LEVEL_ORDER = (
    "$schema",
    "bomFormat",
    "specVersion",
    "serialNumber",
    "version",
    "metadata",
    "components",
    "dependencies",
)


@dataclass(frozen=True, slots=True)
class ComponentInput:
    """A model or dataset to record: its name and every file of its tree."""

    kind: ComponentKind
    name: str
    files: tuple[FileDigest, ...]
    purl: str | None = None  # pkg:huggingface/ORG/NAME@COMMIT for a Hub repository
    # a model's config.json facts, recorded as its modelCard (informative: verify ignores it)
    model_config: ModelConfig | None = None


def build_sbom(
    deployment: DeploymentInfo,
    components: Sequence[ComponentInput],
    dependencies: Sequence[Dependency] = (),
    *,
    timestamp: datetime | None = None,
    serial_number: uuid.UUID | None = None,
    files_via_cyclonedx: bool = False,
    patches: Sequence[DeclaredPatch] = (),
) -> bytes:
    """Build the SBOM for a deployment. Returns pretty-printed UTF-8 JSON ending in a newline.

    build_sbom_chunks gives the same bytes in pieces (for writing a large SBOM out without
    ever holding it whole).
    """
    return b"".join(
        build_sbom_chunks(
            deployment,
            components,
            dependencies,
            timestamp=timestamp,
            serial_number=serial_number,
            files_via_cyclonedx=files_via_cyclonedx,
            patches=patches,
        )
    )


def build_sbom_chunks(
    deployment: DeploymentInfo,
    components: Sequence[ComponentInput],
    dependencies: Sequence[Dependency] = (),
    *,
    timestamp: datetime | None = None,
    serial_number: uuid.UUID | None = None,
    files_via_cyclonedx: bool = False,
    patches: Sequence[DeclaredPatch] = (),
) -> Iterator[bytes]:
    """build_sbom's bytes, in pieces whose concatenation they are, made as they are taken.

    Raises ValueError for inputs that cannot be recorded faithfully (unsafe or duplicate paths,
    a missing whole-file digest, a shard list that does not fit the size, ...): those are bugs
    in the caller, not bad user input. Raises SbomError if the result fails schema validation.
    ``timestamp`` (aware; default now) and ``serial_number`` (default: the deployment's
    ``bom_serial_number``, else random) make the output reproducible.

    File components (the bulk: one per file of every model and dataset) are written directly,
    not through cyclonedx's model, which costs about a millisecond per file (100,000 files took
    two minutes); see _direct_files. ``files_via_cyclonedx`` builds them with cyclonedx as well:
    the tests check both give byte-identical output.

    ``patches``: declared patches, each recorded as a ``vulnerabilities[]`` entry (resolved,
    affecting the components its requirement names) and, on a model or dataset it names, a
    ``pedigree.patches[]`` entry; docs/formats.md has the shape. Whether the inventory
    satisfies them is the caller's check (api/build.py refuses to write one that does not).
    """
    _check_deployment(deployment)
    _check_components(components)
    dep_refs = _check_dependencies(dependencies)
    declared = _check_patches(patches, components, dependencies, dep_refs)
    when = _utc_seconds(timestamp)
    serial = serial_number or _parse_serial_number(deployment.bom_serial_number) or uuid.uuid4()

    require_extra("build")
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6

    root = Component(
        type=ComponentType.APPLICATION,
        bom_ref=f"{v.DEPLOYMENT_REF_PREFIX}{deployment.name}",
        name=deployment.name,
        version=deployment.version,
        properties=_deployment_properties(deployment),
    )
    tool = Component(
        type=ComponentType.APPLICATION, name="chainguard", version=chainguard.__version__
    )
    direct = not files_via_cyclonedx
    top_level = [_tree_component(c, with_files=not direct, patches=declared) for c in components]
    top_level += [_library_component(d, ref) for d, ref in zip(dependencies, dep_refs, strict=True)]
    bom = Bom(
        serial_number=serial,
        metadata=BomMetaData(
            component=root, tools=ToolRepository(components=[tool]), timestamp=when
        ),
        components=top_level,
        vulnerabilities=[_vulnerability(p, refs) for p, refs in declared],
    )
    if top_level:
        # cyclonedx warns about an incomplete dependency graph unless the described component
        # depends on something; the deployment does consist of these components.
        bom.register_dependency(root, top_level)

    document: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    ordered = {k: document[k] for k in _TOP_LEVEL_ORDER if k in document}
    ordered.update(document)
    # cyclonedx writes "+00:00"; the "Z" form is what docs/formats.md shows and people expect.
    ordered["metadata"]["timestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    _add_model_cards(ordered, components)
    if not direct:
        _validate(ordered)
        return iter([_encode(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n")])
    splices = _direct_files(ordered, components)
    _validate(ordered)  # the skeleton, with one file entry of each distinct shape
    for node, token, _ in splices:
        node["components"] = token  # same key, same place: only the value is swapped
    text = json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"
    at = []
    for _, token, rendered in splices:
        quoted = f'"{token}"'
        assert text.count(quoted) == 1
        at.append((text.index(quoted), len(quoted), rendered))
    at.sort(key=lambda a: a[0])  # in document order
    return _spliced(text, at)


def _spliced(text: str, at: list[tuple[int, int, Iterator[bytes]]]) -> Iterator[bytes]:
    done = 0
    for start, length, rendered in at:
        yield _encode(text[done:start])
        yield from rendered
        done = start + length
    yield _encode(text[done:])


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError("SBOM text contains a lone surrogate (not valid Unicode)") from e


# --- file components, written directly ----------------------------------------------------------
#
# Each file component is a small dict (fileshape.file_dict) rendered exactly as json.dumps(indent=2,
# ensure_ascii=False) would at that depth (fileshape.render_indented; tests compare with the
# cyclonedx path, fileshape.file_component, byte for byte).
# Schema validation: every file entry has one of a few shapes (which hashes, which properties);
# all their values are strings whose only schema constraint (hash content: hex) _check_file
# enforces. So one entry of each distinct shape is validated with the skeleton, which proves the
# rest valid without 20 s of jsonschema per 100,000 files.

# Files rendered, joined and encoded at a time: the rendered list of 1,000,000 files is ~470 MB
# of text, which is never held as one string nor alongside a copy of itself.
_RENDER_BATCH = 8192


def _direct_files(
    document: dict[str, Any], components: Sequence[ComponentInput]
) -> list[tuple[dict[str, Any], str, Iterator[bytes]]]:
    """Put every tree component's file shape representatives into ``document``.

    Returns (component node, placeholder token, its JSON array rendered in UTF-8 pieces, as
    they are asked for) per non-empty component.
    """
    splices: list[tuple[dict[str, Any], str, Iterator[bytes]]] = []
    nodes = {node.get("bom-ref"): node for node in document.get("components", [])}
    for c in components:
        ref = f"{c.kind}:{c.name}"
        node = nodes[ref]
        files = sorted(c.files, key=lambda f: f.path.encode())
        if not files:
            continue
        shapes: dict[tuple[bool, tuple[str, ...]], dict[str, Any]] = {}
        for f in files:
            shape = (f.blake3 is not None, tuple(sorted(n for n, _ in fileshape.file_pairs(f))))
            if shape not in shapes:
                shapes[shape] = fileshape.file_dict(ref, f)
        # A random token cannot occur in the document: file names are in the rendered text.
        token = f"@@chainguard-files-{uuid.uuid4()}@@"
        node["components"] = list(shapes.values())
        # keys in the order cyclonedx writes them (sorted), "components" among them
        ordered = dict(sorted(node.items()))
        node.clear()
        node.update(ordered)
        splices.append((node, token, _rendered(ref, files)))
    return splices


def _add_model_cards(document: dict[str, Any], components: Sequence[ComponentInput]) -> None:
    """Each model's modelCard (cyclonedx-python-lib has no model card type: it is added to the
    JSON it wrote, keys in the order it writes them, sorted), before the two paths part."""
    nodes = {node.get("bom-ref"): node for node in document.get("components", [])}
    for c in components:
        if c.model_config:
            node = nodes[f"{c.kind}:{c.name}"]
            node["modelCard"] = model_card(c.model_config)
            ordered = dict(sorted(node.items()))
            node.clear()
            node.update(ordered)


def model_card(config: ModelConfig) -> dict[str, Any]:
    """config.json facts → a CycloneDX 1.6 modelCard: model_type is the architecture family,
    the architectures (comma-separated) the model architecture; the rest, which the schema has
    no field for, are properties named v.MODEL_CONFIG_PREFIX + the config.json key."""
    card: dict[str, Any] = {}
    parameters = {}
    if config.model_type is not None:
        parameters["architectureFamily"] = config.model_type
    if config.architectures:
        parameters["modelArchitecture"] = ",".join(config.architectures)
    if parameters:
        card["modelParameters"] = parameters
    if config.facts:
        card["properties"] = [
            {"name": f"{v.MODEL_CONFIG_PREFIX}{key}", "value": value} for key, value in config.facts
        ]
    return card


def _rendered(ref: str, files: Sequence[FileDigest]) -> Iterator[bytes]:
    """A component's file list as build writes it (indent 2, at its depth), in UTF-8 pieces of
    _RENDER_BATCH files, rendered only as they are written: 1,000,000 files make ~470 MB of
    text, never held."""
    file_dict, render, quote = fileshape.file_dict, fileshape.render_indented, encode_basestring
    for start in range(0, len(files), _RENDER_BATCH):
        batch = files[start : start + _RENDER_BATCH]
        text = ",\n".join(render(file_dict(ref, f), quote) for f in batch)
        yield _encode(("[\n" if start == 0 else ",\n") + text)
    yield _encode("\n" + " " * 6 + "]")


def _validate(document: dict[str, Any]) -> None:
    validator = _validator()
    for part in _schema_parts(document):
        error = validator.validate_str(json.dumps(part))
        if error is not None:
            message = (str(getattr(error.data, "message", error)).splitlines() or ["?"])[0]
            raise SbomError(f"generated SBOM does not conform to CycloneDX 1.6: {message}")


def _schema_parts(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Split the document into small documents that are valid exactly when it is.

    jsonschema checks ``uniqueItems`` on arrays of objects pairwise: validating 20,000 file
    entries in one piece takes minutes. Every item is still validated, in pieces of at most
    _SCHEMA_CHUNK; uniqueness across pieces is guaranteed by the input checks instead (every
    component and file has its own bom-ref, so no two entries are equal).
    """
    minimal = {k: document[k] for k in ("bomFormat", "specVersion")}
    yield {k: val for k, val in document.items() if k not in ("components", "dependencies")}
    pieces: list[Any] = []
    for component in document.get("components", []):
        nested = component.get("components", [])
        if len(nested) <= _SCHEMA_CHUNK:
            pieces.append(component)
        else:
            pieces += [
                {**component, "components": nested[i : i + _SCHEMA_CHUNK]}
                for i in range(0, len(nested), _SCHEMA_CHUNK)
            ]
    for key, items in (("components", pieces), ("dependencies", document.get("dependencies", []))):
        for i in range(0, len(items), _SCHEMA_CHUNK):
            yield {**minimal, key: items[i : i + _SCHEMA_CHUNK]}


@cache
def _validator() -> JsonStrictValidator:
    # Loading the schema is the expensive part; build is called once per process, tests many times.
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


# --- input checks (before any cyclonedx import) ------------------------------------------------


def _check_deployment(d: DeploymentInfo) -> None:
    if not d.name or not d.version:
        raise ValueError("deployment name and version must be non-empty")
    if not _in_range(d.serial):
        raise ValueError(f"deployment serial must be from 0 to {v.MAX_DECIMAL}, got {d.serial}")
    if d.expires is not None and v.parse_rfc3339(d.expires) is None:
        raise ValueError(f"deployment expires is not an RFC 3339 date-time: {d.expires!r}")


def _check_components(components: Sequence[ComponentInput]) -> None:
    seen: set[tuple[str, str]] = set()
    for c in components:
        if c.kind not in v.KIND_TO_TYPE:
            raise ValueError(f"unknown component kind {c.kind!r}")
        if not c.name:
            raise ValueError(f"{c.kind} name must be non-empty")
        if (c.kind, c.name) in seen:
            raise ValueError(f"{c.kind} {c.name!r} listed twice")
        seen.add((c.kind, c.name))
        if c.model_config is not None:
            _check_model_config(c)
        paths: set[str] = set()
        for f in c.files:
            where = f"{c.kind} {c.name!r} file {f.path!r}"
            reason = unsafe_reason(f.path)
            if reason is not None:
                raise ValueError(f"{where}: unsafe path: {reason}")
            if f.path in paths:
                raise ValueError(f"{where}: listed twice")
            paths.add(f.path)
            _check_file(f, where)


def _check_model_config(c: ComponentInput) -> None:
    config = c.model_config
    assert config is not None
    where = f"{c.kind} {c.name!r} model config"
    if c.kind != "model":
        raise ValueError(f"{where}: only a model has a modelCard")
    if not config:
        raise ValueError(f"{where}: empty (pass None)")
    texts = [*config.architectures, *(value for _, value in config.facts)]
    if config.model_type is not None:
        texts.append(config.model_type)
    if not all(t and v.is_text(t) for t in texts) or any("," in a for a in config.architectures):
        raise ValueError(f"{where}: a value is empty, not valid Unicode or (architectures) has ','")
    keys = [key for key, _ in config.facts]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{where}: a fact is listed twice")


def _check_file(f: FileDigest, where: str) -> None:
    if not _in_range(f.size):
        raise ValueError(f"{where}: size {f.size} is outside 0..{v.MAX_DECIMAL}")
    if f.sha256 is None or not v.is_hex(f.sha256):
        raise ValueError(f"{where}: whole-file sha256 must be 64 lowercase hex digits")
    if f.blake3 is not None and not v.is_hex(f.blake3):
        raise ValueError(f"{where}: blake3 must be 64 lowercase hex digits")
    if f.shard_size <= 0 or not _in_range(f.shard_size):
        raise ValueError(f"{where}: shard size must be from 1 to {v.MAX_DECIMAL}")
    if f.sharded:
        expected = -(-f.size // f.shard_size)
        if len(f.shards) != expected:
            raise ValueError(
                f"{where}: {len(f.shards)} shard digests for {expected} shards of {f.shard_size}"
            )
        if not all(v.is_hex(s) for s in f.shards):
            raise ValueError(f"{where}: shard digests must be 64 lowercase hex digits")
    if f.safetensors is not None:
        st = f.safetensors
        if not (_in_range(st.tensor_count) and _in_range(st.parameters)):
            raise ValueError(f"{where}: safetensors tensor count or parameters out of range")
        if not all(d and "," not in d for d in st.dtypes):
            raise ValueError(f"{where}: safetensors dtypes must be non-empty and comma-free")
        keys = [k for k, _ in st.metadata]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{where}: duplicate safetensors metadata key")
    if f.parquet is not None:
        if not _in_range(f.parquet.rows):
            raise ValueError(f"{where}: parquet row count out of range")
        if not all(v.is_text(name) for name, _ in f.parquet.columns):
            raise ValueError(f"{where}: parquet column name is not valid Unicode")
        v.format_parquet_columns(f.parquet.columns)  # raises for a type outside the vocabulary
    if f.format is not None and not fileshape.is_format_id(f.format):
        raise ValueError(f"{where}: format {f.format!r} is not a format id")
    if f.mode and (f.mode & ~0o7777 or not f.mode & fileshape.MODE_BITS):
        # what read.py would refuse: permission bits, recorded only with an execute-like bit
        raise ValueError(f"{where}: mode {f.mode:o} is not fileshape.recorded_mode of a file")


def _in_range(n: int) -> bool:
    """What sbom/read.py accepts for a count or size (parse_decimal)."""
    return 0 <= n <= v.MAX_DECIMAL


def _check_dependencies(dependencies: Sequence[Dependency]) -> list[str]:
    """Check every dependency; return their bom-refs (unique)."""
    refs: list[str] = []
    for d in dependencies:
        where = f"dependency {d.name!r}"
        if not d.name:
            raise ValueError("dependency name must be non-empty")
        if len(set(d.hashes)) != len(d.hashes):
            raise ValueError(f"{where}: repeated hash")
        for h in d.hashes:
            alg, _, hexdigest = h.partition(":")
            if alg not in v.HASHLIB_TO_CDX:
                raise ValueError(f"{where}: unsupported hash algorithm in {h!r}")
            if not v.is_hex(hexdigest, v.HASHLIB_TO_CDX[alg][1]):
                raise ValueError(f"{where}: {h!r} is not lowercase hex of the right length")
        if d.record_sha256 is not None and not v.is_hex(d.record_sha256):
            raise ValueError(f"{where}: record_sha256 must be 64 lowercase hex digits")
        if any(p.name in (v.RECORD_SHA256, v.SOURCE, v.MANIFEST) for p in d.extras):
            raise ValueError(
                f"{where}: extras may not use {v.RECORD_SHA256}, {v.SOURCE} or {v.MANIFEST}"
            )
        if d.manifest and not v.is_manifest_ref(d.manifest):
            raise ValueError(f"{where}: manifest must be '<kind>:<name>', got {d.manifest!r}")
        # read.py rejects a repeated chainguard: property; cyclonedx drops a repeated pair.
        ours = [p.name for p in d.extras if p.name.startswith(v.PREFIX)]
        if len(set(ours)) != len(ours) or len(set(d.extras)) != len(d.extras):
            raise ValueError(f"{where}: repeated extra property")
        ref = _package_ref(d)
        if ref in refs:
            raise ValueError(f"{where}: listed twice (bom-ref {ref!r})")
        refs.append(ref)
    return refs


# (the patch, the bom-refs of the components it affects)
_Declared = list[tuple[DeclaredPatch, tuple[str, ...]]]


def _check_patches(
    patches: Sequence[DeclaredPatch],
    components: Sequence[ComponentInput],
    dependencies: Sequence[Dependency],
    dep_refs: Sequence[str],
) -> _Declared:
    """Each patch's id and requirement valid, each id once, and what its requirement names
    recorded here: read.py refuses a declaration that affects nothing it lists."""
    from chainguard.errors import UsageError
    from chainguard.patches import DependencyRequirement, parse_patch_id, parse_requirement

    declared: _Declared = []
    ids: set[str] = set()
    trees = {f"{c.kind}:{c.name}" for c in components}
    for p in patches:
        try:
            parse_patch_id(p.id)
            requirement = parse_requirement(p.requirement)
        except UsageError as e:
            raise ValueError(str(e)) from None
        if p.id in ids:
            raise ValueError(f"patch {p.id} is declared twice")
        ids.add(p.id)
        if isinstance(requirement, DependencyRequirement):
            named = zip(dependencies, dep_refs, strict=True)
            refs = tuple(r for d, r in named if d.name == requirement.name)
            if not refs:
                raise ValueError(f"patch {p.id}: no dependency named {requirement.name!r}")
        else:
            if requirement.bom_ref not in trees:
                raise ValueError(f"patch {p.id}: no component {requirement.bom_ref!r}")
            refs = (requirement.bom_ref,)
        declared.append((p, refs))
    return declared


def _package_ref(d: Dependency) -> str:
    # A purl already starts with "pkg:"; without one, name@version under the same prefix keeps
    # every dependency ref recognisable and apart from the model:/dataset: refs.
    if d.purl:
        ref = _normalised_purl(d)
    else:
        version = f"@{d.version}" if d.version is not None else ""
        ref = f"{v.PACKAGE_REF_PREFIX}{d.name}{version}"
    # The same distribution may be pinned by several manifests (a lock and the environment
    # installed from it): one component each, so the ref names the manifest too.
    return f"{ref}#{d.manifest}" if d.manifest else ref


def _normalised_purl(d: Dependency) -> str:
    # cyclonedx writes the purl re-serialised by packageurl; use that form for the ref as well.
    from packageurl import PackageURL

    try:
        return str(PackageURL.from_string(d.purl).to_string())
    except ValueError as e:
        raise ValueError(f"dependency {d.name!r}: invalid purl {d.purl!r}: {e}") from e


def _utc_seconds(timestamp: datetime | None) -> datetime:
    if timestamp is None:
        timestamp = datetime.now(timezone.utc)
    elif timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    return timestamp.astimezone(timezone.utc).replace(microsecond=0)


def _parse_serial_number(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    if not value.startswith("urn:uuid:"):
        raise ValueError(f"bom serial number must be urn:uuid:<uuid>, got {value!r}")
    try:
        return uuid.UUID(value.removeprefix("urn:uuid:"))
    except ValueError as e:
        raise ValueError(f"bom serial number is not a UUID: {value!r}") from e


# --- cyclonedx model construction --------------------------------------------------------------


def _props(pairs: Sequence[tuple[str, str]]) -> list[Property]:
    from cyclonedx.model import Property

    return [Property(name=name, value=value) for name, value in pairs]


def _deployment_properties(d: DeploymentInfo) -> list[Property]:
    pairs = [(v.SERIAL, str(d.serial))]
    if d.expires is not None:
        pairs.append((v.EXPIRES, d.expires))
    return _props(pairs)


def _tree_component(
    c: ComponentInput,
    *,
    with_files: bool = True,
    patches: Sequence[tuple[DeclaredPatch, tuple[str, ...]]] = (),
) -> Component:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.component import Component, ComponentType

    ref = f"{c.kind}:{c.name}"
    files = sorted(c.files, key=lambda f: f.path.encode())
    return Component(
        pedigree=_pedigree([p for p, refs in patches if ref in refs]),
        type=ComponentType(v.KIND_TO_TYPE[c.kind]),
        bom_ref=ref,
        name=c.name,
        purl=_tree_purl(c),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=tree_digest(files))],
        properties=_props(
            [
                (v.ROOT_DIGEST, v.ROOT_DIGEST_SCHEME),
                (v.FILE_COUNT, str(len(files))),
                (v.TOTAL_SIZE, str(sum(f.size for f in files))),
            ]
        ),
        components=[fileshape.file_component(ref, f) for f in files] if with_files else [],
    )


def _tree_purl(c: ComponentInput) -> PackageURL | None:
    if c.purl is None:
        return None
    from packageurl import PackageURL

    try:
        return PackageURL.from_string(c.purl)
    except ValueError as e:
        raise ValueError(f"{c.kind} {c.name!r}: invalid purl {c.purl!r}: {e}") from e


def _pedigree(patches: Sequence[DeclaredPatch]) -> Pedigree | None:
    """The patches applied to a model or dataset, as CycloneDX records a component's patches
    (informational: chainguard reads the vulnerabilities[] entries). ``unofficial``: patched
    by the release, not by the model's own authors."""
    if not patches:
        return None
    from cyclonedx.model.component import Patch, PatchClassification, Pedigree
    from cyclonedx.model.issue import IssueClassification, IssueType

    return Pedigree(
        patches=[
            Patch(
                type=PatchClassification.UNOFFICIAL,
                resolves=[IssueType(type=IssueClassification.SECURITY, id=p.id)],
            )
            for p in patches
        ]
    )


def _vulnerability(patch: DeclaredPatch, refs: Sequence[str]) -> Vulnerability:
    """One declared patch: the advisory resolved in the components ``refs``, and the
    requirement that measurably says so."""
    from cyclonedx.model import Property
    from cyclonedx.model.impact_analysis import ImpactAnalysisResponse, ImpactAnalysisState
    from cyclonedx.model.vulnerability import BomTarget, Vulnerability, VulnerabilityAnalysis

    return Vulnerability(
        bom_ref=f"{v.PATCH_REF_PREFIX}{patch.id}",
        id=patch.id,
        analysis=VulnerabilityAnalysis(
            state=ImpactAnalysisState.RESOLVED, responses=[ImpactAnalysisResponse.UPDATE]
        ),
        affects=[BomTarget(ref=ref) for ref in refs],
        properties=[Property(name=v.PATCH_REQUIREMENT, value=patch.requirement)],
    )


def _library_component(d: Dependency, ref: str) -> Component:
    from cyclonedx.model import (
        ExternalReference,
        ExternalReferenceType,
        HashAlgorithm,
        HashType,
        XsUri,
    )
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    hashes = []
    for h in d.hashes:
        alg, _, hexdigest = h.partition(":")
        hashes.append(HashType(alg=HashAlgorithm(v.HASHLIB_TO_CDX[alg][0]), content=hexdigest))
    pairs: list[tuple[str, str]] = []
    if d.record_sha256 is not None:
        pairs.append((v.RECORD_SHA256, d.record_sha256))
    if d.source:
        pairs.append((v.SOURCE, d.source))
    if d.manifest:
        pairs.append((v.MANIFEST, d.manifest))
    pairs += [(p.name, p.value) for p in d.extras]
    return Component(
        type=ComponentType.LIBRARY,
        bom_ref=ref,
        name=d.name,
        version=d.version,
        purl=PackageURL.from_string(d.purl) if d.purl else None,
        external_references=[
            ExternalReference(
                type=ExternalReferenceType(v.DISTRIBUTION),
                url=XsUri(f"{v.DISTRIBUTION_INDEX}/{d.name}/"),
                comment=v.DISTRIBUTION_COMMENT,
                hashes=hashes,
            )
        ]
        if hashes
        else [],
        properties=_props(pairs),
    )
