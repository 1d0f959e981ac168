"""Key-signed bundles made as they are written: a payload of hundreds of MB never held.

``bundle.key_bundle_json(dsse.sign(payload, payload_type, key), key.trusted_key)``, byte for
byte in layout, for an ECDSA key and a payload arriving in pieces of known total length: each
piece is hashed into the digest of its DSSE PAE (which is what ECDSA signs: ``Prehashed``, the
hash following the curve as trust/dsse.py verifies it) and written out as base64 at once (in
multiples of 3 bytes, so the pieces join into one base64 text); the signature, which the bundle
writes after the payload, is made when the last piece has gone by. Verify reads such a bundle
in two passes the same way (trust/stream.py).

Ed25519 signs the whole PAE, not a digest of it: such keys take the whole-payload path.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Iterable, Iterator

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from chainguard.errors import SigningError
from chainguard.trust import dsse
from chainguard.trust.bundle import key_bundle_json
from chainguard.trust.keys import SigningKey

_PAYLOAD_KEY = b'"payload": ""'  # where key_bundle_json writes an empty payload
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha384": hashes.SHA384}


def streams(key: SigningKey) -> bool:
    """Can ``key`` sign a payload it never holds (ECDSA: it signs a digest)?"""
    return isinstance(key.private_key, ec.EllipticCurvePrivateKey)


def key_bundle_streamed(
    pieces: Iterable[bytes], length: int, payload_type: str, key: SigningKey
) -> Iterator[bytes]:
    """The bundle for the payload that ``pieces`` (``length`` bytes in all) make up, signed by
    the ECDSA ``key``, in pieces. Raises SigningError if the pieces do not add up to
    ``length`` (the payload changed while it was signed): nothing signed is then written."""
    private_key = key.private_key
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise SigningError(f"{key.source}: an Ed25519 key signs the whole payload, not pieces")
    name = dsse.digest_name(key.trusted_key)
    assert name is not None  # ECDSA
    digest = hashlib.new(name, dsse.pae_prefix(payload_type, length))
    head, _ = _split(payload_type, key, b"\0")
    yield head
    seen = 0
    carry = b""
    for piece in pieces:
        digest.update(piece)
        seen += len(piece)
        data = carry + piece if carry else piece
        whole = len(data) - len(data) % 3
        if whole:
            yield binascii.b2a_base64(memoryview(data)[:whole], newline=False)
        carry = data[whole:]
    if carry:
        yield binascii.b2a_base64(carry, newline=False)
    if seen != length:
        raise SigningError(
            f"the payload to sign was {seen} bytes, not the {length} announced: it changed "
            "while being signed"
        )
    signature = private_key.sign(digest.digest(), ec.ECDSA(Prehashed(_HASHES[name]())))
    _, tail = _split(payload_type, key, signature)
    yield tail


def _split(payload_type: str, key: SigningKey, signature: bytes) -> tuple[bytes, bytes]:
    """key_bundle_json of an empty payload, cut where the payload's base64 goes."""
    envelope = dsse.Envelope(payload_type, b"", ((key.fingerprint, signature),))
    text = key_bundle_json(envelope, key.trusted_key)
    at = text.index(_PAYLOAD_KEY) + len(_PAYLOAD_KEY) - 1
    return text[:at], text[at:]
