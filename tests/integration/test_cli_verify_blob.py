"""`chainguard verify blob` and `chainguard sign --sigstore` as a user meets them.

Real Sigstore bundles from the public instances (read in place from the interop vectors),
verified offline; key bundles made by the CLI itself. Exit codes: 0 verified, 1 findings,
2 usage, 3 malformed or missing input.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support.cli import Outcome, assert_one_line_error, assert_usage_error, cli, ok, report, rules
from support.release import Release
from support.sigstore_cases import (
    CASE_IDS,
    CASES,
    DSSE_CASE,
    GITHUB_CASE,
    SigstoreCase,
    key_message_bundle,
    no_ambient_credentials,
    public_pem,
)

pytestmark = pytest.mark.usefixtures("offline")  # tests/conftest.py


def verify_blob(artifact: Path, bundle: Path, *extra: str | Path, fmt: str = "json") -> Outcome:
    return cli("verify", "blob", artifact, "--bundle", bundle, "--format", fmt, *extra)


def sigstore_args(case: SigstoreCase, *, instance: str | None = None) -> list[str]:
    args = ["--identity", case.identity, "--issuer", case.issuer]
    if (instance or case.instance) == "staging":
        args.append("--staging")
    return args


# --- the vectors verify; each wrong trust setting fails with exit 1 -----------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_vector_verifies(case: SigstoreCase, vectors_dir: Path) -> None:
    artifact = case.artifact_path(vectors_dir)
    doc = report(ok(verify_blob(artifact, case.bundle_path(vectors_dir), *sigstore_args(case))))
    assert doc["ok"] is True
    assert doc["command"] == "verify blob"
    assert doc["target"] == str(artifact)
    assert doc["signers"] == [f"sigstore {case.identity} via {case.issuer}"]
    assert doc["stats"]["files"] == 1
    assert doc["stats"]["bytes"] == artifact.stat().st_size


def test_github_claims_pinned_on_the_command_line(vectors_dir: Path) -> None:
    case = GITHUB_CASE
    artifact, bundle = case.artifact_path(vectors_dir), case.bundle_path(vectors_dir)
    pins = ["--repository", "trailofbits/rfc8785.py", "--ref", "refs/tags/v0.1.2"]
    ok(verify_blob(artifact, bundle, *sigstore_args(case), *pins, fmt="text"))

    wrong = verify_blob(artifact, bundle, *sigstore_args(case), "--repository", "evil/fork")
    assert wrong.code == 1
    assert rules(report(wrong)) == [("signature-untrusted", str(bundle))]


def test_any_of_several_identities_is_enough(vectors_dir: Path) -> None:
    case = CASES[1]
    outcome = verify_blob(
        case.artifact_path(vectors_dir),
        case.bundle_path(vectors_dir),
        "--identity",
        "nobody@example.com",
        *sigstore_args(case),
    )
    assert report(ok(outcome))["signers"] == [f"sigstore {case.identity} via {case.issuer}"]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("change", ["identity", "issuer", "instance"])
def test_wrong_trust_settings_fail_with_findings(
    case: SigstoreCase, vectors_dir: Path, change: str
) -> None:
    identity, issuer, instance = case.identity, case.issuer, case.instance
    if change == "identity":
        identity = identity + "x"
    elif change == "issuer":
        issuer = "https://accounts.google.com"
    else:
        instance = case.other_instance
    args = ["--identity", identity, "--issuer", issuer]
    args += ["--staging"] if instance == "staging" else []
    bundle = case.bundle_path(vectors_dir)
    outcome = verify_blob(case.artifact_path(vectors_dir), bundle, *args)
    assert outcome.code == 1, outcome
    expected_rule = "signature-invalid" if change == "instance" else "signature-untrusted"
    doc = report(outcome)
    assert doc["ok"] is False
    assert rules(doc) == [(expected_rule, str(bundle))]
    finding = doc["findings"][0]
    assert finding["expected"] and finding["actual"]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_one_changed_byte_in_the_artifact_fails(
    case: SigstoreCase, vectors_dir: Path, tmp_path: Path
) -> None:
    data = bytearray(case.artifact_path(vectors_dir).read_bytes())
    data[0] ^= 0x20
    artifact = tmp_path / case.artifact.replace("/", "_")
    artifact.write_bytes(bytes(data))
    outcome = verify_blob(artifact, case.bundle_path(vectors_dir), *sigstore_args(case))
    assert outcome.code == 1
    assert rules(report(outcome)) == [("subject-mismatch", str(artifact))]


def test_a_flipped_signature_byte_fails(vectors_dir: Path, tmp_path: Path) -> None:
    case = CASES[1]
    doc = json.loads(case.bundle_path(vectors_dir).read_bytes())
    sig = bytearray(doc["messageSignature"]["signature"].encode())
    sig[10] = ord("A") if sig[10] != ord("A") else ord("B")
    doc["messageSignature"]["signature"] = sig.decode()
    bundle = tmp_path / "edited.sigstore.json"
    bundle.write_text(json.dumps(doc))
    outcome = verify_blob(case.artifact_path(vectors_dir), bundle, *sigstore_args(case))
    assert outcome.code == 1
    assert rules(report(outcome)) == [("signature-invalid", str(bundle))]


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("truncated", None, "not valid JSON"),
        ("garbled", b"\x00\x01 not json at all", "not valid JSON"),
        ("empty", b"", "not valid JSON"),
        ("not-a-bundle", b'{"hello": "world"}', "mediaType"),
    ],
)
def test_malformed_bundle_exits_3(
    vectors_dir: Path, tmp_path: Path, name: str, content: bytes | None, needle: str
) -> None:
    case = DSSE_CASE
    raw = case.bundle_path(vectors_dir).read_bytes()
    bundle = tmp_path / f"{name}.sigstore.json"
    bundle.write_bytes(raw[: len(raw) // 2] if content is None else content)
    outcome = verify_blob(case.artifact_path(vectors_dir), bundle, *sigstore_args(case))
    assert_one_line_error(outcome, 3, str(bundle), needle)


def test_certificate_bundle_with_a_public_key_too_exits_3(
    vectors_dir: Path, tmp_path: Path
) -> None:
    case = GITHUB_CASE
    doc = json.loads(case.bundle_path(vectors_dir).read_bytes())
    doc["verificationMaterial"]["publicKey"] = {"hint": "ab" * 32}
    bundle = tmp_path / "both.sigstore.json"
    bundle.write_text(json.dumps(doc))
    outcome = verify_blob(case.artifact_path(vectors_dir), bundle, *sigstore_args(case))
    assert_one_line_error(outcome, 3, "exactly one of publicKey")


def test_missing_inputs_exit_3(vectors_dir: Path, tmp_path: Path) -> None:
    case = DSSE_CASE
    artifact, bundle = case.artifact_path(vectors_dir), case.bundle_path(vectors_dir)
    assert_one_line_error(
        verify_blob(tmp_path / "absent", bundle, *sigstore_args(case)), 3, "no such file"
    )
    assert_one_line_error(
        verify_blob(artifact, tmp_path / "absent.json", *sigstore_args(case)),
        3,
        "no such signature bundle",
    )
    assert_one_line_error(verify_blob(tmp_path, bundle, *sigstore_args(case)), 3, "is a directory")
    assert_one_line_error(
        verify_blob(artifact, bundle, *sigstore_args(case), "--trusted-root", tmp_path / "r"),
        3,
        "no such trusted root file",
    )


def test_private_trusted_root_file(vectors_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "trusted_root.json"
    root.write_bytes(
        (
            importlib.resources.files("sigstore._store")
            / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
            / "trusted_root.json"
        ).read_bytes()
    )
    case = DSSE_CASE
    args = ["--identity", case.identity, "--issuer", case.issuer, "--trusted-root", root]
    ok(verify_blob(case.artifact_path(vectors_dir), case.bundle_path(vectors_dir), *args))
    # the staging bundle does not chain to this (production) root
    staging = CASES[1]
    args = ["--identity", staging.identity, "--issuer", staging.issuer, "--trusted-root", root]
    outcome = verify_blob(
        staging.artifact_path(vectors_dir), staging.bundle_path(vectors_dir), *args
    )
    assert outcome.code == 1
    assert report(outcome)["findings"][0]["rule"] == "signature-invalid"


# --- usage errors: exit 2 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--key", "k.pub", "--identity", "a@b", "--issuer", "https://i"], "choose one"),
        ([], "no trusted key or identity"),
        (["--identity", "a@b"], "--identity needs --issuer"),
        (["--issuer", "https://i"], "--issuer needs --identity"),
        (["--repository", "o/r"], "--identity"),
        (["--key", "k.pub", "--staging"], "pass the staging trusted_root.json as --trusted-root"),
        (
            ["--identity", "a@b", "--issuer", "https://i", "--staging", "--trusted-root", "r"],
            "pick one",
        ),
        (["--identity", "", "--issuer", "https://i"], "non-empty identity"),
    ],
)
def test_usage_errors_exit_2(vectors_dir: Path, args: list[str], needle: str) -> None:
    case = DSSE_CASE
    outcome = verify_blob(case.artifact_path(vectors_dir), case.bundle_path(vectors_dir), *args)
    assert_one_line_error(outcome, 2, needle)


def test_bundle_option_is_required(vectors_dir: Path) -> None:
    outcome = cli("verify", "blob", DSSE_CASE.artifact_path(vectors_dir), "--key", "k.pub")
    assert_usage_error(outcome, "--bundle")


# --- key bundles made by chainguard sign -----------------------------------------------------


def test_signed_sbom_verifies_as_a_blob_with_its_key(release: Release) -> None:
    doc = report(ok(verify_blob(release.sbom, release.sig, "--key", release.pub)))
    assert doc["signers"][0].startswith("key ")

    text = ok(verify_blob(release.sbom, release.sig, "--key", release.pub, fmt="text"))
    assert "verified" in text.stdout


def test_edited_sbom_is_a_subject_mismatch(release: Release, tmp_path: Path) -> None:
    edited = tmp_path / "edited.cdx.json"
    edited.write_bytes(release.sbom.read_bytes().replace(b'"1.0"', b'"1.1"', 1))
    outcome = verify_blob(edited, release.sig, "--key", release.pub)
    assert outcome.code == 1
    assert rules(report(outcome)) == [("subject-mismatch", str(edited))]


def test_key_bundle_with_another_key_or_an_identity_is_untrusted(
    release: Release, tmp_path: Path
) -> None:
    ok(cli("keygen", tmp_path / "other"))
    outcome = verify_blob(release.sbom, release.sig, "--key", tmp_path / "other.pub")
    assert outcome.code == 1
    assert rules(report(outcome)) == [("signature-untrusted", str(release.sig))]

    outcome = verify_blob(
        release.sbom, release.sig, "--identity", "a@b.c", "--issuer", "https://issuer"
    )
    assert outcome.code == 1
    finding = report(outcome)["findings"][0]
    assert finding["rule"] == "signature-untrusted"
    assert "public key" in finding["message"]


def test_sigstore_bundle_with_a_key_is_untrusted(vectors_dir: Path, release: Release) -> None:
    outcome = verify_blob(
        DSSE_CASE.artifact_path(vectors_dir),
        DSSE_CASE.bundle_path(vectors_dir),
        "--key",
        release.pub,
    )
    assert outcome.code == 1
    assert report(outcome)["findings"][0]["rule"] == "signature-untrusted"


@pytest.mark.parametrize("curve", ["p256", "p384"])
def test_key_message_signature_bundle(tmp_path: Path, curve: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1() if curve == "p256" else ec.SECP384R1())
    pub = tmp_path / "cosign.pub"
    pub.write_bytes(public_pem(key))
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"\x00weights\x01" * 1000)
    bundle = tmp_path / "model.bin.sigstore.json"
    algorithm = "SHA2_256" if curve == "p256" else "SHA2_384"
    bundle.write_bytes(key_message_bundle(key, artifact.read_bytes(), algorithm))
    ok(verify_blob(artifact, bundle, "--key", pub))

    artifact.write_bytes(artifact.read_bytes() + b"\x00")
    outcome = verify_blob(artifact, bundle, "--key", pub)
    assert outcome.code == 1
    assert rules(report(outcome)) == [("subject-mismatch", str(artifact))]


def test_report_to_a_file_and_summary_on_stderr(vectors_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    case = DSSE_CASE
    outcome = verify_blob(
        case.artifact_path(vectors_dir),
        case.bundle_path(vectors_dir),
        *sigstore_args(case),
        "--output",
        out,
        fmt="sarif",
    )
    ok(outcome)
    assert json.loads(out.read_text())["version"] == "2.1.0"
    assert "verified" in outcome.stderr


# --- sign --sigstore: only the offline failure paths -------------------------------------


def test_sign_sigstore_without_credentials_exits_2(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_ambient_credentials(monkeypatch)
    outcome = cli("sign", release.sbom, "--sigstore", "-o", release.sbom.with_suffix(".new"))
    assert_one_line_error(outcome, 2, "no OIDC identity token", "id-token: write")
    assert not release.sbom.with_suffix(".new").exists()


def test_sign_sigstore_with_a_malformed_token_exits_2(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_ambient_credentials(monkeypatch)
    outcome = cli("sign", release.sbom, "--sigstore", "--staging", "--identity-token", "x.y.z")
    assert_one_line_error(outcome, 2, "not usable")
    monkeypatch.setenv("SIGSTORE_IDENTITY_TOKEN", "garbage")
    assert_one_line_error(cli("sign", release.sbom, "--sigstore"), 2, "not usable")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sigstore", "--key", "k.key"], "exactly one"),
        ([], "exactly one"),
        (["--key", "k.key", "--staging"], "--staging goes with --sigstore"),
    ],
)
def test_sign_usage_errors_exit_2(release: Release, args: list[str], needle: str) -> None:
    assert_one_line_error(cli("sign", release.sbom, *args), 2, needle)


def test_sign_sigstore_with_a_malformed_sbom_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_ambient_credentials(monkeypatch)
    sbom = tmp_path / "bad.cdx.json"
    sbom.write_text("{not json")
    assert_one_line_error(cli("sign", sbom, "--sigstore"), 3, str(sbom))
