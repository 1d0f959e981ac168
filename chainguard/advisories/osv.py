"""OSV records, offline: a directory tree of ``*.json`` records, a zip of them (the PyPI export
of the OSV database, ``PyPI/all.zip``, that air-gapped sites mirror) or one record file.

Only what matters for installed Python distributions is kept: the ``affected[]`` entries of
the PyPI ecosystem; withdrawn records are left out. Reading is bounded, since a mirror is one
more input that may be hostile: a cap on each record's size, on the number of records and on
the bytes read in all. In a zip, the size each entry declares is checked before it is opened and
the bytes it really inflates to while it is read (a zip bomb stops at the cap, whatever its
header says); nothing is ever extracted to disk, so entry names cannot traverse anywhere.
Every record is parsed as strict JSON, and a record of the wrong shape is an AdvisoryError
naming the file (and, in a zip, the entry): the mirror is broken, and a verify that skipped
records would say less than it seems to.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from lzma import LZMAError
from pathlib import Path
from typing import Any

from chainguard._strictjson import loads_strict, shown
from chainguard.advisories.ranges import EVENT_KINDS, AffectedVersions, Event, VersionRange
from chainguard.errors import AdvisoryError

MAX_RECORD_BYTES = 4 * 1024 * 1024  # the largest PyPI record today is a few hundred KiB
MAX_RECORDS = 200_000  # the PyPI export holds some 20,000; every ecosystem together, ~600,000
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
PYPI = "PyPI"


@dataclass(frozen=True, slots=True)
class Advisory:
    """One OSV record, reduced to its PyPI packages."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    affected: tuple[AffectedVersions, ...]  # PyPI entries only
    source: str  # the file (and zip entry) it was read from, for messages

    @property
    def ids(self) -> frozenset[str]:
        """The record's id and aliases, as matched (upper case: ids are case-insensitive)."""
        return frozenset(i.upper() for i in (self.id, *self.aliases))


@dataclass(frozen=True, slots=True)
class Limits:
    record_bytes: int = MAX_RECORD_BYTES
    records: int = MAX_RECORDS
    total_bytes: int = MAX_TOTAL_BYTES


def read_advisories(
    path: Path, limits: Limits = Limits(), *, packages: Collection[str] | None = None
) -> list[Advisory]:
    """Every record under ``path`` (a directory, a zip or one ``.json`` file) that concerns a
    PyPI package (one of ``packages``, PEP 503 names, when given), in a stable order (by
    source). Every record is parsed as strict JSON; the ranges and versions of a package
    outside ``packages`` are not looked at (in the PyPI export they are most of the work)."""
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise AdvisoryError(f"{path}: no such advisories directory or zip") from e
    except OSError as e:
        raise AdvisoryError(f"{path}: cannot read advisories: {e.strerror or e}") from e
    if stat.S_ISDIR(st.st_mode):
        records = _directory_records(path, limits)
    elif zipfile.is_zipfile(path):
        records = _zip_records(path, limits)
    elif path.suffix == ".zip":
        raise AdvisoryError(f"{path}: not a readable zip of OSV records")
    elif path.suffix == ".json" and stat.S_ISREG(st.st_mode):
        records = iter([(str(path), _read_bounded(path, str(path), limits.record_bytes))])
    else:
        raise AdvisoryError(f"{path}: advisories must be a directory, a zip or a .json OSV record")
    advisories = []
    for source, data in records:
        advisory = parse_record(data, source, packages=packages)
        if advisory is not None:
            advisories.append(advisory)
    return advisories


# --- sources ---------------------------------------------------------------------------------


