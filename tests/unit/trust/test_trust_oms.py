"""OpenSSF model signing: manifest parsing, comparison, certificate trust, signing."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support.oms import (
    CERTIFICATE,
    ELLIPTIC,
    SIGSTORE,
    SIGSTORE_IDENTITY,
    SIGSTORE_ISSUER,
    Issued,
    certificate_bundle,
    issue,
    key_bundle,
    key_dir,
    load_ec_private_key,
    sha256_hex,
    statement,
)
from trust_helpers import assert_one_line

from chainguard import api
from chainguard.errors import (
    BundleError,
    InputError,
    KeyFileError,
    UsageError,
    VerificationFailure,
)
from chainguard.findings import Severity
from chainguard.models import FileDigest, ObservedTree, VerifiedStatement
from chainguard.trust import oms
from chainguard.trust.bundle import read_bundle, verify_key_bundle
from chainguard.trust.keys import SigningKey, load_public_key
from chainguard.trust.statement import parse_statement

A, B, C = sha256_hex(b"a"), sha256_hex(b"b"), sha256_hex(b"c")


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


# ------------------------------------------------------------------------- the real vectors


def _verify_vector(vectors_dir: Path, case: str) -> VerifiedStatement:
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


@pytest.mark.parametrize("case", [*ELLIPTIC, *CERTIFICATE, SIGSTORE])
def test_every_vector_yields_its_manifest(vectors_dir: Path, case: str) -> None:
    found = oms.read_manifest(_verify_vector(vectors_dir, case), case)

    assert found.model_name == case
    assert found.method == "files" and found.hash_type == "sha256"
    assert found.allow_symlinks is False
    assert [r.path for r in found.resources] == ["signme-1", "signme-2"]
    content = (vectors_dir / "oms" / case / "signme-2").read_bytes()
    assert found.resources[1].digest == sha256_hex(content)
    if case.startswith("v1.1"):  # since v1.1 the signer records what it left out
        assert {"ignore-me", "model.sig", ".git"} <= set(found.ignore_paths)
    else:
        assert found.ignore_paths == ()


def test_certificate_vector_names_the_leaf(vectors_dir: Path) -> None:
    statement_ = _verify_vector(vectors_dir, "v1.1.0-certificate")

    (signer,) = statement_.signers
    assert signer.kind == "certificate"
    assert signer.identity == "CN=intermediate-ca"  # the OMS test leaf's (odd) subject
    assert signer.key_algorithm == "ecdsa-p384"


# ------------------------------------------------------------------------- manifest parsing


def test_shard_manifest_with_float_shard_size() -> None:
    payload = statement(
        [("w.bin:0:4", A), ("w.bin:4:6", B), ("x:0:2", C)],
        serialization_={
            "method": "shards",
            "hash_type": "sha256",
            "allow_symlinks": False,
            "shard_size": 4.0,  # what protobuf's Struct writes for 4
        },
        algorithm="sha256-sharded-4",
    )
    found = manifest(payload)

    assert found.shard_size == 4
    assert [(r.path, r.start, r.end) for r in found.resources] == [
        ("w.bin", 0, 4),
        ("w.bin", 4, 6),
        ("x", 0, 2),
    ]


def test_shard_names_may_contain_colons() -> None:
    payload = statement(
        [("a:b:0:3", A)],
        serialization_={"method": "shards", "hash_type": "sha256", "shard_size": 8},
        algorithm="sha256-sharded-8",
    )
    assert manifest(payload).resources[0].path == "a:b"


def test_subject_is_checked_in_listed_order() -> None:
    # model-signing's verifier hashes the resources as listed; so do we
    assert [r.path for r in manifest(statement([("b", B), ("a", A)])).resources] == ["b", "a"]


def test_subject_digest_that_disagrees_with_resources_is_subject_mismatch() -> None:
    payload = statement([("a", A), ("b", B)], subject=sha256_hex(b"something else"))
    with pytest.raises(VerificationFailure) as caught:
        manifest(payload)
    assert caught.value.rule == "subject-mismatch"
    assert_one_line(caught.value)


@pytest.mark.parametrize(
    "predicate_type", ["https://cyclonedx.org/bom", "https://model_signing/Digests/v0.1"]
)
def test_other_predicate_types_are_subject_mismatch(predicate_type: str) -> None:
    doc = json.loads(statement([("a", A)]))
    doc["predicateType"] = predicate_type
    with pytest.raises(VerificationFailure) as caught:
        manifest(json.dumps(doc).encode())
    assert caught.value.rule == "subject-mismatch"
    assert caught.value.actual == predicate_type


def _edited(edit: Callable[[dict[str, object]], None]) -> bytes:
    doc = json.loads(statement([("a", A), ("b", B)]))
    edit(doc)
    return json.dumps(doc).encode()


def _predicate(doc: dict[str, object]) -> dict[str, object]:
    predicate = doc["predicate"]
    assert isinstance(predicate, dict)
    return predicate


def _serialization(doc: dict[str, object]) -> dict[str, object]:
    value = _predicate(doc)["serialization"]
    assert isinstance(value, dict)
    return value


def _resources(doc: dict[str, object]) -> list[dict[str, object]]:
    value = _predicate(doc)["resources"]
    assert isinstance(value, list)
    return value


MALFORMED: dict[str, Callable[[dict[str, object]], None]] = {
    "no serialization": lambda d: _predicate(d).pop("serialization"),
    "serialization not an object": lambda d: _predicate(d).update(serialization=[1]),
    "unknown method": lambda d: _serialization(d).update(method="tensors"),
    "no hash_type": lambda d: _serialization(d).pop("hash_type"),
    "allow_symlinks not a bool": lambda d: _serialization(d).update(allow_symlinks="false"),
    "ignore_paths not strings": lambda d: _serialization(d).update(ignore_paths=[1]),
    "no resources": lambda d: _predicate(d).pop("resources"),
    "resources not a list": lambda d: _predicate(d).update(resources={}),
    "resource not an object": lambda d: _resources(d).append("a"),
    "resource without name": lambda d: _resources(d)[0].pop("name"),
    "algorithm disagrees": lambda d: _resources(d)[0].update(algorithm="blake2"),
    "digest not hex": lambda d: _resources(d)[0].update(digest="zz" * 32),
    "digest too short": lambda d: _resources(d)[0].update(digest="ab"),
    "same resource twice": lambda d: _resources(d).append(dict(_resources(d)[0])),
    "two subjects": lambda d: d.update(subject=[*d["subject"], *d["subject"]]),  # type: ignore[list-item]
    "subject without sha256": lambda d: d.update(
        subject=[{"name": "m", "digest": {"sha512": "ab" * 64}}]
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_manifests_are_one_line_bundle_errors(case: str) -> None:
    with pytest.raises(BundleError) as caught:
        manifest(_edited(MALFORMED[case]))
    assert_one_line(caught.value)
    assert str(caught.value).startswith("test.sig")


@pytest.mark.parametrize("shard_size", [4.5, 0, -4, True, "4", None])
def test_bad_shard_sizes_are_rejected(shard_size: object) -> None:
    payload = statement(
        [("x:0:2", A)],
        serialization_={"method": "shards", "hash_type": "sha256", "shard_size": shard_size},
        algorithm="sha256-sharded-4",
    )
    with pytest.raises(BundleError) as caught:
        manifest(payload)
    assert "shard_size" in str(caught.value)


@pytest.mark.parametrize(
    "names",
    [
        ["w:0:4", "w:8:10"],  # a gap
        ["w:0:4", "w:2:6"],  # overlap
        ["w:0:3", "w:3:6"],  # not the signed shard size
        ["w:0:6"],  # larger than a shard
        ["w:4:2"],  # empty / reversed
        ["w:0:x"],  # not numbers
        ["w"],  # no offsets
    ],
)
def test_shards_must_tile_the_file(names: list[str]) -> None:
    payload = statement(
        [(n, A) for n in names],
        serialization_={"method": "shards", "hash_type": "sha256", "shard_size": 4},
        algorithm="sha256-sharded-4",
    )
    with pytest.raises(BundleError):
        manifest(payload)


def test_unsupported_hash_type_is_input_error() -> None:
    payload = statement(
        [("a", "ab" * 64)],
        serialization_={"method": "files", "hash_type": "blake2", "allow_symlinks": False},
        algorithm="blake2",
    )
    with pytest.raises(InputError) as caught:
        manifest(payload)
    assert "blake2" in str(caught.value)
    assert not isinstance(caught.value, BundleError)


def test_only_safe_signed_ignore_paths_are_honoured() -> None:
    payload = statement(
        [("a", A)],
        serialization_={
            "method": "files",
            "hash_type": "sha256",
            "ignore_paths": ["cache/", "../outside", "/abs", "", "ok/x"],
        },
    )
    assert oms.signed_ignore_paths(manifest(payload)) == {"cache", "ok/x"}


# ------------------------------------------------------------------------------- comparison


def test_identical_model_has_no_findings() -> None:
    found = manifest(statement([("a", A), ("d/b", B)]))
    observed = tree(("a", b"a"), ("d/b", b"b"))
    assert oms.compare_model(found, observed, single_file=None) == []


def test_each_difference_has_its_rule() -> None:
    found = manifest(statement([("changed", A), ("gone", B), ("moved", C)]))
    observed = tree(("changed", b"A!"), ("new", b"x"), ("renamed", b"c"))

    findings = {(f.rule, f.path): f for f in oms.compare_model(found, observed, single_file=None)}

    assert set(findings) == {
        ("artifact-modified", "changed"),
        ("artifact-missing", "gone"),
        ("artifact-unexpected", "new"),
        ("artifact-renamed", "renamed"),
    }
    # a files manifest records no size: the signed digest is shown alone
    assert findings[("artifact-modified", "changed")].expected == f"sha256:{A}"
    assert findings[("artifact-missing", "gone")].expected == f"sha256:{B}"
    assert all("SBOM" not in f.message for f in findings.values())


def test_swapped_files() -> None:
    found = manifest(statement([("a", A), ("b", B)]))
    rules = {
        f.rule for f in oms.compare_model(found, tree(("a", b"b"), ("b", b"a")), single_file=None)
    }
    assert rules == {"artifact-swapped"}


@pytest.mark.parametrize("name", [".", "weights.bin"])
def test_single_file_model(name: str) -> None:
    found = manifest(statement([(name, A)]))
    assert oms.compare_model(found, tree(("weights.bin", b"a")), single_file="weights.bin") == []
    (finding,) = oms.compare_model(found, tree(("weights.bin", b"z")), single_file="weights.bin")
    assert finding.rule == "artifact-modified"


def test_single_file_signature_against_a_directory() -> None:
    found = manifest(statement([(".", A)]))
    rules = {f.rule for f in oms.compare_model(found, tree(("a", b"a")), single_file=None)}
    assert rules == {"subject-mismatch", "artifact-unexpected"}


def test_unsafe_signed_names_are_reported_never_opened() -> None:
    found = manifest(statement([("../../etc/passwd", A), ("a", B)]))
    findings = oms.compare_model(found, tree(("a", b"b")), single_file=None)
    assert [(f.rule, f.path) for f in findings] == [("sbom-path-unsafe", "../../etc/passwd")]


# ------------------------------------------------------------------ shards, end to end


def _model_signing_shard_sign(model: Path, signature: Path, private_key: Path, size: int) -> None:
    """Sign with the real model-signing library's shard serialization (its CLI has none)."""
    from model_signing import hashing, signing

    config = hashing.Config().use_shard_serialization(shard_size=size)
    signing.Config().use_elliptic_key_signer(private_key=private_key).set_hashing_config(
        config
    ).sign(model, signature)


