"""Offline Sigstore verification (chainguard.trust.sigstore) with real public bundles."""

from __future__ import annotations

import base64
import importlib.resources
import json
from pathlib import Path

import pytest
from support.sigstore_cases import (
    CASE_IDS,
    CASES,
    DSSE_CASE,
    GITHUB_CASE,
    GITHUB_OAUTH,
    SigstoreCase,
    no_ambient_credentials,
)
from trust_helpers import assert_one_line

from chainguard.errors import BundleError, InputError, UsageError, VerificationFailure
from chainguard.models import Signer
from chainguard.trust.sigstore import (
    IdentityPolicy,
    SigstoreTrustedRoot,
    load_trusted_root,
    sign_sigstore,
    verify_sigstore_artifact,
    verify_sigstore_dsse,
)
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO

pytestmark = pytest.mark.usefixtures("offline")  # tests/conftest.py


def policy(case: SigstoreCase, **changes: str | None) -> IdentityPolicy:
    fields: dict[str, str | None] = {"identity": case.identity, "issuer": case.issuer}
    fields.update(changes)
    return IdentityPolicy(**fields)  # type: ignore[arg-type]


def shipped_root(instance: str) -> bytes:
    tuf = {"production": "tuf-repo-cdn.sigstore.dev", "staging": "tuf-repo-cdn.sigstage.dev"}
    resource = (
        importlib.resources.files("sigstore._store")
        / f"https%3A%2F%2F{tuf[instance]}"
        / "trusted_root.json"
    )
    return resource.read_bytes()


# --- every vector verifies with the identity, issuer and instance from the README ----------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_vector_artifact_verifies(
    case: SigstoreCase, vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    bundle = case.bundle_path(vectors_dir)
    signer = verify_sigstore_artifact(
        case.artifact_path(vectors_dir),
        bundle.read_bytes(),
        str(bundle),
        [policy(case)],
        roots[case.instance],
    )
    assert signer == Signer(kind="sigstore", identity=case.identity, issuer=case.issuer)


