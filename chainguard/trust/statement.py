"""in-toto Statement v1: build the signed payload, parse it back strictly."""

from __future__ import annotations

import functools
import json
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainguard._strictjson import (
    ANY_INDEX,
    JsonPath,
    Packer,
    loads_strict_packed,
    loads_strict_packed_stream,
    shown,
)
from chainguard.errors import BundleError
from chainguard.models import Subject, VerifiedStatement

if TYPE_CHECKING:
    from chainguard.sbom.packed import Expect

STATEMENT_TYPE_V1 = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE_IN_TOTO = "application/vnd.in-toto+json"

_HEX = frozenset(string.hexdigits)


@dataclass(frozen=True, slots=True)
class ParsedStatement:
    predicate_type: str
    subjects: tuple[Subject, ...]
    # JSON, except that the file lists of predicate.components[*] (a CycloneDX SBOM's model and
    # dataset files) are sbom.packed.PackedFiles, which sbom/read.py reads
    predicate: dict[str, object]


def build_statement(
    subjects: Sequence[Subject], predicate_type: str, predicate: Mapping[str, object]
) -> bytes:
    """Serialise a Statement v1. Deterministic for the same input; not canonical JSON."""
    head, tail = statement_frame(subjects, predicate_type)
    return head + _compact(dict(predicate)).encode() + tail


def statement_frame(subjects: Sequence[Subject], predicate_type: str) -> tuple[bytes, bytes]:
    """build_statement's bytes before and after the predicate's JSON (compact, as
    ``json.dumps(predicate, separators=(",", ":"), ensure_ascii=False)`` writes it): what
    ``sign`` writes around a predicate it re-serialises in pieces (sbom/compact.py)."""
    statement = {
        "_type": STATEMENT_TYPE_V1,
        "subject": [{"name": s.name, "digest": dict(s.digest)} for s in subjects],
        "predicateType": predicate_type,
    }
    return _compact(statement)[:-1].encode() + b',"predicate":', b"}"


def _compact(value: object) -> str:
    return json.dumps(value, sort_keys=False, separators=(",", ":"), ensure_ascii=False)


def _parse_subject(entry: object, index: int, source: str) -> Subject:
    where = f"{source}: statement subject[{index}]"
    if not isinstance(entry, dict):
        raise BundleError(f"{where} is not an object")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise BundleError(f"{where} has no name string")
    digest = entry.get("digest")
    if not isinstance(digest, dict) or not digest:
        raise BundleError(f"{where} ({shown(name)}) has no digest object")
    pairs: list[tuple[str, str]] = []
    for algorithm, value in digest.items():
        if not isinstance(value, str) or not value or not _HEX.issuperset(value):
            raise BundleError(
                f"{where} ({shown(name)}) digest {shown(algorithm)} is not a hex string"
            )
        # Hex case carries no meaning; lower it so later comparisons are plain equality.
        pairs.append((algorithm, value.lower()))
    return Subject(name=name, digest=tuple(pairs))


def parse_statement(payload: bytes, source: str, expect: Expect | None = None) -> ParsedStatement:
    """Parse a signed payload as an in-toto Statement v1; raise BundleError on anything else.

    ``expect``: what verify expects file lists to hold (sbom/packed.py); it changes how fast
    they are read, never what they are read as.
    """
    return _parse_statement(payload, source, expect)


def statement_of(verified: VerifiedStatement, source: str) -> ParsedStatement:
    """The statement a verified bundle carries, parsed once: the backends that verify it keep
    what they parsed (a 100,000-file SBOM takes seconds to parse)."""
    if isinstance(verified.parsed, ParsedStatement):
        return verified.parsed
    return parse_statement(verified.payload, source)


def _packers(expect: Expect | None, payload: bytes) -> dict[JsonPath, Packer]:
    # A CycloneDX predicate's file lists: 100,000s of entries in a dataset, read compactly
    # (sbom/packed.py) instead of as a dict per file and per hash and property in it.
    from chainguard.sbom.packed import pack_file_array

    packer: Packer = pack_file_array
    if expect is not None:
        ascii_bytes = payload if payload.isascii() else None
        packer = functools.partial(pack_file_array, expect=expect, ascii_bytes=ascii_bytes)
    return {("predicate", "components", ANY_INDEX, "components"): packer}


def parse_statement_stream(
    chunks: Iterator[bytes], source: str, expect: Expect | None, whole: Callable[[], bytes]
) -> ParsedStatement:
    """parse_statement of a payload arriving in pieces, never held whole (``whole()`` gives it
    all only to word the error about a malformed one)."""
    packers = _packers(expect, b"\x80")  # (not known to be ASCII: runs are hashed as text)
    doc = loads_strict_packed_stream(chunks, f"{source}: statement", BundleError, packers, whole)
    return _statement(doc, source)


def _parse_statement(payload: bytes, source: str, expect: Expect | None) -> ParsedStatement:
    packers = _packers(expect, payload)
    doc = loads_strict_packed(payload, f"{source}: statement", BundleError, packers)
    return _statement(doc, source)


def _statement(doc: object, source: str) -> ParsedStatement:
    if not isinstance(doc, dict):
        raise BundleError(f"{source}: statement is not a JSON object")
    statement_type = doc.get("_type")
    if statement_type != STATEMENT_TYPE_V1:
        what = "missing" if statement_type is None else shown(statement_type)
        raise BundleError(
            f"{source}: statement _type is {what}; only {STATEMENT_TYPE_V1} is accepted"
        )
    raw_subjects = doc.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        raise BundleError(f"{source}: statement subject is not a non-empty list")
    subjects = tuple(_parse_subject(entry, i, source) for i, entry in enumerate(raw_subjects))
    predicate_type = doc.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise BundleError(f"{source}: statement predicateType is missing or not a string")
    predicate = doc.get("predicate", {})
    if not isinstance(predicate, dict):
        raise BundleError(f"{source}: statement predicate is not a JSON object")
    return ParsedStatement(predicate_type, subjects, predicate)
