"""Pure: what a running process has mapped or open, held against the trees and environments
just verified on disk → findings.

A file of a verified model or dataset root counts as verified when the process has the very
file verify hashed (same device and inode, unchanged since); any other such file (replaced on
disk, deleted, changed) is handed back to be hashed through /proc (``ToHash``) and judged by
its content (``judge_hashed``). Native code mapped from a verified environment must be a file
a RECORD lists and that verify found matching it, still the same file; a deleted or replaced
one is never vouched for, whatever it holds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from chainguard.collectors.procfs import LoadedFile, ProcessSnapshot
from chainguard.findings import Finding, Severity
from chainguard.models import FileDigest

FileIdentity = tuple[int, int]  # (device, inode)


@dataclass(frozen=True, slots=True)
class VerifiedTree:
    """A model or dataset verify compared with its signed component."""

    bom_ref: str
    component: str
    root: str  # real path
    signed: Mapping[str, FileDigest]  # relative path → signed file
    # relative path → the on-disk file verify found holding the signed content, unchanged since
    verified: Mapping[str, FileIdentity]
    ignored: frozenset[str] = frozenset()  # relative paths the ignore rules leave out
    # A hub cache snapshot: its repository's blobs/ (real path), and for each blob the process
    # has, the relative path of the snapshot's link to it (/proc shows the blob, not the link)
    blobs: str | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VerifiedEnvironment:
    """An installed environment verify checked against its RECORDs."""

    name: str
    scope: tuple[str, ...]  # real directories whose native code a RECORD must vouch for
    listed: Mapping[str, str]  # real path → distribution whose RECORD lists it with a digest
    # real path → the on-disk file verify found matching its RECORD, unchanged since
    verified: Mapping[str, FileIdentity]


@dataclass(frozen=True, slots=True)
class ToHash:
    """A file of a verified root the process has, but not as verified: its content decides."""

    loaded: LoadedFile
    tree: VerifiedTree
    rel: str
    signed: FileDigest


@dataclass(slots=True)
class ProcessComparison:
    findings: list[Finding] = field(default_factory=list)
    to_hash: list[ToHash] = field(default_factory=list)
    artifacts: int = 0  # files of verified roots the process has (verified or to hash)
    native: int = 0  # native objects from verified environments vouched for


def _under(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` (a file root: its name), or None when outside it."""
    if path == root:
        return os.path.basename(root)
    prefix = root.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def compare_process(
    snapshot: ProcessSnapshot,
    trees: Sequence[VerifiedTree],
    environments: Sequence[VerifiedEnvironment],
) -> ProcessComparison:
    result = ProcessComparison()
    for loaded in sorted(snapshot.files, key=lambda f: f.path):
        for tree in trees:
            rel = _under(loaded.path, tree.root) or tree.aliases.get(loaded.path)
            if rel is not None:
                _artifact(snapshot.pid, loaded, tree, rel, result)
                break
            if tree.blobs is not None and _under(loaded.path, tree.blobs) is not None:
                result.findings.append(_unlinked_blob(snapshot.pid, loaded, tree))
                break
        else:
            if loaded.executable and loaded.path != snapshot.executable:
                for env in environments:
                    if any(_under(loaded.path, d) is not None for d in env.scope):
                        _native(snapshot.pid, loaded, env, result)
                        break
    return result


def _artifact(
    pid: int, loaded: LoadedFile, tree: VerifiedTree, rel: str, result: ProcessComparison
) -> None:
    if rel in tree.ignored:
        return
    signed = tree.signed.get(rel)
    if signed is None:
        result.findings.append(
            Finding(
                "loaded-artifact-unexpected",
                loaded.path,
                f"process {pid} has {rel!r} from the root of {tree.bom_ref} loaded"
                + (" (deleted on disk since)" if loaded.deleted else "")
                + ", a file the signed SBOM does not list",
                expected=f"a file {tree.bom_ref} lists",
                actual=loaded.path,
                component=tree.component,
            )
        )
        return
    result.artifacts += 1
    verified = tree.verified.get(rel)
    if loaded.deleted or verified != (loaded.dev, loaded.inode):
        result.to_hash.append(ToHash(loaded, tree, rel, signed))


