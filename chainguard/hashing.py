"""The one hashing engine every collector uses.

Streaming with a fixed buffer per worker (memory does not grow with file size), parallel across
files and across fixed-size shards of large files, so that a single 8 GiB file still keeps every
core busy at verify time.

Two kinds of work, one engine:
- Large files (and shards of them) run on a thread pool (here): hashlib and blake3 release the
  GIL while they digest 1 MiB buffers and the kernel reads (os.preadv) release it too, so plain
  threads scale there, with no process start cost.
- Small files (at most ``HashSettings.small_file_size``) are batched and hashed by worker
  processes once there are enough of them, else by the calling thread
  (chainguard/hashing_small.py). The directory chunks they hash can also be rendered as the
  signed statement lists them, for verify's fast path (chainguard/hashing_runs.py).

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

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chainguard._hashworker import (
    _OPEN_FLAGS,
    HASHED,
    LARGE,
    _Changed,
    _check_identity,
    _os_problem,
)
from chainguard._hashworker import CHUNK_SIZE as CHUNK_SIZE  # part of this module's API
from chainguard.errors import HashingError, UsageError
from chainguard.formats.detect import HEAD_BYTES, detect_format
from chainguard.hashing_pool import PROCESS_MIN_FILES as PROCESS_MIN_FILES  # (this API's)
from chainguard.hashing_pool import PROCESS_MIN_FILES_ENV as PROCESS_MIN_FILES_ENV
from chainguard.hashing_pool import default_process_min_files, default_workers
from chainguard.hashing_small import _SmallFiles
from chainguard.models import DEFAULT_SHARD_SIZE, Anomaly, FileDigest, FileList
from chainguard.sbom.fileshape import recorded_mode

if TYPE_CHECKING:
    from chainguard._hashworker import _ListedResult, _SmallResult
    from chainguard.hashing_runs import RenderedRuns
    from chainguard.hashing_throttle import ReadThrottle

# Files up to this size are read in one call and hashed in batches (by worker processes when
# there are enough of them); larger files go to the thread pool.
SMALL_FILE_SIZE = CHUNK_SIZE

Mode = Literal["build", "verify"]
ProgressCallback = Callable[[int], None]
ListedCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A regular file found by a walk, with the identity it had when listed."""

    rel: str  # relative POSIX path (the name recorded in the SBOM)
    abs_path: str  # what to open (a symlink inside the tree is resolved to its target)
    size: int  # -1: not stat'ed yet (see listed_by_type)
    ino: int
    dev: int
    mtime_ns: int
    # as listed (the files the engine opens itself take it from their fstat); 0: none known
    # (an object store)
    st_mode: int = 0

    @classmethod
    def from_stat(cls, rel: str, abs_path: str, st: os.stat_result) -> FileEntry:
        return cls(rel, abs_path, st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_mode)

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
    workers: int = field(default_factory=default_workers)
    small_file_size: int = SMALL_FILE_SIZE
    process_min_files: int = field(default_factory=default_process_min_files)
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


