"""Attacks on OpenSSF model signature verification: replayed and re-serialised signatures,
parser differentials, hostile manifests, forged certificate chains."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support.oms import (
    certificate_bundle,
    issue,
    key_bundle,
    key_dir,
    load_ec_private_key,
    sha256_hex,
    statement,
    v0_2_key_bundle,
    v0_2_statement,
)

from chainguard import api
from chainguard.errors import BundleError
from chainguard.findings import Report


@pytest.fixture
def signer_key(tmp_path: Path) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    """A trusted signer's key: the attacks below hold it or try to get around it."""
    private, public = api.keygen(tmp_path / "trusted")
    return load_ec_private_key(private), public


def _model(root: Path, **files: bytes) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _rules(report: Report) -> list[tuple[str, str]]:
    return sorted((f.rule, f.path) for f in report.findings if f.effective_severity == "error")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_signature_of_another_model_is_rejected(vectors_dir: Path) -> None:
    """Same key, other model: the v1.1 elliptic signature replayed on the certificate model."""
    keys = key_dir(vectors_dir)
    report = api.verify_model_oms(
        vectors_dir / "oms" / "v1.1.0-certificate",
        vectors_dir / "oms" / "v1.1.0-elliptic-key" / "model.sig",
        keys=[keys / "signing-key-pub.pem"],
    )
    assert _rules(report) == [("artifact-modified", "signme-1")]


def test_reserialised_payload_is_not_the_signed_payload(vectors_dir: Path, tmp_path: Path) -> None:
    """No canonical JSON: equal JSON in other bytes is another payload; never re-serialise."""
    case = vectors_dir / "oms" / "v1.1.0-elliptic-key"
    doc = json.loads((case / "model.sig").read_bytes())
    payload = base64.b64decode(doc["dsseEnvelope"]["payload"])
    compact = json.dumps(json.loads(payload), separators=(",", ":")).encode()
    assert json.loads(compact) == json.loads(payload) and compact != payload
    doc["dsseEnvelope"]["payload"] = base64.b64encode(compact).decode()
    signature = _write(tmp_path / "model.sig", json.dumps(doc).encode())

    report = api.verify_model_oms(
        case, signature, keys=[key_dir(vectors_dir) / "signing-key-pub.pem"]
    )
    assert _rules(report) == [("signature-invalid", str(signature))]


def test_duplicate_keys_in_a_signed_payload_are_refused(
    tmp_path: Path, signer_key: tuple[ec.EllipticCurvePrivateKey, Path]
) -> None:
    """Parsers disagree on duplicate keys (first vs last wins): refuse rather than pick one."""
    model = _model(tmp_path / "m", a=b"benign", b=b"evil")
    benign = statement([("a", sha256_hex(b"benign"))]).decode()
    evil = json.dumps([{"name": "b", "algorithm": "sha256", "digest": sha256_hex(b"evil")}])
    payload = benign.replace('"resources": [', f'"resources": {evil}, "resources": [', 1)
    signature = _write(tmp_path / "m.sig", key_bundle(payload.encode(), signer_key[0]))

    with pytest.raises(BundleError) as caught:
        api.verify_model_oms(model, signature, keys=[signer_key[1]])
    assert "duplicate JSON key" in str(caught.value)


def test_signed_traversal_paths_are_never_opened(
    tmp_path: Path, signer_key: tuple[ec.EllipticCurvePrivateKey, Path]
) -> None:
    outside = _write(tmp_path / "secret", b"outside the model")
    model = _model(tmp_path / "m", a=b"a")
    payload = statement([("../secret", sha256_hex(b"outside the model")), ("a", sha256_hex(b"a"))])
    signature = _write(tmp_path / "m.sig", key_bundle(payload, signer_key[0]))

    report = api.verify_model_oms(model, signature, keys=[signer_key[1]])

    assert _rules(report) == [("sbom-path-unsafe", "../secret")]
    assert report.stats.files == 1 and outside.exists()


def test_subject_that_does_not_bind_the_resources(
    tmp_path: Path, signer_key: tuple[ec.EllipticCurvePrivateKey, Path]
) -> None:
    model = _model(tmp_path / "m", a=b"a")
    payload = statement([("a", sha256_hex(b"a"))], subject=sha256_hex(b"another manifest"))
    signature = _write(tmp_path / "m.sig", key_bundle(payload, signer_key[0]))
    report = api.verify_model_oms(model, signature, keys=[signer_key[1]])
    assert _rules(report) == [("subject-mismatch", str(signature))]


