"""OpenSSF model signing: certificate-chain trust (chainguard/oms/certificates.py)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from oms_helpers import A, B, assert_one_line, verify_vector
from support.oms import (
    Issued,
    certificate_bundle,
    issue,
    key_bundle,
    key_dir,
    load_ec_private_key,
    statement,
)

from chainguard import oms
from chainguard.errors import (
    KeyFileError,
    VerificationFailure,
)
from chainguard.models import VerifiedStatement
from chainguard.trust.bundle import read_bundle, verify_key_bundle
from chainguard.trust.keys import load_public_key

# ------------------------------------------------------------------------- the real vectors


def test_certificate_vector_names_the_leaf(vectors_dir: Path) -> None:
    statement_ = verify_vector(vectors_dir, "v1.1.0-certificate")

    (signer,) = statement_.signers
    assert signer.kind == "certificate"
    assert signer.identity == "CN=intermediate-ca"  # the OMS test leaf's (odd) subject
    assert signer.key_algorithm == "ecdsa-p384"


# ------------------------------------------------------------------------ certificate trust


@dataclass(frozen=True)
class Pki:
    root: Issued
    intermediate: Issued
    leaf: Issued

    def bundle(self, payload: bytes, *, with_intermediate: bool = True) -> bytes:
        chain = [self.leaf.certificate]
        if with_intermediate:
            chain.append(self.intermediate.certificate)
        return certificate_bundle(payload, self.leaf.key, chain)


@pytest.fixture
def pki() -> Pki:
    root = issue("Test Root", ca=True)
    intermediate = issue("Test Intermediate", issuer=root, ca=True)
    return Pki(root, intermediate, issue("model-release", issuer=intermediate, ca=False))


def _cert_verify(data: bytes, *anchors: Issued, at: datetime | None = None) -> VerifiedStatement:
    bundle = read_bundle(data, "m.sig")
    certificates = [a.certificate for a in anchors]
    return oms.verify_certificate_bundle(bundle, certificates, source="m.sig", at=at)


def test_minted_chain_verifies(pki: Pki) -> None:
    payload = statement([("a", A)])

    result = _cert_verify(pki.bundle(payload), pki.root)

    assert result.payload == payload
    assert result.signers[0].identity == "CN=model-release"
    assert result.signers[0].issuer == "CN=Test Intermediate"


def test_intermediate_may_come_from_the_trusted_file(pki: Pki) -> None:
    data = pki.bundle(statement([("a", A)]), with_intermediate=False)
    with pytest.raises(VerificationFailure):
        _cert_verify(data, pki.root)
    assert _cert_verify(data, pki.root, pki.intermediate).signers


def _failure(data: bytes, *anchors: Issued, at: datetime | None = None) -> VerificationFailure:
    with pytest.raises(VerificationFailure) as caught:
        _cert_verify(data, *anchors, at=at)
    assert_one_line(caught.value)
    return caught.value


def test_another_ca_is_untrusted(pki: Pki) -> None:
    data = pki.bundle(statement([("a", A)]))
    assert _failure(data, issue("Other Root", ca=True)).rule == "signature-untrusted"


def test_validity_is_checked_now(pki: Pki) -> None:
    data = pki.bundle(statement([("a", A)]))
    later = datetime.now(timezone.utc) + timedelta(days=400)
    failure = _failure(data, pki.root, at=later)
    assert failure.rule == "signature-untrusted"
    assert later.isoformat(timespec="seconds") in str(failure)


@pytest.mark.parametrize(
    ("key_usage", "code_signing"),
    [("cert-sign", True), ("sign", False), ("none", None)],
    ids=["ca-usage-only", "server-auth-eku", "no-usage-stated"],
)
def test_leaf_must_be_for_signing(pki: Pki, key_usage: str, code_signing: bool | None) -> None:
    odd = issue(
        "odd", issuer=pki.intermediate, ca=False, key_usage=key_usage, code_signing=code_signing
    )
    data = Pki(pki.root, pki.intermediate, odd).bundle(statement([("a", A)]))
    assert _failure(data, pki.root).rule == "signature-untrusted"


def test_altered_payload_with_valid_chain_is_invalid(pki: Pki) -> None:
    doc = json.loads(pki.bundle(statement([("a", A)])))
    doc["dsseEnvelope"]["payload"] = base64.b64encode(statement([("a", B)])).decode()
    assert _failure(json.dumps(doc).encode(), pki.root).rule == "signature-invalid"


def test_key_bundle_is_not_vouched_for_by_a_ca(vectors_dir: Path, pki: Pki) -> None:
    data = (vectors_dir / "oms" / "v1.1.0-elliptic-key" / "model.sig").read_bytes()
    assert _failure(data, pki.root).rule == "signature-untrusted"


def test_vector_leaf_signing_key_can_mint_new_cases(vectors_dir: Path) -> None:
    keys = key_dir(vectors_dir)
    leaf_key = load_ec_private_key(keys / "signing-key.pem")
    from cryptography import x509

    chain = [
        x509.load_pem_x509_certificate((keys / name).read_bytes())
        for name in ("signing-key-cert.pem", "int-ca-cert.pem")
    ]
    payload = statement([("a", A)])
    bundle = read_bundle(certificate_bundle(payload, leaf_key, chain), "m.sig")
    anchors = oms.load_certificates([keys / "ca-cert.pem"])
    assert oms.verify_certificate_bundle(bundle, anchors, source="m.sig").payload == payload
    # and the same key signs key bundles model_signing verifies with signing-key-pub.pem
    key_signed = read_bundle(key_bundle(payload, leaf_key), "k.sig")
    trusted = [load_public_key(keys / "signing-key-pub.pem")]
    assert verify_key_bundle(key_signed, trusted, source="k.sig").payload == payload


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such certificate file"),
        (b"not a certificate\n", "no PEM certificate"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "malformed"),
    ],
)
def test_bad_certificate_files(tmp_path: Path, content: bytes | None, needle: str) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KeyFileError) as caught:
        oms.load_certificates([path])
    assert needle in str(caught.value)
    assert_one_line(caught.value)