# --- the engine -----------------------------------------------------------------------------------


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
    throttle: ReadThrottle | None = None,
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

    ``throttle``: a read-rate limit (hashing_throttle.ReadThrottle) the reads draw from.
    """
    if settings.blake3:
        _blake3_new()  # a missing extra is a usage error here, not a worker failure later
    held_progress = _HeldProgress(progress)
    shard_sizes = {} if shard_sizes is None else shard_sizes
    large = _LargeFiles(settings, mode, shard_sizes, held_progress.report, cancelled, throttle)
    small_report: ProgressCallback = held_progress.report
    if throttle is not None:  # small files are charged as their batches come back
        small_report = _throttled(held_progress.report, throttle)
    results = _Results(settings, large, small_report, cancelled, runs)
    small = _SmallFiles(
        settings, results.small_result, results.listed_result, runs, recheck=mode == "build"
    )
    try:
        count = _hand_out(entries, small, results, cancelled)
        if runs is not None:
            runs.listed()
        small.finish()
        pending = held_progress.release()
        if on_listed is not None:
            on_listed(count, results.total)
        if progress is not None and pending:
            progress(pending)
        large.finish()
        _stop_if_cancelled(cancelled)
    finally:
        small.close()
        large.close()
    results.large_results(large.jobs)
    return results.file_list(), results.anomalies


def _throttled(report: ProgressCallback, throttle: ReadThrottle) -> ProgressCallback:
    def charged(nbytes: int) -> None:
        throttle.take(nbytes)
        report(nbytes)

    return charged


def _stop_if_cancelled(cancelled: threading.Event | None) -> None:
    if cancelled is not None and cancelled.is_set():
        raise HashingError("hashing cancelled")


def _hand_out(
    entries: Iterable[FileEntry | ListedFiles],
    small: _SmallFiles,
    results: _Results,
    cancelled: threading.Event | None,
) -> int:
    """Give each entry, as it is listed, to the small-file batches or the thread pool; returns
    how many files were listed."""
    count = 0
    small_limit = small.limit
    for e in entries:
        _stop_if_cancelled(cancelled)
        if type(e) is ListedFiles:
            count += len(e.names)
            small.add_listed(e)
            continue
        assert isinstance(e, FileEntry)
        count += 1
        if e.size <= small_limit:  # includes size -1: not stat'ed, the worker decides
            small.add(e)
        else:
            results.add_large(e)
    return count


class _HeldProgress:
    """``progress`` of the bytes hashed, held back until every entry's size is known (bytes
    hashed before that are reported once ``on_listed`` has been called). Called from the
    thread pool too."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self.progress = progress
        self.lock = threading.Lock()
        self.listed = False
        self.early = 0

    def report(self, nbytes: int) -> None:
        if self.progress is None:
            return
        with self.lock:
            if not self.listed:
                self.early += nbytes
                return
        self.progress(nbytes)

    def release(self) -> int:
        """Every size is known: report from now on; returns the bytes held back so far."""
        with self.lock:
            self.listed = True
            pending, self.early = self.early, 0
        return pending


class _Results:
    """What hash_files gathers as results come in: FileDigest objects, the lines of files
    hashed by directory, anomalies, and the bytes listed (``total``)."""

    def __init__(
        self,
        settings: HashSettings,
        large: _LargeFiles,
        report: ProgressCallback,
        cancelled: threading.Event | None,
        runs: RenderedRuns | None,
    ) -> None:
        self.shard_size = settings.shard_size
        self.large = large
        self.report = report
        self.cancelled = cancelled
        self.runs = runs
        self.digests: list[FileDigest] = []
        # chainguard-tree-v1 lines of files hashed from ListedFiles, and whether in path order
        self.plain: list[tuple[str, bool]] = []
        self.formats: list[str] = []  # their "path \0 format \n" lines
        self.plain_size = 0
        self.anomalies: list[Anomaly] = []
        self.total = 0

    def add_large(self, entry: FileEntry) -> None:
        self.total += entry.size
        self.large.add(entry)

    def small_result(self, entry: FileEntry, result: _SmallResult) -> None:
        code = result[0]
        if code == HASHED:
            _, sha, b3, size, fmt, mode = result
            # positional: hot loop
            f = FileDigest(entry.rel, size, sha, b3, self.shard_size, format=fmt, mode=mode)
            self.digests.append(f)
            self.total += size
            self.report(size)
        elif code == LARGE:
            _, size, ino, dev, mtime_ns, st_mode = result
            large = FileEntry(entry.rel, entry.abs_path, size, ino, dev, mtime_ns, st_mode)
            self.add_large(large)
        else:
            self.anomalies.append(Anomaly(entry.rel, result[1], result[2]))

    def listed_result(self, unit: ListedFiles, result: _ListedResult) -> None:
        _stop_if_cancelled(self.cancelled)
        text, blake3, others, nbytes, rendered, formats = result
        names = unit.names
        if blake3 is None:
            in_order = all(map(str.__lt__, names, names[1:]))
            self.plain.append((text, in_order))
            self.formats.append(formats)
            self.plain_size += nbytes
            if self.runs is not None and names:
                runs, prefix = self.runs, unit.prefix
                runs.chunk_hashed(prefix, names, text, formats, nbytes, rendered, in_order)
        else:  # BLAKE3 (sbom build): no plain lines, every file keeps its FileDigest
            fmts = [line.split("\0")[1] for line in formats.split("\n") if line]
            for line, b3, fmt in zip(text.split("\n"), blake3, fmts, strict=False):
                rel, size, sha = line.split("\0")
                f = FileDigest(rel, int(size), sha, b3, self.shard_size, format=fmt)
                self.digests.append(f)
        self.total += nbytes
        self.report(nbytes)
        for index, other in others:
            name = names[index]
            self.small_result(FileEntry.listed_by_type(unit.prefix + name, unit.base + name), other)

    def large_results(self, jobs: list[_FileJob]) -> None:
        """The large files' digests, or an anomaly for each that changed while being read."""
        for job in jobs:
            e = job.entry
            if job.failed is None and not _unchanged_after(e):
                job.failed = Anomaly(e.rel, "changed-during-hash", "modified while being read")
            if job.failed is not None:
                self.anomalies.append(job.failed)
                continue
            self.digests.append(
                FileDigest(
                    path=e.rel,
                    size=e.size,
                    sha256=job.sha256,
                    blake3=job.blake3,
                    shard_size=self.shard_size,
                    shards=tuple(s for s in job.shards if s is not None),
                    format=job.format,
                    mode=recorded_mode(e.st_mode),
                )
            )

    def file_list(self) -> FileList:
        return FileList(
            _sorted_lines(self.plain),
            self.digests,
            shard_size=self.shard_size,
            plain_size=self.plain_size,
            format_pieces=self.formats,
        )


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


