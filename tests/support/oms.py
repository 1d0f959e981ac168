"""Helpers for the OpenSSF model signing tests (unit, integration and adversarial): real keys,
real CAs, real bundles."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chainguard.trust.dsse import pae

IN_TOTO = "application/vnd.in-toto+json"
ELLIPTIC = ("v1.0.1-elliptic-key", "v1.1.0-elliptic-key")
CERTIFICATE = ("v1.0.1-certificate", "v1.1.0-certificate")
SIGSTORE = "v1.0.1-sigstore"
SIGSTORE_IDENTITY = "stefanb@us.ibm.com"
SIGSTORE_ISSUER = "https://sigstore.verify.ibm.com/oauth2"


def oms_dir(vectors_dir: Path) -> Path:
    return vectors_dir / "oms"


def vector_trust_args(vectors_dir: Path, case: str) -> list[str | Path]:
    """The anchor a vector folder verifies with, from its name (vectors README table)."""
    keys = key_dir(vectors_dir)
    if case.endswith("-elliptic-key"):
        return ["--key", keys / "signing-key-pub.pem"]
    if case.endswith("-certificate"):
        return ["--certificate-chain", keys / "ca-cert.pem"]
    assert case.endswith("-sigstore"), case
    return ["--identity", SIGSTORE_IDENTITY, "--issuer", SIGSTORE_ISSUER]


def vector_cases() -> list[object]:
    """pytest params, one per signed vector folder (every released format version, every
    backend), enumerated from the vectors in place; one skipped param when they are absent."""
    import pytest

    from support import vectors_root

    top = vectors_root() / "oms"
    if not top.is_dir():
        reason = f"OMS vectors not found at {top} (set CHAINGUARD_VECTORS)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="absent")]
    folders = sorted(p.name for p in top.iterdir() if (p / "model.sig").is_file())
    return [pytest.param(name, id=name) for name in folders]


def key_dir(vectors_dir: Path) -> Path:
    return vectors_dir / "oms" / "keys" / "certificate"


def copy_vector(vectors_dir: Path, case: str, into: Path) -> Path:
    """A writable copy of a vector folder (the shared vectors are read-only and stay intact)."""
    target = into / case
    shutil.copytree(vectors_dir / "oms" / case, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


def model_signing_bin() -> Path:
    """The real model_signing CLI of the interpreter running the tests."""
    return Path(sys.executable).parent / "model_signing"


def load_ec_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """A PEM private key; certtool files carry a text header before the PEM block."""
    data = path.read_bytes()
    start = data.index(b"-----BEGIN")
    key = serialization.load_pem_private_key(data[start:], None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _hash_for(key: ec.EllipticCurvePrivateKey) -> hashes.HashAlgorithm:
    return hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA256()


def dsse_envelope(payload: bytes, key: ec.EllipticCurvePrivateKey) -> dict[str, object]:
    signature = key.sign(pae(IN_TOTO, payload), ec.ECDSA(_hash_for(key)))
    return {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": IN_TOTO,
        "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
    }


def pem_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_bundle(payload: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """What ``model_signing sign key`` writes (v1.1), for any payload."""
    doc = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": hashlib.sha256(pem_public(key)).hexdigest()},
            "tlogEntries": [],
        },
        "dsseEnvelope": dsse_envelope(payload, key),
    }
    return json.dumps(doc).encode()


def v0_2_statement(files: dict[str, bytes]) -> bytes:
    """A model-signing 0.2 statement: one subject per file, the predicate unused."""
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [
                {
                    "name": name,
                    "digest": {"sha256": hashlib.sha256(data).hexdigest()},
                    "annotations": {"actual_hash_algorithm": "file-sha256"},
                }
                for name, data in sorted(files.items())
            ],
            "predicateType": "https://model_signing/Digests/v0.1",
            "predicate": {"unused": "Unused, just passed due to API requirements"},
        },
        indent=2,
    ).encode()


def v0_2_key_bundle(payload: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """What model-signing 0.2 ``sign key`` wrote: ECDSA-SHA256 (whatever the curve) over its
    malformed PAE (``DSSEV1``, and the text of the payload's Python repr), the PEM key inline."""
    legacy_pae = f"DSSEV1 {len(IN_TOTO)} {IN_TOTO} {len(payload)} {payload!r}".encode()
    signature = key.sign(legacy_pae, ec.ECDSA(hashes.SHA256()))
    doc = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {
                "rawBytes": base64.b64encode(pem_public(key)).decode(),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            },
        },
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": base64.b64encode(signature).decode()}],
        },
    }
    return json.dumps(doc).encode()


def certificate_bundle(
    payload: bytes, key: ec.EllipticCurvePrivateKey, chain: list[x509.Certificate]
) -> bytes:
    """What ``model_signing sign certificate`` writes: leaf first, then the given chain."""
    doc = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "x509CertificateChain": {
                "certificates": [
                    {
                        "rawBytes": base64.b64encode(
                            c.public_bytes(serialization.Encoding.DER)
                        ).decode()
                    }
                    for c in chain
                ]
            },
            "tlogEntries": [],
        },
        "dsseEnvelope": dsse_envelope(payload, key),
    }
    return json.dumps(doc).encode()


def statement(
    resources: list[tuple[str, str]],
    *,
    name: str = "model",
    serialization_: dict[str, object] | None = None,
    algorithm: str = "sha256",
    subject: str | None = None,
) -> bytes:
    """An OMS statement over ``(name, hex digest)`` resources, listed in the given order."""
    digest = hashlib.sha256(b"".join(bytes.fromhex(d) for _, d in resources)).hexdigest()
    doc = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": subject or digest}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {
            "serialization": serialization_
            or {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
            "resources": [{"name": n, "algorithm": algorithm, "digest": d} for n, d in resources],
        },
    }
    return json.dumps(doc, indent=2).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def issue(
    common_name: str,
    *,
    issuer: Issued | None = None,
    ca: bool,
    not_before: datetime | None = None,
    days: int = 365,
    key_usage: str = "auto",
    code_signing: bool | None = True,
) -> Issued:
    """A certificate signed by ``issuer`` (self-signed without one), with a fresh P-256 key.

    CAs get keyCertSign, SKI and AKI as WebPKI path validation expects; leaves get
    digitalSignature (``key_usage="none"`` omits KeyUsage, ``"cert-sign"`` gives a CA-only
    usage) and the codeSigning EKU (serverAuth when ``code_signing`` is False, none for None).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.now(timezone.utc) - timedelta(days=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    usage = key_usage if key_usage != "auto" else ("cert-sign" if ca else "sign")
    if usage != "none":
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=usage == "sign",
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=usage == "cert-sign",
                crl_sign=usage == "cert-sign",
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if not ca and code_signing is not None:
        purpose = (
            ExtendedKeyUsageOID.CODE_SIGNING if code_signing else ExtendedKeyUsageOID.SERVER_AUTH
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)
