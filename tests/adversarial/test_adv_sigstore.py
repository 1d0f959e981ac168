"""Attacks on Sigstore keyless verification: every tampered real bundle must be refused.

The attacker can edit any byte of the bundle and the artifact, glue real Fulcio certificates
and log entries from other bundles together, mint their own CA and certificate with the right
identity, and pick identities that look like the trusted one. Verification is offline against
the shipped trusted roots; a refusal is a finding (VerificationFailure) or, for a bundle that
is not even well-formed, a BundleError (exit 3) — never a pass.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.sigstore_cases import (
    CASE_IDS,
    CASES,
    DSSE_CASE,
    GITHUB_CASE,
    SigstoreCase,
    edit_json,
    flip_b64,
    key_message_bundle,
    public_pem,
    walk,
)

from chainguard.errors import BundleError, ChainguardError, VerificationFailure
from chainguard.models import Signer, Subject
from chainguard.trust import dsse
from chainguard.trust.blob import verify_key_artifact
from chainguard.trust.bundle import key_bundle_json
from chainguard.trust.keys import generate_keypair, load_private_key, public_key_from_pem
from chainguard.trust.sigstore import (
    IdentityPolicy,
    SigstoreTrustedRoot,
    load_trusted_root,
    verify_sigstore_artifact,
)
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, build_statement

pytestmark = pytest.mark.usefixtures("offline")  # tests/conftest.py


def attempt(
    case: SigstoreCase,
    vectors: Path,
    roots: dict[str, SigstoreTrustedRoot],
    *,
    bundle: bytes | None = None,
    artifact: Path | None = None,
    policies: list[IdentityPolicy] | None = None,
) -> Signer:
    return verify_sigstore_artifact(
        artifact or case.artifact_path(vectors),
        case.bundle_path(vectors).read_bytes() if bundle is None else bundle,
        "attacker.sigstore.json",
        policies or [IdentityPolicy(case.identity, case.issuer)],
        roots[case.instance],
    )


def refused(rule: str, *args: Any, **kwargs: Any) -> VerificationFailure:
    with pytest.raises(VerificationFailure) as info:
        attempt(*args, **kwargs)
    assert info.value.rule == rule, str(info.value)
    assert "\n" not in str(info.value)
    return info.value


def original(case: SigstoreCase, vectors: Path) -> bytes:
    return case.bundle_path(vectors).read_bytes()


def signature_field(case: SigstoreCase) -> tuple[str | int, ...]:
    if case.dsse:
        return ("dsseEnvelope", "signatures", 0, "sig")
    return ("messageSignature", "signature")


def set_at(doc: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    walk(doc, *path[:-1])[path[-1]] = value


def leaf(doc: dict[str, Any]) -> dict[str, str]:
    """The signing certificate's ``{"rawBytes": ...}``: v0.3 ``certificate`` or v0.1/v0.2
    ``x509CertificateChain`` (leaf first)."""
    material = doc["verificationMaterial"]
    if "certificate" in material:
        return material["certificate"]  # type: ignore[no-any-return]
    return material["x509CertificateChain"]["certificates"][0]  # type: ignore[no-any-return]


# --- edits to the signature, the signed content and the artifact ----------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_flipped_signature_byte(
    case: SigstoreCase, vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    path = signature_field(case)

    def edit(doc: dict[str, Any]) -> None:
        set_at(doc, path, flip_b64(walk(doc, *path), 30))

    bundle = edit_json(original(case, vectors_dir), edit)
    refused("signature-invalid", case, vectors_dir, roots, bundle=bundle)


def test_dsse_payload_swapped_for_a_statement_naming_another_file(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot], tmp_path: Path
) -> None:
    case = DSSE_CASE
    evil = tmp_path / "evil.txt"
    evil.write_bytes(b"malicious replacement\n")

    def edit(doc: dict[str, Any]) -> None:
        env = doc["dsseEnvelope"]
        statement = json.loads(base64.b64decode(env["payload"]))
        statement["subject"][0]["digest"]["sha256"] = hashlib.sha256(evil.read_bytes()).hexdigest()
        env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()

    bundle = edit_json(original(case, vectors_dir), edit)
    refused("signature-invalid", case, vectors_dir, roots, bundle=bundle, artifact=evil)


def test_message_digest_rewritten_to_a_modified_file(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot], tmp_path: Path
) -> None:
    case = GITHUB_CASE
    evil = tmp_path / "evil.whl"
    evil.write_bytes(case.artifact_path(vectors_dir).read_bytes() + b"backdoor")

    def edit(doc: dict[str, Any]) -> None:
        digest = base64.b64encode(hashlib.sha256(evil.read_bytes()).digest()).decode()
        doc["messageSignature"]["messageDigest"]["digest"] = digest

    bundle = edit_json(original(case, vectors_dir), edit)
    refused("signature-invalid", case, vectors_dir, roots, bundle=bundle, artifact=evil)


def test_duplicate_dsse_signature(vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]) -> None:
    case = DSSE_CASE

    def edit(doc: dict[str, Any]) -> None:
        sigs = doc["dsseEnvelope"]["signatures"]
        sigs.append(dict(sigs[0]))

    bundle = edit_json(original(case, vectors_dir), edit)
    refused("signature-invalid", case, vectors_dir, roots, bundle=bundle)


def test_dsse_payload_type_changed(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    case = DSSE_CASE

    def edit(doc: dict[str, Any]) -> None:
        doc["dsseEnvelope"]["payloadType"] = "application/json"

    with pytest.raises(BundleError, match="payloadType"):
        attempt(case, vectors_dir, roots, bundle=edit_json(original(case, vectors_dir), edit))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_valid_bundle_for_another_file(
    case: SigstoreCase, vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    other = next(c for c in CASES if c.artifact != case.artifact)
    refused("subject-mismatch", case, vectors_dir, roots, artifact=other.artifact_path(vectors_dir))


# --- the transparency log entry ---------------------------------------------------------------

_TLOG = ("verificationMaterial", "tlogEntries", 0)


@pytest.mark.parametrize(
    "edit",
    [
        "inclusion-proof-hash",
        "root-hash",
        "checkpoint",
        "log-index",
        "integrated-time",
        "canonicalized-body",
        "set",
    ],
)
def test_tampered_log_entry(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot], edit: str
) -> None:
    case = GITHUB_CASE  # Rekor v1: inclusion proof, checkpoint and promise

    def tamper(doc: dict[str, Any]) -> None:
        entry = walk(doc, *_TLOG)
        proof = entry["inclusionProof"]
        match edit:
            case "inclusion-proof-hash":
                proof["hashes"][0] = flip_b64(proof["hashes"][0], 5)
            case "root-hash":
                proof["rootHash"] = flip_b64(proof["rootHash"], 5)
            case "checkpoint":
                proof["checkpoint"]["envelope"] = proof["checkpoint"]["envelope"].replace(
                    proof["treeSize"], str(int(proof["treeSize"]) + 1), 1
                )
            case "log-index":
                entry["logIndex"] = str(int(entry["logIndex"]) + 1)
            case "integrated-time":
                entry["integratedTime"] = str(int(entry["integratedTime"]) - 3600)
            case "canonicalized-body":
                body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
                body["spec"]["data"]["hash"]["value"] = "0" * 64
                entry["canonicalizedBody"] = base64.b64encode(json.dumps(body).encode()).decode()
            case "set":
                promise = entry["inclusionPromise"]
                promise["signedEntryTimestamp"] = flip_b64(promise["signedEntryTimestamp"], 12)

    bundle = edit_json(original(case, vectors_dir), tamper)
    refused("signature-invalid", case, vectors_dir, roots, bundle=bundle)


def test_log_entry_removed(vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]) -> None:
    case = GITHUB_CASE

    def drop(doc: dict[str, Any]) -> None:
        doc["verificationMaterial"]["tlogEntries"] = []

    with pytest.raises(BundleError, match="log entry"):
        attempt(case, vectors_dir, roots, bundle=edit_json(original(case, vectors_dir), drop))


def test_log_entry_from_another_bundle(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    """A real, correctly included production log entry, but for another signature."""
    case = GITHUB_CASE
    donor = json.loads(original(DSSE_CASE, vectors_dir))

    def graft(doc: dict[str, Any]) -> None:
        doc["verificationMaterial"]["tlogEntries"] = donor["verificationMaterial"]["tlogEntries"]

    bundle = edit_json(original(case, vectors_dir), graft)
    refused("signature-invalid", case, vectors_dir, roots, bundle=bundle)


# --- certificates ---------------------------------------------------------------------------


def test_real_certificate_of_a_trusted_identity_glued_onto_another_signature(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    """A genuine Fulcio certificate of a trusted identity cannot adopt another signature."""
    case = DSSE_CASE
    donor = json.loads(original(GITHUB_CASE, vectors_dir))

    def graft(doc: dict[str, Any]) -> None:
        doc["verificationMaterial"]["certificate"] = dict(leaf(donor))

    bundle = edit_json(original(case, vectors_dir), graft)
    trusting_donor = [IdentityPolicy(GITHUB_CASE.identity, GITHUB_CASE.issuer)]
    failure = refused(
        "signature-invalid", case, vectors_dir, roots, bundle=bundle, policies=trusting_donor
    )
    # the donor certificate was valid for ten minutes, long before this log entry's time
    assert "not valid at validation time" in str(failure)
    refused("signature-invalid", case, vectors_dir, roots, bundle=bundle)


def _forged_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.dev"),
            x509.NameAttribute(NameOID.COMMON_NAME, "sigstore-intermediate"),
        ]
    )
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650 * 3))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA384())
    )
    return key, cert


def _forged_leaf(
    case: SigstoreCase,
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    when: dt.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    san: x509.GeneralName = (
        x509.RFC822Name(case.identity)
        if "@" in case.identity and "://" not in case.identity
        else x509.UniformResourceIdentifier(case.identity)
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(when - dt.timedelta(minutes=1))
        .not_valid_after(when + dt.timedelta(minutes=10))
        .add_extension(x509.SubjectAlternativeName([san]), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
        .add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), case.issuer.encode()
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA384())
    )
    return key, cert


def _forge(case: SigstoreCase, vectors: Path) -> tuple[bytes, x509.Certificate]:
    """The real bundle with a self-made certificate (right identity and issuer) and a
    signature by its key over the real artifact digest."""
    ca_key, ca = _forged_ca()
    doc = json.loads(original(case, vectors))
    when = dt.datetime.fromtimestamp(int(walk(doc, *_TLOG, "integratedTime")), tz=dt.timezone.utc)
    key, leaf_cert = _forged_leaf(case, ca_key, ca, when)
    digest = hashlib.sha256(case.artifact_path(vectors).read_bytes()).digest()
    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    leaf(doc)["rawBytes"] = base64.b64encode(
        leaf_cert.public_bytes(serialization.Encoding.DER)
    ).decode()
    doc["messageSignature"]["signature"] = base64.b64encode(signature).decode()
    return json.dumps(doc).encode(), ca


def test_self_made_certificate_with_the_trusted_identity(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    case = GITHUB_CASE
    bundle, _ = _forge(case, vectors_dir)
    refused("signature-invalid", case, vectors_dir, roots, bundle=bundle)


def test_self_made_ca_smuggled_into_a_private_trusted_root(
    vectors_dir: Path, tmp_path: Path
) -> None:
    """Even a root that trusts the attacker's CA still demands a CT SCT and a matching log entry."""
    case = GITHUB_CASE
    bundle, ca = _forge(case, vectors_dir)
    root = json.loads(
        (
            importlib.resources.files("sigstore._store")
            / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
            / "trusted_root.json"
        ).read_bytes()
    )
    ca_der = base64.b64encode(ca.public_bytes(serialization.Encoding.DER)).decode()
    root["certificateAuthorities"].append(
        {
            "subject": {"organization": "sigstore.dev", "commonName": "sigstore-intermediate"},
            "uri": "https://fulcio.example",
            "certChain": {"certificates": [{"rawBytes": ca_der}]},
            "validFor": {"start": "2020-01-01T00:00:00Z"},
        }
    )
    path = tmp_path / "trusted_root.json"
    path.write_text(json.dumps(root))
    with pytest.raises(VerificationFailure) as info:
        verify_sigstore_artifact(
            case.artifact_path(vectors_dir),
            bundle,
            "forged",
            [IdentityPolicy(case.identity, case.issuer)],
            load_trusted_root(None, path),
        )
    assert info.value.rule == "signature-invalid"
    assert "certificate timestamp" in str(info.value)  # the chain built; CT refused it


