"""The hashing worker processes' side of chainguard/hashing.py, and the small-file code both
sides run.

Small files (at most CHUNK_SIZE bytes) are hashed here: by the calling thread when there are
few of them, else by worker processes, fresh ``python -I -S`` interpreters that import this
module only. It imports nothing but a few stdlib modules and sbom/fileshape.py (not chainguard's
models, errors or hashing), so that a worker starts several times faster than one importing
chainguard (benchmarks/README.md, "The hashing engine"): on a two-core machine, worker start-up
is paid in wall time against the hashlib floor.

Files are opened with O_NOFOLLOW and re-checked with fstat against what the directory walk saw,
and the path is stat'ed again after hashing: a file that is swapped, grown, shrunk or touched
while we read it is reported as changed instead of silently yielding a digest of mixed content.
(verify skips the second stat of files listed by name; see _hash_listed.)
"""

from __future__ import annotations

import errno
import hashlib
import marshal
import os
import stat
import struct

# The imports from chainguard: the shape of a file entry, which imports nothing itself, and
# format detection (stdlib only), run on the bytes read here.
from chainguard.formats.detect import HEAD_BYTES, TEXTUAL, detect_format, detect_structured
from chainguard.sbom.fileshape import MODE_BITS, json_verbatim, recorded_mode, render_element

# typing.TYPE_CHECKING without importing typing, which would add a good part of a worker's
# start-up (mypy knows the name). The aliases below exist for the type checker only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO, Any, Literal

    ProblemKind = Literal["changed-during-hash", "unreadable"]  # models.AnomalyKind, in part
    # What crosses the process boundary: plain tuples marshal far faster than dataclasses.
    # In: (path to open, size, ino, dev, mtime_ns, small limit); size -1 = not stat'ed by the
    # walk, the identity is then taken by fstat at open. Out, per file, one of:
    #   (HASHED, sha256, blake3 or None, size, format, mode: fileshape.recorded_mode)
    #   (ANOMALY, kind, detail)
    #   (LARGE, size, ino, dev, mtime_ns, st_mode)  -- larger than the limit: the thread pool
    _SmallItem = tuple[str, int, int, int, int, int]
    _SmallResult = tuple[Any, ...]
    # A ListedFiles chunk hashed (_hash_listed): one line per file read consistently
    # ("rel \0 size \0 sha256 \n", as in the root digest), their BLAKE3 digests in the same
    # order (or None), (index, result) for every other file (an executable one among them,
    # HASHED: it is not plain, fileshape.MODE), the bytes of the lines' files, the SHA-256
    # (of its UTF-8) and length in characters of the files as signed JSON (render_element,
    # joined by ",") when asked for and every file of the chunk was hashed, and the format
    # of each file read consistently ("rel \0 format \n", in the same order as the lines).
    _ListedResult = tuple[
        str,
        list[str | None] | None,
        list[tuple[int, _SmallResult]],
        int,
        tuple[bytes, int] | None,
        str,
    ]

# 1 MiB reads: large enough that per-call overhead and GIL hand-offs vanish, small enough that
# workers x buffer stays a few MiB.
CHUNK_SIZE = 1024 * 1024

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
_OPEN_FLAGS |= getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class _Changed(Exception):
    """The file is not the one the walk listed, or changed while being read."""


def _check_identity(st: os.stat_result, size: int, ino: int, dev: int, mtime_ns: int) -> None:
    if (
        not stat.S_ISREG(st.st_mode)
        or st.st_ino != ino
        or st.st_dev != dev
        or st.st_size != size
        or st.st_mtime_ns != mtime_ns
    ):
        raise _Changed("replaced or modified after it was listed")


def _blake3_new() -> Any:
    # hashing.hash_files checks blake3 can be imported before any worker starts.
    try:
        import blake3
    except ImportError as e:  # optional extra
        message = "BLAKE3 needs the optional extra: pip install 'chainguard[blake3]'"
        raise RuntimeError(message) from e
    return blake3.blake3()


def _os_problem(e: OSError) -> tuple[ProblemKind, str]:
    """(anomaly kind, detail) for an OSError met while opening or reading a listed file."""
    if e.errno == errno.ELOOP:
        return "changed-during-hash", "became a symbolic link after it was listed"
    if e.errno == errno.ENOENT:
        return "changed-during-hash", "disappeared while being read"
    return "unreadable", e.strerror or str(e)


def _blake3_hex(data: memoryview) -> str:
    h = _blake3_new()
    h.update(data)
    hexdigest: str = h.hexdigest()
    return hexdigest


