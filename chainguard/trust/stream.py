"""Key-signed bundles too large to hold: verified in two passes over the file.

A 1,000,000-file dataset's signed SBOM is a ~340 MB bundle holding ~250 MB of payload. Read
whole, the bundle, its decoded payload and the payload's text would take ~800 MB. Here none of
them is ever held:

1. the file's JSON is read with the payload's base64 text cut out (bundle._stream_payload's
   conditions), and the payload's length worked out from the text's;
2. first pass: the payload is decoded piece by piece into the digest(s) of its DSSE PAE, and
   the signature checked against the trusted ECDSA keys. Nothing is parsed before it verifies;
3. second pass: decoded again, piece by piece, into the statement parser (a moving window over
   the text, _strictjson.TextWindow), and hashed again: a file that changed between the passes
   is refused.

Only ECDSA keys verify a digest; with an Ed25519 key among the trusted ones, or anything
unusual in the file, this returns None and the bundle is read whole as usual (bundle.py).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard._strictjson import loads_strict
from chainguard.errors import BundleError
from chainguard.models import Signer, VerifiedStatement
from chainguard.trust import bundle as bundles
from chainguard.trust import dsse
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, parse_statement_stream

if TYPE_CHECKING:
    from chainguard.sbom.packed import Expect
    from chainguard.trust.keys import TrustedKey

# Bundles from this size on are streamed: below it, holding the payload costs less than a
# second pass (a 100,000-file dataset's bundle is ~34 MB).
STREAM_FROM = 64 * 1024 * 1024
_PIECE = 8 * 1024 * 1024  # base64 characters per piece (a multiple of 4)
_TAIL_MAX = 16 * 1024 * 1024  # the JSON after the payload: signatures, a few hundred bytes


class _Unusual(Exception):
    """Not a shape this module streams: the caller reads the bundle whole."""


@dataclass(frozen=True, slots=True)
class _Located:
    bundle: bundles.ParsedBundle  # its envelope's payload is empty: the payload is in the file
    start: int  # the base64 text is the file's bytes [start, end)
    end: int
    length: int  # of the decoded payload


def _locate(path: Path, source: str) -> _Located:
    with path.open("rb", buffering=0) as f:
        head = f.read(bundles._HEAD)
        key = bundles._PAYLOAD_KEY.search(head)
        if key is None:
            raise _Unusual
        start = key.end()
        end, offset, piece = -1, start, head[start:]
        while (found := piece.find(b'"')) < 0:
            offset += len(piece)
            piece = f.read(_PIECE)
            if not piece:
                raise _Unusual  # no closing quote
        end = offset + found
        f.seek(end)
        rest = f.read(_TAIL_MAX + 1)
        if len(rest) > _TAIL_MAX:
            raise _Unusual
        f.seek(max(end - 2, start))
        last = f.read(end - max(end - 2, start))
    if bundles._HOLE in head[:start] or bundles._HOLE in rest:
        raise _Unusual
    try:
        doc = loads_strict(head[:start] + bundles._HOLE + rest, source, BundleError)
    except BundleError as e:
        raise _Unusual from e
    env = doc.get("dsseEnvelope") if isinstance(doc, dict) else None
    if not isinstance(env, dict) or env.get("payload") != "\x00":
        raise _Unusual
    env["payload"] = None
    text_length = end - start
    padding = len(last) - len(last.rstrip(b"="))
    if text_length % 4 == 1 or (text_length % 4 and padding):
        raise _Unusual
    length = text_length // 4 * 3 - padding + {0: 0, 2: 1, 3: 2}[text_length % 4]
    return _Located(bundles.read_bundle(b"", source, (doc, b"")), start, end, length)


def _pieces(path: Path, located: _Located) -> Iterator[bytes]:
    """The decoded payload, piece by piece; _Unusual if it is not plain base64 (escapes, the
    URL-safe alphabet: the whole-file path words the error), BundleError if the file changed."""
    with path.open("rb", buffering=0) as f:
        f.seek(located.start)
        left = located.end - located.start
        carry = b""
        while left:
            more = f.read(min(_PIECE, left))
            if not more:
                raise BundleError(f"{path}: the bundle shrank while being read")
            left -= len(more)
            text = carry + more
            whole = len(text) if not left else len(text) // 4 * 4
            if left and b"=" in text:
                raise _Unusual  # padding only ends the text
            piece, carry = text[:whole], text[whole:]
            if not left:
                piece += b"=" * (-len(piece) % 4)
            try:
                yield bundles._a2b(piece)
            except ValueError as e:  # binascii.Error is one
                raise _Unusual from e


def verify_key_bundle_streamed(
    path: Path, keys: Sequence[TrustedKey], *, source: str, expect: Expect | None = None
) -> VerifiedStatement | None:
    """bundle.verify_key_bundle for a large bundle file, never holding its payload; None when
    the bundle is not one this streams (then read it whole). Raises what verify_key_bundle
    raises: VerificationFailure when no trusted key signed it, BundleError when malformed."""
    distinct = {key.fingerprint: key for key in keys}
    names = {dsse.digest_name(key) for key in distinct.values()}
    if not distinct or None in names:
        return None  # Ed25519 signs the whole PAE
    try:
        located = _locate(path, source)
        bundle = located.bundle
        envelope = bundle.envelope
        if (
            bundle.material_kind != "publicKey"
            or envelope is None
            or envelope.payload_type != PAYLOAD_TYPE_IN_TOTO
        ):
            return None  # verify_key_bundle words these
        prefix = dsse.pae_prefix(envelope.payload_type, located.length)
        hashers = {name: hashlib.new(name, prefix) for name in names if name is not None}
        first = hashlib.sha256()
        length = 0
        for piece in _pieces(path, located):
            for h in hashers.values():
                h.update(piece)
            first.update(piece)
            length += len(piece)
        if length != located.length:
            raise _Unusual
    except _Unusual:
        return None
    except OSError as e:
        raise BundleError(f"{path}: cannot read: {e.strerror or e}") from e
    digests = {name: h.digest() for name, h in hashers.items()}
    verified = dsse.verify_digests(envelope, tuple(distinct.values()), digests)
    if not verified:
        raise bundles._no_trusted_signature(bundle, distinct, source)

    # Verified: now read it, checking it is still what was verified.
    again = hashlib.sha256()

    def pieces() -> Iterator[bytes]:
        try:
            for piece in _pieces(path, located):
                again.update(piece)
                yield piece
        except _Unusual as e:  # it verified as plain base64 a moment ago
            raise BundleError(f"{path}: the bundle changed while being read") from e

    read_whole = False

    def whole() -> bytes:  # an unusual statement is read whole (to word its error, mostly)
        nonlocal read_whole
        try:
            data = b"".join(_pieces(path, located))
        except _Unusual as e:
            raise BundleError(f"{path}: the bundle changed while being read") from e
        if hashlib.sha256(data).digest() != first.digest():
            raise BundleError(f"{path}: the bundle changed while being read")
        read_whole = True
        return data

    try:
        statement = parse_statement_stream(pieces(), source, expect, whole)
    except OSError as e:
        raise BundleError(f"{path}: cannot read: {e.strerror or e}") from e
    if not read_whole and again.digest() != first.digest():
        raise BundleError(f"{path}: the bundle changed while being read")
    return VerifiedStatement(
        predicate_type=statement.predicate_type,
        subjects=statement.subjects,
        payload=b"",
        signers=tuple(
            Signer(kind="key", identity=key.fingerprint, key_algorithm=key.algorithm)
            for key in verified
        ),
        parsed=statement,
    )


def large(path: Path) -> bool:
    """Is this bundle file large enough to stream?"""
    try:
        return os.stat(path).st_size >= STREAM_FROM
    except OSError:
        return False
