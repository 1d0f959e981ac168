"""Key bundles made as they are written (trust/stream_sign.py): byte for byte the layout of
key_bundle_json, whatever pieces the payload arrives in, and verified by both verify paths
(whole, and streamed in two passes: trust/stream.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from trust_helpers import statement_payload

from chainguard.errors import SigningError
from chainguard.trust import dsse, stream
from chainguard.trust.bundle import key_bundle_json, read_bundle, verify_key_bundle
from chainguard.trust.keys import SigningKey, fingerprint
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO
from chainguard.trust.stream_sign import key_bundle_streamed, streams


def signing_key(curve: ec.EllipticCurve) -> SigningKey:
    private = ec.generate_private_key(curve)
    algorithm = "ecdsa-p384" if isinstance(curve, ec.SECP384R1) else "ecdsa-p256"
    public = private.public_key()
    return SigningKey("test", private, algorithm, public, fingerprint(public))  # type: ignore[arg-type]


def cut(payload: bytes, sizes: list[int]) -> list[bytes]:
    """``payload`` in pieces of the given sizes, cycled (0: an empty piece)."""
    pieces, at, i = [], 0, 0
    while at < len(payload):
        size = sizes[i % len(sizes)]
        pieces.append(payload[at : at + size])
        at += size
        i += 1
    return pieces


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()], ids=["p256", "p384"])
@pytest.mark.parametrize("sizes", [[10**9], [1], [3], [1, 0, 2, 4, 5, 0, 7], [3 * 1024 + 1]])
def test_the_bundle_is_key_bundle_json_and_verifies_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, curve: ec.EllipticCurve, sizes: list[int]
) -> None:
    key = signing_key(curve)
    payload = statement_payload() * 50  # (only its bytes matter here, and a few KB of them)
    data = b"".join(
        key_bundle_streamed(cut(payload, sizes), len(payload), PAYLOAD_TYPE_IN_TOTO, key)
    )
    sig = json.loads(data)["dsseEnvelope"]["signatures"][0]["sig"]
    envelope = dsse.Envelope(
        PAYLOAD_TYPE_IN_TOTO, payload, ((key.fingerprint, base64.b64decode(sig)),)
    )
    assert data == key_bundle_json(envelope, key.trusted_key)  # the layout, byte for byte

    bundle = read_bundle(data, "b.sig")
    assert bundle.envelope is not None and bundle.envelope.payload == payload
    assert dsse.verify(bundle.envelope, [key.trusted_key]) == (key.trusted_key,)

    # a statement, verified whole and streamed (trust/stream.py: the PAE digest in pieces)
    statement = statement_payload()
    data = b"".join(
        key_bundle_streamed(cut(statement, sizes), len(statement), PAYLOAD_TYPE_IN_TOTO, key)
    )
    whole = verify_key_bundle(read_bundle(data, "b.sig"), [key.trusted_key], source="b.sig")
    path = tmp_path / "b.sig"
    path.write_bytes(data)
    monkeypatch.setattr(stream, "STREAM_FROM", 0)
    streamed = stream.verify_key_bundle_streamed(path, [key.trusted_key], source="b.sig")
    assert streamed is not None
    assert whole.payload == statement
    assert (streamed.subjects, streamed.signers) == (whole.subjects, whole.signers)


@pytest.mark.parametrize("announced", [-1, 1])
def test_a_payload_of_another_length_than_announced_is_not_signed(announced: int) -> None:
    key = signing_key(ec.SECP256R1())
    payload = statement_payload()
    pieces = key_bundle_streamed([payload], len(payload) + announced, PAYLOAD_TYPE_IN_TOTO, key)
    written = []
    with pytest.raises(SigningError, match="changed while being signed"):
        written.extend(pieces)
    assert b'"signatures"' not in b"".join(written)  # no signature was made


def test_ed25519_signs_the_whole_payload() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    public = private.public_key()
    key = SigningKey("test", private, "ed25519", public, fingerprint(public))
    assert not streams(key)
    assert streams(signing_key(ec.SECP256R1()))
    with pytest.raises(SigningError, match="Ed25519"):
        list(key_bundle_streamed([b"x"], 1, PAYLOAD_TYPE_IN_TOTO, key))