def test_certificate_and_public_key_together(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    case = DSSE_CASE

    def both(doc: dict[str, Any]) -> None:
        doc["verificationMaterial"]["publicKey"] = {"hint": "00" * 32}

    with pytest.raises(BundleError, match="exactly one of publicKey"):
        attempt(case, vectors_dir, roots, bundle=edit_json(original(case, vectors_dir), both))


def test_certificate_replaced_by_a_public_key_hint(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    """A key bundle cannot claim a Sigstore identity."""
    case = DSSE_CASE

    def swap(doc: dict[str, Any]) -> None:
        del doc["verificationMaterial"]["certificate"]
        doc["verificationMaterial"]["publicKey"] = {"hint": "00" * 32}

    failure = refused(
        "signature-untrusted",
        case,
        vectors_dir,
        roots,
        bundle=edit_json(original(case, vectors_dir), swap),
    )
    assert "public key" in str(failure)


def test_certificate_garbled(vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]) -> None:
    case = GITHUB_CASE

    def garble(doc: dict[str, Any]) -> None:
        leaf(doc)["rawBytes"] = base64.b64encode(b"\x30\x03junk").decode()

    with pytest.raises(BundleError):
        attempt(case, vectors_dir, roots, bundle=edit_json(original(case, vectors_dir), garble))


# --- identities that look like the trusted one ------------------------------------------------


@pytest.mark.parametrize(
    "lookalike",
    [
        lambda i, s: (i + "x", s),
        lambda i, s: (i[:-1], s),
        lambda i, s: (i.upper(), s),
        lambda i, s: (" " + i, s),
        lambda i, s: (i, s + "/"),
        lambda i, s: (i, s.replace("https://", "http://")),
        lambda i, s: (i.split("@")[0], s),
    ],
    ids=["suffix", "prefix", "case", "space", "issuer-slash", "issuer-http", "no-ref"],
)
@pytest.mark.parametrize("case", [CASES[0], CASES[1]], ids=["github", "email"])
def test_lookalike_identities_are_untrusted(
    case: SigstoreCase,
    vectors_dir: Path,
    roots: dict[str, SigstoreTrustedRoot],
    lookalike: Any,
) -> None:
    identity, issuer = lookalike(case.identity, case.issuer)
    refused(
        "signature-untrusted",
        case,
        vectors_dir,
        roots,
        policies=[IdentityPolicy(identity, issuer)],
    )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_other_instance_root(
    case: SigstoreCase, vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    with pytest.raises(VerificationFailure) as info:
        verify_sigstore_artifact(
            case.artifact_path(vectors_dir),
            original(case, vectors_dir),
            "b",
            [IdentityPolicy(case.identity, case.issuer)],
            roots[case.other_instance],
        )
    assert info.value.rule == "signature-invalid"


# --- malformed bundles never crash ---------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_every_truncation_is_refused_cleanly(
    case: SigstoreCase, vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    raw = original(case, vectors_dir)
    for cut in range(0, len(raw), max(1, len(raw) // 40)):
        with pytest.raises(ChainguardError) as info:
            attempt(case, vectors_dir, roots, bundle=raw[:cut])
        assert isinstance(info.value, BundleError), (cut, info.value)
        assert "\n" not in str(info.value)


def test_duplicate_key_cannot_smuggle_a_second_signature(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    case = GITHUB_CASE
    raw = original(case, vectors_dir).decode()
    smuggled = raw.replace(
        '"messageSignature": {',
        '"messageSignature": {"signature": "AAAA", "messageDigest": {"algorithm": "SHA2_256",'
        ' "digest": "AAAA"}}, "messageSignature": {',
        1,
    )
    assert smuggled != raw
    with pytest.raises(BundleError, match="duplicate JSON key"):
        attempt(case, vectors_dir, roots, bundle=smuggled.encode())


# --- key-signed bundles verified as blobs ---------------------------------------------------


def test_attacker_key_claiming_the_trusted_keys_hint(tmp_path: Path) -> None:
    trusted_key = ec.generate_private_key(ec.SECP256R1())
    attacker = ec.generate_private_key(ec.SECP256R1())
    trusted = public_key_from_pem(public_pem(trusted_key), "release.pub")
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"backdoored weights")

    def claim(doc: dict[str, Any]) -> None:
        doc["verificationMaterial"]["publicKey"]["hint"] = trusted.fingerprint

    bundle = edit_json(key_message_bundle(attacker, artifact.read_bytes()), claim)
    with pytest.raises(VerificationFailure) as info:
        verify_key_artifact(artifact, bundle, "forged", [trusted])
    assert info.value.rule == "signature-invalid"


def test_resigned_statement_for_an_edited_sbom(tmp_path: Path) -> None:
    """The attacker edits an SBOM and re-signs a fresh statement for it with their own key."""
    release = load_private_key(generate_keypair(tmp_path / "release")[0], None)
    attacker = load_private_key(generate_keypair(tmp_path / "attacker")[0], None)
    sbom = tmp_path / "deploy.cdx.json"
    sbom.write_bytes(b'{"bomFormat": "CycloneDX", "edited": true}')
    subject = Subject(
        "deployment:svc", (("sha256", hashlib.sha256(sbom.read_bytes()).hexdigest()),)
    )
    statement = build_statement([subject], "https://cyclonedx.org/bom", {})
    envelope = dsse.sign(statement, PAYLOAD_TYPE_IN_TOTO, attacker)
    forged = dsse.Envelope(
        envelope.payload_type,
        envelope.payload,
        tuple((release.fingerprint, sig) for _, sig in envelope.signatures),
    )
    bundle = key_bundle_json(forged, release.trusted_key)  # hint names the release key
    with pytest.raises(VerificationFailure) as info:
        verify_key_artifact(sbom, bundle, "forged", [release.trusted_key])
    assert info.value.rule == "signature-invalid"