def _check_unchanged(after: os.stat_result, ino: int, dev: int, size: int, mtime_ns: int) -> None:
    """The path, stat'ed again after reading, still names the file read, as it was."""
    if (after.st_ino, after.st_dev, after.st_size, after.st_mtime_ns) != (ino, dev, size, mtime_ns):
        raise _Changed("modified while being read")


# Per-file result codes (see _SmallResult).
HASHED, ANOMALY, LARGE = 0, 1, 2

_process_buffer: memoryview | None = None


def _hash_small_file(item: _SmallItem, buf: memoryview, with_blake3: bool) -> _SmallResult:
    """Hash one file of at most CHUNK_SIZE bytes, read in one go into ``buf`` (CHUNK_SIZE + 1)."""
    path, size, ino, dev, mtime_ns, limit = item
    try:
        fd = os.open(path, _OPEN_FLAGS)
        try:
            st = os.fstat(fd)
            if size < 0:
                # Listed by type only: this fstat is the identity the result must keep.
                if not stat.S_ISREG(st.st_mode):
                    raise _Changed("replaced after it was listed")
                size, ino, dev, mtime_ns = st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns
                if size > limit:
                    return (LARGE, size, ino, dev, mtime_ns, st.st_mode)
            else:
                _check_identity(st, size, ino, dev, mtime_ns)
            # Ask for one byte more than listed: a regular file returns fewer bytes than asked
            # only at its end, so one read call usually both reads it and proves it did not grow.
            view = buf[: size + 1]
            got = os.readv(fd, [view])
            if 0 < got < size:  # a short read (signal, network filesystem): read to the end
                while n := os.readv(fd, [view[got:]]):
                    got += n
        finally:
            os.close(fd)
        if got < size:
            raise _Changed("shrank while being read")
        if got > size:
            raise _Changed("grew while being read")
        data = view[:size]
        sha = hashlib.sha256(data).hexdigest()
        b3 = _blake3_hex(data) if with_blake3 else None
        fmt = detect_format(bytes(data[:HEAD_BYTES]), size)
        _check_unchanged(os.stat(path, follow_symlinks=False), ino, dev, size, mtime_ns)
    except _Changed as e:
        return (ANOMALY, "changed-during-hash", str(e))
    except OSError as e:
        return (ANOMALY, *_os_problem(e))
    return (HASHED, sha, b3, size, fmt, recorded_mode(st.st_mode))


def _hash_small_batch(items: Sequence[_SmallItem], with_blake3: bool) -> list[_SmallResult]:
    """Hash a batch with this process's buffer (what a worker process does with each request)."""
    global _process_buffer
    if _process_buffer is None:
        _process_buffer = memoryview(bytearray(CHUNK_SIZE + 1))
    buf = _process_buffer
    return [_hash_small_file(item, buf, with_blake3) for item in items]


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _hash_listed(
    base: str,
    prefix: str,
    names: Sequence[str],
    listed_as: tuple[int, int],
    limit: int,
    with_blake3: bool,
    buf: memoryview,
    render: str | None = None,
    recheck: bool = True,
) -> _ListedResult:
    """_hash_small_file for every file of one directory, opened and re-checked relative to the
    directory (no path lookup per file; this loop is a dataset verify's hot path).

    The directory itself must be the one the walk listed (``listed_as``, opened without
    following a symbolic link put in its place) and still be found at its path once every
    file is read; otherwise each file is reported as changed.

    ``render``: a component bom-ref to render the files under as signed JSON (render_element), for
    verify's fast path (models.RenderedFiles); the names must come sorted.

    ``recheck``: stat each path again after hashing (sbom build). verify leaves it out: a file
    of at most CHUNK_SIZE bytes is read in one call, so a write during the read leaves mixed
    content, whose digest the signed one refuses anyway (fail closed, reported as modified), and
    a file replaced after it was read is no different from one replaced after verify ended.
    It saves a fifth of the system calls per file, the bulk of a many-file verify's time.
    """
    if render is not None and not (
        json_verbatim(render) and json_verbatim(prefix) and json_verbatim("".join(names))
    ):
        render = None
    path = base[:-1] if len(base) > 1 else base  # no trailing "/": O_NOFOLLOW applies
    try:
        # The root may be a symbolic link to a directory (it was stat'ed, not lstat'ed).
        dir_fd = os.open(path, _DIR_FLAGS | (_NOFOLLOW if prefix else 0))
    except OSError as e:
        return _all_changed(names, e)
    try:
        opened = os.fstat(dir_fd)
        if listed_as != (0, 0) and (opened.st_ino, opened.st_dev) != listed_as:
            return _all_changed(names, None)
        hashed = _hash_in_directory(dir_fd, prefix, names, limit, with_blake3, buf, render, recheck)
        try:
            still = os.stat(path, follow_symlinks=not prefix)
        except OSError as e:
            return _all_changed(names, e)
        if (still.st_ino, still.st_dev) != (opened.st_ino, opened.st_dev):
            return _all_changed(names, None)
    finally:
        os.close(dir_fd)
    return hashed


