"""Declared patches: parse a patch requirement and evaluate it against what was measured.

A release declares, per advisory or change id, what measurably makes the patch applied (the
requirement, signed in the SBOM; docs/formats.md has the shape):

- ``torch>=2.6.0``: a PEP 508 dependency requirement (a name and a version specifier, no
  extras, marker or URL), satisfied when every measured manifest that holds the package holds
  a version inside the specifier;
- ``model:NAME@sha256:HEX`` (``dataset:`` alike): the component's root digest
  (``chainguard-tree-v1``, as ``verify`` computes it);
- ``model:NAME/PATH@sha256:HEX``: the whole-file SHA-256 of one file of it.

Pure: parsing raises UsageError (the caller words it as its own error: ConfigError for a
config, SbomError inside a signed SBOM, ValueError in sbom/build.py); evaluation only reads the
``Measured`` it is given. A patch whose subject this run did not measure (a dependency patch on
``verify model``) is neither applied nor not applied (``applied=None``) and gives no finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from chainguard.errors import UsageError
from chainguard.findings import Finding
from chainguard.models import (
    ComponentKind,
    DeclaredPatch,
    ExpectedComponent,
    FileDigest,
    FileList,
    Measured,
    ObservedDependencies,
    ObservedTree,
    tree_digest,
)
from chainguard.paths import unsafe_reason

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

# An advisory or change id: CVE-…, GHSA-…, PYSEC-…, or an internal one such as
# MODEL-2026-07-backdoor-removal. No "=" (the command line's ID=REQUIREMENT), no space.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Well-known id schemes, written as their databases write them (a lower-case "cve-…" would
# never match the advisory it names).
_KNOWN_IDS = {
    "CVE-": (re.compile(r"CVE-[0-9]{4}-[0-9]{4,}"), "CVE-YYYY-NNNN"),
    "GHSA-": (re.compile(r"GHSA(-[23456789cfghjmpqrvwx]{4}){3}"), "GHSA-xxxx-xxxx-xxxx"),
    "PYSEC-": (re.compile(r"PYSEC-[0-9]{4}-[0-9]+"), "PYSEC-YYYY-N"),
}
_KINDS: tuple[ComponentKind, ...] = ("model", "dataset")
_TREE = re.compile(r"(model|dataset):(.+)@sha256:(.*)", re.DOTALL)
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class DependencyRequirement:
    """``torch>=2.6.0``: the package (PEP 503 normalised) and its version specifier."""

    name: str
    specifier: str


@dataclass(frozen=True, slots=True)
class TreeRequirement:
    """``model:NAME@sha256:HEX`` (``path`` None: the root digest) or
    ``model:NAME/PATH@sha256:HEX`` (one file's whole-file digest)."""

    kind: ComponentKind
    component: str
    path: str | None
    sha256: str

    @property
    def bom_ref(self) -> str:
        return f"{self.kind}:{self.component}"

    @property
    def subject(self) -> str:
        """``model:NAME`` or ``model:NAME/PATH``: what the digest is of."""
        return self.bom_ref if self.path is None else f"{self.bom_ref}/{self.path}"


PatchRequirement = DependencyRequirement | TreeRequirement


# --- parsing -----------------------------------------------------------------------------------


def parse_patch_id(text: str) -> str:
    """``text`` if it is a usable patch id, else UsageError (one line)."""
    if not _ID.fullmatch(text):
        raise UsageError(
            f"patch id {text[:100]!r}: use letters, digits, '.', '_' and '-' (at most 128, "
            "starting with a letter or digit), e.g. CVE-2025-32434 or MODEL-2026-07-fix"
        )
    for prefix, (pattern, form) in _KNOWN_IDS.items():
        if text.upper().startswith(prefix) and not pattern.fullmatch(text):
            raise UsageError(f"patch id {text!r}: write {prefix.rstrip('-')} ids as {form}")
    return text


@lru_cache(maxsize=256)
def parse_requirement(text: str) -> PatchRequirement:
    """A requirement as written (see the module docstring), else UsageError (one line)."""
    where = f"patch requirement {text[:200]!r}"
    if text != text.strip() or not text:
        raise UsageError(f"{where}: empty, or surrounded by spaces")
    for kind in _KINDS:
        if text.startswith(f"{kind}:"):
            return _tree_requirement(text, where)
    return _dependency_requirement(text, where)


def _tree_requirement(text: str, where: str) -> TreeRequirement:
    m = _TREE.fullmatch(text)
    if m is None:
        raise UsageError(f"{where}: write model:NAME@sha256:HEX or model:NAME/PATH@sha256:HEX")
    kind: ComponentKind = "model" if m.group(1) == "model" else "dataset"
    subject, digest = m.group(2), m.group(3)
    if not _HEX64.fullmatch(digest):
        raise UsageError(f"{where}: the sha256 digest must be 64 lowercase hex digits")
    name, slash, path = subject.partition("/")
    if not name or not name.isprintable():
        raise UsageError(f"{where}: the {kind} name is empty or not printable")
    if not slash:
        return TreeRequirement(kind, name, None, digest)
    reason = unsafe_reason(path)
    if reason is not None:
        raise UsageError(f"{where}: file path {path[:100]!r}: {reason}")
    return TreeRequirement(kind, name, path, digest)


def _dependency_requirement(text: str, where: str) -> DependencyRequirement:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        req = Requirement(text)
    except InvalidRequirement as e:
        first = (str(e).splitlines() or ["invalid"])[0]
        raise UsageError(
            f"{where}: not a PEP 508 requirement ({first}); or write model:NAME@sha256:HEX"
        ) from None
    if req.url is not None:
        raise UsageError(f"{where}: a URL says nothing measurable; give a version specifier")
    if req.marker is not None:
        raise UsageError(f"{where}: an environment marker makes the patch conditional; drop it")
    if req.extras:
        raise UsageError(f"{where}: extras do not change the version installed; drop them")
    if not req.specifier:
        raise UsageError(f"{where}: no version specifier (e.g. {req.name}>=2.6.0)")
    return DependencyRequirement(str(canonicalize_name(req.name)), str(req.specifier))


def parse_declaration(text: str) -> tuple[str, str]:
    """The command line's ``ID=REQUIREMENT`` → (id, requirement), both checked."""
    pid, sep, requirement = text.partition("=")
    if not sep:
        raise UsageError(f"--patch {text[:100]!r}: write ID=REQUIREMENT, e.g. CVE-X=torch>=2.6.0")
    parse_patch_id(pid)
    parse_requirement(requirement)
    return pid, requirement


def declared_patches(
    patches: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[DeclaredPatch, ...]:
    """(id, requirement) pairs → DeclaredPatch, each checked; an id declared twice with two
    requirements is a UsageError (the same pair twice counts once). In the order given."""
    pairs = patches.items() if isinstance(patches, Mapping) else patches
    seen: dict[str, str] = {}
    for pid, requirement in pairs:
        parse_patch_id(pid)
        parse_requirement(requirement)
        if seen.get(pid, requirement) != requirement:
            raise UsageError(
                f"patch {pid} is declared twice: {seen[pid]!r} and {requirement!r}; keep one"
            )
        seen[pid] = requirement
    return tuple(DeclaredPatch(pid, requirement) for pid, requirement in seen.items())


# --- evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatchStatus:
    """One declared patch against the measurement of one verify run."""

    id: str
    requirement: str
    applied: bool | None  # None: this command measured nothing the requirement concerns
    actual: str  # what was measured ("torch 2.5.1", "sha256:<hex>", "not installed")
    path: str  # the package or file (or component) it concerns
    component: str | None = None  # the component (model/dataset name) or the package name


def patch_statuses(measured: Measured) -> list[PatchStatus]:
    """Every patch the signed SBOM declares, evaluated against ``measured``."""
    return [_status(p, measured) for p in measured.state.patches]


def measured_digest(measured: Measured, ref: str) -> str | None:
    """``sha256:<hex>`` of what was measured for ``model:NAME`` (its root digest) or
    ``model:NAME/PATH`` (one file), ``dataset:`` alike; None when this run did not measure it.

    When a digest cannot be given, a short description of what was measured instead (never
    starting with ``sha256:``): ``missing`` (no such file in the measured tree), or that a
    large file, measured by its shards, is not the signed file (its whole-file digest was never
    computed: verify hashes large files by shards only)."""
    kind, _, subject = ref.partition(":")
    if kind not in _KINDS or not subject:
        return None
    name, slash, path = subject.partition("/")
    bom_ref = f"{kind}:{name}"
    tree = dict(measured.trees).get(bom_ref)
    if tree is None:
        return None
    signed = _signed_component(measured, bom_ref)
    return _file_digest(tree, path, signed) if slash else _root_digest(tree, signed)


def patch_findings(measured: Measured, required: Sequence[str]) -> list[Finding]:
    """patch-not-applied for each declared patch that concerns what was measured and is not
    applied; patch-missing for each required id the signed SBOM does not declare."""
    findings = [
        Finding(
            "patch-not-applied",
            s.path,
            f"patch {s.id} is not applied: {s.requirement} is required, measured {s.actual}",
            expected=s.requirement,
            actual=s.actual,
            component=s.component,
        )
        for s in patch_statuses(measured)
        if s.applied is False
    ]
    declared = [p.id for p in measured.state.patches]
    findings += [
        Finding(
            "patch-missing",
            pid,
            f"the signed SBOM does not declare required patch {pid}",
            expected=pid,
            actual=", ".join(declared) if declared else "no patches declared",
        )
        for pid in dict.fromkeys(required)
        if pid not in declared
    ]
    return findings


def _status(patch: DeclaredPatch, measured: Measured) -> PatchStatus:
    requirement = parse_requirement(patch.requirement)
    if isinstance(requirement, DependencyRequirement):
        applied, actual = _dependency_state(requirement, measured)
        return PatchStatus(
            patch.id, patch.requirement, applied, actual, requirement.name, requirement.name
        )
    tree = dict(measured.trees).get(requirement.bom_ref)
    path = requirement.bom_ref if requirement.path is None else requirement.path
    if tree is None:
        actual = f"not measured ({measured.command} did not hash {requirement.bom_ref})"
        return PatchStatus(patch.id, patch.requirement, None, actual, path, requirement.component)
    signed = _signed_component(measured, requirement.bom_ref)
    if requirement.path is None:
        actual = _root_digest(tree, signed)
    else:
        actual = _file_digest(tree, requirement.path, signed)
    applied = actual == f"sha256:{requirement.sha256}"
    return PatchStatus(patch.id, patch.requirement, applied, actual, path, requirement.component)


# --- dependencies ------------------------------------------------------------------------------


def _dependency_state(req: DependencyRequirement, measured: Measured) -> tuple[bool | None, str]:
    """(applied, what was measured) of a dependency requirement over every manifest measured.

    A manifest concerns the patch when it holds the package, or when the signed SBOM records
    the package in it (or records it without naming manifests, or not at all): there, absent
    is "not installed". A manifest the signed SBOM never put the package in (a sidecar's
    environment) says nothing about it."""
    if not measured.dependencies:
        return None, f"not measured ({measured.command} reads no dependencies)"
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name

    specifier = SpecifierSet(req.specifier)
    signed_in = {d.manifest for d in measured.state.dependencies if d.name == req.name}
    results: list[tuple[str, bool, str]] = []  # (manifest ref, satisfied, measured)
    for manifest in measured.dependencies:
        found = [d for d in manifest.dependencies if canonicalize_name(d.name) == req.name]
        if not found and not _concerns(manifest, signed_in):
            continue
        if not found:
            absent = "not installed" if manifest.kind == "environment" else "not listed"
            results.append((manifest.ref, False, absent))
        for d in found:
            satisfied, text = _version_state(specifier, d.version)
            results.append((manifest.ref, satisfied, f"{req.name} {text}"))
    if not results:
        return None, f"not measured (the manifests read do not hold {req.name})"
    applied = all(satisfied for _, satisfied, _ in results)
    texts = {text for _, _, text in results}
    if len(texts) == 1:
        return applied, texts.pop()
    return applied, "; ".join(f"{text} ({ref})" for ref, _, text in results)


def _concerns(manifest: ObservedDependencies, signed_in: set[str]) -> bool:
    if not signed_in or "" in signed_in or manifest.ref in signed_in:
        return True
    return any(ref.partition(":")[2] == manifest.name for ref in signed_in)


def _version_state(specifier: SpecifierSet, version: str | None) -> tuple[bool, str]:
    from packaging.version import InvalidVersion, Version

    if version is None:
        return False, "(no single version pinned)"
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False, f"{version} (not a PEP 440 version)"
    # An installed pre-release past the fix is patched: prereleases=True.
    return specifier.contains(parsed, prereleases=True), version


# --- models and datasets -----------------------------------------------------------------------


def _signed_component(measured: Measured, bom_ref: str) -> ExpectedComponent | None:
    return next((c for c in measured.state.components if c.bom_ref == bom_ref), None)


def _whole_file_sha256(f: FileDigest, signed: Mapping[str, FileDigest]) -> str | None:
    """The whole-file SHA-256 of a measured file. A large file measured by its shards only
    has one when its size and every shard are the signed file's: then its content is the
    signed content, and the signed whole-file digest is its digest."""
    if f.sha256 is not None:
        return f.sha256
    s = signed.get(f.path)
    if (
        s is not None
        and s.sha256 is not None
        and (s.size, s.shard_size, s.shards) == (f.size, f.shard_size, f.shards)
    ):
        return s.sha256
    return None


def _signed_sharded(signed: ExpectedComponent | None) -> dict[str, FileDigest]:
    if signed is None:
        return {}
    files = signed.files.extra if isinstance(signed.files, FileList) else signed.files
    return {f.path: f for f in files if f.shards}


def _unknown(path: str) -> str:
    return f"not the signed content of {path} (a large file measured by shards)"


def _root_digest(tree: ObservedTree, signed: ExpectedComponent | None) -> str:
    files = tree.files
    if isinstance(files, FileList):
        extra = files.extra
        if all(f.sha256 is not None for f in extra):
            return f"sha256:{files.tree_digest()}"
    else:
        extra = tuple(files)
    sharded = _signed_sharded(signed)
    resolved = []
    for f in extra:
        sha256 = _whole_file_sha256(f, sharded)
        if sha256 is None:
            return f"a tree whose {_unknown(f.path)}"
        resolved.append(FileDigest(f.path, f.size, sha256))
    if isinstance(files, FileList):
        return f"sha256:{FileList(files.plain_pieces, resolved).tree_digest()}"
    return f"sha256:{tree_digest(resolved)}"


def _file_digest(tree: ObservedTree, path: str, signed: ExpectedComponent | None) -> str:
    f = _find(tree.files, path)
    if f is None:
        anomaly = next((a for a in tree.anomalies if a.path == path), None)
        return "missing" if anomaly is None else f"{anomaly.kind}: {anomaly.detail}"
    sha256 = _whole_file_sha256(f, _signed_sharded(signed))
    return _unknown(path) if sha256 is None else f"sha256:{sha256}"


def _find(files: Sequence[FileDigest], path: str) -> FileDigest | None:
    """The file at ``path`` without making an object per file of a compact FileList."""
    if not isinstance(files, FileList):
        return next((f for f in files if f.path == path), None)
    found = next((f for f in files.extra if f.path == path), None)
    if found is not None:
        return found
    key = f"{path}\0"  # a safe path holds no NUL or newline: one line starts with this
    for piece in files.plain_pieces:
        if piece.startswith(key):
            at = 0
        else:
            at = piece.find(f"\n{key}") + 1
            if at == 0:
                continue
        _, size, sha256 = piece[at : piece.index("\n", at)].split("\0")
        return FileDigest(path, int(size), sha256)
    return None