# --- large files, on the thread pool -------------------------------------------------------------


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
    format: str | None = None  # detected from the first bytes, by a task that reads them


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

    def run(
        self, task: _Task, with_blake3: bool, throttle: ReadThrottle | None = None
    ) -> tuple[str, str | None, str | None]:
        """(SHA-256, BLAKE3, format: from the first bytes, if this task reads them)"""
        entry = task.job.entry
        buf = self.buffer()
        sha = hashlib.sha256()
        b3 = _blake3_new() if (with_blake3 and task.kind == "whole") else None
        fd = os.open(entry.abs_path, _OPEN_FLAGS)
        try:
            _check_identity(os.fstat(fd), entry.size, entry.ino, entry.dev, entry.mtime_ns)
            offset, remaining = task.offset, task.length
            fmt = None
            while remaining:
                want = min(remaining, CHUNK_SIZE)
                if throttle is not None:
                    throttle.take(want)
                view = buf[:want]
                got = os.preadv(fd, [view], offset)
                if got == 0:
                    raise _Changed("shrank while being read")
                chunk = view[:got]
                if offset == 0:
                    fmt = detect_format(bytes(chunk[:HEAD_BYTES]), entry.size)
                sha.update(chunk)
                if b3 is not None:
                    b3.update(chunk)
                offset += got
                remaining -= got
            if task.kind == "whole" and os.pread(fd, 1, offset):
                raise _Changed("grew while being read")
        finally:
            os.close(fd)
        return sha.hexdigest(), (b3.hexdigest() if b3 is not None else None), fmt


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


class _LargeFiles:
    """Large files and shards on a thread pool, started with the first large file."""

    def __init__(
        self,
        settings: HashSettings,
        mode: Mode,
        shard_sizes: Mapping[str, int],
        report: ProgressCallback,
        cancelled: threading.Event | None = None,
        throttle: ReadThrottle | None = None,
    ) -> None:
        self.settings = settings
        self.throttle = throttle
        self.mode = mode
        self.shard_sizes = shard_sizes
        self.report = report
        self.cancelled = cancelled
        self.jobs: list[_FileJob] = []
        self.pool: ThreadPoolExecutor | None = None
        self.futures: list[Future[None]] = []
        self.worker = _Worker()
        self.lock = threading.Lock()

    def add(self, entry: FileEntry) -> None:
        job = _plan(entry, self.settings, self.mode, self.shard_sizes)
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
            sha, b3, fmt = self.worker.run(task, self.settings.blake3, self.throttle)
        except _Changed as e:
            with self.lock:
                job.failed = Anomaly(job.entry.rel, "changed-during-hash", str(e))
            return
        except OSError as e:
            with self.lock:
                job.failed = job.failed or _os_anomaly(job.entry.rel, e)
            return
        with self.lock:
            if fmt is not None:
                job.format = fmt
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
