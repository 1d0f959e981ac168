"""Verdicts of the bytecode check worth keeping: "this .pyc is a compilation of this source".

Compiling every source again is what the bytecode check costs (collectors/bytecode.py). An
environment verified again and again (cron, every deployment) holds mostly the same bytes, so a
pass is remembered under a key that names the bytes compared and everything that decided the
verdict (see ``bytecode.verdict_key``: both contents' SHA-256, the interpreter, the optimization
level and the comparison's version). A key can only be found again for byte-identical inputs,
so reuse is as safe as the store: only passes are kept (a mismatch is always compiled again),
and a store someone else could write is not used.

The store is ``bytecode-cache.sqlite`` in chainguard's state directory (beside the rollback
state, which lives in its own file). It holds at most ``MAX_ENTRIES`` keys, the oldest dropped
first. Whatever goes wrong with it (unreadable, corrupt, locked for long, writable by others)
costs speed only: a one-line warning, then the run goes on without it or with a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import sys
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from chainguard.trust.state import _retry_while_locked

CACHE_NAME = "bytecode-cache.sqlite"
MAX_ENTRIES = 200_000  # a few large environments; about 15 MiB
_SCHEMA_VERSION = 1
_BUSY_TIMEOUT = 5.0  # a cache is not worth waiting long for
_BATCH = 500  # keys per query, below SQLite's smallest limit on parameters
KEY_SIZE = 32

Warn = Callable[[str], None]


def _warn_stderr(message: str) -> None:
    sys.stderr.write(f"chainguard: warning: {message}\n")


@contextlib.contextmanager
def bytecode_cache(
    directory: Path | None, *, warn: Warn = _warn_stderr
) -> Iterator[BytecodeCache | None]:
    """The cache in ``directory`` (None: no cache), closed on exit; None when it cannot be
    used (the reason is warned about)."""
    cache = BytecodeCache.open(directory, warn=warn) if directory is not None else None
    try:
        yield cache
    finally:
        if cache is not None:
            cache.close()


class BytecodeCache:
    """A set of verdict keys (``bytecode.verdict_key``), each a pass, in one SQLite file."""

    def __init__(self, db: sqlite3.Connection | None, path: Path, warn: Warn) -> None:
        self._db: sqlite3.Connection | None = db
        self.path = path
        self._warn = warn

    @classmethod
    def open(cls, directory: Path, *, warn: Warn = _warn_stderr) -> BytecodeCache | None:
        path = directory / CACHE_NAME
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            refusal = _others_may_write(directory)
            if refusal is None:
                # Created by us, for us only, before SQLite opens it (whatever the umask).
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
                refusal = _others_may_write(path)
        except OSError as e:
            warn(f"{path}: bytecode cache not used: {e.strerror or e}")
            return None
        if refusal is not None:
            warn(f"bytecode cache not used: {refusal}")
            return None
        cache = cls(None, path, warn)
        try:
            cache._db = _connect(path)
        except sqlite3.DatabaseError as e:
            cache._recover("cannot open", e)
        return cache if cache._db is not None else None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def passed(self, keys: Collection[bytes]) -> set[bytes]:
        """Those of ``keys`` recorded as passes."""
        wanted = {k for k in keys if len(k) == KEY_SIZE}
        found: set[bytes] = set()
        if self._db is None or not wanted:
            return found
        batch = list(wanted)
        try:
            for i in range(0, len(batch), _BATCH):
                part = batch[i : i + _BATCH]
                rows = self._db.execute(
                    f"SELECT key FROM passes WHERE key IN ({','.join('?' * len(part))})",  # noqa: S608 - placeholders only
                    part,
                ).fetchall()
                found.update(bytes(r[0]) for r in rows)
        except sqlite3.Error as e:
            self._recover("cannot read", e)
            return set()
        return found & wanted  # only what was asked for, whatever the store returned

    def add(self, keys: Collection[bytes]) -> None:
        """Record passes; keep the newest ``MAX_ENTRIES``."""
        if self._db is None or not keys:
            return
        db = self._db

        def write() -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR IGNORE INTO passes (key) VALUES (?)",
                    ((k,) for k in keys if len(k) == KEY_SIZE),
                )
                db.execute(
                    "DELETE FROM passes WHERE rowid <= (SELECT max(rowid) FROM passes) - ?",
                    (MAX_ENTRIES,),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        try:
            _retry_while_locked(write)
        except sqlite3.Error as e:
            self._recover("cannot write", e)

    def _recover(self, what: str, error: sqlite3.Error) -> None:
        """Locked for long: go on without the cache. Anything else (a file that is not a
        database, a corrupt page): start a new, empty one."""
        self.close()
        if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
            self._warn(f"{self.path}: bytecode cache: {what} ({error}); going on without it")
            return
        self._warn(f"{self.path}: bytecode cache: {what} ({error}); starting a new one")
        try:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.path}{suffix}")
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
            self._db = _connect(self.path)
        except (OSError, sqlite3.Error) as e:
            self._warn(f"{self.path}: bytecode cache not used: {e}")


def _connect(path: Path) -> sqlite3.Connection:
    # Used from the thread that checks bytecode, one caller at a time.
    db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    try:
        _retry_while_locked(lambda: _setup(db))
    except BaseException:
        db.close()
        raise
    return db


def _setup(db: sqlite3.Connection) -> None:
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a lost pass is recomputed
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
            db.execute("DROP TABLE IF EXISTS passes")
            db.execute("CREATE TABLE passes (key BLOB PRIMARY KEY)")
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        db.execute("SELECT count(*) FROM passes WHERE key = x''").fetchone()
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _others_may_write(path: Path) -> str | None:
    """Why someone other than us (or root) could change ``path``, or None.

    The rule for config files (config.check_permissions: the file, where a link leads, the
    directories holding them), and the owner must be this user or root.
    """
    from chainguard.config import check_permissions
    from chainguard.errors import ConfigError

    try:
        check_permissions(path)
    except ConfigError as e:
        return str(e).replace("refusing config: ", "", 1)
    me = os.geteuid() if hasattr(os, "geteuid") else None
    for candidate in {path, path.resolve()}:
        info = candidate.stat()
        if me is not None and info.st_uid not in (0, me):
            kind = "directory" if stat.S_ISDIR(info.st_mode) else "file"
            return f"its {kind} {candidate} belongs to another user (uid {info.st_uid})"
    for suffix in ("-wal", "-shm"):  # SQLite's side files: as good as the database
        side = Path(f"{path}{suffix}")
        with contextlib.suppress(FileNotFoundError):
            info = side.stat()
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or (
                me is not None and info.st_uid not in (0, me)
            ):
                return f"{side} is writable by others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None
