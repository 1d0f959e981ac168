"""scan: every file's real format and its risks, for a file or a directory, without an SBOM.

A directory is walked as the tree collector's walk does (links out of the tree are reported,
not followed). A Hugging Face cache (a cache root, a `models--*` repo folder, or one of its
snapshots) is walked snapshot by snapshot, each snapshot's links allowed into its own repo's
`blobs/` only. Each file costs one read of `detect.HEAD_BYTES`; only pickle-bearing files,
safetensors and GGUF files are read further (formats/inspect.py).

A scan aims at the speed of the walk (benchmarks/README.md, "Scan", says how close). The
hashing engine's worker processes (once there are enough files for their start to pay) list
the directories themselves and read each plainly named file's head
(_hashworker._scan_directory): this side hands out directories, classifies what a listing
leaves to it (links, special files, unusual names: collectors/tree.classify) and sorts the
findings into path order at the end. A worker returns a format line only for the files the
policy may have something to say about (api/_formats.line_filter: pickle-bearing and other
inspected formats, names that promise a format), and counts the others; this side evaluates
those lines as verify picks them (api/_formats.format_lines), not a Python call per file.
"""

from __future__ import annotations

import contextlib
import queue
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainguard.errors import HashingError, InputError
from chainguard.findings import Finding, Report, Stats
from chainguard.models import Anomaly

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


def _scan_tree(root: Path, policy: FormatPolicy, findings: list[Finding]) -> tuple[int, int]:
    """Scan every file under ``root`` into ``findings`` (in path order): (files read, bytes)."""
    from chainguard.api._formats import line_filter
    from chainguard.hashing import HashSettings

    settings = HashSettings()
    processes = settings.workers if settings.workers > 1 else 0
    scan = _TreeScan(policy, line_filter(policy), processes, settings.process_min_files)
    try:
        roots: list[tuple[Path, str, Path | None]] = [*_hub_snapshots(root)]
        for directory, prefix, link_root in roots or [(root, "", None)]:
            scan.add_root(directory, prefix, link_root)
        scan.run()
    finally:
        scan.close()
    # Path order is the order of the paths as strings (a name sorts against "sub/" as every
    # path below it does); a file's own findings keep their order.
    findings += sorted(scan.findings, key=lambda f: f.path)
    return scan.files, scan.bytes


@dataclass(frozen=True, slots=True)
class _Directory:
    """A directory of the scan: where it is, what its paths are, where its links may lead."""

    base: str  # its path + "/"
    prefix: str  # its path relative to the walk's root + "/" ("" for the root)
    report: str  # what the report puts before prefix (a hub cache snapshot's own path)
    real_root: str
    real_links: str | None
    ino: int  # its identity when its parent listed it: a worker checks it when it opens it
    dev: int

    def below(self, name: str, ino: int, dev: int) -> _Directory:
        base, prefix = f"{self.base}{name}/", f"{self.prefix}{name}/"
        return replace(self, base=base, prefix=prefix, ino=ino, dev=dev)


# A request to the worker processes (_hashworker._hash_request), the directory it is about,
# and for a chunk of a large directory's files, their names.
_Job = tuple[tuple[Any, ...], _Directory, Any]


