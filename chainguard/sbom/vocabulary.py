"""The names and value formats chainguard writes into CycloneDX, shared by build.py and read.py.

One place, so that the writer can never produce what the reader rejects. stdlib only: read.py
is on the verify path.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Final

from chainguard.models import ComponentKind

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

# library components (Python distributions)
RECORD_SHA256: Final = "chainguard:record-sha256"
SOURCE: Final = "chainguard:source"

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

_LOWER_HEX = re.compile("[0-9a-f]+")
# Canonical decimal: no sign, no leading zeros, no "_" or non-ASCII digits (all of which int()
# accepts), and short enough that int() cannot be made slow. 20 digits cover any file size.
_DECIMAL = re.compile("0|[1-9][0-9]{0,19}")
_RFC3339 = re.compile(
    "([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.]([0-9]{1,9}))?"
    "(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)


def is_hex(value: str, length: int = 64) -> bool:
    """Lowercase hex of exactly ``length`` characters (64: a SHA-256 or BLAKE3 digest)."""
    return len(value) == length and _LOWER_HEX.fullmatch(value) is not None


def parse_decimal(value: str) -> int | None:
    """A non-negative integer written canonically, else None."""
    return int(value) if _DECIMAL.fullmatch(value) else None


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
