"""model-signing 0.2, the oldest released OMS format (chainguard/oms/legacy.py): its manifest
and its malformed pre-authentication encoding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from oms_helpers import assert_one_line, manifest, verified
from support.oms import (
    key_dir,
    load_ec_private_key,
    pem_public,
    statement,
    v0_2_key_bundle,
    v0_2_statement,
)

from chainguard import oms
from chainguard.errors import BundleError
from chainguard.oms.legacy import V0_2_MODEL_NAME, verify_v0_2_envelope, verify_v0_2_key_bundle
from chainguard.trust.bundle import read_bundle
from chainguard.trust.keys import TrustedKey, public_key_from_pem

FILES = {"signme-1": b"one\n", "dir/signme-2": b"two\n"}


def test_v0_2_manifest_is_one_whole_file_sha256_per_subject() -> None:
    found = manifest(v0_2_statement(FILES))
    assert found.model_name == V0_2_MODEL_NAME
    assert (found.method, found.hash_type, found.allow_symlinks) == ("files", "sha256", False)
    assert [(r.path, r.start) for r in found.resources] == [
        ("dir/signme-2", None),
        ("signme-1", None),
    ]
    assert found.ignore_paths == ()


def test_real_v0_2_vector_manifest(vectors_dir: Path) -> None:
    path = vectors_dir / "oms" / "v0.2.0-certificate" / "model.sig"
    bundle = read_bundle(path.read_bytes(), str(path))
    anchors = oms.load_certificates([key_dir(vectors_dir) / "ca-cert.pem"])
    found = oms.read_manifest(oms.verify_certificate_bundle(bundle, anchors, source="v"), "v")
    assert [r.path for r in found.resources] == ["signme-1", "signme-2"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["subject"][0]["annotations"].update(actual_hash_algorithm="sha256-sharded"),
        lambda d: d["subject"].append(dict(d["subject"][0])),
        lambda d: d["subject"][0]["digest"].update(sha256="00" * 31),
    ],
    ids=["sharded-annotation", "file-twice", "short-digest"],
)
def test_malformed_v0_2_manifest_is_a_one_line_bundle_error(edit: object) -> None:
    doc = json.loads(v0_2_statement(FILES))
    edit(doc)  # type: ignore[operator]
    with pytest.raises(BundleError) as caught:
        manifest(json.dumps(doc).encode())
    assert_one_line(caught.value)


def _key(vectors_dir: Path) -> ec.EllipticCurvePrivateKey:
    return load_ec_private_key(key_dir(vectors_dir) / "signing-key.pem")


def _trusted(key: ec.EllipticCurvePrivateKey) -> TrustedKey:
    return public_key_from_pem(pem_public(key), "test")


def test_v0_2_encoding_verifies_only_a_v0_2_statement(vectors_dir: Path) -> None:
    key = _key(vectors_dir)
    good = read_bundle(v0_2_key_bundle(v0_2_statement(FILES), key), "v")
    assert good.envelope is not None
    assert verify_v0_2_envelope(good.envelope, [_trusted(key)])
    # the same quirk over a 1.x statement (or anything else) is not a signature
    other = read_bundle(v0_2_key_bundle(statement([("a", "00" * 32)]), key), "v")
    assert other.envelope is not None
    assert verify_v0_2_envelope(other.envelope, [_trusted(key)]) == ()
    assert verify_v0_2_key_bundle(other, [_trusted(key)], "v") is None


def test_v0_2_key_bundle_names_its_signer(vectors_dir: Path) -> None:
    key = _key(vectors_dir)
    trusted = _trusted(key)
    bundle = read_bundle(v0_2_key_bundle(v0_2_statement(FILES), key), "v")
    found = verify_v0_2_key_bundle(bundle, [trusted], "v")
    assert found is not None
    assert [s.identity for s in found.signers] == [trusted.fingerprint]
    assert verified(found.payload).predicate_type == "https://model_signing/Digests/v0.1"
