"""The hash cache behind ``attest --incremental``: a file unchanged since it was last hashed is
not read again.

What the cache trusts, precisely:

- An entry is a *measurement*, never a verdict: "the file at this path, with this identity,
  hashed to these digests under these settings". Every run compares the digests with the
  signed SBOM again, so a cached measurement of a modified file is reported as modified, run
  after run, exactly as if it had been read. The signed SBOM stays the source of truth.
- A file's identity is (device, inode, size, mtime_ns, ctime_ns). Only a file that the engine
  read completely and consistently (its own identity checks passed), whose identity was the
  same just before and just after the read, and whose ctime is older than ``racy_window`` (2 s:
  the kernel stamps ctime at a coarse tick, so two writes within one tick look alike) is
  stored.
- An entry is used only if the file's identity is exactly the stored one. Writing to a file
  and putting its mtime back (``touch -d``, ``os.utime``) does not restore its ctime: the kernel
  sets ctime to the current time on every content or metadata change and offers no call to set
  it, so such a file is read again. A file replaced by another (even at the same inode, size and
  mtime) has a new ctime too.
- Each entry, and the cache's bookkeeping (run number, last full re-read), is authenticated by
  an HMAC-SHA256 under a key derived from the host's private key (HKDF-SHA256 over its DER, a
  fixed label). An entry that does not authenticate is ignored, the file is read again, and the
  path is reported (rule ``cache-tampered``). A cache written under another host key (copied from
  another host, or the key was rotated) is ignored as a whole, reported once, and rebuilt.
- ``full_rehash_every`` (default 24 hours) forces a run that reads everything, whatever the
  cache says; ``dataset_sample`` re-reads a rotating slice of each dataset on every run.

What it does not protect against: someone who can read the host key (they can write entries
that authenticate), and someone with root who resets ctime, by setting the system clock back
around a write, or by editing the inode on the block device, or a filesystem that does not
maintain ctime (some network and FUSE filesystems). The scheduled full re-read bounds how long
any of these can go unnoticed to ``full_rehash_every``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import sqlite3
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from chainguard.errors import StateError, UsageError
from chainguard.findings import Finding

CACHE_FILE = "hash-cache.db"
_HKDF_INFO = b"chainguard hash-cache v1"
_BUSY_TIMEOUT = 30.0
DEFAULT_FULL_REHASH_EVERY = 24 * 3600.0
# A file whose ctime is this recent when it is read is hashed but not stored: the kernel stamps
# ctime at a coarse tick (milliseconds), so a second write within the same tick as the first
# would leave the identity unchanged ("racy" entries, as git calls them).
RACY_WINDOW = 2.0
_DURATION = re.compile(r"([0-9]+)(s|m|h|d)")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL, mac TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT NOT NULL,
    settings TEXT NOT NULL,
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    sha256 TEXT, blake3 TEXT, shards TEXT NOT NULL, format TEXT,
    read_at REAL NOT NULL,
    mac TEXT NOT NULL,
    PRIMARY KEY (path, settings)
);
"""


def parse_duration(text: str) -> float:
    """``"24h"``, ``"30m"``, ``"7d"``, ``"90s"`` (one number, one unit) → seconds; at least 1 s."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise UsageError(
            f"duration {text!r}: expected a positive whole number and a unit s, m, h or d, "
            "e.g. '24h'"
        )
    return float(int(match.group(1)) * _SECONDS[match.group(2)])


@dataclass(frozen=True, slots=True)
class Identity:
    """What the cache keys a file on, besides its path and the hash settings."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True, slots=True)
class CachedDigest:
    sha256: str | None
    blake3: str | None
    shards: tuple[str, ...]
    format: str | None  # what the bytes are (chainguard.formats.detect), as measured


