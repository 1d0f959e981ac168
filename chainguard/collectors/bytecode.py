"""Bytecode Python would run instead of a verified source, checked by compiling the source again.

Which .pyc CPython's import system runs (``importlib._bootstrap_external``):

- For a source ``pkg/mod.py``, SourceFileLoader reads ``pkg/__pycache__/mod.<cache_tag>.pyc``
  (``.opt-1`` / ``.opt-2`` under ``-O`` / ``-OO``) and runs it *instead of the source* when its
  16-byte header (PEP 552) accepts it: the interpreter's magic number, flags 0, 1 or 3, and

  - flags 0 (timestamp): the source's mtime and size recorded in the header (low 32 bits);
  - flags 3 (checked hash): the source's SipHash, keyed by the magic number (only the
    interpreter computes it, so the worker checks it);
  - flags 1 (unchecked hash): always. The source is never read: ``bytecode-unchecked``.

  Any other .pyc is stale: Python compiles the source and runs that, so it is not reported.
  Under ``--check-hash-based-pycs never`` a stale checked-hash .pyc would run too; that option
  is not supported here. ``sys.pycache_prefix`` (``PYTHONPYCACHEPREFIX``) moves the cache out of
  the environment, where it is not looked at.
- A legacy ``pkg/mod.pyc`` (beside the source, not in ``__pycache__``) is imported sourceless
  when there is no ``mod.py`` (FileFinder tries extension modules, then source, then bytecode):
  ``bytecode-orphan``, unless RECORD lists it with a hash (an honestly installed sourceless
  module, whose content the hash check covers). ``__pycache__`` itself is importable as a
  namespace package, so an untagged ``__pycache__/mod.pyc`` is an orphan too. A tagged
  ``__pycache__`` file without its source is never loaded and is not reported.

Every .pyc that would run is compiled again from its source by the environment's own
interpreter, run isolated (``-I -S -B``: no site, no ``.pth`` file, nothing imported from the
environment) with chainguard/collectors/_pycworker.py, a pool of them fed paths on stdin, and
compared (see that module). That interpreter is what runs the environment's code anyway; the
environment's site-packages are never imported.

Given a cache (collectors/bytecode_cache.py), a .pyc whose exact bytes, with its source's exact
bytes, passed before under the same interpreter, optimization level and comparison
(``verdict_key``) is not compiled again. Only passes are cached, keyed by the digests of what
the worker actually read; the findings are the same with or without a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from chainguard.collectors._deps import one_line
from chainguard.errors import LockfileError
from chainguard.models import RecordProblem

if TYPE_CHECKING:
    from chainguard.collectors.bytecode_cache import BytecodeCache

WORKER = Path(__file__).with_name("_pycworker.py")
HEADER_SIZE = 16
HELLO_TIMEOUT = 30.0
# Compiling runs at a few MiB of source per second per core; these limits only stop a hung
# interpreter, so they are far above that.
TIMEOUT_BASE = 60.0
TIMEOUT_PER_MIB = 5.0
# Fewer files than this per worker are not worth another interpreter start.
MIN_JOBS_PER_WORKER = 64
# Part of every cached verdict's key: bump it when what makes a pass changes (with the worker's
# own digest, which is in the key too).
COMPARISON_VERSION = 1

Invalidation = Literal["timestamp", "checked-hash", "unchecked-hash"]
_FLAGS: dict[int, Invalidation] = {0: "timestamp", 1: "unchecked-hash", 3: "checked-hash"}
# <module>.<cache tag>.pyc or <module>.<cache tag>.opt-<level>.pyc (importlib.util
# .cache_from_source); the level is sys.flags.optimize, never 0 in a name.
_CACHED_NAME = re.compile(r"([^.]+)\.([^.]+?)(?:\.opt-([1-9][0-9]{0,3}))?\.pyc")


@dataclass(frozen=True, slots=True)
class PycHeader:
    """The 16-byte header of a .pyc (PEP 552)."""

    magic: bytes
    invalidation: Invalidation
    source_mtime: int = 0  # timestamp: low 32 bits of the source's mtime in seconds
    source_size: int = 0  # timestamp: low 32 bits of the source's size
    source_hash: bytes = b""  # hash-based: SipHash of the source (8 bytes)


@dataclass(frozen=True, slots=True)
class PycRejected:
    """A header Python refuses (it compiles the source instead)."""

    reason: str


@dataclass(frozen=True, slots=True)
class CachedPyc:
    """A ``__pycache__`` file named for a source that exists."""

    pyc: str  # absolute path
    source: str  # absolute path of pkg/mod.py
    where: str  # the .pyc relative to site-packages, for findings
    tag: str
    optimize: int
    distribution: str = ""  # whose RECORD lists the source


def parse_pyc_header(head: bytes) -> PycHeader | PycRejected:
    """The header of a .pyc, or why Python would not use it (truncated, unknown flags)."""
    if len(head) < HEADER_SIZE:
        return PycRejected(f"truncated: {len(head)} bytes, a header is {HEADER_SIZE}")
    flags = int.from_bytes(head[4:8], "little")
    invalidation = _FLAGS.get(flags)
    if invalidation is None:
        return PycRejected(f"unknown flags {flags:#x}")
    magic = bytes(head[:4])
    if invalidation == "timestamp":
        mtime = int.from_bytes(head[8:12], "little")
        size = int.from_bytes(head[12:16], "little")
        return PycHeader(magic, invalidation, source_mtime=mtime, source_size=size)
    return PycHeader(magic, invalidation, source_hash=bytes(head[8:16]))


def parse_cached_name(name: str) -> tuple[str, str, int] | None:
    """``mod.cpython-311.opt-1.pyc`` → ("mod", "cpython-311", 1); None for any other name."""
    m = _CACHED_NAME.fullmatch(name)
    if m is None:
        return None
    return m[1], m[2], int(m[3] or 0)


def runs_instead_of_source(
    header: PycHeader | PycRejected, magic: bytes, source_mtime: float, source_size: int
) -> bool:
    """Whether the interpreter with ``magic`` may run this .pyc rather than compile the source
    (a checked-hash .pyc: if its hash matches, which only the interpreter can tell)."""
    if isinstance(header, PycRejected) or header.magic != magic:
        return False
    if header.invalidation != "timestamp":
        return True
    return (
        header.source_mtime == int(source_mtime) & 0xFFFFFFFF
        and header.source_size == source_size & 0xFFFFFFFF
    )


# --- running the environment's interpreter ---------------------------------------------------


def _command(interpreter: Path, *args: str) -> list[str]:
    return [str(interpreter), "-I", "-S", "-B", "-W", "ignore", str(WORKER), *args]


@dataclass(frozen=True, slots=True)
class Interpreter:
    """What the environment's interpreter loads and compiles."""

    tag: str  # sys.implementation.cache_tag
    magic: bytes  # importlib.util.MAGIC_NUMBER
    version: str = ""  # implementation and sys.version (the compiler); "" unknown: no caching


