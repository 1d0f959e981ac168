from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from chainguard.trust import dsse
from chainguard.trust.dsse import Envelope, pae
from chainguard.trust.keys import SigningKey, TrustedKey, fingerprint

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def test_pae_dsse_spec_example() -> None:
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t\u00e9", b"\x00\xff") == b"DSSEv1 3 t\xc3\xa9 2 \x00\xff"


def test_pae_empty() -> None:
    assert pae("", b"") == b"DSSEv1 0  0 "


def test_sign_verify_round_trip(signing_key: SigningKey) -> None:
    envelope = dsse.sign(b'{"hello": "world"}', PAYLOAD_TYPE, signing_key)

    assert envelope.signatures[0][0] == signing_key.fingerprint
    verified = dsse.verify(envelope, [signing_key.trusted_key])
    assert [k.fingerprint for k in verified] == [signing_key.fingerprint]


def test_tampered_payload_has_no_signers(signing_key: SigningKey) -> None:
    envelope = dsse.sign(b"payload", PAYLOAD_TYPE, signing_key)
    assert dsse.verify(replace(envelope, payload=b"payloae"), [signing_key.trusted_key]) == ()


def test_payload_type_is_signed(signing_key: SigningKey) -> None:
    envelope = dsse.sign(b"payload", PAYLOAD_TYPE, signing_key)
    assert (
        dsse.verify(replace(envelope, payload_type="text/plain"), [signing_key.trusted_key]) == ()
    )


def test_tampered_signature_has_no_signers(signing_key: SigningKey) -> None:
    envelope = dsse.sign(b"payload", PAYLOAD_TYPE, signing_key)
    keyid, sig = envelope.signatures[0]
    flipped = sig[:-1] + bytes([sig[-1] ^ 0x01])
    assert (
        dsse.verify(replace(envelope, signatures=((keyid, flipped),)), [signing_key.trusted_key])
        == ()
    )


@pytest.mark.parametrize("garbage", [b"", b"\x00", b"\x30\x02\x02\x00", b"x" * 64, b"y" * 5000])
def test_garbage_signatures_never_raise(signing_key: SigningKey, garbage: bytes) -> None:
    envelope = Envelope(PAYLOAD_TYPE, b"payload", ((signing_key.fingerprint, garbage),))
    assert dsse.verify(envelope, [signing_key.trusted_key]) == ()


def test_other_key_does_not_verify(make_key: Callable[..., SigningKey]) -> None:
    signer, other = make_key(), make_key("ed25519")
    envelope = dsse.sign(b"payload", PAYLOAD_TYPE, signer)
    assert dsse.verify(envelope, [other.trusted_key]) == ()
    assert dsse.verify(envelope, []) == ()


def test_keyid_is_only_a_hint(signing_key: SigningKey) -> None:
    envelope = dsse.sign(b"payload", PAYLOAD_TYPE, signing_key)
    (_, sig), *_ = envelope.signatures
    lying = replace(envelope, signatures=(("somebody-else", sig),))
    assert dsse.verify(lying, [signing_key.trusted_key]) == (signing_key.trusted_key,)


def test_a_key_counts_once(make_key: Callable[..., SigningKey]) -> None:
    signer = make_key()
    # ECDSA signatures are randomised: two different valid signatures by one key
    first = dsse.sign(b"payload", PAYLOAD_TYPE, signer)
    second = dsse.sign(b"payload", PAYLOAD_TYPE, signer)
    doubled = replace(first, signatures=first.signatures + second.signatures + first.signatures)
    trusted = signer.trusted_key
    duplicate_trust = replace(trusted, source="same key, other file")

    assert dsse.verify(doubled, [trusted, duplicate_trust]) == (trusted,)


def test_every_distinct_signer_is_returned(make_key: Callable[..., SigningKey]) -> None:
    a, b, c = make_key(), make_key("ed25519"), make_key()
    sig_a = dsse.sign(b"payload", PAYLOAD_TYPE, a).signatures
    sig_b = dsse.sign(b"payload", PAYLOAD_TYPE, b).signatures
    envelope = Envelope(PAYLOAD_TYPE, b"payload", sig_b + sig_a)

    verified = dsse.verify(envelope, [c.trusted_key, a.trusted_key, b.trusted_key])
    assert {k.fingerprint for k in verified} == {a.fingerprint, b.fingerprint}


def _p384_trusted(private: ec.EllipticCurvePrivateKey) -> TrustedKey:
    public = private.public_key()
    return TrustedKey("p384", public, "ecdsa-p384", fingerprint(public))


def test_p384_verifies_with_sha384() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    message = pae(PAYLOAD_TYPE, b"payload")
    sig = private.sign(message, ec.ECDSA(hashes.SHA384()))
    envelope = Envelope(PAYLOAD_TYPE, b"payload", (("", sig),))
    assert len(dsse.verify(envelope, [_p384_trusted(private)])) == 1


def test_p384_with_sha256_is_rejected() -> None:
    # the digest follows the key's curve; a signature cannot choose a different one
    private = ec.generate_private_key(ec.SECP384R1())
    sig = private.sign(pae(PAYLOAD_TYPE, b"payload"), ec.ECDSA(hashes.SHA256()))
    envelope = Envelope(PAYLOAD_TYPE, b"payload", (("", sig),))
    assert dsse.verify(envelope, [_p384_trusted(private)]) == ()