@dataclass(frozen=True, slots=True)
class TreeCoverage:
    """How recently each file of one tree was actually read (``--incremental``)."""

    root: str
    files: int  # files the cache knows under the root
    read_this_run: int
    oldest_read: float | None  # UNIX time of the least recently read file
    sample: float  # the dataset_sample fraction (0: only changed files and full runs)

    def note(self, now: float) -> str:
        oldest = "never" if self.oldest_read is None else _ago(now - self.oldest_read)
        cycle = f"; a {self.sample:g} sample re-read each run" if self.sample else ""
        return (
            f"{self.root}: {self.read_this_run} of {self.files} file(s) read this run, "
            f"the rest from the hash cache; least recently read {oldest}{cycle}"
        )


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s ago"
    if seconds < 7200:
        return f"{int(seconds // 60)} min ago"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def derive_cache_key(host_key_path: Path) -> bytes:
    """The cache's HMAC key: HKDF-SHA256 over the host private key's PKCS#8 DER."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from chainguard.trust.keys import PASSWORD_ENV, load_private_key

    password = os.environ.get(PASSWORD_ENV)
    key = load_private_key(host_key_path, password.encode() if password else None)
    der = key.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(der)


def open_hash_cache(
    state_dir: Path,
    host_key_path: Path,
    full_rehash_every: float = DEFAULT_FULL_REHASH_EVERY,
    *,
    dataset_sample: float = 0.0,
    now: float | None = None,
    racy_window: float = RACY_WINDOW,
) -> HashCache:
    """Open (or create) the hash cache in ``state_dir``, authenticated under the host key.

    ``full_rehash_every``: seconds (parse_duration("24h")) after which a run reads every file.
    ``dataset_sample``: the fraction of each dataset read again on every run, a different
    slice each run (0 < f <= 1; 0: none). ``racy_window``: seconds a file's ctime must lie in
    the past for its digests to be stored (see the module docstring). Use as a context
    manager: a run that ends without an exception is recorded (its number drives the rotation;
    a full run resets the schedule).
    """
    if full_rehash_every <= 0:
        raise UsageError("full_rehash_every must be positive")
    if not 0.0 <= dataset_sample <= 1.0 or math.isnan(dataset_sample):
        raise UsageError(f"dataset_sample must be between 0 and 1, got {dataset_sample}")
    key = derive_cache_key(host_key_path)
    cache = HashCache(state_dir / CACHE_FILE, key, full_rehash_every, dataset_sample, now)
    cache.racy_window = racy_window
    return cache


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _same_mac(stored: object, expected: str) -> bool:
    """Whether a stored MAC (any SQLite value an edit left there) is ``expected``; as bytes:
    compare_digest refuses a str holding non-ASCII characters."""
    return hmac.compare_digest(str(stored).encode("utf-8", "surrogateescape"), expected.encode())


def _blob_field(value: object) -> object:
    if isinstance(value, bytes):
        return {"blob": value.hex()}
    raise TypeError(f"{type(value).__name__} is not a SQLite value")


class HashCache:
    """One run's view of the cache. Not shared between threads; one run at a time (attest
    holds the state directory's lock)."""

    def __init__(
        self,
        path: Path,
        key: bytes,
        full_rehash_every: float,
        dataset_sample: float,
        now: float | None = None,
    ) -> None:
        self.path = path
        self._key = key
        self.dataset_sample = dataset_sample
        self.now = time.time() if now is None else now
        self.racy_window = RACY_WINDOW
        # paths whose entries did not authenticate, and whether the cache was another key's
        self.tampered: list[str] = []
        self.foreign_key = False
        self.trees: list[TreeHashCache] = []
        self._closed: tuple[TreeCoverage, ...] | None = None  # coverage() once closed
        try:
            self._db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT)
            # An edit may leave TEXT that is not UTF-8: read it (it then fails its MAC)
            # instead of sqlite3 raising OperationalError mid-lookup.
            self._db.text_factory = _text
            self._db.executescript(_SCHEMA)
            self._db.commit()
            self._check_key()
            self.run = self._meta_int("run", 0)
            last_full = self._meta_int("last_full", 0)
        except sqlite3.Error as e:
            raise StateError(f"{path}: cannot use the hash cache: {e}") from e
        self.full = last_full == 0 or self.now - last_full >= full_rehash_every

    # -- the whole cache ----------------------------------------------------------------------

    def _mac(self, *fields: object) -> str:
        # default: an edited row may hold a BLOB in any column (SQLite types values, not
        # columns); it gets a MAC no TEXT or number can share, so it fails to authenticate.
        text = json.dumps(fields, separators=(",", ":"), ensure_ascii=True, default=_blob_field)
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def _check_key(self) -> None:
        key_id = self._mac("key-id")
        row = self._db.execute("SELECT value FROM meta WHERE name = 'key-id'").fetchone()
        if row is not None and _same_mac(row[0], key_id):
            return
        if row is not None or self._db.execute("SELECT 1 FROM files LIMIT 1").fetchone():
            self.foreign_key = True  # another key's cache (or an edited key id): start over
        self._db.execute("DELETE FROM files")
        self._db.execute("DELETE FROM meta")
        self._db.execute("INSERT INTO meta VALUES ('key-id', ?, '')", (key_id,))
        self._db.commit()

    def _meta_int(self, name: str, default: int) -> int:
        row = self._db.execute("SELECT value, mac FROM meta WHERE name = ?", (name,)).fetchone()
        if row is None:
            return default
        value, mac = row
        if not _same_mac(mac, self._mac("meta", name, str(value))):
            self.tampered.append(f"{self.path} ({name})")
            return default
        try:
            return int(value)
        except ValueError:
            return default

    def _set_meta(self, name: str, value: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?, ?)",
            (name, str(value), self._mac("meta", name, str(value))),
        )

    def tree(self, root: Path, *, dataset: bool = False) -> TreeHashCache:
        """The cache for one model or dataset directory (a dataset gets the rolling sample)."""
        view = TreeHashCache(self, str(root), self.dataset_sample if dataset else 0.0)
        self.trees.append(view)
        return view

    def finish_run(self) -> None:
        """Record a completed run: its number (the rotation moves on) and, for a full run,
        the time (the next full run is due ``full_rehash_every`` later)."""
        try:
            self._set_meta("run", self.run + 1)
            if self.full:
                self._set_meta("last_full", int(self.now))
            self._db.commit()
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: cannot record the run in the hash cache: {e}") from e

    def close(self) -> None:
        """Close the store; coverage() still answers (as of now)."""
        if self._closed is None:
            self._closed = self.coverage()
            self._db.close()

    def __enter__(self) -> HashCache:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.finish_run()
        finally:
            self.close()

    def findings(self) -> list[Finding]:
        """``cache-tampered`` warnings: entries that did not authenticate, a foreign cache."""
        found: list[Finding] = []
        if self.foreign_key:
            found.append(
                Finding(
                    "cache-tampered",
                    str(self.path),
                    "the hash cache was not written under this host key (copied from another "
                    "host, edited, or the key was rotated): ignored and rebuilt",
                )
            )
        for path in self.tampered:
            found.append(
                Finding(
                    "cache-tampered",
                    path,
                    "hash cache entry not authenticated by the host key: ignored, the file "
                    "was read again",
                )
            )
        return found

    def coverage(self) -> tuple[TreeCoverage, ...]:
        """For each tree of this run: how many files were read and when the stalest one was."""
        if self._closed is not None:
            return self._closed
        result = []
        for view in self.trees:
            prefix = os.path.join(os.path.abspath(view.root), "")
            row = self._db.execute(
                "SELECT COUNT(*), MIN(read_at) FROM files WHERE substr(path, 1, ?) = ?",
                (len(prefix), prefix),
            ).fetchone()
            files = max(int(row[0]), view.hits + view.misses)
            result.append(TreeCoverage(view.root, files, view.misses, row[1], view.sample))
        return tuple(result)

    def coverage_notes(self) -> list[str]:
        return [c.note(self.now) for c in self.coverage()]

    def coverage_findings(self) -> list[Finding]:
        """One ``coverage`` note per tree: files read this run, the least recently read."""
        return [Finding("coverage", c.root, c.note(self.now)) for c in self.coverage()]

    # -- entries --------------------------------------------------------------------------------

    def _lookup(self, path: str, settings: str, ident: Identity) -> CachedDigest | None:
        row = self._db.execute(
            "SELECT dev, ino, size, mtime_ns, ctime_ns, sha256, blake3, shards, format, read_at, "
            "mac FROM files WHERE path = ? AND settings = ?",
            (path, settings),
        ).fetchone()
        if row is None:
            return None
        *values, mac = row
        if not _same_mac(mac, self._mac("file", path, settings, *values)):
            self.tampered.append(path)
            return None
        if Identity(*values[:5]) != ident:
            return None
        try:
            shards = tuple(json.loads(values[7]))
        except (ValueError, TypeError, RecursionError):
            return None
        return CachedDigest(values[5], values[6], shards, values[8])

    def _store(self, path: str, settings: str, ident: Identity, digest: CachedDigest) -> None:
        shards = json.dumps(list(digest.shards))
        values = (
            ident.dev,
            ident.ino,
            ident.size,
            ident.mtime_ns,
            ident.ctime_ns,
            digest.sha256,
            digest.blake3,
            shards,
            digest.format,
            self.now,
        )
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (path, settings, *values, self._mac("file", path, settings, *values)),
        )

    def _commit(self) -> None:
        try:
            self._db.commit()
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: cannot write the hash cache: {e}") from e


