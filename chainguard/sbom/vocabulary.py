"""The names and value formats chainguard writes into CycloneDX, shared by build.py and read.py.

One place, so that the writer can never produce what the reader rejects. stdlib only: read.py
is on the verify path.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Final

from chainguard import models
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
# a model's modelCard.properties: a config.json fact, named by its key ("chainguard:config:
# vocab_size"); informative, never compared (collectors/modelconfig.py, build.model_card)
MODEL_CONFIG_PREFIX: Final = "chainguard:config:"

# file components: sbom/fileshape.py (the shape of a file entry)

# library components (Python distributions)
# Distribution hashes go where cyclonedx-py puts them: one externalReferences entry of this type,
# url the package's index page and this comment, with the hashes (SBOMs written before carry
# them as the component's own `hashes`; sbom/read.py reads both, never both at once).
DISTRIBUTION: Final = "distribution"
DISTRIBUTION_INDEX: Final = "https://pypi.org/simple"
DISTRIBUTION_COMMENT: Final = "implicit dist url"
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

# vulnerabilities[] entries: a declared patch (chainguard/patches.py), its requirement
PATCH_REQUIREMENT: Final = "chainguard:patch:requirement"
PATCH_REF_PREFIX: Final = "patch:"

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

# The largest integer the SBOM may hold (models.MAX_DECIMAL, a signed 64-bit integer).
MAX_DECIMAL: Final = models.MAX_DECIMAL

_LOWER_HEX = re.compile("[0-9a-f]+")
# Canonical decimal: no sign, no leading zeros, no "_" or non-ASCII digits (all of which int()
# accepts), and short enough that int() cannot be made slow; then at most MAX_DECIMAL.
_DECIMAL = re.compile("0|[1-9][0-9]{0,18}")
_RFC3339 = re.compile(
    "([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.]([0-9]{1,9}))?"
    "(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)


class Malformed(Exception):
    """What is wrong with an SBOM's content; the reader (read.py) prefixes the source."""


def quote(value: str) -> str:
    """repr() for messages: escapes control characters (one line), shortens long names."""
    return repr(value) if len(value) <= 100 else repr(value[:100]) + "..."


def checked_decimal(value: str, where: str, name: str) -> int:
    """parse_decimal, or Malformed naming the property."""
    n = parse_decimal(value)
    if n is None:
        raise Malformed(
            f"{where}: {name} must be a non-negative integer up to {MAX_DECIMAL} (2**63-1), "
            f"got {quote(value)}"
        )
    return n


def checked_digest(value: str, where: str, what: str, length: int = 64) -> str:
    """is_hex, or Malformed naming the digest."""
    if not is_hex(value, length):
        raise Malformed(f"{where}: {what} must be {length} lowercase hex digits")
    return value


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
