"""The attestation log: one signed entry per attest run, chained by digest, in SQLite.

Each entry is canonical JSON holding its sequence number, the digest of the entry before it
and the digest of the run's signed attestation; a DSSE signature by the host key covers it.
Deleting, editing, reordering or swapping entries therefore breaks either a signature or the
chain, and ``verify_log`` names the first entry where that happens. Dropping entries from the
end leaves a shorter chain that still verifies: that is what the chain head in every published
attestation is for (a witness elsewhere holds a newer head than the truncated log).

Crash safety: an entry (and its webhook delivery, when one is wanted) is written in one SQLite
transaction (WAL, synchronous=FULL), so a run killed at any moment leaves the log as it was
before the run or with the whole entry. One run at a time: ``RunLock``, an advisory lock the
kernel drops with the process, waited for a bounded time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainguard._strictjson import loads_strict
from chainguard.attest.drift import FindingKey
from chainguard.errors import BundleError, InputError, StateError
from chainguard.trust import dsse
from chainguard.trust.bundle import read_bundle
from chainguard.trust.keys import TrustedKey
from chainguard.trust.state import _retry_while_locked

LOG_NAME = "attest.db"
LOCK_NAME = "attest.lock"
LOG_ENTRY_TYPE = "application/vnd.chainguard.attestation-log-entry+json"
_BUSY_TIMEOUT = 30.0
# The largest entry, signature or attestation read from a row: an attestation lists a run's
# findings, some megabytes at most.
MAX_COLUMN_BYTES = 64 * 1024 * 1024


def canonical(document: object) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): what an entry's signature covers."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- one run at a time


@contextmanager
def run_lock(directory: Path, timeout: float) -> Iterator[None]:
    """Hold ``directory``/attest.lock for the whole run, waiting at most ``timeout`` seconds.

    flock, not a lock file's existence: the kernel releases it when the holder dies, so a
    run killed with SIGKILL never leaves a stale lock behind."""
    import fcntl

    path = directory / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as e:
        raise StateError(f"{path}: cannot open the run lock: {e.strerror or e}") from e
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StateError(
                        f"{directory}: another chainguard attest is running (waited "
                        f"{timeout:g}s for {path}); try again later or raise lock_timeout"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


# ---------------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class Head:
    """The newest entry: what the next one chains to and drifts from."""

    seq: int
    digest: str
    findings: tuple[FindingKey, ...]


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One row as stored; nothing in it is verified (``verify_log`` does that)."""

    seq: int
    entry: bytes
    signature: bytes  # a Sigstore bundle v0.3 holding the DSSE over ``entry``
    attestation: bytes  # the run's signed attestation (a Sigstore bundle)
    oversized: str | None = None  # the column over MAX_COLUMN_BYTES (then left unread, empty)

    @property
    def digest(self) -> str:
        return sha256_hex(self.entry)


