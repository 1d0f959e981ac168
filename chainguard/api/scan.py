"""scan: every file's real format and its risks, for a file or a directory, without an SBOM.

A directory is walked with the tree collector's walk (links out of the tree are reported, not
followed). A Hugging Face cache (a cache root, a `models--*` repo folder, or one of its
snapshots) is walked snapshot by snapshot, each snapshot's links allowed into its own repo's
`blobs/` only. Each file costs one read of `detect.HEAD_BYTES`; only pickle-bearing files,
safetensors and GGUF files are read further (formats/inspect.py).

A scan aims at the speed of the walk (benchmarks/README.md, "Scan", says how close): the
walk's directory listings go, in chunks, to the hashing engine's worker processes (once there
are enough files for their start to pay), which read each file's head and detect its format
(_hashworker._detect_listed). A worker returns a format line only for the files the policy
may have something to say about (api/_formats.line_filter: pickle-bearing and other inspected
formats, names that promise a format), and counts the others; this side evaluates those lines
as verify picks them (api/_formats.format_lines), not a Python call per file.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainguard.errors import HashingError, InputError
from chainguard.findings import Finding, Report, Stats

if TYPE_CHECKING:  # imported when used: a scan of benign files never inspects one
    from chainguard.config import Config
    from chainguard.formats.policy import FormatPolicy

# Names per request to a worker: framing costs little per file, the cores finish together.
_CHUNK = 1024
_INFLIGHT_PER_WORKER = 4

_ANOMALY_RULES = {"symlink-escape": "symlink-escape", "special-file": "special-file"}


def scan_path(
    path: Path, policy: FormatPolicy | None = None, *, config: Config | None = None
) -> Report:
    """Scan a file or a directory. Raises InputError when `path` cannot be read at all.

    ``config``: the chainguard.toml this run read (config.load_config, or one passed over):
    its ``[formats]`` policy applies unless ``policy`` is given, and the report names it."""
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
        files, size = _scan_tree(path, policy, findings)
    else:
        raise InputError(f"{path}: not a file or directory that can be read")
    return Report(
        command="scan",
        target=str(path),
        findings=tuple(findings),
        stats=Stats(files=files, bytes=size, seconds=time.monotonic() - started),
        trust=trust,
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


# A unit of the walk, in path order: a chunk of a directory's files (report prefix, listing),
# one file to scan here (report path, its path), or a finding of the walk.
_Unit = tuple[str, Any] | Finding


def _scan_tree(root: Path, policy: FormatPolicy, findings: list[Finding]) -> tuple[int, int]:
    """Scan every file under ``root`` into ``findings`` (in path order): (files read, bytes)."""
    from chainguard.api._formats import line_filter
    from chainguard.formats.policy import scan_file
    from chainguard.hashing import HashSettings

    settings = HashSettings()
    workers = settings.workers if settings.workers > 1 else 0
    heads = _HeadReaders(workers, settings, line_filter(policy))
    results: list[list[Finding] | None] = []
    files = size = 0
    try:
        for unit in _units(root):
            results.append(None)
            if isinstance(unit, Finding):
                results[-1] = [unit]
            elif isinstance(unit[1], str):
                rel, target = unit
                try:
                    results[-1] = scan_file(target, policy, rel=rel)[1]
                    files += 1
                except OSError as e:
                    results[-1] = [Finding("artifact-unreadable", rel, e.strerror or str(e))]
            else:
                heads.add(len(results) - 1, unit)
        for index, (prefix, listed), payload in heads.finish():
            results[index], read, nbytes = _chunk_findings(prefix, listed, payload, policy)
            files, size = files + read, size + nbytes
    finally:
        heads.close()
    for found in results:
        findings += found or ()
    return files, size


def _chunk_findings(
    prefix: str, listed: Any, payload: tuple[str, list[tuple[int, str]], int], policy: FormatPolicy
) -> tuple[list[Finding], int, int]:
    """The findings for one chunk of a directory's files, from their format lines: only the
    lines the policy may have something to say about are evaluated (api/_formats.py)."""
    from chainguard.api._formats import INSPECTED, format_lines
    from chainguard.formats.inspect import Inspection
    from chainguard.formats.policy import evaluate, scan_file

    piece, problems, nbytes = payload
    base, rel_prefix = listed.base, prefix + listed.prefix
    found: list[tuple[str, Finding]] = [
        (listed.names[i], Finding("artifact-unreadable", rel_prefix + listed.names[i], why))
        for i, why in problems
    ]
    for name, fmt in format_lines(piece, policy):
        rel = rel_prefix + name
        if fmt in INSPECTED:
            try:
                found += ((name, f) for f in scan_file(base + name, policy, rel=rel)[1])
            except OSError as e:
                found.append((name, Finding("artifact-unreadable", rel, e.strerror or str(e))))
        else:
            found += ((name, f) for f in evaluate(rel, Inspection(fmt), policy))
    if problems:
        found.sort(key=lambda pair: pair[0])  # path order, as the walk listed the names
    return [f for _, f in found], len(listed.names) - len(problems), nbytes


class _HeadReaders:
    """Reads and detects the heads of listed files: in this thread, or on the hashing engine's
    worker processes once the file count reaches the engine's ``process_min_files``."""

    def __init__(
        self, workers: int, settings: Any, keep: tuple[tuple[str, ...], tuple[str, ...]] | None
    ) -> None:
        import itertools

        from chainguard.hashing_pool import _WorkerProcess

        self.keep = keep  # api/_formats.line_filter
        self.keys = itertools.count()
        self.count = 0
        self.processes = workers
        self.min_files = max(1, settings.process_min_files)
        self.held: list[tuple[int, tuple[str, Any]]] = []
        self.workers: list[_WorkerProcess] = []
        self.jobs: queue.Queue[Any] = queue.Queue(_INFLIGHT_PER_WORKER * max(workers, 1))
        self.results: queue.Queue[Any] = queue.Queue()
        self.done: list[tuple[int, tuple[str, Any], Any]] = []
        self.inflight = 0
        self.units: dict[int, tuple[int, tuple[str, Any]]] = {}

    def add(self, index: int, unit: tuple[str, Any]) -> None:
        from dataclasses import replace

        prefix, listed = unit
        for start in range(0, len(listed.names), _CHUNK):
            chunk = (prefix, replace(listed, names=listed.names[start : start + _CHUNK]))
            self.count += len(chunk[1].names)
            if not self.workers and self.processes and self.count >= self.min_files:
                from chainguard.hashing_pool import start_workers

                start_workers(self.workers, self.processes, self.jobs, self.results)
                held, self.held = self.held, []
                for job in held:
                    self._submit(*job)
            if self.workers:
                self._submit(index, chunk)
            else:
                self.held.append((index, chunk))

    def _submit(self, index: int, chunk: tuple[str, Any]) -> None:
        listed = chunk[1]
        nofollow = bool(listed.prefix)  # the root itself may be a link
        request = ("heads", listed.base, listed.names, listed.ino, listed.dev, nofollow, self.keep)
        key = next(self.keys)  # unique while in flight (a count of the pending ones is not)
        self.units[key] = (index, chunk)
        while True:
            try:
                self.jobs.put((key, request), timeout=0.05)
                break
            except queue.Full:
                self._take(timeout=0.05)
        self.inflight += 1

    def _take(self, timeout: float) -> None:
        try:
            key, status, payload = self.results.get(timeout=timeout)
        except queue.Empty:
            if not any(w.thread.is_alive() for w in self.workers):
                raise HashingError(
                    "every format-detecting worker process has stopped (killed, or out of "
                    "memory?); free memory and run scan again"
                ) from None
            return
        self.inflight -= 1
        if status != "ok":
            raise HashingError(f"format-detecting worker process failed: {payload}")
        index, chunk = self.units.pop(key)
        self.done.append((index, chunk, payload))

    def finish(self) -> list[tuple[int, tuple[str, Any], Any]]:
        from chainguard._hashworker import _detect_listed

        for index, (prefix, listed) in self.held:
            nofollow = bool(listed.prefix)
            identity = (listed.ino, listed.dev)
            payload = _detect_listed(listed.base, listed.names, identity, nofollow, self.keep)
            self.done.append((index, (prefix, listed), payload))
        self.held = []
        while self.inflight:
            self._take(timeout=0.5)
        return self.done

    def close(self) -> None:
        # As hashing_small._SmallFiles.close: unblock every feeder thread, then end the processes.
        while True:
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                break
        for _ in self.workers:
            with contextlib.suppress(queue.Full):
                self.jobs.put_nowait(None)
        for w in self.workers:
            w.stop()
            w.writer.join(timeout=5)
            w.thread.join(timeout=5)
        self.workers = []


def _units(root: Path) -> Iterator[_Unit]:
    """The walk of ``root`` (snapshot by snapshot for a hub cache) as units, in path order."""
    from chainguard.collectors.tree import IgnoreRules, walk
    from chainguard.hashing import FileEntry, ListedFiles

    roots: list[tuple[Path, str, Path | None]] = [*_hub_snapshots(root)] or [(root, "", None)]
    for directory, prefix, link_root in roots:
        try:
            for item in walk(directory, IgnoreRules(), link_root=link_root):
                if isinstance(item, ListedFiles):
                    yield prefix, item
                elif isinstance(item, FileEntry):
                    yield prefix + item.rel, item.abs_path
                else:
                    rule = _ANOMALY_RULES.get(item.kind, "artifact-unreadable")
                    yield Finding(rule, prefix + item.path, item.detail)
        except HashingError as e:
            raise InputError(str(e)) from e