def test_signed_ignore_paths_are_literal_and_stay_inside(
    tmp_path: Path, signer_key: tuple[ec.EllipticCurvePrivateKey, Path]
) -> None:
    """The signer may leave paths out; an attacker may not stretch them (no globs, no '..')."""
    model = _model(tmp_path / "m", a=b"a", **{"cache/tmp": b"ignored by the signer"})
    payload = statement(
        [("a", sha256_hex(b"a"))],
        serialization_={
            "method": "files",
            "hash_type": "sha256",
            "allow_symlinks": False,
            "ignore_paths": ["cache", "../m/a", "*.pkl", "/"],
        },
    )
    signature = _write(tmp_path / "m.sig", key_bundle(payload, signer_key[0]))
    assert api.verify_model_oms(model, signature, keys=[signer_key[1]]).ok

    _model(model, **{"cache2": b"x", "sub/cache": b"x", "evil.pkl": b"x"})
    report = api.verify_model_oms(model, signature, keys=[signer_key[1]])
    assert _rules(report) == [
        ("artifact-unexpected", "cache2"),
        ("artifact-unexpected", "evil.pkl"),
        ("artifact-unexpected", "sub/cache"),
    ]


def test_signer_cannot_both_sign_and_ignore_a_file(
    tmp_path: Path, signer_key: tuple[ec.EllipticCurvePrivateKey, Path]
) -> None:
    model = _model(tmp_path / "m", a=b"a")
    payload = statement(
        [("a", sha256_hex(b"a"))],
        serialization_={"method": "files", "hash_type": "sha256", "ignore_paths": ["a"]},
    )
    signature = _write(tmp_path / "m.sig", key_bundle(payload, signer_key[0]))
    report = api.verify_model_oms(model, signature, keys=[signer_key[1]])
    assert _rules(report) == [("artifact-missing", "a")]


def test_empty_manifest_does_not_vouch_for_files(
    tmp_path: Path, signer_key: tuple[ec.EllipticCurvePrivateKey, Path]
) -> None:
    model = _model(tmp_path / "m", **{"payload.pkl": b"cos\nsystem\n"})
    signature = _write(tmp_path / "m.sig", key_bundle(statement([]), signer_key[0]))
    report = api.verify_model_oms(model, signature, keys=[signer_key[1]])
    assert _rules(report) == [("artifact-unexpected", "payload.pkl")]


def test_lying_hint_does_not_make_a_signature_trusted(vectors_dir: Path, tmp_path: Path) -> None:
    """The bundle names the trusted key's hint, but another key signed it."""
    model = vectors_dir / "oms" / "v1.1.0-elliptic-key"
    doc = json.loads((model / "model.sig").read_bytes())
    payload = base64.b64decode(doc["dsseEnvelope"]["payload"])
    forged = json.loads(key_bundle(payload, ec.generate_private_key(ec.SECP384R1())))
    forged["verificationMaterial"] = doc["verificationMaterial"]  # the real signer's hint
    signature = _write(tmp_path / "model.sig", json.dumps(forged).encode())

    report = api.verify_model_oms(
        model, signature, keys=[key_dir(vectors_dir) / "signing-key-pub.pem"]
    )
    assert _rules(report) == [("signature-invalid", str(signature))]


def test_symlink_out_of_the_model(
    tmp_path: Path, signer_key: tuple[ec.EllipticCurvePrivateKey, Path]
) -> None:
    target = _write(tmp_path / "elsewhere", b"a")
    model = _model(tmp_path / "m")
    (model / "a").symlink_to(target)
    signature = _write(
        tmp_path / "m.sig", key_bundle(statement([("a", sha256_hex(b"a"))]), signer_key[0])
    )
    report = api.verify_model_oms(model, signature, keys=[signer_key[1]])
    assert ("symlink-escape", "a") in _rules(report)
    assert not report.ok


def test_shard_layout_that_cannot_be_reproduced(
    tmp_path: Path, signer_key: tuple[ec.EllipticCurvePrivateKey, Path]
) -> None:
    model = _model(tmp_path / "m", w=b"12345678")
    payload = statement(
        [("w:0:8", sha256_hex(b"12345678"))],
        serialization_={"method": "shards", "hash_type": "sha256", "shard_size": 4},
        algorithm="sha256-sharded-4",
    )
    signature = _write(tmp_path / "m.sig", key_bundle(payload, signer_key[0]))
    with pytest.raises(BundleError):
        api.verify_model_oms(model, signature, keys=[signer_key[1]])


# ------------------------------------------------------------------------ forged certificates