def test_dsse_vector_returns_the_exact_signed_statement(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    raw = DSSE_CASE.bundle_path(vectors_dir).read_bytes()
    envelope = json.loads(raw)["dsseEnvelope"]
    assert envelope["payloadType"] == PAYLOAD_TYPE_IN_TOTO

    verified = verify_sigstore_dsse(raw, "bundle", [policy(DSSE_CASE)], roots["production"])

    assert verified.payload == base64.b64decode(envelope["payload"])
    assert verified.predicate_type.startswith("https://slsa.dev/provenance/")
    assert [s.name for s in verified.subjects] == ["a.txt"]
    assert verified.signers == (Signer("sigstore", DSSE_CASE.identity, DSSE_CASE.issuer),)


def test_openssf_model_signing_sigstore_bundle_verifies(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    raw = (vectors_dir / "oms" / "v1.0.1-sigstore" / "model.sig").read_bytes()
    identity = IdentityPolicy("stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2")

    verified = verify_sigstore_dsse(raw, "model.sig", [identity], roots["production"])

    assert verified.predicate_type == "https://model_signing/signature/v1.0"
    assert verified.signers[0].identity == "stefanb@us.ibm.com"


def test_policies_are_ored_and_the_matching_one_is_reported(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    case = CASES[1]
    policies = [
        IdentityPolicy("someone@example.com", case.issuer),
        policy(case),
        IdentityPolicy(case.identity, "https://accounts.google.com"),
    ]
    signer = verify_sigstore_artifact(
        case.artifact_path(vectors_dir),
        case.bundle_path(vectors_dir).read_bytes(),
        "b",
        policies,
        roots["staging"],
    )
    assert (signer.identity, signer.issuer) == (case.identity, case.issuer)


def test_github_repository_and_ref_claims_are_checked(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    case = GITHUB_CASE
    artifact, raw = case.artifact_path(vectors_dir), case.bundle_path(vectors_dir).read_bytes()
    pinned = policy(case, repository="trailofbits/rfc8785.py", ref="refs/tags/v0.1.2")
    assert verify_sigstore_artifact(artifact, raw, "b", [pinned], roots["production"])

    for wrong in (
        policy(case, repository="trailofbits/other"),
        policy(case, ref="refs/heads/main"),
        policy(case, ref="v0.1.2"),  # the full ref is required, never a suffix
    ):
        with pytest.raises(VerificationFailure) as info:
            verify_sigstore_artifact(artifact, raw, "b", [wrong], roots["production"])
        assert info.value.rule == "signature-untrusted"
        assert "refs/tags/v0.1.2" in (info.value.actual or "") or "repository" in str(info.value)


# --- rejections --------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_other_identity_is_untrusted_with_expected_and_actual(
    case: SigstoreCase, vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    wrong = policy(case, identity="attacker@example.com")
    with pytest.raises(VerificationFailure) as info:
        verify_sigstore_artifact(
            case.artifact_path(vectors_dir),
            case.bundle_path(vectors_dir).read_bytes(),
            "b",
            [wrong],
            roots[case.instance],
        )
    failure = info.value
    assert failure.rule == "signature-untrusted"
    assert failure.expected == f"attacker@example.com via {case.issuer}"
    assert failure.actual == f"{case.identity} via {case.issuer}"
    assert_one_line(failure)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_other_issuer_is_untrusted(
    case: SigstoreCase, vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    other = GITHUB_OAUTH if case.issuer != GITHUB_OAUTH else "https://accounts.google.com"
    with pytest.raises(VerificationFailure) as info:
        verify_sigstore_artifact(
            case.artifact_path(vectors_dir),
            case.bundle_path(vectors_dir).read_bytes(),
            "b",
            [policy(case, issuer=other)],
            roots[case.instance],
        )
    assert info.value.rule == "signature-untrusted"
    assert case.issuer in (info.value.actual or "")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_other_instance_trusted_root_is_invalid(
    case: SigstoreCase, vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    with pytest.raises(VerificationFailure) as info:
        verify_sigstore_artifact(
            case.artifact_path(vectors_dir),
            case.bundle_path(vectors_dir).read_bytes(),
            "b",
            [policy(case)],
            roots[case.other_instance],
        )
    assert info.value.rule == "signature-invalid"
    assert case.other_instance in str(info.value)
    assert_one_line(info.value)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_one_changed_artifact_byte_is_a_subject_mismatch(
    case: SigstoreCase, vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot], tmp_path: Path
) -> None:
    data = bytearray(case.artifact_path(vectors_dir).read_bytes())
    data[len(data) // 2] ^= 0x01
    changed = tmp_path / "artifact"
    changed.write_bytes(bytes(data))
    with pytest.raises(VerificationFailure) as info:
        verify_sigstore_artifact(
            changed,
            case.bundle_path(vectors_dir).read_bytes(),
            "b",
            [policy(case)],
            roots[case.instance],
        )
    assert info.value.rule == "subject-mismatch"
    assert (info.value.actual or "").startswith("sha256:")


def test_message_bundle_is_not_a_dsse_statement(
    vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]
) -> None:
    case = GITHUB_CASE
    with pytest.raises(BundleError, match="message signature, not a DSSE envelope"):
        verify_sigstore_dsse(
            case.bundle_path(vectors_dir).read_bytes(), "b", [policy(case)], roots["production"]
        )


def test_no_policy_trusts_nobody(vectors_dir: Path, roots: dict[str, SigstoreTrustedRoot]) -> None:
    with pytest.raises(UsageError):
        verify_sigstore_dsse(
            DSSE_CASE.bundle_path(vectors_dir).read_bytes(), "b", [], roots["production"]
        )


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"identity": "", "issuer": "https://x"}, "identity"),
        ({"identity": "a@b", "issuer": ""}, "issuer"),
        ({"identity": "a@b", "issuer": "https://x", "repository": ""}, "repository"),
        ({"identity": "a@b", "issuer": "https://x", "ref": ""}, "ref"),
    ],
)
def test_identity_policy_rejects_empty_fields(fields: dict[str, str], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        IdentityPolicy(**fields)


# --- trusted roots -----------------------------------------------------------------------


def test_trusted_root_from_a_file_equals_the_shipped_one(vectors_dir: Path, tmp_path: Path) -> None:
    root_file = tmp_path / "trusted_root.json"
    root_file.write_bytes(shipped_root("staging"))
    root = load_trusted_root(None, root_file)
    assert root.name == str(root_file)
    case = CASES[1]
    signer = verify_sigstore_artifact(
        case.artifact_path(vectors_dir),
        case.bundle_path(vectors_dir).read_bytes(),
        "b",
        [policy(case)],
        root,
    )
    assert signer.identity == case.identity


def test_trusted_root_from_a_client_trust_config(vectors_dir: Path, tmp_path: Path) -> None:
    config = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": json.loads(shipped_root("production")),
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [],
            "oidcUrls": [],
            "rekorTlogUrls": [],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }
    path = tmp_path / "trust_config.json"
    path.write_text(json.dumps(config))
    root = load_trusted_root(None, path)
    raw = DSSE_CASE.bundle_path(vectors_dir).read_bytes()
    assert verify_sigstore_dsse(raw, "b", [policy(DSSE_CASE)], root).subjects


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "not a Sigstore trusted root"),
        (b'{"mediaType": "application/json"}', "not a Sigstore trusted root"),
        (
            b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",'
            b' "tlogs": 7}',
            "malformed Sigstore trusted root",
        ),
        (
            b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}',
            "malformed Sigstore trusted root",
        ),
        (
            b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",'
            b' "tlogs": [], "certificateAuthorities": [], "ctlogs": [],'
            b' "timestampAuthorities": []}',
            "unusable Sigstore trusted root",
        ),
    ],
)
def test_malformed_trusted_root_is_one_line_input_error(
    tmp_path: Path, content: bytes, match: str
) -> None:
    path = tmp_path / "root.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        load_trusted_root(None, path)
    assert str(path) in str(info.value)
    assert_one_line(info.value)


def test_missing_trusted_root_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such trusted root file"):
        load_trusted_root(None, tmp_path / "absent.json")


def test_trusted_root_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        load_trusted_root(None, None)
    with pytest.raises(UsageError):
        load_trusted_root("production", tmp_path / "root.json")
    with pytest.raises(UsageError, match="unknown Sigstore instance"):
        load_trusted_root("nightly", None)  # type: ignore[arg-type]


# --- signing: only the offline failure paths (signing itself needs Fulcio and Rekor) -------


def test_sign_without_any_credential_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    no_ambient_credentials(monkeypatch)
    with pytest.raises(UsageError, match="no OIDC identity token") as info:
        sign_sigstore(b"{}", staging=False, identity_token=None)
    assert_one_line(info.value)


def test_sign_with_a_malformed_token_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    no_ambient_credentials(monkeypatch)
    with pytest.raises(UsageError, match="not usable") as info:
        sign_sigstore(b"{}", staging=True, identity_token="not.a.jwt")
    assert_one_line(info.value)


def test_sign_in_github_actions_without_id_token_permission(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_ambient_credentials(monkeypatch)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with pytest.raises(UsageError, match="id-token: write") as info:
        sign_sigstore(b"{}", staging=False, identity_token=None)
    assert_one_line(info.value)
