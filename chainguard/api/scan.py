"""scan: every file's real format and its risks, for a file or a directory, without an SBOM.

A directory is walked as the tree collector's walk does (links out of the tree are reported,
not followed). A Hugging Face cache (a cache root, a `models--*` repo folder, or one of its
snapshots) is walked snapshot by snapshot, each snapshot's links allowed into its own repo's
`blobs/` only. Each file costs one read of `detect.HEAD_BYTES`; only pickle-bearing files,
safetensors and GGUF files are read further (formats/inspect.py).

A scan aims at the speed of the walk (benchmarks/README.md, "Scan", says how close). The
walk is collectors/scanwalk.py: the hashing engine's worker processes list the directories and
read each file's head, and return a format line only for the files the policy may have
something to say about (line_filter: pickle-bearing and other inspected formats, names that
promise a format). This side judges what the walk gathered (those lines as verify picks them,
api/_formats.format_lines; links and unusual names scanned here) and sorts the findings into
path order. `chainguard scan DIR` starts the walk before its command line is parsed
(_launch.py); scan_path adopts it when its policy's line filter is the one it used.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.errors import InputError
from chainguard.findings import Finding, Report, Stats

if TYPE_CHECKING:  # imported when used: a scan of benign files never inspects one
    from chainguard.collectors.scanwalk import EarlyScan, ScanWalk
    from chainguard.config import Config
    from chainguard.formats.policy import FormatPolicy

_ANOMALY_RULES = {"symlink-escape": "symlink-escape", "special-file": "special-file"}


def scan_path(
    path: Path,
    policy: FormatPolicy | None = None,
    *,
    config: Config | None = None,
    early: EarlyScan | None = None,
) -> Report:
    """Scan a file or a directory. Raises InputError when `path` cannot be read at all.

    ``config``: the chainguard.toml this run read (config.load_config, or one passed over):
    its ``[formats]`` policy applies unless ``policy`` is given, and the report names it.
    ``early``: the walk of ``path`` started before the command line was parsed
    (collectors/scanwalk.EarlyScan); used when it is the walk this call would make."""
    from chainguard.findings import TrustSummary
    from chainguard.formats.policy import FormatPolicy, scan_file

    policy = policy or (config.formats if config is not None else None) or FormatPolicy()
    read = config.path if config is not None else None
    trust = TrustSummary(
        source="config" if read else "none",
        config=str(read) if read else None,
        config_note=config.skipped if config is not None else None,
        policy=policy.describe(),
    )
    # (a walk started before the command line was parsed counts from its own start)
    started = early.started if early is not None else time.monotonic()
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
        files, size = _scan_tree(path, policy, findings, early)
    else:
        raise InputError(f"{path}: not a file or directory that can be read")
    if early is not None:
        early.cancel()  # not adopted (a single file): nothing is left running
    return Report(
        command="scan",
        target=str(path),
        findings=tuple(findings),
        stats=Stats(files=files, bytes=size, seconds=time.monotonic() - started),
        trust=trust,
    )


def _scan_tree(
    root: Path, policy: FormatPolicy, findings: list[Finding], early: EarlyScan | None
) -> tuple[int, int]:
    """Scan every file under ``root`` into ``findings`` (in path order): (files read, bytes)."""
    from chainguard.collectors.scanwalk import ScanWalk, line_filter, walk_roots
    from chainguard.hashing import HashSettings

    keep = line_filter(policy)
    walk = early.adopt(root, keep) if early is not None else None
    try:
        if walk is None:
            settings = HashSettings()
            processes = settings.workers if settings.workers > 1 else 0
            walk = ScanWalk(keep, processes, settings.process_min_files)
            walk_roots(walk, root)
            walk.run()
    finally:
        if walk is not None:
            walk.close()
    found, files, size = _judged(walk, policy)
    # Path order is the order of the paths as strings (a name sorts against "sub/" as every
    # path below it does); a file's own findings keep their order.
    findings += sorted(found, key=lambda f: f.path)
    return walk.files + files, walk.bytes + size


def _judged(walk: ScanWalk, policy: FormatPolicy) -> tuple[list[Finding], int, int]:
    """The policy's findings on what the walk gathered, and the files (and their bytes) that
    were scanned here rather than by the workers."""
    from chainguard.api._formats import format_lines
    from chainguard.formats.detect import INSPECTED
    from chainguard.formats.inspect import Inspection
    from chainguard.formats.policy import evaluate, scan_file

    found = [Finding("artifact-unreadable", path, why) for path, why in walk.unreadable]
    found += (
        Finding(_ANOMALY_RULES.get(kind, "artifact-unreadable"), path, detail)
        for kind, path, detail in walk.anomalies
    )
    files = size = 0
    for rel, target, nbytes in walk.entries:
        try:
            found += scan_file(target, policy, rel=rel)[1]
            files, size = files + 1, size + nbytes
        except OSError as e:
            found.append(Finding("artifact-unreadable", rel, e.strerror or str(e)))
    for d, lines in walk.lines:
        for name, fmt in format_lines(lines, policy):
            rel = d.where + name
            if fmt in INSPECTED:
                try:
                    found += scan_file(d.base + name, policy, rel=rel)[1]
                except OSError as e:
                    found.append(Finding("artifact-unreadable", rel, e.strerror or str(e)))
            else:
                found += evaluate(rel, Inspection(fmt), policy)
    return found, files, size
