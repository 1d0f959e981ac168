"""RECORD, the list of installed files (and their digests and sizes) an installer writes into
each ``*.dist-info`` (the wheel and installation specs)."""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import re
from dataclasses import dataclass

from chainguard.collectors._deps import decode_text
from chainguard.errors import LockfileError

# RECORD digests: hashlib.algorithms_guaranteed minus md5/sha1 (the spec forbids them) and the
# variable-length shake algorithms.
RECORD_ALGORITHMS = frozenset(
    {
        "sha224",
        "sha256",
        "sha384",
        "sha512",
        "sha3_224",
        "sha3_256",
        "sha3_384",
        "sha3_512",
        "blake2b",
        "blake2s",
    }
)
_B64URL = re.compile("[A-Za-z0-9_-]+")
_HEX = re.compile("[0-9a-fA-F]+")
_DECIMAL = re.compile("0|[1-9][0-9]{0,19}")


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One line of a RECORD file."""

    path: str
    algorithm: str | None
    digest: bytes | None
    size: int | None
    line: int


def parse_record(data: bytes, source: str) -> list[RecordEntry]:
    """RECORD is CSV: ``path,algorithm=<urlsafe base64, no padding>,size`` per installed file.

    Hash and size may be empty (RECORD itself, bytecode). Any malformed line is an error: a
    RECORD that cannot be read completely cannot vouch for anything.
    """
    text = decode_text(data, source)
    entries = []
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1  # where the next row starts (a quoted field may span lines)
    try:
        for row in reader:
            if row and row != [""]:
                entries.append(_record_entry(row, f"{source}:{line}", line))
            line = reader.line_num + 1
    except csv.Error as e:
        raise LockfileError(f"{source}:{line}: not valid CSV: {e}") from e
    return entries


def _record_entry(row: list[str], where: str, line: int) -> RecordEntry:
    if len(row) != 3:
        raise LockfileError(f"{where}: expected 3 fields (path,hash,size), found {len(row)}")
    path, hash_field, size_field = row
    if not path or not path.isprintable():
        raise LockfileError(f"{where}: empty path or control characters in the path")
    algorithm: str | None = None
    digest: bytes | None = None
    if hash_field:
        algorithm, sep, encoded = hash_field.partition("=")
        if not sep or algorithm not in RECORD_ALGORITHMS:
            raise LockfileError(
                f"{where}: hash must be <algorithm>=<base64>, with algorithm one of "
                f"{', '.join(sorted(RECORD_ALGORITHMS))}"
            )
        size_bytes = hashlib.new(algorithm).digest_size
        if len(encoded) == 2 * size_bytes and _HEX.fullmatch(encoded):
            # Debian's dh-python rewrites RECORD with hex digests; the length tells them apart
            # (base64 of the same digest is 4/3 of the bytes, never twice).
            digest = bytes.fromhex(encoded)
        else:
            digest = _urlsafe_b64(encoded, where)
        if len(digest) != size_bytes:
            raise LockfileError(f"{where}: {algorithm} digest has the wrong length")
    size: int | None = None
    if size_field:
        if not _DECIMAL.fullmatch(size_field):
            raise LockfileError(f"{where}: size must be a non-negative integer, got {size_field!r}")
        size = int(size_field)
    return RecordEntry(path, algorithm, digest, size, line)


def _urlsafe_b64(encoded: str, where: str) -> bytes:
    # Strict: the urlsafe alphabet only, no padding (what the wheel spec writes).
    if not _B64URL.fullmatch(encoded) or len(encoded) % 4 == 1:
        raise LockfileError(f"{where}: hash is not urlsafe base64 without padding")
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as e:
        raise LockfileError(f"{where}: hash is not urlsafe base64 without padding") from e
