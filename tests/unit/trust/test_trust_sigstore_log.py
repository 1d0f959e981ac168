"""Does a transparency-log entry record this signature? (trust/sigstore_log.check_entry_body),
for every entry kind it reads, with real keys and signatures; each field swapped is refused."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chainguard.trust.dsse import Envelope, pae
from chainguard.trust.keys import TrustedKey, public_key_from_pem
from chainguard.trust.sigstore_log import EntryMismatch, Signed, check_entry_body, key_matcher

DATA = b"artifact"
PAYLOAD = b'{"_type": "https://in-toto.io/Statement/v1"}'
TYPE = "application/vnd.in-toto+json"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def trusted(key: ec.EllipticCurvePrivateKey) -> TrustedKey:
    return public_key_from_pem(_pem(key), "test")


def _message(key: ec.EllipticCurvePrivateKey) -> tuple[Signed, bytes]:
    signature = key.sign(DATA, ec.ECDSA(hashes.SHA256()))
    return Signed((signature,), digest=("sha256", hashlib.sha256(DATA).digest())), signature


def _dsse(key: ec.EllipticCurvePrivateKey) -> tuple[Signed, bytes]:
    signature = key.sign(pae(TYPE, PAYLOAD), ec.ECDSA(hashes.SHA256()))
    envelope = Envelope(TYPE, PAYLOAD, (("", signature),))
    return Signed((signature,), envelope=envelope), signature


def _body(kind: str, version: str, spec: dict[str, Any]) -> bytes:
    return json.dumps({"apiVersion": version, "kind": kind, "spec": spec}).encode()


def hashedrekord_v001(key: ec.EllipticCurvePrivateKey, signature: bytes, data: bytes) -> bytes:
    return _body(
        "hashedrekord",
        "0.0.1",
        {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(data).hexdigest()}},
            "signature": {"content": b64(signature), "publicKey": {"content": b64(_pem(key))}},
        },
    )


def hashedrekord_v002(key: ec.EllipticCurvePrivateKey, signature: bytes, digest: bytes) -> bytes:
    return _body(
        "hashedrekord",
        "0.0.2",
        {
            "hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": {
                    "content": b64(signature),
                    "verifier": {"publicKey": {"rawBytes": b64(_der(key))}},
                },
            }
        },
    )


def dsse_v001(key: ec.EllipticCurvePrivateKey, signature: bytes, payload: bytes) -> bytes:
    return _body(
        "dsse",
        "0.0.1",
        {
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": b64(signature), "verifier": b64(_pem(key))}],
        },
    )


def intoto_v002(key: ec.EllipticCurvePrivateKey, signature: bytes, *, twice: bool) -> bytes:
    """Rekor's own entries base64 the envelope's base64 text once more (``twice``)."""
    sig = b64(b64(signature).encode()) if twice else b64(signature)
    return _body(
        "intoto",
        "0.0.2",
        {
            "content": {
                "envelope": {
                    "payloadType": TYPE,
                    "payload": b64(b64(PAYLOAD).encode()),
                    "signatures": [{"sig": sig, "publicKey": b64(_pem(key))}],
                },
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(PAYLOAD).hexdigest(),
                },
            }
        },
    )


def test_every_kind_records_its_signature(
    key: ec.EllipticCurvePrivateKey, trusted: TrustedKey
) -> None:
    matches = key_matcher(trusted)
    message, message_sig = _message(key)
    check_entry_body(hashedrekord_v001(key, message_sig, DATA), message, matches)
    check_entry_body(
        hashedrekord_v002(key, message_sig, hashlib.sha256(DATA).digest()), message, matches
    )
    dsse, dsse_sig = _dsse(key)
    pae_digest = hashlib.sha256(pae(TYPE, PAYLOAD)).digest()
    check_entry_body(hashedrekord_v002(key, dsse_sig, pae_digest), dsse, matches)
    check_entry_body(dsse_v001(key, dsse_sig, PAYLOAD), dsse, matches)
    check_entry_body(intoto_v002(key, dsse_sig, twice=True), dsse, matches)
    check_entry_body(intoto_v002(key, dsse_sig, twice=False), dsse, matches)


def test_entry_for_other_bytes_signature_or_key_is_refused(
    key: ec.EllipticCurvePrivateKey, trusted: TrustedKey
) -> None:
    matches = key_matcher(trusted)
    other = ec.generate_private_key(ec.SECP256R1())
    message, sig = _message(key)
    other_sig = key.sign(b"other", ec.ECDSA(hashes.SHA256()))
    dsse, dsse_sig = _dsse(key)
    refused = [
        (hashedrekord_v001(key, sig, b"other"), message),
        (hashedrekord_v001(key, other_sig, DATA), message),
        (hashedrekord_v001(other, sig, DATA), message),
        (hashedrekord_v002(other, sig, hashlib.sha256(DATA).digest()), message),
        (hashedrekord_v001(key, sig, DATA), dsse),  # a DSSE bundle, a message entry
        (dsse_v001(key, dsse_sig, b"{}"), dsse),
        (dsse_v001(key, other_sig, PAYLOAD), dsse),
        (dsse_v001(other, dsse_sig, PAYLOAD), dsse),
        (dsse_v001(key, dsse_sig, PAYLOAD), message),
        (intoto_v002(other, dsse_sig, twice=True), dsse),
        (intoto_v002(key, other_sig, twice=True), dsse),
        (_body("rekord", "0.0.1", {}), message),
        (b"not json", message),
    ]
    for body, signed in refused:
        with pytest.raises(EntryMismatch):
            check_entry_body(body, signed, matches)
