"""The names and value formats chainguard writes into CycloneDX, shared by build.py and read.py.

One place, so that the writer can never produce what the reader rejects. stdlib only: read.py
is on the verify path.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Final

from chainguard.models import MANIFEST_KINDS, ComponentKind

PREFIX: Final = "chainguard:"

# metadata.component (the deployment)
SERIAL: Final = "chainguard:serial"
EXPIRES: Final = "chainguard:expires"

# model / dataset components
ROOT_DIGEST: Final = "chainguard:root-digest"
ROOT_DIGEST_SCHEME: Final = "chainguard-tree-v1"
FILE_COUNT: Final = "chainguard:file-count"
TOTAL_SIZE: Final = "chainguard:total-size"

# file components
SIZE: Final = "chainguard:size"
SHARD_SIZE: Final = "chainguard:shard-size"
SHARDS: Final = "chainguard:shards"
ST_TENSOR_COUNT: Final = "chainguard:safetensors:tensor-count"
ST_DTYPES: Final = "chainguard:safetensors:dtypes"
ST_PARAMETERS: Final = "chainguard:safetensors:parameters"
ST_METADATA_PREFIX: Final = "chainguard:safetensors:metadata:"
# Parquet footer facts: row count, and the top-level columns as "name:TYPE" joined by ","
# (TYPE as in models.ParquetInfo; "%", ",", ":" and control characters in a name are written
# as %XX of their UTF-8 bytes so the list always splits back unambiguously).
PQ_ROWS: Final = "chainguard:parquet:rows"
PQ_COLUMNS: Final = "chainguard:parquet:columns"

# library components (Python distributions)
RECORD_SHA256: Final = "chainguard:record-sha256"
SOURCE: Final = "chainguard:source"
# "<kind>:<name>" of the manifest the dependency was read from (models.MANIFEST_KINDS); absent
# in SBOMs written before manifests were recorded. Read into Dependency.manifest.
MANIFEST: Final = "chainguard:manifest"
# Kept in Dependency.extras (they round-trip as plain properties):
MARKER: Final = "chainguard:marker"  # PEP 508 environment marker of the pin
SPECIFIER: Final = "chainguard:specifier"  # a requirement not pinned to one version (">=2")
# Where the distribution comes from when not from an index: "url:…", "vcs:…", "path:…",
# "directory:…", "editable:…", "virtual:…" (local source trees cannot be hashed).
LOCATOR: Final = "chainguard:locator"

DEPLOYMENT_REF_PREFIX: Final = "deployment:"
PACKAGE_REF_PREFIX: Final = "pkg:"

KIND_TO_TYPE: Final[dict[ComponentKind, str]] = {
    "model": "machine-learning-model",
    "dataset": "data",
}
TYPE_TO_KIND: Final[dict[str, ComponentKind]] = {t: k for k, t in KIND_TO_TYPE.items()}

# Distribution hash prefixes as pip and lockfiles spell them (hashlib names) ->
# (CycloneDX algorithm name, hex length).
HASHLIB_TO_CDX: Final[dict[str, tuple[str, int]]] = {
    "md5": ("MD5", 32),
    "sha1": ("SHA-1", 40),
    "sha256": ("SHA-256", 64),
    "sha384": ("SHA-384", 96),
    "sha512": ("SHA-512", 128),
    "sha3_256": ("SHA3-256", 64),
    "sha3_384": ("SHA3-384", 96),
    "sha3_512": ("SHA3-512", 128),
    "blake2b": ("BLAKE2b-512", 128),
}
CDX_TO_HASHLIB: Final[dict[str, tuple[str, int]]] = {
    cdx: (name, length) for name, (cdx, length) in HASHLIB_TO_CDX.items()
}

# The largest integer the SBOM may hold (serial, sizes, counts): a signed 64-bit integer, which
# is what SQLite stores (the rollback state's serials) and what a file size or offset can be.
# A larger value would be accepted by Python and fail much later, in the middle of a verify.
MAX_DECIMAL: Final = 2**63 - 1

_LOWER_HEX = re.compile("[0-9a-f]+")
# Canonical decimal: no sign, no leading zeros, no "_" or non-ASCII digits (all of which int()
# accepts), and short enough that int() cannot be made slow; then at most MAX_DECIMAL.
_DECIMAL = re.compile("0|[1-9][0-9]{0,18}")
_RFC3339 = re.compile(
    "([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.]([0-9]{1,9}))?"
    "(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)


def is_hex(value: str, length: int = 64) -> bool:
    """Lowercase hex of exactly ``length`` characters (64: a SHA-256 or BLAKE3 digest)."""
    return len(value) == length and _LOWER_HEX.fullmatch(value) is not None


def parse_decimal(value: str) -> int | None:
    """An integer from 0 to MAX_DECIMAL written canonically, else None."""
    if not _DECIMAL.fullmatch(value):
        return None
    n = int(value)
    return n if n <= MAX_DECIMAL else None


def parse_rfc3339(value: str) -> datetime | None:
    """An RFC 3339 date-time with an explicit offset, as an aware datetime; else None.

    Written by hand because ``datetime.fromisoformat`` only learned the ``Z`` suffix in 3.11 and
    accepts forms RFC 3339 does not.
    """
    m = _RFC3339.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = m.groups()
    try:
        if zulu:
            tz = timezone.utc
        else:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=tz,
        )
    except ValueError:  # month 13, offset of 24 hours, ...
        return None


def is_text(value: str) -> bool:
    """Encodable as UTF-8: JSON escapes can smuggle in lone surrogates that crash later printing."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_manifest_ref(value: str) -> bool:
    """``<kind>:<name>`` with a known manifest kind and a non-empty, one-line name."""
    kind, sep, name = value.partition(":")
    return (
        bool(sep)
        and kind in MANIFEST_KINDS
        and bool(name)
        and name.isprintable()
        and "/" not in name
        and is_text(name)
    )