def _certificate_model(tmp_path: Path) -> tuple[Path, bytes]:
    model = _model(tmp_path / "m", a=b"a")
    return model, statement([("a", sha256_hex(b"a"))])


def _ca_file(vectors_dir: Path) -> Path:
    return key_dir(vectors_dir) / "ca-cert.pem"


def test_trusted_root_smuggled_into_the_bundle_chain(vectors_dir: Path, tmp_path: Path) -> None:
    from cryptography import x509

    real_root = x509.load_pem_x509_certificate(_ca_file(vectors_dir).read_bytes())
    attacker_ca = issue("root-ca", ca=True)  # even the same name as the real root
    leaf = issue("release", issuer=attacker_ca, ca=False)
    model, payload = _certificate_model(tmp_path)
    chain = [leaf.certificate, attacker_ca.certificate, real_root]
    signature = _write(tmp_path / "m.sig", certificate_bundle(payload, leaf.key, chain))

    report = api.verify_model_oms(model, signature, certificate_chains=[_ca_file(vectors_dir)])
    assert _rules(report) == [("signature-untrusted", str(signature))]


def test_self_signed_leaf_named_like_the_intermediate(vectors_dir: Path, tmp_path: Path) -> None:
    fake = issue("intermediate-ca", ca=False)
    model, payload = _certificate_model(tmp_path)
    signature = _write(
        tmp_path / "m.sig", certificate_bundle(payload, fake.key, [fake.certificate])
    )
    report = api.verify_model_oms(model, signature, certificate_chains=[_ca_file(vectors_dir)])
    assert _rules(report) == [("signature-untrusted", str(signature))]


def test_expired_certificate_from_the_trusted_ca(tmp_path: Path) -> None:
    """No transparency log proves when it signed: an expired leaf is not trusted now."""
    root = issue("Root", ca=True, not_before=datetime.now(timezone.utc) - timedelta(days=800))
    leaf = issue(
        "release",
        issuer=root,
        ca=False,
        not_before=datetime.now(timezone.utc) - timedelta(days=400),
        days=30,
    )
    model, payload = _certificate_model(tmp_path)
    signature = _write(
        tmp_path / "m.sig", certificate_bundle(payload, leaf.key, [leaf.certificate])
    )
    anchors = _write(tmp_path / "ca.pem", root.pem())
    report = api.verify_model_oms(model, signature, certificate_chains=[anchors])
    assert _rules(report) == [("signature-untrusted", str(signature))]


def test_ca_certificate_used_as_a_signing_leaf(tmp_path: Path) -> None:
    """A CA key (keyCertSign only) signing models directly is not a code-signing identity."""
    root = issue("Root", ca=True)
    intermediate = issue("Intermediate", issuer=root, ca=True)
    model, payload = _certificate_model(tmp_path)
    signature = _write(
        tmp_path / "m.sig",
        certificate_bundle(payload, intermediate.key, [intermediate.certificate]),
    )
    anchors = _write(tmp_path / "ca.pem", root.pem())
    report = api.verify_model_oms(model, signature, certificate_chains=[anchors])
    assert _rules(report) == [("signature-untrusted", str(signature))]


# --- model-signing 0.2's malformed encoding (oms/legacy.py) is accepted narrowly --------------


def test_v0_2_encoding_over_a_current_statement_is_refused(
    signer_key: tuple[ec.EllipticCurvePrivateKey, Path], tmp_path: Path
) -> None:
    """The 0.2 quirk signs only 0.2 statements: over a 1.x manifest it is no signature."""
    key, public = signer_key
    model = _model(tmp_path / "m", a=b"a")
    bundle = v0_2_key_bundle(statement([("a", sha256_hex(b"a"))], name="m"), key)
    report = api.verify_model_oms(model, _write(tmp_path / "m.sig", bundle), keys=[public])
    assert [f.rule for f in report.findings] == ["signature-invalid"]


def test_v0_2_signature_is_not_a_chainguard_dsse_signature(
    signer_key: tuple[ec.EllipticCurvePrivateKey, Path], tmp_path: Path
) -> None:
    """Outside OMS model verification the quirk is unknown: the same bundle is refused when
    it is presented as a signed blob statement."""
    key, public = signer_key
    data = b"model bytes"
    artifact = _write(tmp_path / "signme-1", data)
    bundle = _write(tmp_path / "b.sig", v0_2_key_bundle(v0_2_statement({"signme-1": data}), key))
    report = api.verify_blob(artifact, bundle, keys=[public])
    assert [f.rule for f in report.findings] == ["signature-invalid"]
