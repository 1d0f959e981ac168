"""Installed files checked against their RECORD lines: present, regular, inside the environment,
and of the recorded size and digest (SHA-256 lines with the shared hashing engine)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from chainguard.collectors.env_layout import inside
from chainguard.collectors.env_record import RecordEntry
from chainguard.models import Anomaly, FileDigest, RecordProblem


@dataclass(slots=True)
class RecordCheck:
    """An installed file to hash against its RECORD entry."""

    dist: str
    entry: RecordEntry
    full: str


def check_files(
    checks: Sequence[RecordCheck], roots: tuple[str, ...], workers: int | None
) -> tuple[int, list[RecordProblem]]:
    """Size and digest of every hashed RECORD entry: the bytes hashed, and the problems found.
    ``roots``: the real paths files may resolve into (EnvironmentLayout.roots)."""
    from chainguard.hashing import FileEntry, HashSettings, hash_entries

    problems: list[RecordProblem] = []
    to_hash: list[FileEntry] = []
    by_key: dict[str, RecordCheck] = {}
    others: list[tuple[RecordCheck, os.stat_result]] = []
    for i, check in enumerate(checks):
        st = _stat_installed(check, roots, problems)
        if st is None:
            continue
        if check.entry.size is not None and st.st_size != check.entry.size:
            detail = f"size differs from RECORD ({check.entry.size} → {st.st_size} bytes)"
            problems.append(_problem(check, "modified", detail, f"{st.st_size} bytes"))
            continue
        if check.entry.algorithm != "sha256":
            others.append((check, st))
            continue
        key = str(i)
        by_key[key] = check
        to_hash.append(FileEntry.from_stat(key, check.full, st))
    settings = HashSettings() if workers is None else HashSettings(workers=workers)
    digests, anomalies = hash_entries(to_hash, settings, mode="verify")
    hashed = _compare_sha256(digests, anomalies, by_key, problems)
    hashed += _compare_others(others, problems)
    return hashed, problems


def _compare_sha256(
    digests: list[FileDigest],
    anomalies: list[Anomaly],
    by_key: dict[str, RecordCheck],
    problems: list[RecordProblem],
) -> int:
    """What the engine hashed against the SHA-256 of each RECORD line; returns the bytes."""
    hashed = 0
    for d in digests:
        check = by_key[d.path]
        hashed += d.size
        actual = bytes.fromhex(d.sha256 or "")
        if actual != check.entry.digest:
            actual_text = _describe(check.entry, actual, d.size)
            problems.append(_problem(check, "modified", "content differs from RECORD", actual_text))
    for a in anomalies:
        check = by_key[a.path]
        kind = "changed-during-hash" if a.kind == "changed-during-hash" else "unreadable"
        problems.append(_problem(check, kind, a.detail, a.detail))
    return hashed


def _compare_others(
    others: list[tuple[RecordCheck, os.stat_result]], problems: list[RecordProblem]
) -> int:
    """RECORD lines with another algorithm than SHA-256; returns the bytes."""
    hashed = 0
    for check, st in others:
        hashed += st.st_size
        actual_digest = _digest_other(check, problems)
        if actual_digest is not None and actual_digest != check.entry.digest:
            actual_text = _describe(check.entry, actual_digest, st.st_size)
            problems.append(_problem(check, "modified", "content differs from RECORD", actual_text))
    return hashed


def _stat_installed(
    check: RecordCheck, roots: tuple[str, ...], problems: list[RecordProblem]
) -> os.stat_result | None:
    try:
        st = os.lstat(check.full)
    except FileNotFoundError:
        problems.append(_problem(check, "missing", "listed in RECORD but missing", "absent"))
        return None
    except OSError as e:
        detail = e.strerror or str(e)
        problems.append(_problem(check, "unreadable", detail, detail))
        return None
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(check.full)
        detail = f"is a symbolic link to {target}, RECORD lists a regular file"
        problems.append(_problem(check, "not-regular", detail, f"symlink → {target}"))
        return None
    if not stat.S_ISREG(st.st_mode):
        detail = "is not a regular file"
        problems.append(_problem(check, "not-regular", detail, detail))
        return None
    real = os.path.realpath(check.full)
    if real != check.full and not inside(real, roots):
        detail = f"resolves outside the environment (to {real}) through a linked directory"
        problems.append(_problem(check, "outside", detail, real))
        return None
    return st


def _digest_other(check: RecordCheck, problems: list[RecordProblem]) -> bytes | None:
    """RECORD entries with an algorithm other than SHA-256 (rare): streamed, constant memory."""
    from chainguard.hashing import CHUNK_SIZE

    assert check.entry.algorithm is not None
    h = hashlib.new(check.entry.algorithm)
    try:
        fd = os.open(check.full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
                h.update(chunk)
    except OSError as e:
        detail = e.strerror or str(e)
        problems.append(_problem(check, "unreadable", detail, detail))
        return None
    return h.digest()


def _hex(digest: bytes | None) -> str:
    return digest.hex() if digest is not None else "?"


def _describe(entry: RecordEntry, digest: bytes | None = None, size: int | None = None) -> str:
    alg = entry.algorithm or "sha256"
    shown = digest if digest is not None else entry.digest
    length = size if size is not None else entry.size
    return f"{alg}:{_hex(shown)}" + (f" ({length} bytes)" if length is not None else "")


def _problem(check: RecordCheck, kind: str, detail: str, actual: str | None) -> RecordProblem:
    return RecordProblem(
        path=check.entry.path,
        kind=kind,  # type: ignore[arg-type]
        detail=detail,
        distribution=check.dist,
        expected=_describe(check.entry),
        actual=actual,
    )
