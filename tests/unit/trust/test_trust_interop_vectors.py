"""Real bundles made by other tools: OpenSSF model-signing (P-384 keys) and Sigstore."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from trust_helpers import assert_one_line, flip_payload_byte

from chainguard.errors import VerificationFailure
from chainguard.trust.bundle import MEDIA_TYPE_V02, MEDIA_TYPE_V03, read_bundle, verify_key_bundle
from chainguard.trust.keys import SigningKey, TrustedKey, load_public_key

OMS_PREDICATE = "https://model_signing/signature/v1.0"
# certtool's "Public Key ID sha256" in the header of signing-key-pub.pem: an independent
# known answer for our fingerprint (sha256 of the DER SubjectPublicKeyInfo)
OMS_KEY_FINGERPRINT = "c1e49d63327f85c7e2971aefd30b5a0d1c6b9b5e1a892e7f5fba995adace816d"
OMS_KEY_PEM_HINT = "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"
ELLIPTIC = ["v1.0.1-elliptic-key", "v1.1.0-elliptic-key"]


@pytest.fixture
def oms_key(vectors_dir: Path) -> TrustedKey:
    return load_public_key(vectors_dir / "oms" / "keys" / "certificate" / "signing-key-pub.pem")


def _oms_bundle(vectors_dir: Path, case: str) -> tuple[bytes, str]:
    path = vectors_dir / "oms" / case / "model.sig"
    return path.read_bytes(), str(path)


def test_oms_key_fingerprint_known_answer(oms_key: TrustedKey) -> None:
    assert oms_key.algorithm == "ecdsa-p384"
    assert oms_key.fingerprint == OMS_KEY_FINGERPRINT
    assert oms_key.matches_hint(OMS_KEY_PEM_HINT)


def test_read_oms_v1_1_elliptic_bundle(vectors_dir: Path) -> None:
    data, source = _oms_bundle(vectors_dir, "v1.1.0-elliptic-key")
    bundle = read_bundle(data, source)

    assert bundle.media_type == MEDIA_TYPE_V03
    assert bundle.material_kind == "publicKey"
    assert bundle.public_key_hint == OMS_KEY_PEM_HINT
    assert bundle.envelope is not None
    assert bundle.envelope.payload_type == "application/vnd.in-toto+json"
    assert len(bundle.envelope.signatures) == 1
    assert bundle.envelope.signatures[0][0] == ""


def test_read_oms_v1_0_elliptic_bundle_carries_raw_key(
    vectors_dir: Path, oms_key: TrustedKey
) -> None:
    data, source = _oms_bundle(vectors_dir, "v1.0.1-elliptic-key")
    bundle = read_bundle(data, source)

    assert bundle.material_kind == "publicKey"
    assert bundle.public_key_hint is None
    assert bundle.public_key_raw is not None
    assert bundle.public_key_raw.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert bundle.envelope is not None
    assert bundle.envelope.signatures[0][0] == ""  # keyid: null


@pytest.mark.parametrize("case", ELLIPTIC)
def test_verify_oms_elliptic_bundle(vectors_dir: Path, oms_key: TrustedKey, case: str) -> None:
    data, source = _oms_bundle(vectors_dir, case)
    verified = verify_key_bundle(read_bundle(data, source), [oms_key], source=source)

    assert verified.predicate_type == OMS_PREDICATE
    assert [s.name for s in verified.subjects] == [case]
    assert verified.subjects[0].get("sha256") == (
        "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4"
    )
    assert len(verified.signers) == 1
    assert verified.signers[0].identity == OMS_KEY_FINGERPRINT
    assert verified.signers[0].key_algorithm == "ecdsa-p384"


@pytest.mark.parametrize("case", ELLIPTIC)
@pytest.mark.parametrize("index", [0, 40, -3])
def test_oms_flipped_payload_byte_fails(
    vectors_dir: Path, oms_key: TrustedKey, case: str, index: int
) -> None:
    data, source = _oms_bundle(vectors_dir, case)
    bundle = read_bundle(flip_payload_byte(data, index), source)

    with pytest.raises(VerificationFailure) as info:
        verify_key_bundle(bundle, [oms_key], source=source)
    # the hint (v1.1: PEM hash) or embedded key (v1.0) names the trusted key: altered, not untrusted
    assert info.value.rule == "signature-invalid"
    assert OMS_KEY_FINGERPRINT[:16] in str(info.value)
    assert_one_line(info.value)


@pytest.mark.parametrize("case", ELLIPTIC)
def test_oms_bundle_with_another_key_is_untrusted(
    vectors_dir: Path, make_key: Callable[..., SigningKey], case: str
) -> None:
    data, source = _oms_bundle(vectors_dir, case)
    with pytest.raises(VerificationFailure) as info:
        verify_key_bundle(read_bundle(data, source), [make_key().trusted_key], source=source)
    assert info.value.rule == "signature-untrusted"
    assert_one_line(info.value)


@pytest.mark.parametrize("case", ["v1.0.1-certificate", "v1.1.0-certificate"])
def test_oms_certificate_bundles(vectors_dir: Path, oms_key: TrustedKey, case: str) -> None:
    data, source = _oms_bundle(vectors_dir, case)
    bundle = read_bundle(data, source)

    assert bundle.material_kind == "x509CertificateChain"
    assert len(bundle.certificates) == 2
    assert all(der.startswith(b"\x30\x82") for der in bundle.certificates)
    # same key as the elliptic cases, but a certificate must be verified against its CA
    with pytest.raises(VerificationFailure) as info:
        verify_key_bundle(bundle, [oms_key], source=source)
    assert info.value.rule == "signature-untrusted"


def test_oms_sigstore_bundle_is_read(vectors_dir: Path) -> None:
    data, source = _oms_bundle(vectors_dir, "v1.0.1-sigstore")
    bundle = read_bundle(data, source)
    assert bundle.material_kind == "certificate"
    assert len(bundle.certificates) == 1
    assert bundle.envelope is not None
    assert "tlogEntries" in bundle.raw["verificationMaterial"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("name", "media_type", "kind"),
    [
        ("bundle_v3.txt.sigstore", MEDIA_TYPE_V03, "certificate"),
        ("bundle_v3_github.whl.sigstore", MEDIA_TYPE_V02, "x509CertificateChain"),
        ("staging-rekor-v2.txt.sigstore.json", MEDIA_TYPE_V03, "certificate"),
    ],
)
def test_sigstore_message_signature_bundles_are_read(
    vectors_dir: Path, name: str, media_type: str, kind: str
) -> None:
    path = vectors_dir / "sigstore" / name
    bundle = read_bundle(path.read_bytes(), str(path))

    assert bundle.media_type == media_type
    assert bundle.material_kind == kind
    assert bundle.envelope is None
    assert bundle.message_signature is not None
    algorithm, digest, signature = bundle.message_signature
    assert algorithm == "SHA2_256"
    assert len(digest) == 32
    assert signature.startswith(b"\x30")  # DER ECDSA


def test_sigstore_dsse_bundle_is_read(vectors_dir: Path) -> None:
    path = vectors_dir / "sigstore" / "prod-dsse" / "bundle.sigstore.json"
    bundle = read_bundle(path.read_bytes(), str(path))

    assert bundle.material_kind == "certificate"
    assert bundle.envelope is not None
    assert bundle.envelope.signatures[0][0] == ""  # no keyid at all