class _TreeScan:
    """The walk of chainguard scan. The hashing engine's worker processes (once the files
    listed reach its ``process_min_files``; before that, this thread) list each directory and
    detect its plainly named files' formats (_hashworker._scan_directory); a larger directory's
    further files go out in chunks of _CHUNK names. This side hands out the directories,
    classifies what a listing leaves to it as the tree collector's walk does (tree.classify:
    links, special files, names that need unsafe_reason) and evaluates the policy on the format
    lines that come back: only those of files it may have something to say about."""

    def __init__(
        self,
        policy: FormatPolicy,
        keep: tuple[tuple[str, ...], tuple[str, ...]] | None,
        processes: int,
        min_files: int,
    ) -> None:
        import collections
        import itertools

        from chainguard.hashing_pool import _WorkerProcess

        self.policy, self.keep = policy, keep  # keep: api/_formats.line_filter
        # Workers start at a quarter of the hashing engine's threshold: a file costs a scan a
        # quarter of what hashing it does, and this thread goes on while they start.
        self.processes, self.min_files = processes, max(1, min_files // 4)
        self.findings: list[Finding] = []
        self.files = self.bytes = self.listed = 0
        self.todo: collections.deque[_Job] = collections.deque()
        self.keys = itertools.count()
        self.units: dict[int, _Job] = {}
        self.workers: list[_WorkerProcess] = []
        self.jobs: queue.Queue[Any] = queue.Queue(_INFLIGHT_PER_WORKER * max(processes, 1))
        self.results: queue.Queue[Any] = queue.Queue()
        self.inflight = 0
        self.answered = False  # by a worker process

    def add_root(self, directory: Path, prefix: str, link_root: Path | None) -> None:
        """Scan ``directory`` (its paths reported under ``prefix``). Listed in this thread: a
        root that cannot be listed is an InputError."""
        import os

        from chainguard._hashworker import _hash_request

        try:
            top = os.stat(directory)
        except OSError as e:
            raise InputError(f"{directory}: cannot list directory: {e.strerror or e}") from e
        root = _Directory(
            base=os.path.join(directory, ""),
            prefix="",
            report=prefix,
            real_root=os.path.realpath(directory),
            real_links=os.path.realpath(link_root) if link_root is not None else None,
            ino=top.st_ino,
            dev=top.st_dev,
        )
        request = self._list_request(root, nofollow=False)  # the root itself may be a link
        reply = _hash_request(request)
        for name, why in reply[1]:
            if name == "":
                raise InputError(f"{directory}: cannot list directory: {why}")
        self._handle(request, root, None, reply)

    def _list_request(self, d: _Directory, nofollow: bool = True) -> tuple[Any, ...]:
        path = d.base[:-1] if len(d.base) > 1 else d.base
        return ("scan", path, d.prefix, d.ino, d.dev, nofollow, self.keep, _CHUNK)

    def run(self) -> None:
        from chainguard._hashworker import _hash_request

        while self.todo or self.inflight:
            if not self.workers and self.processes and self.listed >= self.min_files:
                from chainguard.hashing_pool import start_workers

                start_workers(self.workers, self.processes, self.jobs, self.results)
            if self.workers and self.todo and self.inflight < self.jobs.maxsize:
                self._submit(*self.todo.popleft())
            elif self.todo and not self.answered and self.results.empty():
                # No worker has answered yet (they take tens of milliseconds to start): go on
                # here meanwhile. Once they answer, this thread only hands out and evaluates.
                request, d, names = self.todo.popleft()
                self._handle(request, d, names, _hash_request(request))
            else:
                self._take(timeout=0.5)

    def _submit(self, request: tuple[Any, ...], d: _Directory, names: Any) -> None:
        key = next(self.keys)  # unique while in flight (a count of the pending ones is not)
        self.units[key] = (request, d, names)
        self.jobs.put((key, request))  # never blocks: fewer than maxsize are in flight
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
        self.answered = True
        if status != "ok":
            raise HashingError(f"format-detecting worker process failed: {payload}")
        self._handle(*self.units.pop(key), payload)

    def _handle(self, request: tuple[Any, ...], d: _Directory, names: Any, reply: Any) -> None:
        where = d.report + d.prefix
        if request[0] == "heads":  # a chunk of a large directory's further files
            lines, problems, nbytes = reply
            failed = [(names[i], why) for i, why in problems]
            self.files += len(names) - len(failed)
        else:
            lines, failed, read, nbytes, subdirs, others, rest = reply
            self.files += read
            self.listed += read + len(rest)
            for name, ino, dev in subdirs:
                below = d.below(name, ino, dev)
                self.todo.append((self._list_request(below), below, None))
            for start in range(0, len(rest), _CHUNK):
                chunk = rest[start : start + _CHUNK]
                heads = ("heads", d.base, chunk, d.ino, d.dev, bool(d.prefix), self.keep)
                self.todo.append((heads, d, chunk))
            for name in others:
                self._other(d, name)
        self.bytes += nbytes
        for name, why in failed:
            path = where + name if name else (where.rstrip("/") or ".")
            self.findings.append(Finding("artifact-unreadable", path, why))
        if lines:
            self._evaluate(lines, d)

    def _other(self, d: _Directory, name: str) -> None:
        """An entry a listing left to this side, classified as the tree collector's walk
        classifies it: scanned here (a link to a file in the tree, an unusual name), a
        directory to list, or a finding."""
        from chainguard.collectors.tree import classify
        from chainguard.formats.policy import scan_file
        from chainguard.hashing import FileEntry

        rel = d.report + d.prefix + name
        kind = classify(d.base + name, d.prefix + name, d.real_root, d.real_links)
        if isinstance(kind, FileEntry):
            try:
                self.findings += scan_file(kind.abs_path, self.policy, rel=rel)[1]
                self.files, self.bytes = self.files + 1, self.bytes + kind.size
            except OSError as e:
                self.findings.append(Finding("artifact-unreadable", rel, e.strerror or str(e)))
        elif isinstance(kind, Anomaly):
            rule = _ANOMALY_RULES.get(kind.kind, "artifact-unreadable")
            self.findings.append(Finding(rule, d.report + kind.path, kind.detail))
        else:  # a directory
            below = d.below(name, kind.st_ino, kind.st_dev)
            self.todo.append((self._list_request(below), below, None))

    def _evaluate(self, lines: str, d: _Directory) -> None:
        """The policy's findings for the format lines of one directory's files."""
        from chainguard.api._formats import INSPECTED, format_lines
        from chainguard.formats.inspect import Inspection
        from chainguard.formats.policy import evaluate, scan_file

        where = d.report + d.prefix
        for name, fmt in format_lines(lines, self.policy):
            rel = where + name
            if fmt in INSPECTED:
                try:
                    self.findings += scan_file(d.base + name, self.policy, rel=rel)[1]
                except OSError as e:
                    self.findings.append(Finding("artifact-unreadable", rel, e.strerror or str(e)))
            else:
                self.findings += evaluate(rel, Inspection(fmt), self.policy)

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
