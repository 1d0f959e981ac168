"""The CLI with OpenSSF model signatures: the real vectors, tampering, and the real
model_signing tool in both directions."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import Outcome, assert_one_line_error, cli, ok, report, rules, run_process
from support.oms import (
    CERTIFICATE,
    ELLIPTIC,
    SIGSTORE,
    SIGSTORE_IDENTITY,
    SIGSTORE_ISSUER,
    copy_vector,
    issue,
    key_dir,
    model_signing_bin,
    vector_trust_args,
)
from support.release import write_model

ALL = [*ELLIPTIC, *CERTIFICATE, SIGSTORE]


trust_args = vector_trust_args


def verify_oms(
    model: Path, signature: Path, trust: list[str | Path], *extra: str | Path
) -> Outcome:
    return cli(
        "verify", "model", model, "--oms-signature", signature, *trust, "--format", "json", *extra
    )


def oms_rules(outcome: Outcome) -> list[tuple[str, str]]:
    assert outcome.code in (0, 1), (outcome.code, outcome.stderr)
    return rules(report(outcome))


# ------------------------------------------------------------------------ the vectors verify
# (every vector folder, clean and with a flipped byte: tests/integration/test_interop_oms.py)


@pytest.mark.parametrize("case", ALL)
def test_vector_text_report_names_the_signer(vectors_dir: Path, case: str) -> None:
    model = vectors_dir / "oms" / case
    outcome = ok(
        cli(
            "verify",
            "model",
            model,
            "--oms-signature",
            model / "model.sig",
            *trust_args(vectors_dir, case),
            "--ignore",
            "ignore-me",
        )
    )
    assert "verified" in outcome.stdout
    if case in ELLIPTIC:
        assert "key c1e49d63327f85c7 (ecdsa-p384)" in outcome.stdout
    elif case in CERTIFICATE:
        assert "certificate CN=intermediate-ca" in outcome.stdout
    else:
        assert f"sigstore {SIGSTORE_IDENTITY} via {SIGSTORE_ISSUER}" in outcome.stdout


@pytest.mark.parametrize("case", ["v1.1.0-elliptic-key", "v1.1.0-certificate"])
def test_v1_1_signatures_carry_their_own_ignore_paths(vectors_dir: Path, case: str) -> None:
    model = vectors_dir / "oms" / case
    ok(verify_oms(model, model / "model.sig", trust_args(vectors_dir, case)))


@pytest.mark.parametrize("case", ["v1.0.1-elliptic-key", "v1.0.1-certificate", SIGSTORE])
def test_v1_0_signatures_do_not_ignore_anything_unasked(vectors_dir: Path, case: str) -> None:
    model = vectors_dir / "oms" / case
    outcome = verify_oms(model, model / "model.sig", trust_args(vectors_dir, case))
    assert outcome.code == 1
    assert oms_rules(outcome) == [("artifact-unexpected", "ignore-me")]


# -------------------------------------------------------------------- tampering the model


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))


TAMPERS = {
    "flip-byte": (lambda m: _flip(m / "signme-1"), [("artifact-modified", "signme-1")]),
    "add-file": (
        lambda m: (m / "extra.pkl").write_bytes(b"cos\nsystem\n"),
        [("artifact-unexpected", "extra.pkl")],
    ),
    "remove-file": (lambda m: (m / "signme-2").unlink(), [("artifact-missing", "signme-2")]),
    "rename": (
        lambda m: (m / "signme-1").rename(m / "renamed"),
        [("artifact-renamed", "renamed")],
    ),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
@pytest.mark.parametrize("case", ALL)
def test_tampered_model_fails(vectors_dir: Path, tmp_path: Path, case: str, tamper: str) -> None:
    model = copy_vector(vectors_dir, case, tmp_path)
    edit, expected = TAMPERS[tamper]
    edit(model)
    outcome = verify_oms(
        model, model / "model.sig", trust_args(vectors_dir, case), "--ignore", "ignore-me"
    )
    assert outcome.code == 1
    assert oms_rules(outcome) == expected


# -------------------------------------------------------------------------- wrong trust


def test_wrong_key_is_untrusted(vectors_dir: Path, tmp_path: Path) -> None:
    ok(cli("keygen", tmp_path / "other"))
    for case in ELLIPTIC:
        model = vectors_dir / "oms" / case
        outcome = verify_oms(model, model / "model.sig", ["--key", tmp_path / "other.pub"])
        assert outcome.code == 1
        assert oms_rules(outcome) == [("signature-untrusted", str(model / "model.sig"))]


def test_wrong_ca_is_untrusted(vectors_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_bytes(issue("Some Other Root", ca=True).pem())
    for case in CERTIFICATE:
        model = vectors_dir / "oms" / case
        outcome = verify_oms(model, model / "model.sig", ["--certificate-chain", other])
        assert outcome.code == 1
        assert oms_rules(outcome) == [("signature-untrusted", str(model / "model.sig"))]


@pytest.mark.parametrize(
    ("identity", "issuer"),
    [
        ("mallory@us.ibm.com", SIGSTORE_ISSUER),
        (SIGSTORE_IDENTITY, "https://github.com/login/oauth"),
    ],
)
def test_wrong_identity_or_issuer_is_untrusted(
    vectors_dir: Path, identity: str, issuer: str
) -> None:
    model = vectors_dir / "oms" / SIGSTORE
    outcome = verify_oms(model, model / "model.sig", ["--identity", identity, "--issuer", issuer])
    assert outcome.code == 1
    assert oms_rules(outcome) == [("signature-untrusted", str(model / "model.sig"))]


def test_trust_of_the_wrong_kind_is_untrusted(vectors_dir: Path) -> None:
    keys = key_dir(vectors_dir)
    model = vectors_dir / "oms" / "v1.1.0-certificate"
    outcome = verify_oms(model, model / "model.sig", ["--key", keys / "signing-key-pub.pem"])
    assert oms_rules(outcome) == [("signature-untrusted", str(model / "model.sig"))]
    model = vectors_dir / "oms" / "v1.1.0-elliptic-key"
    outcome = verify_oms(model, model / "model.sig", trust_args(vectors_dir, SIGSTORE))
    assert oms_rules(outcome) == [("signature-untrusted", str(model / "model.sig"))]


# ----------------------------------------------------------------------- tampered bundles


def _edit_bundle(source: Path, target: Path, field: str) -> Path:
    doc = json.loads(source.read_bytes())
    envelope = doc["dsseEnvelope"]
    if field == "payload":
        payload = bytearray(base64.b64decode(envelope["payload"]))
        payload[payload.index(b"signme-2")] = ord("S")  # rename a signed resource
        envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    else:
        sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
        sig[-1] ^= 0x01
        envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    target.write_text(json.dumps(doc))
    return target


@pytest.mark.parametrize("field", ["payload", "sig"])
@pytest.mark.parametrize("case", ALL)
def test_tampered_bundle_is_rejected(
    vectors_dir: Path, tmp_path: Path, case: str, field: str
) -> None:
    model = vectors_dir / "oms" / case
    signature = _edit_bundle(model / "model.sig", tmp_path / "model.sig", field)
    outcome = verify_oms(model, signature, trust_args(vectors_dir, case), "--ignore", "ignore-me")
    assert outcome.code == 1
    assert oms_rules(outcome) == [("signature-invalid", str(signature))]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b[: len(b) // 2],
        lambda b: b"",
        lambda b: b"\x00\xff garbage",
        lambda b: b.replace(b'"dsseEnvelope"', b'"dsseEnvelopf"'),
        lambda b: b.replace(b"application/vnd.dev.sigstore.bundle.v0.3+json", b"text/plain"),
    ],
    ids=["truncated", "empty", "binary", "no-envelope", "media-type"],
)
def test_garbled_bundle_is_one_line_exit_3(
    vectors_dir: Path, tmp_path: Path, mangle: Callable[[bytes], bytes]
) -> None:
    case = "v1.1.0-elliptic-key"
    model = vectors_dir / "oms" / case
    signature = tmp_path / "model.sig"
    signature.write_bytes(mangle((model / "model.sig").read_bytes()))
    outcome = verify_oms(model, signature, trust_args(vectors_dir, case))
    assert_one_line_error(outcome, 3, str(signature))


def test_missing_signature_is_a_finding(vectors_dir: Path, tmp_path: Path) -> None:
    case = "v1.1.0-elliptic-key"
    missing = tmp_path / "absent.sig"
    outcome = verify_oms(vectors_dir / "oms" / case, missing, trust_args(vectors_dir, case))
    assert outcome.code == 1
    assert oms_rules(outcome) == [("signature-missing", str(missing))]


# -------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ([], "no trusted key, CA or identity"),
        (["--identity", SIGSTORE_IDENTITY], "--identity needs --issuer"),
        (["--issuer", SIGSTORE_ISSUER], "--issuer needs --identity"),
        (["--sbom", "x.cdx.json", "--key", "k.pub"], "--oms-signature replaces"),
        (["--trusted-root", "root.json", "--key", "k.pub"], "Sigstore identities only"),
        (
            ["--key", "k.pub", "--identity", SIGSTORE_IDENTITY, "--issuer", SIGSTORE_ISSUER],
            "choose one kind of trust",
        ),
    ],
)
def test_usage_errors_exit_2(vectors_dir: Path, extra: list[str], needle: str) -> None:
    model = vectors_dir / "oms" / SIGSTORE
    outcome = cli("verify", "model", model, "--oms-signature", model / "model.sig", *extra)
    assert_one_line_error(outcome, 2, needle)


def test_certificate_chain_needs_oms_signature(vectors_dir: Path) -> None:
    outcome = cli(
        "verify",
        "model",
        vectors_dir / "oms" / SIGSTORE,
        "--certificate-chain",
        key_dir(vectors_dir) / "ca-cert.pem",
    )
    assert_one_line_error(outcome, 2, "--oms-signature")


# ----------------------------------------------------------------- sign model / sign SBOM


def test_sign_sbom_still_works_beside_sign_model(tmp_path: Path) -> None:
    model = write_model(tmp_path / "weights")
    ok(cli("keygen", tmp_path / "release"))
    sbom = tmp_path / "deploy.cdx.json"
    ok(cli("sbom", "build", "--name", "svc", "--version", "1", "--model", model, "-o", sbom))
    ok(cli("sign", sbom, "--key", tmp_path / "release.key"))
    ok(cli("verify", "model", model, "--sbom", sbom, "--key", tmp_path / "release.pub"))

    out = ok(cli("sign", "model", model, "--key", tmp_path / "release.key", "--format", "oms"))
    assert "model.sig" in out.stdout
    ok(verify_oms(model, model / "model.sig", ["--key", tmp_path / "release.pub"]))


def test_an_sbom_file_named_model_is_still_an_sbom(tmp_path: Path) -> None:
    model = write_model(tmp_path / "weights")
    ok(cli("keygen", tmp_path / "release"))
    ok(
        cli(
            "sbom",
            "build",
            "--name",
            "svc",
            "--version",
            "1",
            "--model",
            model,
            "-o",
            tmp_path / "model",
        )
    )
    ok(cli("sign", "model", "--key", tmp_path / "release.key"))
    assert (tmp_path / "model.sigstore.json").is_file()  # cwd is tmp_path (conftest)
    ok(
        cli(
            "verify",
            "model",
            model,
            "--sbom",
            tmp_path / "model",
            "--key",
            tmp_path / "release.pub",
        )
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sign", "x.cdx.json", "--key", "k", "--format", "oms"], "sign model DIR"),
        (["sign", "x.cdx.json", "y", "--key", "k"], "sign model DIR"),
        (["sign", "model", "weights"], "--key"),
        (["sign", "model", "weights", "--sigstore"], "--key"),
    ],
)
def test_sign_usage_errors(args: list[str], needle: str) -> None:
    assert_one_line_error(cli(*args), 2, needle)


def test_sign_model_single_file_and_custom_output(tmp_path: Path) -> None:
    ok(cli("keygen", tmp_path / "k"))
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"\x00" * 100)
    ok(cli("sign", "model", weights, "--key", tmp_path / "k.key"))
    ok(verify_oms(weights, tmp_path / "w.bin.sig", ["--key", tmp_path / "k.pub"]))

    model = write_model(tmp_path / "m")
    (model / "notes.txt").write_text("not part of the release\n")
    out = tmp_path / "elsewhere.sig"
    ok(cli("sign", "model", model, "--key", tmp_path / "k.key", "-o", out, "--ignore", "notes.txt"))
    ok(verify_oms(model, out, ["--key", tmp_path / "k.pub"]))


def test_sign_model_refuses_ed25519_and_globs(tmp_path: Path) -> None:
    model = write_model(tmp_path / "m")
    ok(cli("keygen", tmp_path / "ed", "--algorithm", "ed25519"))
    assert_one_line_error(cli("sign", "model", model, "--key", tmp_path / "ed.key"), 2, "ECDSA")
    ok(cli("keygen", tmp_path / "ec"))
    outcome = cli("sign", "model", model, "--key", tmp_path / "ec.key", "--ignore", "*.json")
    assert_one_line_error(outcome, 2, "glob")


# ---------------------------------------------------- interoperability with model_signing


@pytest.fixture
def model_signing() -> Path:
    tool = model_signing_bin()
    if not tool.exists():
        pytest.skip("model_signing is not installed (pip install '.[test]')")
    return tool


def test_chainguard_signature_verifies_with_model_signing(
    tmp_path: Path, model_signing: Path
) -> None:
    model = write_model(tmp_path / "model")
    (model / "sub").mkdir()
    (model / "sub" / "vocab.txt").write_text("a\nb\n")
    ok(cli("keygen", tmp_path / "release"))
    ok(cli("sign", "model", model, "--key", tmp_path / "release.key", "--format", "oms"))
    signature = model / "model.sig"

    def model_signing_verify() -> Outcome:
        return run_process(
            [
                model_signing,
                "verify",
                "key",
                model,
                "--signature",
                signature,
                "--public_key",
                tmp_path / "release.pub",
            ],
            cwd=tmp_path,
        )

    result = model_signing_verify()
    assert result.code == 0, (result.stdout, result.stderr)
    assert "Verification succeeded" in result.stdout + result.stderr

    # (c) tampering afterwards is rejected by both tools
    _flip(model / "config.json")
    assert model_signing_verify().code != 0
    outcome = verify_oms(model, signature, ["--key", tmp_path / "release.pub"])
    assert oms_rules(outcome) == [("artifact-modified", "config.json")]


def test_chainguard_single_file_signature_verifies_with_model_signing(
    tmp_path: Path, model_signing: Path
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(bytes(range(256)) * 10)
    ok(cli("keygen", tmp_path / "release"))
    ok(cli("sign", "model", weights, "--key", tmp_path / "release.key"))
    result = run_process(
        [
            model_signing,
            "verify",
            "key",
            weights,
            "--signature",
            tmp_path / "weights.bin.sig",
            "--public_key",
            tmp_path / "release.pub",
        ],
        cwd=tmp_path,
    )
    assert result.code == 0, (result.stdout, result.stderr)


def test_model_signing_signature_verifies_with_chainguard(
    tmp_path: Path, model_signing: Path
) -> None:
    model = write_model(tmp_path / "model")
    (model / "a").mkdir()
    (model / "a" / "b").write_text("nested\n")
    (model / "a-c").write_text("sorts after a/b as a path\n")
    (model / "scratch").write_text("left out\n")
    ok(cli("keygen", tmp_path / "release"))
    signature = model / "model.sig"
    signed = run_process(
        [
            model_signing,
            "sign",
            "key",
            model,
            "--private_key",
            tmp_path / "release.key",
            "--signature",
            signature,
            "--ignore-paths",
            model / "scratch",
        ],
        cwd=tmp_path,
    )
    assert signed.code == 0, (signed.stdout, signed.stderr)

    # its predicate records model.sig and scratch as ignored: nothing to pass here
    ok(verify_oms(model, signature, ["--key", tmp_path / "release.pub"]))

    # (c) tampering afterwards is rejected by both tools
    (model / "a" / "b").write_text("changed\n")
    outcome = verify_oms(model, signature, ["--key", tmp_path / "release.pub"])
    assert oms_rules(outcome) == [("artifact-modified", "a/b")]
    result = run_process(
        [
            model_signing,
            "verify",
            "key",
            model,
            "--signature",
            signature,
            "--public_key",
            tmp_path / "release.pub",
        ],
        cwd=tmp_path,
    )
    assert result.code != 0


def test_model_signing_certificate_signature_verifies_with_chainguard(
    vectors_dir: Path, tmp_path: Path, model_signing: Path
) -> None:
    keys = key_dir(vectors_dir)
    model = write_model(tmp_path / "model")
    signature = tmp_path / "model.sig"
    signed = run_process(
        [
            model_signing,
            "sign",
            "certificate",
            model,
            "--private_key",
            keys / "signing-key.pem",
            "--signing_certificate",
            keys / "signing-key-cert.pem",
            "--certificate_chain",
            keys / "int-ca-cert.pem",
            "--signature",
            signature,
        ],
        cwd=tmp_path,
    )
    assert signed.code == 0, (signed.stdout, signed.stderr)
    ok(verify_oms(model, signature, ["--certificate-chain", keys / "ca-cert.pem"]))
    shutil.rmtree(model / "sub", ignore_errors=True)
    (model / "tokenizer.json").unlink()
    outcome = verify_oms(model, signature, ["--certificate-chain", keys / "ca-cert.pem"])
    assert oms_rules(outcome) == [("artifact-missing", "tokenizer.json")]