class AttestationLog:
    """``<dir>/attest.db``: the entries and the attestations still to deliver."""

    def __init__(self, directory: Path, *, create: bool = True) -> None:
        self.path = directory / LOG_NAME
        if not create and not self.path.is_file():
            raise StateError(f"{self.path}: no attestation log here (run chainguard attest first)")
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT, isolation_level=None)
            _retry_while_locked(self._setup)
        except (OSError, sqlite3.Error) as e:
            raise StateError(f"{self.path}: cannot open the attestation log: {e}") from e

    def _setup(self) -> None:
        if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS attest_log (seq INTEGER PRIMARY KEY,"
            " entry BLOB NOT NULL, signature BLOB NOT NULL, attestation BLOB NOT NULL)"
        )
        # seq of each attestation a webhook has not acknowledged yet
        self._db.execute("CREATE TABLE IF NOT EXISTS attest_outbox (seq INTEGER PRIMARY KEY)")
        # seq of each attestation not yet pushed to the OCI registry (attest --publish)
        self._db.execute("CREATE TABLE IF NOT EXISTS attest_publish (seq INTEGER PRIMARY KEY)")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AttestationLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: cannot read the attestation log: {e}") from e

    def entries(self) -> list[StoredEntry]:
        # A column over the cap is not read (SQLite knows a blob's length without loading
        # it): an edited row of gigabytes is reported by verify_log, never held.
        columns = ("entry", "signature", "attestation")
        selected = ", ".join(
            f"length({c}), CASE WHEN length({c}) <= ?1 THEN {c} END" for c in columns
        )
        rows = self._query(
            f"SELECT seq, {selected} FROM attest_log ORDER BY seq",  # noqa: S608 (fixed names)
            (MAX_COLUMN_BYTES,),
        )
        entries = []
        for r in rows:
            over = [c for c, n in zip(columns, r[1::2], strict=True) if (n or 0) > MAX_COLUMN_BYTES]
            entry, signature, attestation = (_blob(v) for v in r[2::2])
            entries.append(
                StoredEntry(int(r[0]), entry, signature, attestation, over[0] if over else None)
            )
        return entries

    def length(self) -> int:
        (row,) = self._query("SELECT COUNT(*) FROM attest_log")
        return int(row[0])

    def head(self) -> Head | None:
        rows = self._query(
            "SELECT seq, CASE WHEN length(entry) <= ? THEN entry END FROM attest_log"
            " ORDER BY seq DESC LIMIT 1",
            (MAX_COLUMN_BYTES,),
        )
        if not rows:
            return None
        seq, entry = int(rows[0][0]), _blob(rows[0][1])
        return Head(seq, sha256_hex(entry), _finding_keys(entry, self.path))

    def append(
        self,
        entry: dict[str, object],
        attestation: bytes,
        sign: Callable[[bytes], bytes],
        *,
        previous: Head | None,
        deliver: bool,
        publish: bool = False,
    ) -> StoredEntry:
        """Add ``entry`` (its ``seq`` and ``previous`` filled in here) signed by ``sign``, in one
        transaction; ``deliver``: also queue the attestation for the webhook, ``publish``: for
        the OCI registry."""
        seq = previous.seq + 1 if previous else 1
        data = canonical({**entry, "seq": seq, "previous": previous.digest if previous else None})
        signature = sign(data)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                now = self.head()
                if (now.digest if now else None) != (previous.digest if previous else None):
                    raise StateError(
                        f"{self.path}: the log changed during this run (another writer without "
                        "the run lock); nothing appended"
                    )
                self._db.execute(
                    "INSERT INTO attest_log VALUES (?, ?, ?, ?)",
                    (seq, data, signature, attestation),
                )
                if deliver:
                    self._db.execute("INSERT INTO attest_outbox VALUES (?)", (seq,))
                if publish:
                    self._db.execute("INSERT INTO attest_publish VALUES (?)", (seq,))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: cannot append to the attestation log: {e}") from e
        return StoredEntry(seq, data, signature, attestation)

    def undelivered(self) -> list[tuple[int, bytes]]:
        """(seq, signed attestation) still to deliver, oldest first."""
        rows = self._query(
            "SELECT o.seq, l.attestation FROM attest_outbox o JOIN attest_log l USING (seq)"
            " ORDER BY o.seq"
        )
        return [(int(r[0]), _blob(r[1])) for r in rows]

    def delivered(self, seq: int) -> None:
        try:
            self._db.execute("DELETE FROM attest_outbox WHERE seq = ?", (seq,))
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: cannot update the attestation log: {e}") from e

    def unpublished(self) -> list[tuple[int, bytes]]:
        """(seq, signed attestation) still to push to the registry, oldest first."""
        rows = self._query(
            "SELECT p.seq, l.attestation FROM attest_publish p JOIN attest_log l USING (seq)"
            " ORDER BY p.seq"
        )
        return [(int(r[0]), _blob(r[1])) for r in rows]

    def published(self, seq: int) -> None:
        try:
            self._db.execute("DELETE FROM attest_publish WHERE seq = ?", (seq,))
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: cannot update the attestation log: {e}") from e


