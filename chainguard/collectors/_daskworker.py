"""What a Dask worker runs for `--dask` (chainguard/collectors/dask_tree.py is the client side).

Top-level functions of plain arguments (a storage location, a path, a byte range, the identity
the client listed) returning plain tuples: Dask pickles them by reference, so a worker needs
chainguard installed, and nothing else crosses the wire but digests. Each worker opens the
files itself, where it runs: a local path it shares with the client through the operating
system (O_NOFOLLOW, identity checked by fstat and stat again after reading, as the local engine
does), anything else through fsspec (``s3://``, ``gs://``, ``hf://``; the object's identity
checked again after reading).

A file that is not what the client listed (another size, modification time, inode, ETag), or
that disappears, comes back as ``("changed", detail)``: the client makes it the local engine's
``changed-during-hash`` anomaly, a finding, never a crash.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from chainguard._hashworker import _OPEN_FLAGS, CHUNK_SIZE
from chainguard.formats.detect import HEAD_BYTES, detect_format

# (sha256 of the range or None, blake3 of the range or None, shard digests, format or None)
Hashed = tuple[str, str | None, tuple[str, ...], str | None]
# ("ok", Hashed) | ("changed", detail) | ("unreadable", detail)
Outcome = tuple[str, Any]
# Where files live: (fsspec protocol, its storage options as sorted (key, value) pairs);
# protocol "file" is a local path read with the operating system.
Location = tuple[str, tuple[tuple[str, Any], ...]]
# What the client listed: for "file", (size, mtime_ns, inode); else (size, version token)
Identity = tuple[Any, ...]

# Larger reads from an object store: each is a request.
REMOTE_CHUNK = 8 * CHUNK_SIZE
# The info() fields that change whenever an object's bytes do, most specific first: S3's
# ETag, GCS's generation and MD5, the Hub's blob id / LFS digest, and a modification time.
_VERSION_KEYS = ("ETag", "etag", "generation", "md5Hash", "blob_id", "lfs", "LastModified", "mtime")


class _Changed(Exception):
    """Not the file the client listed, or changed while being read."""


def version_token(info: Mapping[str, Any]) -> str:
    """What identifies this version of an object, from fsspec's info() (listing or after)."""
    for key in _VERSION_KEYS:
        value = info.get(key)
        if value is not None:
            return f"{key}={value}"
    return ""


def filesystem(location: Location) -> Any:
    """The fsspec filesystem of ``location`` (fsspec caches one instance per process)."""
    import fsspec  # type: ignore[import-untyped,unused-ignore]  # (no py.typed)

    protocol, options = location
    return fsspec.filesystem(protocol, **dict(options))


def hash_batch(
    location: Location,
    items: Sequence[tuple[str, Identity]],
    blake3: bool,
) -> list[Outcome]:
    """Whole files, one result each in the same order: one task for many small files, so that
    Dask's per-task cost is paid per batch."""
    return [
        hash_range(location, path, identity, 0, identity[0], 0, blake3) for path, identity in items
    ]


def hash_range(
    location: Location,
    path: str,
    identity: Identity,
    offset: int,
    length: int,
    split: int,
    blake3: bool,
) -> Outcome:
    """The SHA-256 of ``length`` bytes at ``offset`` (and, with ``split``, of each consecutive
    ``split``-byte piece: a file's shard digests from the same read as its whole digest), the
    BLAKE3 of a whole file when asked, and the format when the range starts at 0."""
    try:
        if location[0] == "file":
            hashed = _local(path, identity, offset, length, split, blake3)
        else:
            hashed = _remote(location, path, identity, offset, length, split, blake3)
    except _Changed as e:
        return ("changed", str(e))
    except FileNotFoundError:
        return ("changed", "disappeared while being read")
    except OSError as e:
        if e.errno == errno.ELOOP:
            return ("changed", "became a symbolic link after it was listed")
        return ("unreadable", e.strerror or str(e))
    return ("ok", hashed)


class _Digests:
    """The digests one read feeds: the range's, BLAKE3's, and the current shard's."""

    def __init__(self, size: int, offset: int, split: int, blake3: bool) -> None:
        self.sha = hashlib.sha256()
        self.b3 = _blake3() if blake3 else None
        self.split = split
        self.shard = hashlib.sha256() if split else None
        self.in_shard = 0
        self.shards: list[str] = []
        self.fmt: str | None = None
        self.offset = offset
        self.size = size

    def update(self, chunk: memoryview | bytes) -> None:
        if self.offset == 0 and self.fmt is None:
            self.fmt = detect_format(bytes(chunk[:HEAD_BYTES]), self.size)
        self.sha.update(chunk)
        if self.b3 is not None:
            self.b3.update(chunk)
        view = memoryview(chunk)
        while self.shard is not None and len(view):
            take = min(len(view), self.split - self.in_shard)
            self.shard.update(view[:take])
            self.in_shard += take
            view = view[take:]
            if self.in_shard == self.split:
                self.shards.append(self.shard.hexdigest())
                self.shard, self.in_shard = hashlib.sha256(), 0

    def result(self) -> Hashed:
        if self.offset == 0 and self.fmt is None:  # an empty file: nothing was read
            self.fmt = detect_format(b"", self.size)
        if self.shard is not None and self.in_shard:
            self.shards.append(self.shard.hexdigest())
        b3 = self.b3.hexdigest() if self.b3 is not None else None
        return self.sha.hexdigest(), b3, tuple(self.shards), self.fmt


