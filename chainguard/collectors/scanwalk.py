"""chainguard scan's walk, apart from the policy that judges what it finds.

The hashing engine's worker processes list the directories themselves and read each plainly
named file's head (_hashworker._scan_directory). This side hands out the directories (and a
large directory's further files, in chunks of _CHUNK names) and classifies what a listing
leaves to it as the tree collector's walk does (tree.classify: links, special files, names
that need unsafe_reason). What it gathers needs no policy, only the line filter the workers
apply (line_filter): format lines, unreadable files, anomalies and the files to scan in this
process. api/scan.py judges them.

So the walk can start before the command line is parsed (EarlyScan, from _launch.py): the
worker processes then run while this process imports the command line, and api/scan.py
adopts the walk when its policy's line filter is the one the walk used.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainguard.errors import HashingError, InputError

if TYPE_CHECKING:
    from chainguard.formats.policy import FormatPolicy
    from chainguard.hashing_pool import _WorkerProcess

# Names per request to a worker: framing costs little per file, the cores finish together.
_CHUNK = 1024
_INFLIGHT_PER_WORKER = 4
# Workers an eager walk starts before anything is listed; the others once the files listed
# reach the threshold (many cores would cost a small scan their start-up).
_EAGER_WORKERS = 2

# (formats, lowercase name suffixes) whose format lines the workers return; None: every line.
LineFilter = tuple[tuple[str, ...], tuple[str, ...]] | None


def line_filter(policy: FormatPolicy) -> LineFilter:
    """What the readers of format lines may leave out before api/_formats.format_lines sees
    them, as (formats, lowercase name suffixes) whose lines to keep (a superset of what
    format_lines selects), or None: keep every line (the policy has lists)."""
    if policy.allow or policy.deny or policy.paths:
        return None
    return _DEFAULT_FILTER


def _default_filter() -> LineFilter:
    from chainguard.formats.detect import INSPECTED, NAMED

    return tuple(sorted(INSPECTED)), tuple(sorted(NAMED))


_DEFAULT_FILTER = _default_filter()


@dataclass(frozen=True, slots=True)
class ScanDirectory:
    """A directory of the walk: where it is, what its paths are, where its links may lead."""

    base: str  # its path + "/"
    prefix: str  # its path relative to the walk's root + "/" ("" for the root)
    report: str  # what the report puts before prefix (a hub cache snapshot's own path)
    real_root: str
    real_links: str | None
    ino: int  # its identity when its parent listed it: a worker checks it when it opens it
    dev: int

    @property
    def where(self) -> str:
        """Its path in the report, with a trailing "/" (empty for a root)."""
        return self.report + self.prefix

    def below(self, name: str, ino: int, dev: int) -> ScanDirectory:
        base, prefix = f"{self.base}{name}/", f"{self.prefix}{name}/"
        return replace(self, base=base, prefix=prefix, ino=ino, dev=dev)


# A request to the worker processes (_hashworker._hash_request), the directory it is about,
# and for a chunk of a large directory's files, their names.
_Job = tuple[tuple[Any, ...], ScanDirectory, Any]


class ScanWalk:
    """The walk of one scan. Workers start once the files listed reach a quarter of the
    hashing engine's ``process_min_files``; before that, and until one answers, this thread
    lists too. ``eager`` (EarlyScan): _EAGER_WORKERS start at once, the others at that
    threshold, and this thread never lists (its core has other work), unless there is no
    worker at all (one core).

    What it gathers, in no particular order (api/scan.py sorts the findings):
    ``lines`` (a directory, its format lines), ``unreadable`` (report path, why),
    ``anomalies`` (kind, report path, detail: links out of the tree, special files),
    ``entries`` (report path, path to open, size: files to scan in this process), and the
    count and bytes of the files the workers read."""

    def __init__(
        self, keep: LineFilter, processes: int, process_min_files: int, *, eager: bool = False
    ):
        import collections
        import itertools

        # (eager needs workers to hand the work to: on one core this thread lists it all)
        self.keep, self.processes, self.eager = keep, processes, eager and processes > 0
        # Entries a listing left to this side, classified by run() unless deferred (EarlyScan's
        # thread imports nothing: the tree collector's modules are the main thread's to import).
        self.others: list[tuple[ScanDirectory, str]] = []
        self.defer_others = False
        # Workers start at a quarter of the hashing engine's threshold: a file costs a scan a
        # quarter of what hashing it does, and this thread goes on while they start.
        self.min_files = max(1, process_min_files // 4)
        self.lines: list[tuple[ScanDirectory, str]] = []
        self.unreadable: list[tuple[str, str]] = []
        self.anomalies: list[tuple[str, str, str]] = []
        self.entries: list[tuple[str, str, int]] = []
        self.files = self.bytes = self.listed = 0
        self.todo: collections.deque[_Job] = collections.deque()
        self.keys = itertools.count()
        self.units: dict[int, _Job] = {}
        self.workers: list[_WorkerProcess] = []
        self.jobs: queue.Queue[Any] = queue.Queue(_INFLIGHT_PER_WORKER * max(processes, 1))
        self.results: queue.Queue[Any] = queue.Queue()
        self.inflight = 0
        self.answered = False  # by a worker process
        self.cancelled = threading.Event()
        if self.eager:
            self._start_workers(min(processes, _EAGER_WORKERS))

    def add_root(self, directory: Path, report: str, link_root: Path | None) -> None:
        """Walk ``directory`` (its paths reported under ``report``). Listed in this thread: a
        root that cannot be listed is an InputError."""
        from chainguard._hashworker import _hash_request

        try:
            top = os.stat(directory)
        except OSError as e:
            raise InputError(f"{directory}: cannot list directory: {e.strerror or e}") from e
        root = ScanDirectory(
            base=os.path.join(directory, ""),
            prefix="",
            report=report,
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

    def _list_request(self, d: ScanDirectory, nofollow: bool = True) -> tuple[Any, ...]:
        path = d.base[:-1] if len(d.base) > 1 else d.base
        return ("scan", path, d.prefix, d.ino, d.dev, nofollow, self.keep, _CHUNK)

    def _start_workers(self, count: int) -> None:
        from chainguard.hashing_pool import start_workers

        start_workers(self.workers, count, self.jobs, self.results)

    def run(self) -> None:
        from chainguard._hashworker import _hash_request

        while self.todo or self.inflight or (self.others and not self.defer_others):
            if self.cancelled.is_set():
                raise HashingError("scan cancelled")
            if self.others and not self.defer_others:
                self._other(*self.others.pop())
                continue
            more = self.processes - len(self.workers)
            if more > 0 and self.listed >= self.min_files:
                self._start_workers(more)
            if self.workers and self.todo and self.inflight < self.jobs.maxsize:
                self._submit(*self.todo.popleft())
            elif self.todo and not self.eager and not self.answered and self.results.empty():
                # No worker has answered yet (they take tens of milliseconds to start): go on
                # here meanwhile. Once they answer, this thread only hands out and gathers.
                request, d, names = self.todo.popleft()
                self._handle(request, d, names, _hash_request(request))
            else:
                self._take(timeout=0.5)

    def _submit(self, request: tuple[Any, ...], d: ScanDirectory, names: Any) -> None:
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

    def _handle(self, request: tuple[Any, ...], d: ScanDirectory, names: Any, reply: Any) -> None:
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
            self.others += ((d, name) for name in others)
        self.bytes += nbytes
        for name, why in failed:  # "": the directory's own
            self.unreadable.append((d.where + name if name else d.where.rstrip("/") or ".", why))
        if lines:
            self.lines.append((d, lines))

    def _other(self, d: ScanDirectory, name: str) -> None:
        """An entry a listing left to this side, classified as the tree collector's walk
        classifies it: a file to scan here (a link to a file in the tree, an unusual name), a
        directory to list, or an anomaly."""
        from chainguard.collectors.tree import classify
        from chainguard.hashing import FileEntry
        from chainguard.models import Anomaly

        kind = classify(d.base + name, d.prefix + name, d.real_root, d.real_links)
        if isinstance(kind, FileEntry):
            self.entries.append((d.where + name, kind.abs_path, kind.size))
        elif isinstance(kind, Anomaly):
            self.anomalies.append((kind.kind, d.report + kind.path, kind.detail))
        else:  # a directory
            below = d.below(name, kind.st_ino, kind.st_dev)
            self.todo.append((self._list_request(below), below, None))

    def close(self) -> None:
        from chainguard.hashing_pool import stop_workers

        stop_workers(self.workers, self.jobs)


def hub_snapshots(path: Path) -> list[tuple[Path, str, Path]]:
    """(snapshot directory, its path prefix in the report, its repo's blobs/) for a Hugging
    Face hub cache (its root, a repo folder or one snapshot); empty for any other directory."""

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


def walk_roots(walk: ScanWalk, root: Path) -> None:
    """Add ``root`` to ``walk``: snapshot by snapshot for a hub cache, else as it is."""
    try:
        roots: list[tuple[Path, str, Path | None]] = [*hub_snapshots(root)]
    except OSError as e:
        raise InputError(f"{root}: cannot list directory: {e.strerror or e}") from e
    for directory, report, link_root in roots or [(root, "", None)]:
        walk.add_root(directory, report, link_root)


class EarlyScan:
    """The walk of ``chainguard scan DIR`` started before the command line is imported: the
    worker processes start at once, and a thread of their own hands out the directories
    while this process's main thread imports the rest. Made for the default policy's line
    filter; api/scan.py adopts it when its policy has the same one (else cancels it)."""

    def __init__(self, root: Path) -> None:
        import time

        from chainguard.hashing_pool import default_process_min_files, default_workers

        self.started = time.monotonic()  # what the report's time counts from
        self.root = os.path.abspath(root)
        self.keep = _DEFAULT_FILTER
        self.error: BaseException | None = None
        processes = default_workers()
        processes = processes if processes > 1 else 0
        self.walk = ScanWalk(self.keep, processes, default_process_min_files(), eager=True)
        self.walk.defer_others = True  # classified once adopted, in the main thread
        self._thread = threading.Thread(target=self._run, name="chainguard-scan", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            walk_roots(self.walk, Path(self.root))
            self.walk.run()
        except BaseException as e:  # handed to whoever adopts the walk
            self.error = e

    def adopt(self, root: Path, keep: LineFilter) -> ScanWalk | None:
        """The finished walk, when it is the one a scan of ``root`` with ``keep`` would make;
        None (and the walk stopped) when it is not. Raises what the walk raised."""
        if os.path.abspath(root) != self.root or keep != self.keep:
            self.cancel()
            return None
        self._thread.join()
        if self.error is not None:
            self.walk.close()
            raise self.error
        self.walk.defer_others = False
        self.walk.run()  # what the listings left to this side, and the directories it finds
        return self.walk

    def cancel(self) -> None:
        self.walk.cancelled.set()
        self.walk.results.put((-1, "cancelled", "scan cancelled"))  # wakes a waiting _take
        self._thread.join(timeout=5)
        self.walk.close()