def _hash_in_directory(
    dir_fd: int,
    prefix: str,
    names: Sequence[str],
    limit: int,
    with_blake3: bool,
    buf: memoryview,
    render: str | None,
    recheck: bool,
) -> _ListedResult:
    """The loop of _hash_listed, over the files of the open directory ``dir_fd``."""
    lines: list[str] = []
    blake3: list[str | None] | None = [] if with_blake3 else None
    others: list[tuple[int, _SmallResult]] = []
    nbytes = 0
    elements: list[str] = []
    formats: list[str] = []
    element, detect, head = render_element, detect_format, HEAD_BYTES
    open_, fstat, readv, close, lstat = os.open, os.fstat, os.readv, os.close, os.stat
    sha256, is_regular, mode_bits = hashlib.sha256, stat.S_ISREG, MODE_BITS
    for i, name in enumerate(names):
        try:
            fd = open_(name, _OPEN_FLAGS, dir_fd=dir_fd)
            try:
                st = fstat(fd)
                if not is_regular(st.st_mode):
                    raise _Changed("replaced after it was listed")
                size = st.st_size
                if size > limit:
                    large = (LARGE, size, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_mode)
                    others.append((i, large))
                    continue
                # One byte more than listed: a short read proves the end (_hash_small_file).
                view = buf[: size + 1]
                got = readv(fd, [view])
                if 0 < got < size:
                    while n := readv(fd, [view[got:]]):
                        got += n
            finally:
                close(fd)
            if got != size:
                raise _Changed("shrank while being read" if got < size else "grew while being read")
            data = view[:size]
            digest = sha256(data).hexdigest()
            b3 = _blake3_hex(data) if blake3 is not None else None
            fmt = detect(bytes(data[:head]), size)
            if recheck:
                after = lstat(name, dir_fd=dir_fd, follow_symlinks=False)
                _check_unchanged(after, st.st_ino, st.st_dev, size, st.st_mtime_ns)
        except _Changed as e:
            others.append((i, (ANOMALY, "changed-during-hash", str(e))))
            continue
        except OSError as e:
            others.append((i, (ANOMALY, *_os_problem(e))))
            continue
        if st.st_mode & mode_bits:
            # Not plain (its mode is recorded): a FileDigest of its own, and no rendered run
            # for this chunk, whose signed text differs from a plain one's either way.
            others.append((i, (HASHED, digest, b3, size, fmt, recorded_mode(st.st_mode))))
            continue
        lines.append(f"{prefix}{name}\0{size}\0{digest}\n")
        formats.append(f"{prefix}{name}\0{fmt}\n")
        nbytes += size
        if render is not None:
            elements.append(element(render, prefix + name, size, digest, fmt))
        if blake3 is not None:
            blake3.append(b3)
    rendered = _rendered(elements, render, others)
    return "".join(lines), blake3, others, nbytes, rendered, "".join(formats)


def _detect_listed(
    base: str,
    names: Sequence[str],
    listed_as: tuple[int, int],
    nofollow: bool,
    keep: tuple[Sequence[str], Sequence[str]] | None = None,
) -> tuple[str, list[tuple[int, str]], int]:
    """The format of every file of one directory from its first HEAD_BYTES (chainguard scan):
    ("name \0 format \n" for each file read, (index, why) for each that could not be, bytes).
    Opened relative to the directory as _hash_listed does, without following links (the
    directory's own path too, unless ``nofollow`` is false: the root, which may be one).

    ``keep`` = (formats, name suffixes): only the lines of files of one of these formats, or
    whose lowercased name ends with one of the suffixes, are returned (what api/_formats.py's
    default selection may pick, a superset of it): a benign file then costs no string here nor
    a regular expression match in the parent; a file kept by neither is not told apart from
    text (detect.detect_structured). None: every line, each file's format fully detected."""
    path = base[:-1] if len(base) > 1 else base
    try:
        dir_fd = os.open(path, _DIR_FLAGS | (_NOFOLLOW if nofollow else 0))
    except OSError as e:
        return "", [(i, e.strerror or str(e)) for i in range(len(names))], 0
    try:
        opened = os.fstat(dir_fd)
        if listed_as != (0, 0) and (opened.st_ino, opened.st_dev) != listed_as:
            return "", [(i, "its directory was replaced") for i in range(len(names))], 0
        return _detect_in(dir_fd, names, keep)
    finally:
        os.close(dir_fd)


