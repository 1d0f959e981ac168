"""Local state for rollback protection: the highest SBOM serial ever accepted per deployment.

Borrowed from TUF: a verifier remembers the newest version it trusted, so an attacker who holds an
old, validly signed SBOM (with the old, vulnerable weights or dependencies it describes) cannot
roll a host back to it. SQLite gives atomic, crash-safe updates (WAL journal, fsync on commit) and
serialises concurrent runs (BEGIN IMMEDIATE takes the write lock before the read-compare-write).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from chainguard.errors import StateError
from chainguard.models import MAX_DECIMAL

STATE_DIR_ENV = "CHAINGUARD_STATE_DIR"
_SCHEMA_VERSION = 1
_BUSY_TIMEOUT = 30.0  # seconds another run may hold the store (a cron and a CI job at once)


def _retry_while_locked(action: Callable[[], None]) -> None:
    """Run ``action``, retrying while SQLite says the database is locked.

    The busy timeout covers ordinary statements, but not switching a new database to WAL while
    another run creates it at the same moment: that fails at once with "database is locked".
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT
    delay = 0.005
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def default_state_dir() -> Path:
    """$CHAINGUARD_STATE_DIR, else /var/lib/chainguard as root (a host's cron job), else
    $XDG_STATE_HOME/chainguard, else ~/.local/state/chainguard."""
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/chainguard")
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "chainguard"


@dataclass(frozen=True, slots=True)
class HighWater:
    deployment: str
    serial: int
    sbom_sha256: str
    version: str
    accepted_at: str


@dataclass(frozen=True, slots=True)
class RollbackCheck:
    """Outcome of comparing a presented SBOM with the stored high-water mark."""

    ok: bool
    previous: HighWater | None
    reason: str = ""


class StateStore:
    """Per-deployment high-water marks in ``<dir>/state.db``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "state.db"
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT, isolation_level=None)
            _retry_while_locked(self._setup)
        except (OSError, sqlite3.Error) as e:
            raise StateError(f"{self.path}: cannot open state store: {e}") from e

    def _setup(self) -> None:
        if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS high_water ("
            " deployment TEXT PRIMARY KEY, serial INTEGER NOT NULL,"
            " sbom_sha256 TEXT NOT NULL, version TEXT NOT NULL, accepted_at TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(_SCHEMA_VERSION),))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, deployment: str) -> HighWater | None:
        try:
            row = self._db.execute(
                "SELECT deployment, serial, sbom_sha256, version, accepted_at"
                " FROM high_water WHERE deployment = ?",
                (deployment,),
            ).fetchone()
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: cannot read state: {e}") from e
        return HighWater(*row) if row else None

    def check_and_record(
        self, deployment: str, serial: int, sbom_sha256: str, version: str, *, record: bool = True
    ) -> RollbackCheck:
        """Refuse a serial below the high-water mark; otherwise raise the mark (atomically).

        Serial 0 means "unversioned": it is never recorded and only refused once a versioned
        SBOM was accepted. A positive serial reused for different SBOM bytes is refused too:
        two different releases must never share a serial.
        """
        if not 0 <= serial <= MAX_DECIMAL:  # SQLite would raise OverflowError mid-transaction
            raise StateError(f"serial {serial} is outside 0..{MAX_DECIMAL}; refusing to record it")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                previous = self.get(deployment)
                check = _judge(previous, serial, sbom_sha256)
                raise_mark = previous is None or serial > previous.serial
                if check.ok and record and serial > 0 and raise_mark:
                    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                    self._db.execute(
                        "INSERT INTO high_water VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT(deployment) DO UPDATE SET serial = excluded.serial,"
                        " sbom_sha256 = excluded.sbom_sha256, version = excluded.version,"
                        " accepted_at = excluded.accepted_at",
                        (deployment, serial, sbom_sha256, version, now),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: cannot update state: {e}") from e
        return check


def _judge(previous: HighWater | None, serial: int, sbom_sha256: str) -> RollbackCheck:
    if previous is None:
        return RollbackCheck(True, None)
    if serial < previous.serial:
        return RollbackCheck(
            False,
            previous,
            f"serial {serial} is older than serial {previous.serial} "
            f"(version {previous.version}) accepted at {previous.accepted_at}",
        )
    if serial == previous.serial and sbom_sha256 != previous.sbom_sha256:
        return RollbackCheck(
            False,
            previous,
            f"serial {serial} was already accepted for a different SBOM "
            f"(sha256 {previous.sbom_sha256[:16]}…); a new release needs a higher serial",
        )
    return RollbackCheck(True, previous)