@pytest.fixture
def ec_key(tmp_path: Path) -> tuple[Path, Path]:
    private, public = api.keygen(tmp_path / "oms")
    return private, public


@pytest.mark.parametrize("shard_size", [4, 1024 * 1024])
def test_model_signing_shard_signatures_verify(
    tmp_path: Path, ec_key: tuple[Path, Path], shard_size: int
) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    big = os.urandom(2 * shard_size + shard_size // 2)
    (model / "weights.bin").write_bytes(big)
    (model / "sub" / "config.json").write_bytes(b"{}")
    signature = tmp_path / "model.sig"
    _model_signing_shard_sign(model, signature, ec_key[0], shard_size)
    payload = json.loads(payload_of(signature.read_bytes()))
    assert payload["predicate"]["serialization"]["shard_size"] == float(shard_size)

    def verify() -> list[tuple[str, str, Severity]]:
        report = api.verify_model_oms(model, signature, keys=[ec_key[1]])
        return [(f.rule, f.path, f.effective_severity) for f in report.findings]

    assert verify() == []

    # a changed byte in the middle shard, then a truncated file
    tampered = bytearray(big)
    tampered[shard_size + 1] ^= 1
    (model / "weights.bin").write_bytes(bytes(tampered))
    assert verify() == [("artifact-modified", "weights.bin", Severity.ERROR)]
    (model / "weights.bin").write_bytes(big[:-1])
    assert verify() == [("artifact-modified", "weights.bin", Severity.ERROR)]
    (model / "weights.bin").write_bytes(big)

    # an empty file has no shard, so the signature cannot say it was absent: a warning
    (model / "empty").write_bytes(b"")
    assert verify() == [("artifact-unexpected", "empty", Severity.WARNING)]
    report = api.verify_model_oms(model, signature, keys=[ec_key[1]])
    assert report.ok


def test_model_signing_single_file_shards(tmp_path: Path, ec_key: tuple[Path, Path]) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(os.urandom(10))
    signature = tmp_path / "w.sig"
    _model_signing_shard_sign(weights, signature, ec_key[0], 4)

    assert api.verify_model_oms(weights, signature, keys=[ec_key[1]]).findings == ()
    weights.write_bytes(os.urandom(10))
    rules = [f.rule for f in api.verify_model_oms(weights, signature, keys=[ec_key[1]]).findings]
    assert rules == ["artifact-modified"]


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


# ---------------------------------------------------------------------------------- signing


def test_signed_bundle_has_model_signing_shape(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    model = tmp_path / "my-model"
    (model / "a").mkdir(parents=True)
    (model / "a" / "b").write_bytes(b"b")
    (model / "a-c").write_bytes(b"c")
    (model / "skip").write_bytes(b"s")
    key = make_key("ecdsa-p256")

    data = oms.sign_oms(model, key, ["skip"])
    doc = json.loads(data)
    payload = json.loads(payload_of(data))

    from chainguard.trust.keys import pem_hint

    assert doc["verificationMaterial"] == {
        "publicKey": {"hint": pem_hint(key.public_key)},
        "tlogEntries": [],
    }
    assert doc["dsseEnvelope"]["signatures"][0]["keyid"] == ""
    # sorted as paths (components), not as strings: "a/b" before "a-c"
    assert [r["name"] for r in payload["predicate"]["resources"]] == ["a/b", "a-c"]
    assert payload["subject"] == [
        {"name": "my-model", "digest": {"sha256": sha256_hex(bytes.fromhex(B + C))}}
    ]
    serialization = payload["predicate"]["serialization"]
    assert serialization["ignore_paths"] == [*oms.GIT_PATHS, "skip"]
    assert serialization["allow_symlinks"] is False
    assert manifest(payload_of(data)).ignore_paths == (*oms.GIT_PATHS, "skip")


def test_single_file_is_signed_as_dot(tmp_path: Path, make_key: Callable[..., SigningKey]) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"a")
    found = manifest(payload_of(oms.sign_oms(weights, make_key(), [])))
    assert [(r.path, r.digest) for r in found.resources] == [(".", A)]
    assert found.model_name == "w.bin"


def test_links_inside_the_model_are_allowed_and_recorded(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "real").write_bytes(b"a")
    (model / "alias").symlink_to("real")
    found = manifest(payload_of(oms.sign_oms(model, make_key(), [])))
    assert found.allow_symlinks is True
    assert [(r.path, r.digest) for r in found.resources] == [("alias", A), ("real", A)]


def test_ed25519_cannot_make_oms_signatures(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(UsageError) as caught:
        oms.sign_oms(tmp_path, make_key("ed25519"), [])
    assert "ECDSA" in str(caught.value)


@pytest.mark.parametrize("entry", ["*.tmp", "cache/[ab]", "../x", "/abs", "a//b"])
def test_sign_ignore_takes_literal_relative_paths(
    tmp_path: Path, make_key: Callable[..., SigningKey], entry: str
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(UsageError):
        oms.sign_oms(tmp_path, make_key(), [entry])


def test_refuses_to_sign_a_tree_with_anomalies(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "escape").symlink_to("/etc/hostname")
    with pytest.raises(InputError) as caught:
        oms.sign_oms(tmp_path, make_key(), [])
    assert "symlink-escape" in str(caught.value)
    assert_one_line(caught.value)


def test_default_shard_size_of_model_signing_is_hashable() -> None:
    """10**9 is not a multiple of the engine's read size; the engine accepts it for OMS."""
    payload = statement(
        [("w:0:10", A)],
        serialization_={"method": "shards", "hash_type": "sha256", "shard_size": 1e9},
        algorithm="sha256-sharded-1000000000",
    )
    settings, plan = oms.hash_plan(manifest(payload), single_file=None)
    assert settings.shard_size == 10**9
    assert plan == {"w": 10**9}
    single, _ = oms.hash_plan(manifest(statement([("a", A)])), single_file=None)
    assert single.shard_size != 10**9  # files manifests hash whole files


def test_model_named_after_the_resolved_directory(
    tmp_path: Path, make_key: Callable[..., SigningKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "bert-base"
    model.mkdir()
    (model / "a").write_bytes(b"a")
    monkeypatch.chdir(model)
    assert manifest(payload_of(oms.sign_oms(Path("."), make_key(), []))).model_name == "bert-base"