# --- Parquet column lists ---------------------------------------------------------------------

_PQ_TYPE = re.compile("[A-Z][A-Z0-9_]{0,39}(?:/[A-Z][A-Z0-9_]{0,39})?")
_PQ_ESCAPE = re.compile("[%,:\x00-\x1f\x7f-\x9f]")
_PQ_ESCAPED = re.compile("%([0-9A-F]{2})")


def format_parquet_columns(columns: tuple[tuple[str, str], ...]) -> str:
    """``name:TYPE,name:TYPE``; raises ValueError for a type outside the vocabulary."""
    parts = []
    for name, kind in columns:
        if not _PQ_TYPE.fullmatch(kind):
            raise ValueError(f"parquet column {name!r}: type {kind!r} is not NAME or NAME/NAME")
        escaped = _PQ_ESCAPE.sub(
            lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), name
        )
        parts.append(f"{escaped}:{kind}")
    return ",".join(parts)


def parse_parquet_columns(value: str) -> tuple[tuple[str, str], ...] | None:
    """The inverse of format_parquet_columns; None if ``value`` is not in that form."""
    if value == "":
        return ()
    columns = []
    for part in value.split(","):
        escaped, sep, kind = part.partition(":")
        if not sep or not _PQ_TYPE.fullmatch(kind):
            return None
        pieces = _PQ_ESCAPED.split(escaped)  # text, hex, text, hex, ..., text
        raw = bytearray()
        for i, piece in enumerate(pieces):
            if i % 2:
                raw.append(int(piece, 16))
            elif _PQ_ESCAPE.search(piece):  # a stray "%" or a character that must be escaped
                return None
            else:
                raw += piece.encode("utf-8", "surrogatepass")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if format_parquet_columns(((name, kind),)) != part:  # one spelling per name
            return None
        columns.append((name, kind))
    return tuple(columns)
