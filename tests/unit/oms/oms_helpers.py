"""Helpers shared by the OMS unit tests (imported by name; the tests dir has no __init__.py)."""

from __future__ import annotations

from pathlib import Path

from support.oms import (
    CERTIFICATE,
    ELLIPTIC,
    SIGSTORE_IDENTITY,
    SIGSTORE_ISSUER,
    key_dir,
    sha256_hex,
)

from chainguard import oms
from chainguard.models import FileDigest, ObservedTree, VerifiedStatement
from chainguard.trust.bundle import read_bundle, verify_key_bundle
from chainguard.trust.keys import load_public_key
from chainguard.trust.statement import parse_statement

A, B, C = sha256_hex(b"a"), sha256_hex(b"b"), sha256_hex(b"c")


def assert_one_line(error: BaseException) -> None:
    message = str(error)
    assert message
    assert "\n" not in message and "\r" not in message, message


def verified(payload: bytes) -> VerifiedStatement:
    """A statement as trust/ hands it on (signature checking is tested separately)."""
    parsed = parse_statement(payload, "test.sig")
    return VerifiedStatement(parsed.predicate_type, parsed.subjects, payload)


def manifest(payload: bytes) -> oms.OmsManifest:
    return oms.read_manifest(verified(payload), "test.sig")


def payload_of(bundle_bytes: bytes) -> bytes:
    envelope = read_bundle(bundle_bytes, "test.sig").envelope
    assert envelope is not None
    return envelope.payload


def tree(*files: tuple[str, bytes]) -> ObservedTree:
    return ObservedTree(
        "model", tuple(FileDigest(p, len(d), sha256=sha256_hex(d)) for p, d in files)
    )


def verify_vector(vectors_dir: Path, case: str) -> VerifiedStatement:
    """A real model-signing vector's signature, verified the way its case says."""
    path = vectors_dir / "oms" / case / "model.sig"
    data = path.read_bytes()
    bundle = read_bundle(data, str(path))
    keys = key_dir(vectors_dir)
    if case in ELLIPTIC:
        return verify_key_bundle(
            bundle, [load_public_key(keys / "signing-key-pub.pem")], source=str(path)
        )
    if case in CERTIFICATE:
        anchors = oms.load_certificates([keys / "ca-cert.pem"])
        return oms.verify_certificate_bundle(bundle, anchors, source=str(path))
    from chainguard.trust.sigstore import IdentityPolicy, load_trusted_root, verify_sigstore_dsse

    root = load_trusted_root("production", None)
    return verify_sigstore_dsse(
        data, str(path), [IdentityPolicy(SIGSTORE_IDENTITY, SIGSTORE_ISSUER)], root
    )