def _detect_in(
    dir_fd: int, names: Sequence[str], keep: tuple[Sequence[str], Sequence[str]] | None
) -> tuple[str, list[tuple[int, str]], int]:
    """_detect_listed's work once its directory is open."""
    formats: list[str] = []
    problems: list[tuple[int, str]] = []
    nbytes = 0
    open_, fstat, read, close, is_regular = os.open, os.fstat, os.read, os.close, stat.S_ISREG
    lseek, SEEK_END = os.lseek, os.SEEK_END
    head = HEAD_BYTES
    over = head + 1
    every = keep is None
    inspected: frozenset[str] = frozenset(keep[0] if keep is not None else ())
    # A line asked for by format alone is never one of TEXTUAL: then the pass over the head
    # that tells those apart is only needed for a file kept by its name.
    detect = detect_format if every or inspected & TEXTUAL else detect_structured
    named: frozenset[str] = frozenset()
    if keep is not None:
        suffixes = tuple(keep[1])
        lowered = "\n".join(names).lower() + "\n"
        # One search a suffix (at a name's end), not one call a name.
        if any(s + "\n" in lowered for s in suffixes):
            named = frozenset(n for n in names if n.lower().endswith(suffixes))
    for i, name in enumerate(names):
        try:
            fd = open_(name, _OPEN_FLAGS, dir_fd=dir_fd)
            try:
                # The size without an fstat (a third of the time of a 4 KiB file): a read
                # shorter than asked is the whole file; a longer file seeks to its end.
                data = read(fd, over)
                size = len(data)
                if size > head:
                    size, data = lseek(fd, 0, SEEK_END), data[:head]
                if not size:
                    # Empty, or not a file (a fifo reads as empty, a device seeks to 0):
                    # the listing said regular file, fstat says whether it still is one.
                    st = fstat(fd)
                    if not is_regular(st.st_mode):
                        problems.append((i, "not a regular file"))
                        continue
                    size = st.st_size
            finally:
                close(fd)
        except OSError as e:
            problems.append((i, e.strerror or str(e)))
            continue
        nbytes += size
        fmt = detect(data, size)
        if every or fmt in inspected or name in named:
            formats.append(f"{name}\0{fmt or detect_format(data, size)}\n")
    return "".join(formats), problems, nbytes


# A directory of chainguard scan, listed by a worker: (format lines, problems (name, why),
# files read, bytes, subdirectories (name, st_ino, st_dev), names left to the parent, regular
# files beyond the limit left to the parent). See _scan_directory.
ScannedDirectory = tuple[
    str, list[tuple[str, str]], int, int, list[tuple[str, int, int]], list[str], list[str]
]

# Names that are safe in any position without further checks (ASCII, no control characters, no
# backslash or colon): collectors/tree.py's rule, here so a worker need not import it.
PLAIN_NAME_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+=@,~ -"
MAX_PATH_BYTES = 4096  # paths.MAX_PATH_BYTES (importing paths costs a worker 25 ms)


def plain_names(names: Sequence[str], prefix: str) -> bool:
    """Every name is plain (PLAIN_NAME_BYTES only) and every path fits MAX_PATH_BYTES, checked
    at once: deleting the allowed bytes from all names leaves nothing (names are never empty)."""
    # (plain names are ASCII; the prefix may not be: its length in UTF-8 bytes)
    if len(prefix.encode()) + max(map(len, names)) > MAX_PATH_BYTES:
        return False
    joined = "".join(names)
    return joined.isascii() and not joined.encode("ascii").translate(None, PLAIN_NAME_BYTES)


