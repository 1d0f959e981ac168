"""A model on disk against its signed OMS manifest: how to hash it, then what differs (pure).

The manifest becomes an ExpectedComponent so that chainguard's own compare.py does the
comparison; what it cannot express (a single-file signature given a directory, a file
manifest's missing sizes, shard signatures' silence about empty files) is handled here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from chainguard.findings import Finding, Severity
from chainguard.models import ExpectedComponent, FileDigest, ObservedTree
from chainguard.oms.manifest import SINGLE_FILE_NAME, OmsManifest, OmsResource
from chainguard.paths import unsafe_reason

if TYPE_CHECKING:
    from chainguard.hashing import HashSettings


def hash_plan(
    manifest: OmsManifest, single_file: str | None
) -> tuple[HashSettings, dict[str, int]]:
    """How to hash the model so that its digests are comparable with the signed ones.

    Shards: the engine's shard digests at the signed shard size, for every signed path (a file
    no larger than one shard is hashed whole, which equals its single shard's digest).
    """
    from chainguard.hashing import HashSettings

    if manifest.shard_size is None:
        return HashSettings(), {}
    size = manifest.shard_size
    plan = {_observed_path(p, single_file): size for p in manifest.paths()}
    return HashSettings(shard_size=size, foreign_shard_size=True), plan


def expected_component(
    manifest: OmsManifest, observed: ObservedTree, *, single_file: str | None
) -> tuple[ExpectedComponent, list[Finding]]:
    """The signed manifest as the component compare.py checks, plus findings it cannot express.

    ``single_file`` is the name a single-file model was observed under (None for a directory).
    """
    from chainguard.models import tree_digest

    name = f"model:{manifest.model_name}"
    findings: list[Finding] = []
    files, _ = _file_digests(manifest, observed, single_file)
    safe: list[FileDigest] = []
    unsafe: list[str] = []
    for f in files:
        if f.path == SINGLE_FILE_NAME:
            findings.append(
                Finding(
                    "subject-mismatch",
                    f.path,
                    "the signature is for a single-file model, but a directory was given",
                    expected="a single file",
                    actual="a directory",
                    component=name,
                )
            )
        elif unsafe_reason(f.path) is not None:
            unsafe.append(f.path)
        else:
            safe.append(f)
    whole = [f for f in safe if f.sha256 is not None]
    component = ExpectedComponent(
        kind="model",
        name=manifest.model_name,
        bom_ref=name,
        root_digest=tree_digest(whole) if len(whole) == len(safe) else "",
        files=tuple(safe),
        unsafe_paths=tuple(unsafe),
        modes_recorded=False,  # an OMS manifest records no file modes
    )
    return component, findings


def compare_model(
    manifest: OmsManifest, observed: ObservedTree, *, single_file: str | None
) -> list[Finding]:
    """Every way the observed model differs from the signed manifest (pure)."""
    from chainguard.compare import compare_tree

    component, findings = expected_component(manifest, observed, single_file=single_file)
    _, described = _file_digests(manifest, observed, single_file)
    sizes = {f.path: f.size for f in observed.files}
    for finding in compare_tree(component, observed):
        if finding.rule in ("artifact-modified", "artifact-missing", "artifact-swapped"):
            # a files manifest has no sizes: show the signed digest alone
            signed = described.get(finding.path)
            if signed is not None:
                finding = replace(finding, expected=signed)
        elif (
            finding.rule == "artifact-unexpected"
            and manifest.method == "shards"
            and sizes.get(finding.path) == 0
        ):
            # model-signing's shard serialization has no resource for an empty file, so the
            # signature cannot say whether it was there: reported, not failed.
            finding = replace(
                finding,
                severity=Severity.WARNING,
                message="empty file; an OpenSSF shard signature cannot list empty files",
            )
        findings.append(replace(finding, message=finding.message.replace("SBOM", "manifest")))
    return sorted(findings, key=lambda f: (f.path, f.rule))


def _observed_path(path: str, single_file: str | None) -> str:
    """Where a signed resource lives in the ObservedTree (a single file is recorded by name)."""
    if single_file is not None and path in (SINGLE_FILE_NAME, single_file):
        return single_file
    return path


def _file_digests(
    manifest: OmsManifest, observed: ObservedTree, single_file: str | None
) -> tuple[list[FileDigest], dict[str, str]]:
    """The signed files as FileDigests, and the signed digest text per path for messages.

    ``files`` manifests record no sizes. A signed file is given the size of the observed file
    at its path (or of an observed file with its digest, so a rename is recognised): the size
    then never decides anything, the digest does. Shard manifests imply exact sizes.
    """
    files: list[FileDigest] = []
    described: dict[str, str] = {}
    if manifest.method == "files":
        sizes = {f.path: f.size for f in observed.files}
        by_digest = {f.sha256: f.size for f in observed.files if f.sha256 is not None}
        for r in manifest.resources:
            path = _observed_path(r.path, single_file)
            size = sizes.get(path, by_digest.get(r.digest, 0))
            files.append(FileDigest(path=path, size=size, sha256=r.digest))
            described[path] = f"{manifest.hash_type}:{r.digest}"
        return files, described
    assert manifest.shard_size is not None
    shards: dict[str, list[OmsResource]] = {}
    for r in manifest.resources:
        shards.setdefault(_observed_path(r.path, single_file), []).append(r)
    for path, pieces in shards.items():
        pieces.sort(key=lambda r: r.start or 0)
        size = pieces[-1].end or 0
        if len(pieces) == 1:
            files.append(
                FileDigest(path, size, sha256=pieces[0].digest, shard_size=manifest.shard_size)
            )
        else:
            digests = tuple(p.digest for p in pieces)
            files.append(FileDigest(path, size, shard_size=manifest.shard_size, shards=digests))
    return files, described


__all__ = ["compare_model", "expected_component", "hash_plan"]