class _Budget:
    """Counts records and bytes against the limits of one read."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root, self.limits = root, limits
        self.records = self.bytes = 0

    def take(self, size: int) -> None:
        self.records += 1
        self.bytes += size
        if self.records > self.limits.records:
            raise AdvisoryError(
                f"{self.root}: more than {self.limits.records} advisory records (the cap)"
            )
        if self.bytes > self.limits.total_bytes:
            raise AdvisoryError(
                f"{self.root}: advisory records hold more than {self.limits.total_bytes} bytes "
                "in all (the cap)"
            )


def _directory_records(root: Path, limits: Limits) -> Iterator[tuple[str, bytes]]:
    """Regular ``*.json`` files under ``root``, sorted; links and special files (a fifo would
    block the read) are passed over, and linked directories are not followed."""
    budget = _Budget(root, limits)
    for directory, dirs, files in os.walk(root, onerror=_walk_error):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            path = Path(directory, name)
            try:
                st = path.lstat()
            except OSError as e:
                raise AdvisoryError(f"{path}: cannot read: {e.strerror or e}") from e
            if not stat.S_ISREG(st.st_mode):
                continue
            if st.st_size > limits.record_bytes:
                raise _too_large(str(path), limits.record_bytes)
            data = _read_bounded(path, str(path), limits.record_bytes)
            budget.take(len(data))
            yield str(path), data


def _walk_error(e: OSError) -> None:
    raise AdvisoryError(f"{e.filename}: cannot read advisories: {e.strerror or e}") from e


def _read_bounded(path: Path, source: str, cap: int) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise AdvisoryError(f"{source}: cannot read: {e.strerror or e}") from e
    if len(data) > cap:
        raise _too_large(source, cap)
    return data


def _too_large(source: str, cap: int) -> AdvisoryError:
    return AdvisoryError(f"{source}: advisory record larger than {cap} bytes (the cap)")


def _zip_records(path: Path, limits: Limits) -> Iterator[tuple[str, bytes]]:
    """The ``*.json`` entries of a zip, read in memory with their declared and their real sizes
    checked against the caps."""
    budget = _Budget(path, limits)
    try:
        with zipfile.ZipFile(path) as archive:
            # (not ZipInfo.is_dir: it raises IndexError on a member named "")
            entries = [i for i in archive.infolist() if not i.filename.endswith("/")]
            if len(entries) > limits.records:
                raise AdvisoryError(
                    f"{path}: more than {limits.records} advisory records (the cap)"
                )
            for info in sorted(entries, key=lambda i: i.filename):
                if not info.filename.endswith(".json"):
                    continue
                source = f"{path}:{info.filename}"
                if info.file_size > limits.record_bytes:
                    raise _too_large(source, limits.record_bytes)
                if info.flag_bits & 0x1:
                    raise AdvisoryError(f"{source}: encrypted zip entry")
                data = _inflate_bounded(archive, info, source, limits.record_bytes)
                budget.take(len(data))
                yield source, data
    except zipfile.BadZipFile as e:
        raise AdvisoryError(f"{path}: not a readable zip of OSV records ({e})") from e
    # zipfile raises NotImplementedError for a compression method it lacks, RuntimeError for an
    # encrypted member, zlib.error / LZMAError for a corrupt compressed one, ValueError for a
    # name flagged UTF-8 that is not: an unreadable mirror, not a bug
    except (
        OSError,
        EOFError,
        NotImplementedError,
        RuntimeError,
        ValueError,
        zlib.error,
        LZMAError,
    ) as e:
        raise AdvisoryError(f"{path}: cannot read advisories zip: {e}") from e


def _inflate_bounded(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, cap: int
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as entry:
            while chunk := entry.read(64 * 1024):
                size += len(chunk)
                if size > cap:
                    raise _too_large(source, cap)
                chunks.append(chunk)
    except zipfile.BadZipFile as e:
        raise AdvisoryError(f"{source}: corrupt zip entry ({e})") from e
    if size != info.file_size:
        raise AdvisoryError(
            f"{source}: zip entry inflates to {size} bytes, its header says {info.file_size}"
        )
    return b"".join(chunks)


# --- one record ----------------------------------------------------------------------------


def parse_record(
    data: bytes, source: str, *, packages: Collection[str] | None = None
) -> Advisory | None:
    """One OSV record; None when it is withdrawn or concerns no PyPI package (of
    ``packages``, when given)."""
    doc = loads_strict(data, source, AdvisoryError)
    if not isinstance(doc, dict):
        raise AdvisoryError(f"{source}: an OSV record must be a JSON object")
    record_id = _string(doc, "id", source)
    where = f"{source} ({record_id})"
    aliases = _strings(doc, "aliases", where)
    summary = doc.get("summary", "")
    if not isinstance(summary, str):
        raise AdvisoryError(f"{where}: summary must be a string")
    withdrawn = doc.get("withdrawn")
    if withdrawn is not None and not isinstance(withdrawn, str):
        raise AdvisoryError(f"{where}: withdrawn must be a string (a timestamp)")
    affected_list = doc.get("affected", [])
    if not isinstance(affected_list, list):
        raise AdvisoryError(f"{where}: affected must be a list")
    affected = tuple(
        entry
        for i, raw in enumerate(affected_list)
        if (entry := _affected(raw, f"{where}: affected[{i}]", packages)) is not None
    )
    if withdrawn is not None or not affected:
        return None
    return Advisory(record_id, aliases, summary.strip(), affected, source)


def _affected(raw: object, where: str, packages: Collection[str] | None) -> AffectedVersions | None:
    if not isinstance(raw, dict):
        raise AdvisoryError(f"{where}: must be an object")
    package = raw.get("package")
    if package is None:
        return None  # an entry about something other than a package (OSV allows this)
    if not isinstance(package, dict):
        raise AdvisoryError(f"{where}: package must be an object")
    ecosystem = package.get("ecosystem")
    name = package.get("name")
    if not isinstance(ecosystem, str) or not isinstance(name, str):
        raise AdvisoryError(f"{where}: package needs an ecosystem and a name (strings)")
    if ecosystem != PYPI:
        return None
    from packaging.utils import canonicalize_name

    package_name = str(canonicalize_name(name))
    if packages is not None and package_name not in packages:
        return None
    ranges_raw = raw.get("ranges", [])
    if not isinstance(ranges_raw, list):
        raise AdvisoryError(f"{where}: ranges must be a list")
    ranges = tuple(_range(r, f"{where}.ranges[{i}]") for i, r in enumerate(ranges_raw))
    return AffectedVersions(
        package=package_name,
        ranges=ranges,
        versions=_strings(raw, "versions", where),
    )


def _range(raw: object, where: str) -> VersionRange:
    if not isinstance(raw, dict):
        raise AdvisoryError(f"{where}: must be an object")
    range_type = _string(raw, "type", where)
    events_raw = raw.get("events")
    if not isinstance(events_raw, list) or not events_raw:
        raise AdvisoryError(f"{where}: events must be a non-empty list")
    return VersionRange(
        range_type, tuple(_event(e, f"{where}.events[{i}]") for i, e in enumerate(events_raw))
    )


def _event(raw: object, where: str) -> Event:
    if not isinstance(raw, dict):
        raise AdvisoryError(f"{where}: must be an object")
    kinds = [k for k in EVENT_KINDS if k in raw]
    if len(kinds) != 1:
        raise AdvisoryError(
            f"{where}: an event has exactly one of introduced, fixed, last_affected, limit"
        )
    (kind,) = kinds
    value = raw[kind]
    if not isinstance(value, str) or not value:
        raise AdvisoryError(f"{where}: {kind} must be a version string, got {shown(value)}")
    return Event(kind, value)


def _string(doc: dict[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise AdvisoryError(f"{where}: {key} must be a non-empty string")
    return value


def _strings(doc: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdvisoryError(f"{where}: {key} must be a list of strings")
    return tuple(value)