def interpreter_identity(interpreter: Path, *, timeout: float = HELLO_TIMEOUT) -> Interpreter:
    """Cache tag, magic number and version of the environment's interpreter."""
    done = _run(_command(interpreter, "hello"), b"", interpreter, timeout, "answer")
    if done.returncode != 0:
        raise LockfileError(
            f"{interpreter}: cannot check bytecode: the interpreter failed "
            f"(exit {done.returncode}: {_tail(done.stderr)})"
        )
    try:
        tag, magic, *version = json.loads(done.stdout)
        return Interpreter(str(tag), bytes.fromhex(str(magic)), str(version[0]) if version else "")
    except (ValueError, TypeError) as e:
        raise LockfileError(f"{interpreter}: unexpected answer from the interpreter") from e


def verdict_key(
    python: Interpreter, worker_sha256: str, optimize: int, source_sha256: str, pyc_sha256: str
) -> bytes:
    """The cache key of "this .pyc is a compilation of this source" (32 bytes): both contents,
    and everything else the verdict depends on."""
    fields = [
        "chainguard bytecode pass",
        COMPARISON_VERSION,
        worker_sha256,
        python.tag,
        python.magic.hex(),
        python.version,
        optimize,
        source_sha256,
        pyc_sha256,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).digest()


def _file_sha256(path: str) -> str | None:
    """SHA-256 of a regular file, or None (then it is compiled: the worker says why)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not hang
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            digest = hashlib.sha256()
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        except OSError:
            return None
    return digest.hexdigest()


def _run(
    command: list[str], data: bytes, interpreter: Path, timeout: float, what: str
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            command, input=data, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise LockfileError(
            f"{interpreter}: checking bytecode: the interpreter did not {what} within {timeout:g} s"
        ) from e
    except OSError as e:
        raise LockfileError(
            f"{interpreter}: cannot run as a Python interpreter: {e.strerror or e}"
        ) from e


def _tail(stderr: bytes) -> str:
    return one_line(stderr.decode("utf-8", "replace"))[-200:]


@dataclass(frozen=True, slots=True)
class _Job:
    pyc: CachedPyc
    invalidation: Invalidation
    size: int  # of the source, to balance the workers


@dataclass(frozen=True, slots=True)
class _Answer:
    verdict: str  # match, stale, mismatch
    detail: str
    digests: tuple[str, str] | None = None  # a match: SHA-256 of the source and .pyc compared


def _answer(line: bytes, interpreter: Path) -> _Answer:
    try:
        verdict, detail, *digests = json.loads(line)
    except (ValueError, TypeError) as e:
        raise LockfileError(f"{interpreter}: unexpected answer while checking bytecode") from e
    compared = None
    if len(digests) == 2 and all(isinstance(d, str) and len(d) == 64 for d in digests):
        compared = (str(digests[0]), str(digests[1]))
    return _Answer(str(verdict), str(detail), compared)


def _compare(interpreter: Path, jobs: Sequence[_Job]) -> list[_Answer]:
    """An answer per job, from one worker (restarted after a job that kills it)."""
    answers: list[_Answer] = []
    pending = list(jobs)
    while pending:
        payload = json.dumps(
            [
                [j.pyc.pyc, j.pyc.source, j.pyc.optimize, j.invalidation == "checked-hash"]
                for j in pending
            ]
        ).encode()
        timeout = TIMEOUT_BASE + TIMEOUT_PER_MIB * sum(j.size for j in pending) / 2**20
        done = _run(_command(interpreter), payload, interpreter, timeout, "finish")
        lines = done.stdout.splitlines()
        answers += (_answer(line, interpreter) for line in lines[: len(pending)])
        if len(lines) >= len(pending):
            return answers
        if done.returncode >= 0:
            # An exception in the worker itself, not a crash on one file: cannot verify.
            raise LockfileError(
                f"{interpreter}: checking bytecode failed (exit {done.returncode}: "
                f"{_tail(done.stderr)})"
            )
        # Killed by a signal on the next file (e.g. marshal data crafted to crash it).
        answers.append(
            _Answer("mismatch", f"loading it kills the interpreter (signal {-done.returncode})")
        )
        pending = pending[len(lines) + 1 :]
    return answers


def _split(jobs: list[_Job], workers: int) -> list[list[_Job]]:
    """Largest first onto the least loaded worker."""
    shares: list[list[_Job]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for job in sorted(jobs, key=lambda j: j.size, reverse=True):
        i = loads.index(min(loads))
        shares[i].append(job)
        loads[i] += job.size + 4096  # a file costs something beyond its size
    return [s for s in shares if s]


# --- the check -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BytecodeCheck:
    """What checking the ``__pycache__`` files found."""

    problems: tuple[RecordProblem, ...] = ()
    compared: int = 0  # .pyc files Python would run, checked (compiled, or a cached pass)
    compiled: int = 0  # .pyc files the workers compiled again (not found in the cache)


def check_cached_bytecode(
    interpreter: Path,
    candidates: Sequence[CachedPyc],
    *,
    workers: int | None = None,
    cache: BytecodeCache | None = None,
) -> BytecodeCheck:
    """Problems with the ``__pycache__`` files the interpreter would run, and how many were
    checked; ``cache`` holds earlier passes and is given the new ones."""
    if not candidates:
        return BytecodeCheck()
    python = interpreter_identity(interpreter)
    jobs: list[_Job] = []
    for c in candidates:
        if c.tag != python.tag:
            continue  # another interpreter's cache
        job = _job(c, python.magic)
        if job is not None:
            jobs.append(job)
    if not jobs:
        return BytecodeCheck()
    worker_sha256 = hashlib.sha256(WORKER.read_bytes()).hexdigest()
    cached: list[_Job] = []
    if cache is not None and python.version:
        keys = _verdict_keys(jobs, python, worker_sha256)
        hits = cache.passed([k for k in keys if k is not None])
        cached = [j for j, k in zip(jobs, keys, strict=True) if k in hits]
        jobs = [j for j, k in zip(jobs, keys, strict=True) if k not in hits]
    problems: list[RecordProblem] = []
    compared = 0
    passes: list[bytes] = []
    for job in cached:
        compared += 1
        problem = _verdict(job, True, "")
        if problem is not None:
            problems.append(problem)
    for job, answer in _compile(interpreter, jobs, workers):
        if answer.verdict == "stale":
            continue
        compared += 1
        matches = answer.verdict == "match"
        problem = _verdict(job, matches, answer.detail)
        if problem is not None:
            problems.append(problem)
        if matches and answer.digests is not None and python.version:
            passes.append(verdict_key(python, worker_sha256, job.pyc.optimize, *answer.digests))
    if cache is not None:
        cache.add(passes)
    return BytecodeCheck(tuple(problems), compared, len(jobs))


def _verdict_keys(
    jobs: Sequence[_Job], python: Interpreter, worker_sha256: str
) -> list[bytes | None]:
    """Each job's key, from the files as they are now (None: a file cannot be read). In this
    thread: the files are small, and threads fighting over the GIL only made it slower."""
    keys: list[bytes | None] = []
    for job in jobs:
        source = _file_sha256(job.pyc.source)
        pyc = _file_sha256(job.pyc.pyc)
        if source is None or pyc is None:
            keys.append(None)
        else:
            keys.append(verdict_key(python, worker_sha256, job.pyc.optimize, source, pyc))
    return keys


def _compile(
    interpreter: Path, jobs: list[_Job], workers: int | None
) -> list[tuple[_Job, _Answer]]:
    """Every job compiled again and compared, by as many workers as it is worth."""
    if not jobs:
        return []
    count = max(1, min(workers or os.cpu_count() or 1, len(jobs) // MIN_JOBS_PER_WORKER or 1))
    shares = _split(jobs, count)
    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        results = list(pool.map(lambda share: _compare(interpreter, share), shares))
    return [
        pair
        for share, answers in zip(shares, results, strict=True)
        for pair in zip(share, answers, strict=True)
    ]


def _job(c: CachedPyc, magic: bytes) -> _Job | None:
    """The check this .pyc needs, or None when Python would not run it."""
    try:
        pyc_stat = os.stat(c.pyc)
        source_stat = os.stat(c.source)
        if not stat.S_ISREG(pyc_stat.st_mode) or not stat.S_ISREG(source_stat.st_mode):
            return None  # Python cannot run a directory or device as bytecode
        with open(c.pyc, "rb") as f:
            head = f.read(HEADER_SIZE)
    except OSError:
        return None  # unreadable: Python falls back to the source too
    header = parse_pyc_header(head)
    if not runs_instead_of_source(header, magic, source_stat.st_mtime, source_stat.st_size):
        return None
    assert isinstance(header, PycHeader)
    return _Job(c, header.invalidation, source_stat.st_size)


def _verdict(job: _Job, matches: bool, detail: str) -> RecordProblem | None:
    c = job.pyc
    source = os.path.basename(c.source)
    if not matches:
        why = {
            "timestamp": "its header carries the source's mtime and size",
            "checked-hash": "its header carries the source's hash",
            "unchecked-hash": "it is an unchecked hash-based .pyc",
        }[job.invalidation]
        return RecordProblem(
            path=c.where,
            kind="bytecode-mismatch",
            detail=f"Python runs this instead of {source} ({why}), and it is not a compilation "
            f"of {source}: {detail}",
            distribution=c.distribution,
            expected=f"{source} compiled",
            actual=detail,
        )
    if job.invalidation == "unchecked-hash":
        return RecordProblem(
            path=c.where,
            kind="bytecode-unchecked",
            detail=f"unchecked hash-based .pyc: Python runs it without reading {source} (it is "
            f"a compilation of {source} today, but not after {source} changes)",
            distribution=c.distribution,
            expected="timestamp or checked-hash bytecode",
            actual="unchecked-hash",
        )
    return None


def orphan(where: str, detail: str, distribution: str = "") -> RecordProblem:
    """Sourceless bytecode that the import system would load."""
    return RecordProblem(
        path=where,
        kind="bytecode-orphan",
        detail=detail,
        distribution=distribution,
        expected="a source file",
        actual="bytecode only",
    )