def _blob(value: object) -> bytes:
    """A stored column as bytes: SQLite keeps whatever type was written (an edit may have
    written text, a number or NULL); the checks then see bytes that do not verify."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return b"" if value is None else str(value).encode("utf-8", "surrogateescape")


def _finding_keys(entry: bytes, source: Path) -> tuple[FindingKey, ...]:
    try:
        doc = loads_strict(entry, str(source), BundleError)
        keys = doc["findings"]  # type: ignore[index]
        return tuple((str(r), str(p), str(c)) for r, p, c in keys)
    except (InputError, KeyError, TypeError, ValueError) as e:
        raise StateError(
            f"{source}: the newest log entry is unreadable ({e}); run chainguard log verify"
        ) from e


# ---------------------------------------------------------------------------------- verifying


@dataclass(frozen=True, slots=True)
class LogCheck:
    """``broken``: the first broken entry's position and how it is broken; None: intact."""

    length: int
    head: str | None
    broken: tuple[int, str] | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def parse_entry(entry: StoredEntry, source: str) -> dict[str, object]:
    doc = loads_strict(entry.entry, source, BundleError)
    if not isinstance(doc, dict):
        raise BundleError(f"{source}: entry {entry.seq} is not a JSON object")
    return doc


def verify_log(entries: Sequence[StoredEntry], key: TrustedKey, source: str) -> LogCheck:
    """Walk the chain in stored order; stop at the first entry that is not what the host key
    signed in that place."""
    previous: str | None = None
    signed_seqs = [_signed_seq(e) for e in entries]
    for index, stored in enumerate(entries):
        expected = index + 1
        how = _check_one(stored, key, source)
        if how is None:
            how = _check_place(stored, signed_seqs, index, expected, previous)
        if how is not None:
            return LogCheck(len(entries), previous, (stored.seq, how))
        previous = stored.digest
    return LogCheck(len(entries), previous)


def _signed_seq(stored: StoredEntry) -> int | None:
    try:
        doc = json.loads(stored.entry)
        seq = doc.get("seq") if isinstance(doc, dict) else None
        return seq if isinstance(seq, int) else None
    except (ValueError, RecursionError):
        return None


def _check_one(stored: StoredEntry, key: TrustedKey, source: str) -> str | None:
    """The entry itself: signature, content, the attestation it names."""
    if stored.oversized is not None:
        return f"edited: its {stored.oversized} is over {MAX_COLUMN_BYTES // 2**20} MiB (not read)"
    try:
        bundle = read_bundle(stored.signature, f"{source}: entry {stored.seq} signature")
    except BundleError as e:
        return f"bad signature: {e}"
    envelope = bundle.envelope
    if envelope is None or envelope.payload_type != LOG_ENTRY_TYPE:
        return "bad signature: not a signed log entry"
    if envelope.payload != stored.entry:
        return "edited: its content is not what the host key signed"
    if not dsse.verify(envelope, [key]):
        return f"bad signature: not signed by the host key {key.fingerprint[:16]}"
    try:
        doc = parse_entry(stored, source)
    except InputError as e:
        return f"edited: unreadable entry ({e})"
    if doc.get("attestation") != sha256_hex(stored.attestation):
        return "swapped: its attestation is not the one the entry signed"
    try:
        attestation = read_bundle(stored.attestation, f"{source}: entry {stored.seq} attestation")
    except BundleError as e:
        return f"edited: its attestation is unreadable ({e})"
    if attestation.envelope is None or not dsse.verify(attestation.envelope, [key]):
        return "bad signature: its attestation is not signed by the host key"
    return None


def _check_place(
    stored: StoredEntry,
    signed_seqs: Sequence[int | None],
    index: int,
    expected: int,
    previous: str | None,
) -> str | None:
    """The entry in its place: the number it signed and the entry it chains to."""
    signed = signed_seqs[index]
    if signed != expected or stored.seq != expected:
        if signed is not None and signed > expected and expected not in signed_seqs[index:]:
            missing = f"{expected}" if signed == expected + 1 else f"{expected}..{signed - 1}"
            return f"deleted: entry {missing} is missing before signed entry {signed}"
        return f"reordered: signed entry {signed} stands where entry {expected} belongs"
    doc = json.loads(stored.entry)
    if doc.get("previous") != previous:
        shown = str(doc.get("previous"))[:16]
        return (
            f"swapped: it chains to {shown}, not to the entry before it "
            f"({(previous or 'none')[:16]}): an entry from another log"
        )
    return None
