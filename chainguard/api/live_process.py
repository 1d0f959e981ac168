"""verify process: what a running process has loaded, from the kernel's view (/proc), against
the deployment verify deployment has just verified on disk.

Order: the process is opened (exit 3 when it does not exist, cannot be read, or this is not
Linux); the files it has mapped or open are stat'ed on disk; the deployment is verified as
verify deployment does (its findings are in the report); the process is read again and each
file it has under a verified root or environment is held against what was verified. A file
counts as verified when the process has the very file verify hashed (device and inode) and
the path's (device, inode, size, mtime) did not change across the disk verify; only the others
are hashed, through /proc, so a server with gigabytes mapped costs about one disk verify.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from chainguard.api._assurance import NO_ASSURANCE, Assurance
from chainguard.api._common import own_files
from chainguard.api.deployment import DeploymentCheck, check_deployment
from chainguard.api.tree import OVERLAP_FROM_BYTES
from chainguard.collectors import procfs
from chainguard.collectors.environment import listed_files
from chainguard.collectors.tree import ignore_rules
from chainguard.compare import same_content
from chainguard.compare_process import (
    FileIdentity,
    VerifiedEnvironment,
    VerifiedTree,
    compare_process,
    judge_hashed,
    process_verdict,
)
from chainguard.findings import Finding, Report, Stats
from chainguard.models import FileDigest, FileList, Progress
from chainguard.trust.gate import TrustInputs

StatKey = tuple[int, int, int, int]  # (device, inode, size, mtime_ns)


@dataclass(frozen=True, slots=True)
class _Where:
    """What the process is held against: the verified deployment and how it was read."""

    check: DeploymentCheck
    environments: tuple[Path, ...]
    ignore: tuple[str, ...]
    own: tuple[Path, ...]  # the SBOM and signature files, never artifacts


def verify_process(
    pid: int,
    *,
    trust: TrustInputs,
    models: Sequence[tuple[str, Path]] = (),
    datasets: Sequence[tuple[str, Path]] = (),
    locks: Sequence[Path] = (),
    environments: Sequence[Path] = (),
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
    overlap_from_bytes: int = OVERLAP_FROM_BYTES,
    assurance: Assurance = NO_ASSURANCE,
    proc: Path = procfs.PROC,
) -> Report:
    """Verify the deployment (as verify_deployment), then what process ``pid`` runs of it.

    Raises ProcessError (exit 3) when the process does not exist, cannot be read (the message
    names the privilege missing) or /proc is not there; a process that exits during the check
    is a ``process-exited`` finding."""
    watched = watch_process(pid, proc)
    check = check_deployment(
        trust=trust,
        models=models,
        datasets=datasets,
        locks=locks,
        environments=environments,
        ignore=ignore,
        progress=progress,
        overlap_from_bytes=overlap_from_bytes,
        assurance=assurance,
    )
    report = replace(check.report, command="verify process", target=f"process {pid}")
    if check.state is None:
        return report  # not trusted: nothing to hold the process against
    started = time.perf_counter()
    found, hashed = check_process(
        watched, check, trust=trust, environments=environments, ignore=ignore, proc=proc
    )
    stats = report.stats
    return replace(
        report,
        findings=(*report.findings, *found),
        stats=Stats(
            stats.files, stats.bytes + hashed, stats.seconds + time.perf_counter() - started
        ),
    )


@dataclass(frozen=True, slots=True)
class WatchedProcess:
    """A process opened before the disk verify, and the (device, inode, size, mtime) its files
    had then (a file that changed across the verify is hashed through /proc, not trusted)."""

    pid: int
    start_time: int
    before: Mapping[str, StatKey]
    exited: procfs.ProcessExited | None = None  # it exited before it could be looked at


def watch_process(pid: int, proc: Path = procfs.PROC) -> WatchedProcess:
    """Open ``pid`` before the disk verify. Raises ProcessError (exit 3) as open_process."""
    start_time = procfs.open_process(pid, proc)
    try:
        before = _stat_paths(f.path for f in procfs.snapshot(pid, start_time, proc).files)
    except procfs.ProcessExited as e:
        return WatchedProcess(pid, start_time, {}, e)
    return WatchedProcess(pid, start_time, before)


def check_process(
    watched: WatchedProcess,
    check: DeploymentCheck,
    *,
    trust: TrustInputs,
    environments: Sequence[Path] = (),
    ignore: Sequence[str] = (),
    proc: Path = procfs.PROC,
) -> tuple[list[Finding], int]:
    """A watched process held against a trusted deployment check (``check.state`` set): its
    findings (``process-exited`` when it exited) and the bytes hashed through /proc. The disk
    is not verified again: one check serves every process of the deployment."""
    assert check.state is not None, "check_process needs a trusted deployment check"
    pid = watched.pid
    try:
        if watched.exited is not None:
            raise watched.exited
        where = _Where(check, tuple(environments), tuple(ignore), tuple(own_files(trust)))
        return _check_process(pid, watched.start_time, proc, where, watched.before)
    except procfs.ProcessExited as e:
        found = Finding(
            "process-exited",
            f"/proc/{pid}",
            f"{e}: no verdict on what it ran",
            expected="a running process",
            actual="exited",
        )
        return [found], 0


def _check_process(
    pid: int,
    start_time: int,
    proc: Path,
    where: _Where,
    before: Mapping[str, StatKey],
) -> tuple[list[Finding], int]:
    """The process held against the verified deployment: findings and bytes hashed."""
    snap = procfs.snapshot(pid, start_time, proc)
    paths = [f.path for f in snap.files]
    after = _stat_paths(f.path for f in snap.files if not f.deleted)
    # Verified and unchanged across the disk verify: the same file, holding what was checked.
    unchanged = {p: key for p, key in after.items() if before.get(p) == key}
    trees = _verified_trees(where, unchanged, paths)
    envs = [_verified_environment(env, where.check, unchanged) for env in where.environments]
    comparison = compare_process(snap, trees, envs)
    found = list(comparison.findings)
    hashed = 0
    for item in comparison.to_hash:
        finding = judge_hashed(pid, item, procfs.hash_loaded(pid, item.loaded))
        hashed += item.signed.size
        if finding is not None:
            found.append(finding)
    if not procfs.still_running(pid, start_time, proc):
        raise procfs.ProcessExited(f"process {pid} exited while it was checked")
    verdict = process_verdict(snap, comparison, found, _interpreter_note(snap, envs))
    return [*found, *([verdict] if verdict else [])], hashed


def _stat_paths(paths: Iterable[str]) -> dict[str, StatKey]:
    keys = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        keys[path] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return keys


def _verified_trees(
    where: _Where, unchanged: Mapping[str, StatKey], loaded_paths: Sequence[str]
) -> list[VerifiedTree]:
    check = where.check
    assert check.state is not None and check.paths is not None
    components = {c.bom_ref: c for c in check.state.components}
    trees = []
    for ref, observed in check.trees:
        c = components[ref]
        directory = check.paths[c.kind, c.name]
        root = os.path.realpath(directory)
        blobs = _hub_blobs(directory)
        aliases = _blob_links(root, blobs, loaded_paths) if blobs is not None else {}
        # where each file the process may have is on disk (a hub cache's: the blob it links to)
        at = {r: os.path.join(root, r) for r in (_relative(p, root) for p in loaded_paths) if r}
        at.update((rel, blob) for blob, rel in aliases.items())
        signed = _files_at(c.files, set(at))
        seen = _files_at(observed.files, set(at))
        rules = ignore_rules(directory, where.ignore, where.own)
        verified: dict[str, FileIdentity] = {}
        for rel, s in signed.items():
            o, key = seen.get(rel), unchanged.get(at[rel])
            if o is not None and key is not None and same_content(s, o):
                verified[rel] = (key[0], key[1])
        ignored = frozenset(r for r in at if rules.matches(r))
        trees.append(VerifiedTree(ref, c.name, root, signed, verified, ignored, blobs, aliases))
    return trees


def _hub_blobs(directory: Path) -> str | None:
    """The real path of the blobs/ of the hub cache repository whose snapshot ``directory``
    is, or None (not a snapshot)."""
    from chainguard.collectors.hfcache import local_root

    _, blobs = local_root(directory)
    return os.path.realpath(blobs) if blobs is not None else None


def _blob_links(root: str, blobs: str, loaded_paths: Sequence[str]) -> dict[str, str]:
    """For each loaded path that is a blob under ``blobs``, the relative path of the first
    link (in path order) of the snapshot ``root`` that resolves to it."""
    loaded = {p for p in loaded_paths if _relative(p, blobs) is not None}
    if not loaded:
        return {}
    names = {os.path.basename(p) for p in loaded}
    links: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):  # never into a linked directory
        for name in sorted([*dirnames, *filenames]):
            path = os.path.join(dirpath, name)
            if not os.path.islink(path) or os.path.basename(os.readlink(path)) not in names:
                continue
            target = os.path.realpath(path)
            rel = os.path.relpath(path, root)
            if target in loaded and (target not in links or rel < links[target]):
                links[target] = rel
    return links


def _relative(path: str, root: str) -> str | None:
    if path == root:
        return os.path.basename(root)
    prefix = root.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def _files_at(files: Sequence[FileDigest], wanted: set[str]) -> dict[str, FileDigest]:
    """The files at ``wanted`` paths, found without making an object per file of a FileList."""
    if not wanted:
        return {}
    if not isinstance(files, FileList):
        return {f.path: f for f in files if f.path in wanted}
    found = {f.path: f for f in files.extra if f.path in wanted}
    for rel in wanted - found.keys():
        for piece in files.plain_pieces:
            at = piece.find(f"{rel}\0") if piece.startswith(f"{rel}\0") else -1
            if at < 0:
                at = piece.find(f"\n{rel}\0")
                at = at + 1 if at >= 0 else -1
            if at >= 0:
                path, size, sha256 = piece[at : piece.index("\n", at)].split("\0")
                found[rel] = FileDigest(path, int(size), sha256)
                break
    return found


def _verified_environment(
    env: Path, check: DeploymentCheck, unchanged: Mapping[str, StatKey]
) -> VerifiedEnvironment:
    layout, listed = listed_files(env)
    sites = [os.path.realpath(s) for s in layout.site_dirs]
    scope = list(sites)
    if (layout.prefix / "pyvenv.cfg").is_file():
        # A venv's prefix is all the environment's; a system prefix (/usr) holds the OS's own
        # libraries, which no RECORD lists: only its site-packages are held to RECORDs there.
        scope.append(os.path.realpath(layout.prefix))
    problems = {
        os.path.normpath(os.path.join(site, p.path))
        for m in check.manifests
        if m.source == str(env)
        for p in m.record_problems
        for site in sites
    }
    verified = {
        path: (key[0], key[1])
        for path, key in unchanged.items()
        if path in listed and path not in problems
    }
    return VerifiedEnvironment(layout.name, tuple(scope), listed, verified)


def _interpreter_note(snap: procfs.ProcessSnapshot, envs: Sequence[VerifiedEnvironment]) -> str:
    exe = snap.executable
    pure = "Pure-Python modules are read and closed, so /proc does not show them."
    if exe is None:
        return f"The process's executable is not visible. {pure}"
    env = next((e for e in envs if any(_relative(exe, d) is not None for d in e.scope)), None)
    if env is None:
        where = "outside the verified environments"
    elif exe in env.listed:
        where = f"in environment {env.name}, listed by {env.listed[exe]}'s RECORD"
    else:
        where = f"in environment {env.name}, listed by no RECORD (installers do not record it)"
    return f"Interpreter {exe}: {where}; not checked. {pure}"