def _blake3() -> Any:
    import blake3  # the client checked the extra is installed (hashing.HashSettings)

    return blake3.blake3()


_buffers = threading.local()


def _buffer() -> memoryview:
    """This thread's read buffer (a worker may run several threads)."""
    buf: memoryview | None = getattr(_buffers, "buf", None)
    if buf is None:
        buf = _buffers.buf = memoryview(bytearray(CHUNK_SIZE))
    return buf


def _local(
    path: str, identity: Identity, offset: int, length: int, split: int, blake3: bool
) -> Hashed:
    size, mtime_ns, ino = identity
    digests = _Digests(size, offset, split, blake3)
    buf = _buffer()
    fd = os.open(path, _OPEN_FLAGS)
    try:
        _same_local(os.fstat(fd), identity)
        position, remaining = offset, length
        while remaining:
            view = buf[: min(remaining, CHUNK_SIZE)]
            got = os.preadv(fd, [view], position)
            if got == 0:
                raise _Changed("shrank while being read")
            digests.update(view[:got])
            position += got
            remaining -= got
        if offset + length == size and os.pread(fd, 1, position):
            raise _Changed("grew while being read")
    finally:
        os.close(fd)
    try:
        after = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        raise _Changed("disappeared while being read") from None
    if (after.st_size, after.st_mtime_ns, after.st_ino) != (size, mtime_ns, ino):
        raise _Changed("modified while being read")
    return digests.result()


def _same_local(st: os.stat_result, identity: Identity) -> None:
    # No st_dev: a shared filesystem (NFS) has another device number on every host.
    if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns, st.st_ino) != identity:
        raise _Changed("replaced or modified after it was listed")


def _remote(
    location: Location,
    path: str,
    identity: Identity,
    offset: int,
    length: int,
    split: int,
    blake3: bool,
) -> Hashed:
    size, token = identity
    fs = filesystem(location)
    digests = _Digests(size, offset, split, blake3)
    position, end = offset, offset + length
    while position < end:
        want = min(end - position, REMOTE_CHUNK)
        chunk = fs.cat_file(path, start=position, end=position + want)
        if not chunk:
            raise _Changed("shrank while being read")
        digests.update(chunk)
        position += len(chunk)
    # The object as it is now, not as a listing cached it: a range read may have straddled
    # an overwrite, and only a version that is still the listed one vouches for the bytes.
    fs.invalidate_cache(path)
    info = fs.info(path)
    if info.get("size") != size or version_token(info) != token:
        raise _Changed("replaced or modified after it was listed")
    return digests.result()


# --- what is read again: format facts and checks, on the worker, from the object store --------


def read_facts(location: Location, path: str, size: int, kind: str) -> Any:
    """A remote .safetensors header (kind "safetensors") or .parquet footer ("parquet"), read
    by the local readers from a sparse copy holding only the bytes they read."""
    fs = filesystem(location)
    with tempfile.TemporaryDirectory(prefix="chainguard-facts-") as tmp:
        copy = os.path.join(tmp, os.path.basename(path) or "object")
        with open(copy, "wb") as f:
            f.truncate(size)  # sparse: the reader sees the object's size
            if kind == "safetensors":
                head = _write(fs, path, f, 0, min(size, 8))
                wanted = int.from_bytes(head[:8], "little") if len(head) == 8 else 0
                from chainguard.collectors.safetensors import MAX_HEADER_BYTES

                if 0 < wanted <= min(MAX_HEADER_BYTES, size - 8):
                    _write(fs, path, f, 8, wanted)
            else:
                _write(fs, path, f, 0, min(size, 4))
                tail = _write(fs, path, f, max(0, size - 8), min(size, 8))
                wanted = int.from_bytes(tail[:4], "little") if len(tail) == 8 else 0
                if 0 < wanted <= size - 12:
                    _write(fs, path, f, size - 8 - wanted, wanted)
        from pathlib import Path

        from chainguard.errors import ChainguardError

        try:
            if kind == "safetensors":
                from chainguard.collectors.safetensors import read_header

                return read_header(Path(copy))
            from chainguard.collectors.parquet import read_footer

            return read_footer(Path(copy))
        except ChainguardError as e:  # name the object, not the copy
            raise type(e)(str(e).replace(copy, path)) from None


def _write(fs: Any, path: str, f: Any, offset: int, length: int) -> bytes:
    data: bytes = fs.cat_file(path, start=offset, end=offset + length) if length else b""
    f.seek(offset)
    f.write(data)
    return data


def scan_copy(location: Location, path: str, rel: str, policy: Any) -> list[Any]:
    """The format policy's findings for a remote file whose format needs more than its first
    bytes (pickles, archives): the worker copies it to its own disk and inspects the copy."""
    from chainguard.formats.policy import scan_file

    fs = filesystem(location)
    with tempfile.TemporaryDirectory(prefix="chainguard-scan-") as tmp:
        copy = os.path.join(tmp, os.path.basename(rel))
        fs.get_file(path, copy)
        _, found = scan_file(copy, policy, rel)
    return found