def _scan_directory(
    path: str,
    prefix: str,
    listed_as: tuple[int, int],
    nofollow: bool,
    keep: tuple[Sequence[str], Sequence[str]] | None,
    limit: int,
) -> ScannedDirectory:
    """List one directory of chainguard scan and detect the format of its regular files (as
    _detect_listed; at most ``limit`` of them, the rest are returned by name for the parent
    to hand out in chunks). Only what the listing types plainly is handled here: regular files
    and directories with plain names (PLAIN_NAME_BYTES, paths within MAX_PATH_BYTES). Every
    other name (links, special files, untyped entries, names that need unsafe_reason) goes
    back to the parent, which classifies it as the tree collector's walk does. Opened without
    following links, and checked to be the directory its parent listed (``listed_as``); a
    problem named "" is the directory's own (it could not be opened or listed, or was replaced)."""
    try:
        dir_fd = os.open(path, _DIR_FLAGS | (_NOFOLLOW if nofollow else 0))
    except OSError as e:
        return "", [("", e.strerror or str(e))], 0, 0, [], [], []
    try:
        opened = os.fstat(dir_fd)
        if listed_as != (0, 0) and (opened.st_ino, opened.st_dev) != listed_as:
            return "", [("", "its directory was replaced")], 0, 0, [], [], []
        with os.scandir(dir_fd) as it:
            entries = list(it)
        names = [e.name for e in entries]
        if not names or not plain_names(names, prefix):
            return "", [], 0, 0, [], sorted(names), []
        files = [e.name for e in entries if e.is_file(follow_symlinks=False)]
        subdirs: list[tuple[str, int, int]] = []
        others: list[str] = []
        if len(files) < len(entries):
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)  # its identity, checked when opened
                    if stat.S_ISDIR(st.st_mode):
                        subdirs.append((entry.name, st.st_ino, st.st_dev))
                        continue
                others.append(entry.name)
        read, rest = files[:limit], files[limit:]
        lines, problems, nbytes = _detect_in(dir_fd, read, keep)
        failed = [(read[i], why) for i, why in problems]
        return lines, failed, len(read) - len(failed), nbytes, subdirs, others, rest
    except OSError as e:
        return "", [("", e.strerror or str(e))], 0, 0, [], [], []
    finally:
        os.close(dir_fd)


def _rendered(
    elements: list[str], render: str | None, others: list[tuple[int, _SmallResult]]
) -> tuple[bytes, int] | None:
    """SHA-256 and length of the chunk as signed JSON, when rendered and every file hashed."""
    if render is None or others:
        return None
    as_json = ",".join(elements)
    return hashlib.sha256(as_json.encode()).digest(), len(as_json)


def _all_changed(names: Sequence[str], error: OSError | None) -> _ListedResult:
    """Every file of a directory that was replaced (or became unreadable) since it was listed."""
    if error is None or error.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
        result: _SmallResult = (ANOMALY, "changed-during-hash", "its directory was replaced")
    else:
        result = (ANOMALY, *_os_problem(error))
    return "", None, [(i, result) for i in range(len(names))], 0, None, ""


def _hash_request(request: tuple[Any, ...]) -> Any:
    """What a worker process does with one request (see _WorkerProcess)."""
    global _process_buffer
    if request[0] == "listed":
        _, base, prefix, names, ino, dev, limit, with_blake3, render, recheck = request
        if _process_buffer is None:
            _process_buffer = memoryview(bytearray(CHUNK_SIZE + 1))
        return _hash_listed(
            base, prefix, names, (ino, dev), limit, with_blake3, _process_buffer, render, recheck
        )
    if request[0] == "heads":
        _, base, names, ino, dev, nofollow, keep = request
        return _detect_listed(base, names, (ino, dev), nofollow, keep)
    if request[0] == "scan":
        _, path, prefix, ino, dev, nofollow, keep, limit = request
        return _scan_directory(path, prefix, (ino, dev), nofollow, keep, limit)
    _, items, with_blake3 = request
    return _hash_small_batch(items, with_blake3)


_FRAME = struct.Struct("<I")


def _read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError
    (length,) = _FRAME.unpack(head)
    body = stream.read(length)
    if len(body) < length:
        raise EOFError
    return marshal.loads(body)  # noqa: S302 - both ends are chainguard, over our own pipes


def _write_frame(stream: IO[bytes], value: Any) -> None:
    body = marshal.dumps(value)
    stream.write(_FRAME.pack(len(body)) + body)
    stream.flush()


def worker_main() -> None:  # pragma: no cover - runs in the worker processes
    import sys

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        while True:
            request = _read_frame(stdin)
            try:
                reply: Any = ("ok", _hash_request(request))
            except Exception as e:  # a bug or a missing blake3: tell the parent, one line
                reply = ("error", f"{type(e).__name__}: {e}")
            _write_frame(stdout, reply)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
