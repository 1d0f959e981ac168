"""The one hashing engine every collector uses.

Streaming with a fixed buffer per worker (memory does not grow with file size), parallel across
files and across fixed-size shards of large files, so that a single 8 GiB file still keeps every
core busy at verify time.

Two kinds of work, one engine:
- Large files (and shards of them) run on a thread pool: hashlib and blake3 release the GIL
  while they digest 1 MiB buffers and the kernel reads (os.preadv) release it too, so plain
  threads scale there, with no process start cost.
- Small files (at most ``HashSettings.small_file_size``) are dominated by per-file Python work
  (open, fstat, read, digest, close, stat) that holds the GIL: a thread per file is slower than
  a serial loop. They are batched and hashed by one worker process per core, started lazily
  (forkserver, or spawn where fork servers do not exist; never a plain fork of this possibly
  threaded process) only once the small-file count makes the start cost pay
  (``HashSettings.process_min_files``); below that, the calling thread hashes them serially.

The listing is consumed as a stream: small files go out in batches as they are listed (so the
walk overlaps the hashing) and only a bounded number of batches is in flight, so memory holds
one record per file (its digest), never its bytes or an open handle. A directory walk hands
over the regular files of a directory by name (ListedFiles); they come back as the text of
their root-digest lines and end up in a FileList, without an object per file.

Files are opened with O_NOFOLLOW and re-checked with fstat against what the directory walk saw,
and the path is stat'ed again after hashing: a file that is swapped, grown, shrunk or touched
while we read it is reported as changed instead of silently yielding a digest of mixed content.
Both paths run the same checks: the small-file code lives in chainguard/_hashworker.py, which
the calling thread and the worker processes both run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from chainguard._hashworker import (
    _OPEN_FLAGS,
    HASHED,
    LARGE,
    _Changed,
    _check_identity,
    _hash_listed,
    _hash_small_file,
    _os_problem,
    _read_frame,
    _write_frame,
)
from chainguard._hashworker import CHUNK_SIZE as CHUNK_SIZE  # part of this module's API
from chainguard.errors import HashingError, UsageError
from chainguard.models import DEFAULT_SHARD_SIZE, Anomaly, FileDigest, FileList, RenderedFiles

if TYPE_CHECKING:
    from chainguard._hashworker import _ListedResult, _SmallItem, _SmallResult

# Files up to this size are read in one call and hashed in batches (by worker processes when
# there are enough of them); larger files go to the thread pool.
SMALL_FILE_SIZE = CHUNK_SIZE
# Below this many small files the serial loop in the calling thread wins: starting the fork
# server and one worker per core costs about 0.1 s, which hashes ~7,000 small files serially.
# Measured on 2 cores (benchmarks/README.md, "Datasets"). Override with the environment
# variable below (tests use 1 to force worker processes on tiny trees).
PROCESS_MIN_FILES = 8000
PROCESS_MIN_FILES_ENV = "CHAINGUARD_PROCESS_MIN_FILES"
# A batch sent to a worker: enough files that pickling and queueing cost little per file,
# few enough bytes that the batches in flight stay small.
_BATCH_FILES = 256
_BATCH_BYTES = 16 * 1024 * 1024
_INFLIGHT_PER_WORKER = 4
# Requests written to a worker process ahead of its replies, and the pipe size that lets it
# get that far ahead (see _WorkerProcess): ~16 x 512 small files, ~0.1 s of work.
_PIPELINED = 16
_PIPE_SIZE = 1024 * 1024

Mode = Literal["build", "verify"]
ProgressCallback = Callable[[int], None]
ListedCallback = Callable[[int, int], None]


def _default_workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _default_process_min_files() -> int:
    value = os.environ.get(PROCESS_MIN_FILES_ENV, "")
    if not value:
        return PROCESS_MIN_FILES
    if not value.isdigit():
        raise UsageError(f"{PROCESS_MIN_FILES_ENV} must be a non-negative integer, got {value!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A regular file found by a walk, with the identity it had when listed."""

    rel: str  # relative POSIX path (the name recorded in the SBOM)
    abs_path: str  # what to open (a symlink inside the tree is resolved to its target)
    size: int  # -1: not stat'ed yet (see listed_by_type)
    ino: int
    dev: int
    mtime_ns: int

    @classmethod
    def from_stat(cls, rel: str, abs_path: str, st: os.stat_result) -> FileEntry:
        return cls(rel, abs_path, st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns)

    @classmethod
    def listed_by_type(cls, rel: str, abs_path: str) -> FileEntry:
        """A regular file as the directory listing typed it (d_type), without an lstat: the
        engine takes its identity (size, inode, mtime) with fstat when it opens the file, and
        checks the path still has that identity after hashing. Saves a syscall per file."""
        return cls(rel, abs_path, -1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class ListedFiles:
    """Regular files of one directory, by name, as its listing typed them (d_type).

    What a directory walk hands the engine instead of a FileEntry per file: the names go to
    a worker in bulk, and each file's identity is taken by fstat when it is opened (as for
    FileEntry.listed_by_type). The walk has checked every name is safe to record.
    """

    base: str  # the directory's path with a trailing separator: a file's path is base + name
    prefix: str  # the directory's relative POSIX path + "/" ("" for the root)
    names: tuple[str, ...]  # sorted, as the walk lists them (RenderedFiles runs rely on it)
    # the directory's identity when it was listed (st_ino, st_dev); (0, 0): not known
    ino: int = 0
    dev: int = 0


@dataclass(frozen=True, slots=True)
class HashSettings:
    """How to hash. Recorded alongside the digests so verify can reproduce it.

    ``small_file_size`` and ``process_min_files`` only choose where the work runs, never what
    is computed: every choice yields the same digests and anomalies.
    """

    shard_size: int = DEFAULT_SHARD_SIZE
    blake3: bool = False
    workers: int = field(default_factory=_default_workers)
    small_file_size: int = SMALL_FILE_SIZE
    process_min_files: int = field(default_factory=_default_process_min_files)
    # A shard size dictated by another format (OpenSSF model signing defaults to 10**9 bytes,
    # not a multiple of CHUNK_SIZE): any positive size is then accepted.
    foreign_shard_size: bool = False

    def __post_init__(self) -> None:
        if self.foreign_shard_size:
            if self.shard_size < 1:
                raise UsageError("shard size must be positive")
        elif self.shard_size < CHUNK_SIZE or self.shard_size % CHUNK_SIZE:
            raise UsageError(f"shard size must be a positive multiple of {CHUNK_SIZE} bytes")
        if self.workers < 1:
            raise UsageError("workers must be at least 1")
        if not 0 <= self.small_file_size <= CHUNK_SIZE:
            raise UsageError(f"small file size must be between 0 and {CHUNK_SIZE} bytes")
        if self.process_min_files < 0:
            raise UsageError("process_min_files must be non-negative")


@dataclass(slots=True)
class _FileJob:
    entry: FileEntry
    whole: bool  # compute the whole-file SHA-256 (and BLAKE3)
    shard_count: int  # 0 = no shard digests
    sha256: str | None = None
    blake3: str | None = None
    shards: list[str | None] = field(default_factory=list)
    pending: int = 0
    failed: Anomaly | None = None


@dataclass(frozen=True, slots=True)
class _Task:
    job: _FileJob
    kind: Literal["whole", "shard"]
    index: int  # shard index
    offset: int
    length: int


def _shard_count(size: int, shard_size: int) -> int:
    return max(1, -(-size // shard_size))


def _blake3_new() -> Any:
    try:
        import blake3
    except ImportError as e:  # optional extra
        raise UsageError("BLAKE3 needs the optional extra: pip install 'chainguard[blake3]'") from e
    return blake3.blake3()


class _Worker:
    """Per-thread read buffer, so memory is workers x CHUNK_SIZE whatever the tree holds."""

    def __init__(self) -> None:
        self._local = threading.local()

    def buffer(self) -> memoryview:
        buf: memoryview | None = getattr(self._local, "buf", None)
        if buf is None:
            buf = memoryview(bytearray(CHUNK_SIZE))
            self._local.buf = buf
        return buf

    def run(self, task: _Task, with_blake3: bool) -> tuple[str, str | None]:
        entry = task.job.entry
        buf = self.buffer()
        sha = hashlib.sha256()
        b3 = _blake3_new() if (with_blake3 and task.kind == "whole") else None
        fd = os.open(entry.abs_path, _OPEN_FLAGS)
        try:
            _check_identity(os.fstat(fd), entry.size, entry.ino, entry.dev, entry.mtime_ns)
            offset, remaining = task.offset, task.length
            while remaining:
                want = min(remaining, CHUNK_SIZE)
                view = buf[:want]
                got = os.preadv(fd, [view], offset)
                if got == 0:
                    raise _Changed("shrank while being read")
                chunk = view[:got]
                sha.update(chunk)
                if b3 is not None:
                    b3.update(chunk)
                offset += got
                remaining -= got
            if task.kind == "whole" and os.pread(fd, 1, offset):
                raise _Changed("grew while being read")
        finally:
            os.close(fd)
        return sha.hexdigest(), (b3.hexdigest() if b3 is not None else None)


def _unchanged_after(entry: FileEntry) -> bool:
    try:
        st = os.stat(entry.abs_path, follow_symlinks=False)
    except OSError:
        return False
    return (
        st.st_ino == entry.ino
        and st.st_dev == entry.dev
        and st.st_size == entry.size
        and st.st_mtime_ns == entry.mtime_ns
    )


# Worker processes are fresh interpreters (`python -I -S`, fork+exec: safe from a threaded
# parent, and unlike multiprocessing's spawn/forkserver they never re-import the caller's
# __main__, so a user's script needs no `if __name__ == "__main__"` guard). They get the
# parent's sys.path, then answer length-prefixed marshal frames on stdin/stdout: marshal is the
# fastest stdlib codec for tuples of str/int, and both ends are chainguard/_hashworker.py, which
# imports nothing beyond a few stdlib modules (a worker starts in ~10 ms, not ~60).
_WORKER_BOOT = "from chainguard._hashworker import worker_main; worker_main()"
# How many worker processes this process has started (tests check the process path ran).
worker_processes_started = 0


def _widen_pipe(stream: IO[bytes] | None) -> None:
    """Let a pipe hold _PIPE_SIZE bytes (Linux; elsewhere the default stays): a worker can then
    run ahead by several replies while this process is busy elsewhere (its other threads hold
    the GIL for up to ~0.1 s in a single C call when reading a large signed SBOM)."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if stream is None or set_size is None:
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(stream.fileno(), set_size, _PIPE_SIZE)


class _WorkerProcess:
    """One worker process and two parent threads: one writes it requests taken from a shared
    queue, keeping up to _PIPELINED unanswered so that it never waits for this process (whose
    other threads hold the GIL for milliseconds at a time), one reads its replies in order."""

    def __init__(self, jobs: queue.Queue[Any], results: queue.Queue[Any]) -> None:
        import collections
        import subprocess
        import sys

        # The parent's path, plus where this package lives (an editable install finds it through
        # an import hook that -S does not load); appended, so it shadows nothing.
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = [*sys.path, package_parent]
        boot = f"import sys; sys.path[:] = {path!r}; {_WORKER_BOOT}"
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", boot],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        for stream in (self.proc.stdin, self.proc.stdout):
            _widen_pipe(stream)
        self.jobs, self.results = jobs, results
        self.slots = threading.Semaphore(_PIPELINED)
        self.sent: collections.deque[Any] = collections.deque()  # units written, not answered
        self.writer = threading.Thread(target=self._write, name="chainguard-hash-in", daemon=True)
        self.thread = threading.Thread(target=self._read, name="chainguard-hash-out", daemon=True)
        self.writer.start()
        self.thread.start()

    def _write(self) -> None:
        assert self.proc.stdin is not None
        while True:
            self.slots.acquire()
            job = self.jobs.get()
            if job is None:
                return
            unit, request = job
            self.sent.append(unit)
            try:
                _write_frame(self.proc.stdin, request)
            except (OSError, ValueError) as e:
                # The process is gone. Say so for this unit (the reader may say it too: the
                # first error stops the hashing, so a second one is never read).
                died = f"worker process died ({type(e).__name__})"
                self.results.put((unit, "error", died))
                return

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                status, payload = _read_frame(self.proc.stdout)
            except (OSError, EOFError, ValueError) as e:
                if self.sent:
                    died = f"worker process died ({type(e).__name__})"
                    self.results.put((self.sent.popleft(), "error", died))
                return
            self.results.put((self.sent.popleft(), status, payload))
            self.slots.release()
            if status != "ok":
                return

    def stop(self) -> None:
        for _ in range(_PIPELINED):
            self.slots.release()  # a writer waiting for a slot then finds the end marker
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()


# A unit of small-file work: FileEntry objects (with or without their identity), or a chunk
# of a ListedFiles.
_Unit = list[FileEntry] | ListedFiles
# Names per ListedFiles chunk: few enough that the chunks in flight stay small and the cores
# finish together, enough that framing costs little per file.
_LISTED_CHUNK = 1024


class RenderedRuns:
    """Directory chunks rendered as signed JSON (RenderedFiles), published as the workers finish
    them, for a reader in another thread: verify reads the signed file list while the directory
    is still being hashed (sbom/packed.py), so that little is left to do once it is.

    Chunks are known by their first path. ``starting_at`` waits only while the asked-for path
    may still begin a run: it is a chunk in flight, or beyond what the walk has listed so far
    (the walk hands out chunks in path order: collectors/tree.walk).
    """

    def __init__(self, bom_ref: str) -> None:
        self.bom_ref = bom_ref
        self._cond = threading.Condition()
        self._runs: dict[str, RenderedFiles] = {}
        self._pending: set[str] = set()
        self._frontier = ""  # the greatest first path dispatched so far
        self._listed = False  # every chunk dispatched
        self._closed = False  # every chunk finished (or the hashing stopped)

    def dispatched(self, first: str) -> None:
        with self._cond:
            self._pending.add(first)
            self._frontier = max(self._frontier, first)
            self._cond.notify_all()  # a reader may now know its path begins no run

    def finished(self, first: str, run: RenderedFiles | None) -> None:
        with self._cond:
            self._pending.discard(first)
            if run is not None:
                self._runs[first] = run
            self._cond.notify_all()

    def listed(self) -> None:
        with self._cond:
            self._listed = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def starting_at(self, bom_ref: str, first: str) -> RenderedFiles | None:
        """The run of ``bom_ref`` whose first path is ``first``, once hashed; None if there is
        none (or the hashing stopped)."""
        if bom_ref != self.bom_ref:
            return None
        with self._cond:
            while (
                first not in self._runs
                and not self._closed
                and (first in self._pending or (not self._listed and first > self._frontier))
            ):
                self._cond.wait()
            return self._runs.get(first)


class _SmallFiles:
    """Batches small files and hashes them: serially here, or on worker processes once the
    count reaches ``process_min_files``. Bounded: at most ``_INFLIGHT_PER_WORKER`` batches per
    worker are queued; before the workers start, at most ``process_min_files`` files are held."""

    def __init__(
        self,
        settings: HashSettings,
        on_result: Callable[[FileEntry, _SmallResult], None],
        on_listed: Callable[[ListedFiles, _ListedResult], None],
        runs: RenderedRuns | None = None,
        recheck: bool = True,
    ) -> None:
        self.settings = settings
        self.runs = None if settings.blake3 else runs
        self.render = self.runs.bom_ref if self.runs is not None else None
        self.recheck = recheck
        self.on_result = on_result
        self.on_listed = on_listed
        self.count = 0
        self.current: list[FileEntry] = []
        self.current_bytes = 0
        self.held: list[_Unit] = []  # units waiting for the decision to use processes
        self.workers: list[_WorkerProcess] = []
        self.jobs: queue.Queue[Any] = queue.Queue(_INFLIGHT_PER_WORKER * settings.workers)
        self.results: queue.Queue[Any] = queue.Queue()
        self.inflight = 0
        self.use_processes = settings.workers > 1
        self.min_files = max(1, settings.process_min_files)
        self.limit = min(settings.small_file_size, settings.shard_size)
        self.blake3 = settings.blake3

    def _item(self, e: FileEntry) -> _SmallItem:
        return (e.abs_path, e.size, e.ino, e.dev, e.mtime_ns, self.limit)

    def _request(self, unit: _Unit) -> tuple[Any, ...]:
        if isinstance(unit, ListedFiles):
            listed = (unit.base, unit.prefix, unit.names, unit.ino, unit.dev)
            return ("listed", *listed, self.limit, self.blake3, self.render, self.recheck)
        return ("entries", [self._item(e) for e in unit], self.blake3)

    @property
    def processes(self) -> int:
        """How many worker processes were started (0: everything ran in this thread)."""
        return len(self.workers)

    def add(self, entry: FileEntry) -> None:
        self.count += 1
        self.current.append(entry)
        self.current_bytes += max(entry.size, 0)
        if len(self.current) >= _BATCH_FILES or self.current_bytes >= _BATCH_BYTES:
            self._close_batch()

    def add_listed(self, listed: ListedFiles) -> None:
        names = listed.names
        for start in range(0, len(names), _LISTED_CHUNK):
            chunk = names[start : start + _LISTED_CHUNK]
            self.count += len(chunk)
            if self.runs is not None:
                self.runs.dispatched(listed.prefix + chunk[0])
            self._dispatch(replace(listed, names=chunk))

    def _close_batch(self) -> None:
        if not self.current:
            return
        batch, self.current, self.current_bytes = self.current, [], 0
        self._dispatch(batch)

    def _dispatch(self, unit: _Unit) -> None:
        if not self.workers and self.use_processes and self.count >= self.min_files:
            self._start_workers()
        if self.workers:
            self._submit(unit)
        else:
            self.held.append(unit)

    def _start_workers(self) -> None:
        global worker_processes_started
        worker_processes_started += self.settings.workers
        try:
            for _ in range(self.settings.workers):
                self.workers.append(_WorkerProcess(self.jobs, self.results))
        except OSError as e:
            raise HashingError(f"cannot start a hashing worker process: {e}") from e
        held, self.held = self.held, []
        for unit in held:
            self._submit(unit)

    def _submit(self, unit: _Unit) -> None:
        # Take in finished batches first so results (and memory) do not pile up.
        while True:
            try:
                self._handle(self.results.get_nowait())
            except queue.Empty:
                break
        job = (unit, self._request(unit))
        while True:
            try:
                self.jobs.put(job, timeout=0.05)
                break
            except queue.Full:
                self._handle_one(timeout=0.05)
        self.inflight += 1

    def _handle_one(self, timeout: float) -> None:
        try:
            reply = self.results.get(timeout=timeout)
        except queue.Empty:
            if not any(w.thread.is_alive() for w in self.workers):
                raise HashingError("every hashing worker process has stopped") from None
            return
        self._handle(reply)

    def _handle(self, reply: tuple[_Unit, str, Any]) -> None:
        unit, status, payload = reply
        self.inflight -= 1
        if status != "ok":
            raise HashingError(f"hashing worker process failed: {payload}")
        self._deliver(unit, payload)

    def _deliver(self, unit: _Unit, payload: Any) -> None:
        if isinstance(unit, ListedFiles):
            self.on_listed(unit, payload)
            return
        for entry, result in zip(unit, payload, strict=True):
            self.on_result(entry, result)

    def finish(self) -> None:
        """Hash everything still pending; returns when every small file has a result."""
        self._close_batch()
        if self.held:
            buf = memoryview(bytearray(CHUNK_SIZE + 1))
            for unit in self.held:
                if isinstance(unit, ListedFiles):
                    self._deliver(
                        unit,
                        _hash_listed(
                            unit.base,
                            unit.prefix,
                            unit.names,
                            (unit.ino, unit.dev),
                            self.limit,
                            self.blake3,
                            buf,
                            self.render,
                            self.recheck,
                        ),
                    )
                else:
                    for entry in unit:
                        self.on_result(entry, _hash_small_file(self._item(entry), buf, self.blake3))
            self.held = []
        while self.inflight:
            self._handle_one(timeout=0.5)

    def close(self) -> None:
        if not self.workers:
            return
        # Unblock every feeder thread, then end the processes (closing stdin ends their loop).
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


# --- planning and the engine --------------------------------------------------------------------


class EveryPath(Mapping[str, int]):
    """``shard_sizes`` for verifying before the signed SBOM is read: every path is taken to have
    shards of ``shard_size`` (what ``sbom build`` records by default). Files whose signed shard
    size turns out to differ are hashed again (collectors/tree.py, rehash)."""

    def __init__(self, shard_size: int) -> None:
        self.shard_size = shard_size

    def __getitem__(self, path: str) -> int:
        return self.shard_size

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def plan_jobs(
    entries: Sequence[FileEntry],
    settings: HashSettings,
    mode: Mode,
    shard_sizes: Mapping[str, int],
) -> list[_FileJob]:
    """Decide per file what to compute.

    build: whole-file digest for every file, plus shard digests for files above the shard size.
    verify: shard digests where the signed SBOM has them at the same shard size (parallel);
    the whole-file digest otherwise (small files, and files the SBOM does not know, so that
    renamed content can still be recognised).
    """
    return [_plan(e, settings, mode, shard_sizes) for e in entries]


def _plan(
    e: FileEntry, settings: HashSettings, mode: Mode, shard_sizes: Mapping[str, int]
) -> _FileJob:
    sharded = e.size > settings.shard_size
    if mode == "build":
        return _FileJob(e, True, _shard_count(e.size, settings.shard_size) if sharded else 0)
    if sharded and shard_sizes.get(e.rel) == settings.shard_size:
        return _FileJob(e, False, _shard_count(e.size, settings.shard_size))
    return _FileJob(e, True, 0)


def _tasks(jobs: Sequence[_FileJob], settings: HashSettings) -> list[_Task]:
    tasks: list[_Task] = []
    for job in jobs:
        size = job.entry.size
        if job.whole:
            tasks.append(_Task(job, "whole", 0, 0, size))
        for i in range(job.shard_count):
            off = i * settings.shard_size
            tasks.append(_Task(job, "shard", i, off, min(settings.shard_size, size - off)))
        job.shards = [None] * job.shard_count
        job.pending = (1 if job.whole else 0) + job.shard_count
    # Longest first: a big whole-file digest started last would leave the other cores idle.
    tasks.sort(key=lambda t: t.length, reverse=True)
    return tasks


def hash_entries(
    entries: Iterable[FileEntry | ListedFiles],
    settings: HashSettings,
    *,
    mode: Mode = "build",
    shard_sizes: Mapping[str, int] | None = None,
    progress: ProgressCallback | None = None,
    on_listed: ListedCallback | None = None,
) -> tuple[list[FileDigest], list[Anomaly]]:
    """hash_files, with the digests as a list of FileDigest objects."""
    files, anomalies = hash_files(
        entries,
        settings,
        mode=mode,
        shard_sizes=shard_sizes,
        progress=progress,
        on_listed=on_listed,
    )
    return list(files), anomalies


def hash_files(
    entries: Iterable[FileEntry | ListedFiles],
    settings: HashSettings,
    *,
    mode: Mode = "build",
    shard_sizes: Mapping[str, int] | None = None,
    progress: ProgressCallback | None = None,
    on_listed: ListedCallback | None = None,
    cancelled: threading.Event | None = None,
    runs: RenderedRuns | None = None,
) -> tuple[FileList, list[Anomaly]]:
    """Hash the listed files. Returns digests for files read consistently, anomalies for others.

    ``entries`` may be a lazy stream (a directory walk): small files are hashed while it is
    still being listed, large ones start on the thread pool as soon as they are seen.
    ``on_listed(files, bytes)`` is called once every entry's size is known; ``progress(bytes)``
    only after that. Files handed over as ListedFiles come back as plain lines of the FileList
    (unless BLAKE3 is on), others as FileDigest objects. Setting ``cancelled`` stops the work
    (HashingError) at the next file listed or batch hashed.

    ``runs``: directory chunks whose files were all hashed are also rendered as a signed
    statement lists them under ``runs.bom_ref`` and published there (verify's fast path).
    """
    if shard_sizes is None:
        shard_sizes = {}
    if settings.blake3:
        _blake3_new()  # a missing extra is a usage error here, not a worker failure later
    digests: list[FileDigest] = []
    # chainguard-tree-v1 lines of files hashed from ListedFiles, and whether in path order
    plain: list[tuple[str, bool]] = []
    plain_size = 0
    anomalies: list[Anomaly] = []
    lock = threading.Lock()
    listed = False
    early_progress = 0
    count = total = 0

    def report(nbytes: int) -> None:
        nonlocal early_progress
        if progress is None:
            return
        with lock:
            if not listed:
                early_progress += nbytes
                return
        progress(nbytes)

    large = _LargeFiles(settings, report, cancelled)

    def add_large(entry: FileEntry) -> None:
        large.add(_plan(entry, settings, mode, shard_sizes))

    def small_result(entry: FileEntry, result: _SmallResult) -> None:
        nonlocal total
        code = result[0]
        if code == HASHED:
            _, sha, b3, size = result
            digests.append(
                FileDigest(entry.rel, size, sha, b3, settings.shard_size)  # positional: hot loop
            )
            total += size
            report(size)
        elif code == LARGE:
            _, size, ino, dev, mtime_ns = result
            total += size
            add_large(FileEntry(entry.rel, entry.abs_path, size, ino, dev, mtime_ns))
        else:
            anomalies.append(Anomaly(entry.rel, result[1], result[2]))

    def listed_result(unit: ListedFiles, result: _ListedResult) -> None:
        nonlocal total, plain_size
        if cancelled is not None and cancelled.is_set():
            raise HashingError("hashing cancelled")
        text, blake3, others, nbytes, as_json = result
        names = unit.names
        if blake3 is None:
            in_order = all(map(str.__lt__, names, names[1:]))
            plain.append((text, in_order))
            plain_size += nbytes
            if runs is not None and names:
                first, run = unit.prefix + names[0], None
                if as_json is not None and in_order:
                    last, (digest, length) = unit.prefix + names[-1], as_json
                    run = RenderedFiles(
                        runs.bom_ref, first, last, len(names), nbytes, text, digest, length
                    )
                runs.finished(first, run)
        else:  # BLAKE3 (sbom build): no plain lines, every file keeps its FileDigest
            for line, b3 in zip(text.split("\n"), blake3, strict=False):
                rel, size, sha = line.split("\0")
                digests.append(FileDigest(rel, int(size), sha, b3, settings.shard_size))
        total += nbytes
        report(nbytes)
        for index, other in others:
            name = unit.names[index]
            small_result(FileEntry.listed_by_type(unit.prefix + name, unit.base + name), other)

    small = _SmallFiles(settings, small_result, listed_result, runs, recheck=mode == "build")
    small_limit = small.limit
    try:
        for e in entries:
            if cancelled is not None and cancelled.is_set():
                raise HashingError("hashing cancelled")
            if type(e) is ListedFiles:
                count += len(e.names)
                small.add_listed(e)
                continue
            assert isinstance(e, FileEntry)
            count += 1
            if e.size <= small_limit:  # includes size -1: not stat'ed, the worker decides
                small.add(e)
            else:
                total += e.size
                add_large(e)
        if runs is not None:
            runs.listed()
        small.finish()
        with lock:
            listed = True
            pending, early_progress = early_progress, 0
        if on_listed is not None:
            on_listed(count, total)
        if progress is not None and pending:
            progress(pending)
        large.finish()
        if cancelled is not None and cancelled.is_set():
            raise HashingError("hashing cancelled")
    finally:
        small.close()
        large.close()

    for job in large.jobs:
        e = job.entry
        if job.failed is None and not _unchanged_after(e):
            job.failed = Anomaly(e.rel, "changed-during-hash", "modified while being read")
        if job.failed is not None:
            anomalies.append(job.failed)
            continue
        digests.append(
            FileDigest(
                path=e.rel,
                size=e.size,
                sha256=job.sha256,
                blake3=job.blake3,
                shard_size=settings.shard_size,
                shards=tuple(s for s in job.shards if s is not None),
            )
        )
    files = FileList(
        _sorted_lines(plain), digests, shard_size=settings.shard_size, plain_size=plain_size
    )
    return files, anomalies


def _sorted_lines(chunks: list[tuple[str, bool]]) -> list[str]:
    """The chainguard-tree-v1 lines of every chunk (text, whether its lines are in path order),
    in path order, as pieces. The walk sorts each directory's names: when the chunks are each
    in order and, put in order of their first line, do not overlap, the pieces are the chunks
    themselves, with no line split, sorted or copied."""
    texts = [text for text, _ in chunks if text]
    if all(in_order for _, in_order in chunks):
        texts.sort()  # by first line, hence by first path (a path holds no NUL)
        firsts = [text[: text.index("\0")] for text in texts]
        lasts = [_last_path(text) for text in texts]
        if all(map(str.__lt__, lasts, firsts[1:])):
            return texts
    lines = "".join(texts).split("\n")
    texts.clear()
    lines.pop()  # after the last newline (or the empty string)
    lines.sort()  # lines sort as their paths: safe names hold no NUL
    lines.append("")
    return ["\n".join(lines)]


def _last_path(text: str) -> str:
    start = text.rfind("\n", 0, len(text) - 1) + 1
    return text[start : text.index("\0", start)]


class _LargeFiles:
    """Large files and shards on a thread pool, started with the first large file."""

    def __init__(
        self,
        settings: HashSettings,
        report: ProgressCallback,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.report = report
        self.cancelled = cancelled
        self.jobs: list[_FileJob] = []
        self.pool: ThreadPoolExecutor | None = None
        self.futures: list[Future[None]] = []
        self.worker = _Worker()
        self.lock = threading.Lock()

    def add(self, job: _FileJob) -> None:
        self.jobs.append(job)
        tasks = _tasks([job], self.settings)
        if self.settings.workers == 1:
            return  # run in finish(), in this thread
        if self.pool is None:
            self.pool = ThreadPoolExecutor(
                self.settings.workers, thread_name_prefix="chainguard-hash"
            )
        self.futures += [self.pool.submit(self._run, t) for t in tasks]

    def finish(self) -> None:
        if self.pool is None:
            for t in _tasks(self.jobs, self.settings):
                self._run(t)
            return
        done, _ = wait(self.futures, return_when=FIRST_EXCEPTION)
        for f in done:
            f.result()  # re-raise programming errors rather than hide them

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _run(self, task: _Task) -> None:
        job = task.job
        if job.failed is not None or (self.cancelled is not None and self.cancelled.is_set()):
            return
        try:
            sha, b3 = self.worker.run(task, self.settings.blake3)
        except _Changed as e:
            with self.lock:
                job.failed = Anomaly(job.entry.rel, "changed-during-hash", str(e))
            return
        except OSError as e:
            with self.lock:
                job.failed = job.failed or _os_anomaly(job.entry.rel, e)
            return
        with self.lock:
            if task.kind == "whole":
                job.sha256, job.blake3 = sha, b3
            else:
                job.shards[task.index] = sha
            job.pending -= 1
        self.report(task.length)


def _os_anomaly(rel: str, e: OSError) -> Anomaly:
    kind, detail = _os_problem(e)
    return Anomaly(rel, kind, detail)


def sha256_file(path: Path) -> str:
    """Digest of one small file read whole-sale (SBOMs, bundles, RECORD files)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
            h.update(chunk)
    return h.hexdigest()
