"""scan: every file's real format and its risks, for a file or a directory, without an SBOM.

A directory is walked with the tree collector's walk (links out of the tree are reported, not
followed). A Hugging Face cache (a cache root, a `models--*` repo folder, or one of its
snapshots) is walked snapshot by snapshot, each snapshot's links allowed into its own repo's
`blobs/` only. Each file costs one read of `detect.HEAD_BYTES`; only pickle-bearing files,
safetensors and GGUF files are read further (formats/inspect.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from chainguard.errors import InputError
from chainguard.findings import Finding, Report, Stats
from chainguard.formats.policy import FormatPolicy, scan_file

_ANOMALY_RULES = {"symlink-escape": "symlink-escape", "special-file": "special-file"}


def scan_path(path: Path, policy: FormatPolicy | None = None) -> Report:
    """Scan a file or a directory. Raises InputError when `path` cannot be read at all."""
    policy = policy or FormatPolicy()
    started = time.monotonic()
    findings: list[Finding] = []
    files = size = 0
    if path.is_file() and not path.is_symlink():
        try:
            _fmt, found = scan_file(path, policy, rel=path.name)
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
        findings += found
        files, size = 1, path.stat().st_size
    elif path.is_dir():
        for rel, target in _files(path, findings):
            try:
                _fmt, found = scan_file(target, policy, rel=rel)
            except OSError as e:
                findings.append(Finding("artifact-unreadable", rel, e.strerror or str(e)))
                continue
            findings += found
            files += 1
    else:
        raise InputError(f"{path}: not a file or directory that can be read")
    return Report(
        command="scan",
        target=str(path),
        findings=tuple(findings),
        stats=Stats(files=files, bytes=size, seconds=time.monotonic() - started),
    )


def _hub_snapshots(path: Path) -> list[tuple[Path, str, Path]]:
    """(snapshot directory, its path prefix in the report, its repo's blobs/) for a hub cache."""

    def of_repo(repo: Path, prefix: str) -> list[tuple[Path, str, Path]]:
        snapshots = repo / "snapshots"
        return [
            (snap, f"{prefix}snapshots/{snap.name}/", repo / "blobs")
            for snap in sorted(snapshots.iterdir())
            if snap.is_dir() and not snap.is_symlink()
        ]

    if (path / "snapshots").is_dir() and (path / "blobs").is_dir():
        return of_repo(path, "")
    if path.parent.name == "snapshots" and (path.parent.parent / "blobs").is_dir():
        return [(path, "", path.parent.parent / "blobs")]
    repos = [
        p
        for p in sorted(path.iterdir())
        if p.name.startswith(("models--", "datasets--", "spaces--")) and p.is_dir()
    ]
    if repos and all((r / "snapshots").is_dir() for r in repos):
        return [s for r in repos for s in of_repo(r, f"{r.name}/")]
    return []


def _files(root: Path, findings: list[Finding]) -> Iterator[tuple[str, str]]:
    from chainguard.collectors.tree import IgnoreRules, walk
    from chainguard.errors import HashingError
    from chainguard.hashing import FileEntry, ListedFiles

    roots: list[tuple[Path, str, Path | None]] = [*_hub_snapshots(root)] or [(root, "", None)]
    for directory, prefix, link_root in roots:
        try:
            for item in walk(directory, IgnoreRules(), link_root=link_root):
                if isinstance(item, ListedFiles):
                    for name in item.names:
                        yield prefix + item.prefix + name, item.base + name
                elif isinstance(item, FileEntry):
                    yield prefix + item.rel, item.abs_path
                else:
                    rule = _ANOMALY_RULES.get(item.kind, "artifact-unreadable")
                    findings.append(Finding(rule, prefix + item.path, item.detail))
        except HashingError as e:
            raise InputError(str(e)) from e