@dataclass(slots=True)
class TreeHashCache:
    """The cache as one collect_tree call uses it (collectors/tree.py, ``hash_cache=``)."""

    cache: HashCache
    root: str
    sample: float
    hits: int = 0
    misses: int = 0  # files read (changed, new, sampled, or a full run)
    sampled: int = 0  # of which re-read only because they fell in this run's sample
    bytes_read: int = 0
    _pending: list[tuple[str, str, Identity, CachedDigest]] = field(default_factory=list)

    def in_sample(self, path: str) -> bool:
        """Whether ``path`` (relative to the root: the slices stay put when the tree is mounted
        elsewhere) is in this run's slice: run r reads the files whose path hashes to r modulo
        ceil(1 / sample), so any ceil(1 / sample) consecutive runs read every file once."""
        if not self.sample:
            return False
        slices = math.ceil(1 / self.sample)
        position = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big")
        return position % slices == self.cache.run % slices

    def lookup(self, path: str, settings: str, st: os.stat_result) -> CachedDigest | None:
        """The cached digests of the file at ``path`` (absolute) if its identity is unchanged
        and this run need not read it; None: read it (and ``store`` the result)."""
        key = os.path.abspath(path)
        # looked up even when it is to be read anyway: an entry that does not authenticate is
        # reported whatever this run does with it
        found = self.cache._lookup(key, settings, Identity.of(st))
        if self.cache.full:
            found = None
        elif self.in_sample(os.path.relpath(key, os.path.abspath(self.root))):
            self.sampled += 1
            found = None
        if found is None:
            self.misses += 1
            self.bytes_read += st.st_size
        else:
            self.hits += 1
        return found

    def store(
        self,
        path: str,
        settings: str,
        before: os.stat_result,
        sha256: str | None,
        blake3: str | None,
        shards: tuple[str, ...],
        format: str | None,
    ) -> None:
        """Remember a file just hashed if it is still what it was before the read."""
        digest = CachedDigest(sha256, blake3, shards, format)
        try:
            after = os.stat(path, follow_symlinks=False)
        except OSError:
            return
        if not stat.S_ISREG(after.st_mode) or Identity.of(after) != Identity.of(before):
            return
        if after.st_ctime_ns >= time.time_ns() - int(self.cache.racy_window * 1e9):
            return  # changed too recently for its ctime to tell a later change apart
        self._pending.append((os.path.abspath(path), settings, Identity.of(before), digest))

    def commit(self) -> None:
        for entry in self._pending:
            self.cache._store(*entry)
        self._pending.clear()
        self.cache._commit()
