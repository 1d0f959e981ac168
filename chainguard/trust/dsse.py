"""DSSE v1: Pre-Authentication Encoding, signing and verification.

A signature covers ``PAE(payloadType, payload)``, never the payload alone, so a signed
payload cannot be replayed under another payload type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from chainguard.trust.keys import SigningKey, TrustedKey


@dataclass(frozen=True, slots=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]  # (keyid, signature); keyid is "" when absent


def pae(payload_type: str, payload: bytes) -> bytes:
    """``DSSEv1 SP LEN(type) SP type SP LEN(payload) SP payload``; LEN = decimal byte count."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def sign(payload: bytes, payload_type: str, key: SigningKey) -> Envelope:
    """Sign ``payload`` with ``key``; the signature's keyid is the key fingerprint."""
    message = pae(payload_type, payload)
    private_key = key.private_key
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        signature = private_key.sign(message)
    else:  # the digest verify expects of the curve (digest_name)
        digest = hashes.SHA384() if key.algorithm == "ecdsa-p384" else hashes.SHA256()
        signature = private_key.sign(message, ec.ECDSA(digest))
    return Envelope(payload_type, payload, ((key.fingerprint, signature),))


class _Message:
    """PAE(payloadType, payload), made once, and only in the form a key needs: ECDSA verifies
    a digest of it (hashed straight from the payload: a dataset's payload is tens of MB, and
    PAE would copy it), Ed25519 needs the bytes themselves."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self.digests: dict[str, bytes] = {}
        self.whole: bytes | None = None

    def data(self) -> bytes:
        if self.whole is None:
            self.whole = pae(self.envelope.payload_type, self.envelope.payload)
        return self.whole

    def digest(self, name: str) -> bytes:
        if name not in self.digests:
            payload = self.envelope.payload
            h = hashlib.new(name, pae_prefix(self.envelope.payload_type, len(payload)))
            h.update(payload)
            self.digests[name] = h.digest()
        return self.digests[name]


def _signature_valid(key: TrustedKey, signature: bytes, message: _Message) -> bool:
    public_key = key.public_key
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, message.data())
        else:
            # The hash follows the curve (as in Sigstore's PKIX_ECDSA_P384_SHA_384), never the
            # bundle, so a signature cannot pick a weaker digest.
            digest: hashes.HashAlgorithm = (
                hashes.SHA384() if key.algorithm == "ecdsa-p384" else hashes.SHA256()
            )
            public_key.verify(signature, message.digest(digest.name), ec.ECDSA(Prehashed(digest)))
    except InvalidSignature:
        return False
    return True


class _KnownDigests(_Message):
    """A message known only by its digests (a payload streamed, never held)."""

    def __init__(self, envelope: Envelope, digests: Mapping[str, bytes]) -> None:
        super().__init__(envelope)
        self.digests = dict(digests)

    def data(self) -> bytes:
        raise _NeedsPayload

    def digest(self, name: str) -> bytes:
        return self.digests[name]


class _NeedsPayload(Exception):
    pass


def pae_prefix(payload_type: str, payload_length: int) -> bytes:
    """PAE up to the payload: what to hash before a payload streamed in pieces."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d " % (len(type_bytes), type_bytes, payload_length)


def digest_name(key: TrustedKey) -> str | None:
    """The digest of PAE an ECDSA key verifies (hashlib name); None for Ed25519 (whole PAE)."""
    if isinstance(key.public_key, ed25519.Ed25519PublicKey):
        return None
    return "sha384" if key.algorithm == "ecdsa-p384" else "sha256"


def verify_digests(
    envelope: Envelope, keys: Sequence[TrustedKey], digests: Mapping[str, bytes]
) -> tuple[TrustedKey, ...]:
    """verify() for an envelope whose payload is known only by the ``digests`` of its PAE
    (hashlib name -> digest), one for each digest_name of ``keys``, which must all be ECDSA."""
    return _verified(envelope, keys, _KnownDigests(envelope, digests))


def verify(envelope: Envelope, keys: Sequence[TrustedKey]) -> tuple[TrustedKey, ...]:
    """Every distinct trusted key (by fingerprint) with a valid signature in ``envelope``.

    Each signature is tried against each key: keyids are hints and never select a key.
    A key counts once however many signatures it made, so duplicating a signature cannot
    help reach a threshold. Bad signatures are not errors; they simply do not count.
    """
    return _verified(envelope, keys, _Message(envelope))


def _verified(
    envelope: Envelope, keys: Sequence[TrustedKey], message: _Message
) -> tuple[TrustedKey, ...]:
    verified: dict[str, TrustedKey] = {}
    for key in keys:
        if key.fingerprint in verified:
            continue
        if any(_signature_valid(key, sig, message) for _, sig in envelope.signatures):
            verified[key.fingerprint] = key
    return tuple(verified.values())