def _unlinked_blob(pid: int, loaded: LoadedFile, tree: VerifiedTree) -> Finding:
    """A blob of the verified snapshot's repository that none of the snapshot's links lead to:
    another revision's weights, or a file dropped in, that the signed SBOM does not vouch for."""
    return Finding(
        "loaded-artifact-unexpected",
        loaded.path,
        f"process {pid} has {loaded.path} loaded"
        + (" (deleted on disk since)" if loaded.deleted else "")
        + f", a blob of the hub cache repository of {tree.bom_ref} that no file of the "
        "verified snapshot links to",
        expected=f"a blob a file of {tree.bom_ref} links to",
        actual=loaded.path,
        component=tree.component,
    )


def judge_hashed(pid: int, item: ToHash, sha256: str) -> Finding | None:
    """A file the process has that is not the verified one, by its content: the signed
    content (a copy, a hard link) passes; anything else is what the process really runs."""
    if sha256 == item.signed.sha256:
        return None
    state = "deleted on disk" if item.loaded.deleted else "no longer the file on disk"
    return Finding(
        "loaded-artifact-replaced",
        item.loaded.path,
        f"process {pid} does not run the signed weights: it has {item.rel!r} of "
        f"{item.tree.bom_ref} loaded ({state}) with content that is not the signed content",
        expected=f"sha256:{item.signed.sha256}",
        actual=f"sha256:{sha256}",
        component=item.tree.component,
    )


def _native(
    pid: int, loaded: LoadedFile, env: VerifiedEnvironment, result: ProcessComparison
) -> None:
    distribution = env.listed.get(loaded.path)
    verified = env.verified.get(loaded.path)
    if distribution is None:
        why, expected = "no RECORD lists it", "a file an installed distribution's RECORD lists"
    elif loaded.deleted:
        why = f"it was deleted on disk after it was loaded ({distribution}'s RECORD lists the path)"
        expected = f"the file {distribution}'s RECORD lists, as verified"
    elif verified is None:
        why = f"the file on disk does not match {distribution}'s RECORD"
        expected = f"the file {distribution}'s RECORD lists, as verified"
    elif verified != (loaded.dev, loaded.inode):
        why = f"the file at that path was replaced after it was loaded ({distribution})"
        expected = f"the file {distribution}'s RECORD lists, as verified"
    else:
        result.native += 1
        return
    result.findings.append(
        Finding(
            "loaded-from-unverified-path",
            loaded.path,
            f"process {pid} runs native code from environment {env.name} that no verified "
            f"RECORD vouches for: {why}",
            expected=expected,
            actual=f"{loaded.path}{' (deleted)' if loaded.deleted else ''}",
            component=env.name,
        )
    )


def process_verdict(
    snapshot: ProcessSnapshot,
    comparison: ProcessComparison,
    findings: Sequence[Finding],
    interpreter_note: str,
) -> Finding | None:
    """The sentence saying whether the process runs the signed weights, when it does (else the
    ``loaded-artifact-*`` findings say it does not); a warning when no weights file is visible."""
    if any(f.rule in ("loaded-artifact-replaced", "loaded-artifact-unexpected") for f in findings):
        return None
    unverified_native = sum(f.rule == "loaded-from-unverified-path" for f in findings)
    native = f"{comparison.native} native module(s) from verified environments match their RECORDs"
    if unverified_native:
        native += f"; {unverified_native} do not (loaded-from-unverified-path)"
    pid = snapshot.pid
    if comparison.artifacts == 0:
        return Finding(
            "process-verified",
            f"/proc/{pid}",
            f"process {pid} has no file of the verified models or datasets mapped or open: /proc "
            "cannot show which weights it read into memory and closed. "
            f"{native}. {interpreter_note}",
            severity=Severity.WARNING,
        )
    return Finding(
        "process-verified",
        f"/proc/{pid}",
        f"process {pid} runs the signed weights: the {comparison.artifacts} file(s) of verified "
        f"models and datasets it has mapped or open hold the signed content. {native}. "
        f"{interpreter_note}",
    )
