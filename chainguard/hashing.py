"""The one hashing engine every collector uses.

Streaming with a fixed buffer per worker (memory does not grow with file size), parallel across
files and across fixed-size shards of large files, so that a single 8 GiB file still keeps every
core busy at verify time. hashlib and blake3 release the GIL while they digest large buffers and
the kernel reads (os.preadv) release it too, so plain threads scale here; no process start cost.

Files are opened with O_NOFOLLOW and re-checked with fstat against what the directory walk saw,
and the path is stat'ed again after hashing: a file that is swapped, grown, shrunk or touched
while we read it is reported as changed instead of silently yielding a digest of mixed content.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chainguard.errors import UsageError
from chainguard.models import DEFAULT_SHARD_SIZE, Anomaly, FileDigest

# 1 MiB reads: large enough that per-call overhead and GIL hand-offs vanish, small enough that
# workers x buffer stays a few MiB.
CHUNK_SIZE = 1024 * 1024

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_OPEN_FLAGS |= getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)

Mode = Literal["build", "verify"]
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A regular file found by a walk, with the identity it had when listed."""

    rel: str  # relative POSIX path (the name recorded in the SBOM)
    abs_path: str  # what to open (a symlink inside the tree is resolved to its target)
    size: int
    ino: int
    dev: int
    mtime_ns: int

    @classmethod
    def from_stat(cls, rel: str, abs_path: str, st: os.stat_result) -> FileEntry:
        return cls(rel, abs_path, st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class HashSettings:
    """How to hash. Recorded alongside the digests so verify can reproduce it."""

    shard_size: int = DEFAULT_SHARD_SIZE
    blake3: bool = False
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)

    def __post_init__(self) -> None:
        if self.shard_size < CHUNK_SIZE or self.shard_size % CHUNK_SIZE:
            raise UsageError(f"shard size must be a positive multiple of {CHUNK_SIZE} bytes")
        if self.workers < 1:
            raise UsageError("workers must be at least 1")


class _Changed(Exception):
    """The file is not the one the walk listed, or changed while being read."""


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
            st = os.fstat(fd)
            if (
                not stat.S_ISREG(st.st_mode)
                or st.st_ino != entry.ino
                or st.st_dev != entry.dev
                or st.st_size != entry.size
                or st.st_mtime_ns != entry.mtime_ns
            ):
                raise _Changed("replaced or modified after it was listed")
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


def plan_jobs(
    entries: Sequence[FileEntry], settings: HashSettings, mode: Mode, shard_sizes: dict[str, int]
) -> list[_FileJob]:
    """Decide per file what to compute.

    build: whole-file digest for every file, plus shard digests for files above the shard size.
    verify: shard digests where the signed SBOM has them at the same shard size (parallel);
    the whole-file digest otherwise (small files, and files the SBOM does not know, so that
    renamed content can still be recognised).
    """
    jobs = []
    for e in entries:
        sharded = e.size > settings.shard_size
        if mode == "build":
            jobs.append(
                _FileJob(e, True, _shard_count(e.size, settings.shard_size) if sharded else 0)
            )
        else:
            signed_shard = shard_sizes.get(e.rel)
            if sharded and signed_shard == settings.shard_size:
                jobs.append(_FileJob(e, False, _shard_count(e.size, settings.shard_size)))
            else:
                jobs.append(_FileJob(e, True, 0))
    return jobs


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
    entries: Sequence[FileEntry],
    settings: HashSettings,
    *,
    mode: Mode = "build",
    shard_sizes: dict[str, int] | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[list[FileDigest], list[Anomaly]]:
    """Hash the listed files. Returns digests for files read consistently, anomalies for others."""
    jobs = plan_jobs(entries, settings, mode, shard_sizes or {})
    tasks = _tasks(jobs, settings)
    worker = _Worker()
    lock = threading.Lock()

    def run(task: _Task) -> None:
        job = task.job
        if job.failed is not None:
            return
        try:
            sha, b3 = worker.run(task, settings.blake3)
        except _Changed as e:
            with lock:
                job.failed = Anomaly(job.entry.rel, "changed-during-hash", str(e))
            return
        except OSError as e:
            with lock:
                job.failed = job.failed or _os_anomaly(job.entry.rel, e)
            return
        with lock:
            if task.kind == "whole":
                job.sha256, job.blake3 = sha, b3
            else:
                job.shards[task.index] = sha
            job.pending -= 1
        if progress is not None:
            progress(task.length)

    if settings.workers == 1 or len(tasks) <= 1:
        for t in tasks:
            run(t)
    else:
        with ThreadPoolExecutor(settings.workers, thread_name_prefix="chainguard-hash") as pool:
            futures: list[Future[None]] = [pool.submit(run, t) for t in tasks]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for f in done:
                f.result()  # re-raise programming errors rather than hide them

    digests: list[FileDigest] = []
    anomalies: list[Anomaly] = []
    for job in jobs:
        e = job.entry
        if job.failed is None and not _unchanged_after(e):
            job.failed = Anomaly(e.rel, "changed-during-hash", "modified while being read")
        if job.failed is not None:
            anomalies.append(job.failed)
            continue
        shards = tuple(s for s in job.shards if s is not None)
        digests.append(
            FileDigest(
                path=e.rel,
                size=e.size,
                sha256=job.sha256,
                blake3=job.blake3,
                shard_size=settings.shard_size,
                shards=shards,
            )
        )
    return digests, anomalies


def _os_anomaly(rel: str, e: OSError) -> Anomaly:
    import errno

    if e.errno == errno.ELOOP:
        return Anomaly(rel, "changed-during-hash", "became a symbolic link after it was listed")
    if e.errno == errno.ENOENT:
        return Anomaly(rel, "changed-during-hash", "disappeared while being read")
    return Anomaly(rel, "unreadable", e.strerror or str(e))


def sha256_file(path: Path) -> str:
    """Digest of one small file read whole-sale (SBOMs, bundles, RECORD files)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
            h.update(chunk)
    return h.hexdigest()
