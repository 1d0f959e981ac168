"""The CLI as a user meets it: every command, every documented exit code, every malformed input.

Most runs go through typer's CliRunner on ``chainguard.cli.app``; a few go through real
processes (``python -m chainguard`` and the console script) to check what a shell sees.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import pytest
from support.cli import (
    Outcome,
    assert_one_line_error,
    assert_usage_error,
    chainguard_script,
    cli,
    ok,
    report,
    rules,
    run_process,
)
from support.release import Release, make_release, write_model

from chainguard import __version__
from chainguard.trust.keys import load_public_key


def build(sbom: Path, model: Path, *extra: str | Path) -> Outcome:
    """``chainguard sbom build`` for deployment svc@1.0."""
    return cli("sbom", "build", "--name", "svc", "--version", "1.0", "--model", model, "-o", sbom,
               *extra)  # fmt: skip


def verify(directory: Path, *extra: str | Path) -> Outcome:
    """``chainguard verify model DIRECTORY ...``."""
    return cli("verify", "model", directory, *extra)


# --------------------------------------------------------------------------------- keygen


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519"])
def test_keygen_writes_a_private_key_0600_and_a_public_key(tmp_path: Path, algorithm: str) -> None:
    out = ok(cli("keygen", tmp_path / "k", "--algorithm", algorithm))
    key, pub = tmp_path / "k.key", tmp_path / "k.pub"
    assert str(key) in out.stdout and str(pub) in out.stdout
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    assert load_public_key(pub).algorithm == algorithm


def test_keygen_default_algorithm_is_ecdsa_p256(tmp_path: Path) -> None:
    ok(cli("keygen", tmp_path / "k"))
    assert load_public_key(tmp_path / "k.pub").algorithm == "ecdsa-p256"


@pytest.mark.parametrize("existing", ["k.key", "k.pub"])
def test_keygen_refuses_to_overwrite_either_file(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("precious\n")
    out = cli("keygen", tmp_path / "k")
    # An existing output is "cannot proceed", not a bad option: exit 3, like other I/O refusals.
    assert_one_line_error(out, 3, existing, "refusing to overwrite")
    assert (tmp_path / existing).read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]  # no half key pair


def test_keygen_unknown_algorithm_is_a_usage_error(tmp_path: Path) -> None:
    assert_usage_error(cli("keygen", tmp_path / "k", "--algorithm", "rsa"), "--algorithm")
    assert not list(tmp_path.iterdir())


def test_password_encrypts_the_key_and_signing_then_needs_it(tmp_path: Path) -> None:
    secret = {"CHAINGUARD_KEY_PASSWORD": "correct horse"}
    ok(cli("keygen", tmp_path / "k", env=secret))
    key = tmp_path / "k.key"
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    model = write_model(tmp_path / "weights")
    sbom = tmp_path / "s.cdx.json"
    ok(build(sbom, model))

    assert_one_line_error(cli("sign", sbom, "--key", key), 3, str(key), "CHAINGUARD_KEY_PASSWORD")
    wrong = cli("sign", sbom, "--key", key, env={"CHAINGUARD_KEY_PASSWORD": "wrong"})
    assert_one_line_error(wrong, 3, str(key))
    assert not Path(f"{sbom}.sig").exists()

    ok(cli("sign", sbom, "--key", key, env=secret))
    ok(cli("verify", "model", model, "--sbom", sbom, "--key", tmp_path / "k.pub"))


# ----------------------------------------------------------------------------- sbom build


def _file_nodes(sbom: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(sbom.read_text())
    [model] = doc["components"]
    return {f["name"]: f for f in model["components"]}


def _props(node: dict[str, object]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in node.get("properties", [])}  # type: ignore[attr-defined]


def test_sbom_build_writes_a_schema_valid_cyclonedx_16_sbom(release: Release) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = release.sbom.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    assert (doc["bomFormat"], doc["specVersion"]) == ("CycloneDX", "1.6")
    assert doc["metadata"]["component"]["name"] == "svc"
    assert doc["metadata"]["component"]["version"] == "1.0"
    [model] = doc["components"]
    assert (model["type"], model["name"], model["bom-ref"]) == (
        "machine-learning-model",
        "weights",
        "model:weights",
    )
    files = _file_nodes(release.sbom)
    assert sorted(files) == ["config.json", "model.safetensors", "tokenizer.json"]
    for name, node in files.items():
        assert _props(node)["chainguard:size"] == str((release.model / name).stat().st_size)
        assert [h["alg"] for h in node["hashes"]] == ["SHA-256"]  # type: ignore[attr-defined]


def test_sbom_build_records_safetensors_header_facts(release: Release) -> None:
    props = _props(_file_nodes(release.sbom)["model.safetensors"])
    assert props["chainguard:safetensors:tensor-count"] == "2"
    assert props["chainguard:safetensors:dtypes"] == "F16,F32"
    assert props["chainguard:safetensors:parameters"] == str(32 * 16 + 16)
    assert props["chainguard:safetensors:metadata:format"] == "np"
    assert props["chainguard:safetensors:metadata:seed"] == "0"
    assert not any(
        k.startswith("chainguard:safetensors")
        for k in _props(_file_nodes(release.sbom)["config.json"])
    )


def test_sbom_build_hash_blake3_adds_blake3_digests(tmp_path: Path) -> None:
    blake3 = pytest.importorskip("blake3")
    model = write_model(tmp_path / "weights")
    sbom = tmp_path / "b3.cdx.json"
    out = build(sbom, model, "--hash", "blake3")
    ok(out)
    for name, node in _file_nodes(sbom).items():
        hashes = {h["alg"]: h["content"] for h in node["hashes"]}  # type: ignore[attr-defined]
        assert hashes["BLAKE3"] == blake3.blake3((model / name).read_bytes()).hexdigest()
        assert "SHA-256" in hashes


def test_sbom_build_ignore_leaves_files_out_and_verify_honours_it(tmp_path: Path) -> None:
    model = write_model(tmp_path / "weights")
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref: main\n")
    (model / "run.lock").write_text("pid 1\n")
    sbom = tmp_path / "s.cdx.json"
    ok(build(sbom, model, "--ignore", ".git", "--ignore", "*.lock"))
    assert sorted(_file_nodes(sbom)) == ["config.json", "model.safetensors", "tokenizer.json"]
    ok(cli("keygen", tmp_path / "k"))
    ok(cli("sign", sbom, "--key", tmp_path / "k.key"))
    (model / "run.lock").write_text("pid 2\n")  # ignored files may change freely
    verify = ["verify", "model", model, "--sbom", sbom, "--key", tmp_path / "k.pub"]
    verify += ["--deployment", "svc"]
    ok(cli(*verify, "--ignore", ".git", "--ignore", "*.lock"))
    # Without the ignore globs the extra files are findings.
    got = report(cli(*verify, "--format", "json"))
    assert rules(got) == [
        ("artifact-unexpected", ".git/HEAD"),
        ("artifact-unexpected", "run.lock"),
    ]


def test_sbom_build_with_two_models_and_verify_each_by_directory_name(tmp_path: Path) -> None:
    a = write_model(tmp_path / "encoder", seed=1)
    b = write_model(tmp_path / "decoder", seed=2)
    sbom = tmp_path / "two.cdx.json"
    out = ok(build(sbom, a, "--model", b))
    assert "model:encoder" in out.stdout and "model:decoder" in out.stdout
    doc = json.loads(sbom.read_text())
    assert sorted(c["bom-ref"] for c in doc["components"]) == ["model:decoder", "model:encoder"]
    ok(cli("keygen", tmp_path / "k"))
    ok(cli("sign", sbom, "--key", tmp_path / "k.key"))
    for directory, ref in ((a, "model:encoder"), (b, "model:decoder")):
        doc = report(
            verify(directory, "--sbom", sbom, "--key", tmp_path / "k.pub", "--format", "json")
        )
        assert doc["ok"] is True and doc["components"] == [ref]


def test_sbom_build_missing_directory_is_exit_3(tmp_path: Path) -> None:
    out = build(tmp_path / "s.json", tmp_path / "nope")
    assert_one_line_error(out, 3, "nope")
    assert not (tmp_path / "s.json").exists()


def test_sbom_build_without_a_model_is_a_usage_error(tmp_path: Path) -> None:
    out = cli("sbom", "build", "--name", "n", "--version", "1", "-o", tmp_path / "s.json")
    assert_one_line_error(out, 2, "--model")


def test_sbom_build_refuses_a_tree_with_an_escaping_symlink(tmp_path: Path) -> None:
    model = write_model(tmp_path / "weights")
    (model / "leak").symlink_to("/etc/hostname")
    out = build(tmp_path / "s.json", model)
    assert_one_line_error(out, 3, "leak", "symlink-escape")
    assert not (tmp_path / "s.json").exists()


# ----------------------------------------------------------------------------------- sign


def test_sign_writes_a_sigstore_bundle_next_to_the_sbom_by_default(tmp_path: Path) -> None:
    model = write_model(tmp_path / "weights")
    sbom = tmp_path / "s.cdx.json"
    ok(cli("keygen", tmp_path / "k"))
    ok(build(sbom, model))
    out = ok(cli("sign", sbom, "--key", tmp_path / "k.key"))
    sig = tmp_path / "s.cdx.json.sigstore.json"
    assert str(sig) in out.stdout
    bundle = json.loads(sig.read_text())
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"
    assert (
        bundle["verificationMaterial"]["publicKey"]["hint"]
        == load_public_key(tmp_path / "k.pub").fingerprint
    )


def test_sign_output_option_and_verify_with_that_signature(release: Release) -> None:
    other = release.sbom.parent / "elsewhere" / "custom.bundle"
    other.parent.mkdir()
    ok(cli("sign", release.sbom, "--key", release.key, "-o", other))
    assert json.loads(other.read_text())["mediaType"].startswith("application/vnd.dev.sigstore")
    release.sig.unlink()
    ok(release.verify("--signature", other))


def test_sign_missing_sbom_is_exit_3(tmp_path: Path) -> None:
    ok(cli("keygen", tmp_path / "k"))
    out = cli("sign", tmp_path / "absent.json", "--key", tmp_path / "k.key")
    assert_one_line_error(out, 3, "absent.json")


# ------------------------------------------------------------------------ verify: success


def test_verify_clean_text_report(release: Release) -> None:
    out = ok(release.verify())
    first = out.stdout.splitlines()[0]
    assert first.startswith("✔ verified") and "weights" in first
    assert "svc@1.0" in out.stdout and "model:weights" in out.stdout
    assert "3 files" in out.stdout
    assert out.stderr == ""


def test_verify_clean_json_report_follows_the_published_schema(release: Release) -> None:
    doc = report(release.verify("--format", "json"))
    assert doc["schema"] == "chainguard.report/v2"
    assert doc["ok"] is True and doc["findings"] == []
    assert doc["command"] == "verify model"
    assert doc["deployment"] == "svc@1.0"
    assert doc["components"] == ["model:weights"]
    assert doc["sbom"] == str(release.sbom) and doc["signature"] == str(release.sig)
    size = sum(p.stat().st_size for p in release.model.iterdir())
    assert doc["stats"]["files"] == 3 and doc["stats"]["bytes"] == size
    assert doc["stats"]["seconds"] >= 0
    assert len(doc["signers"]) == 1


def test_verify_clean_sarif_report(release: Release) -> None:
    doc = json.loads(ok(release.verify("--format", "sarif")).stdout)
    assert doc["version"] == "2.1.0"
    assert doc["runs"][0]["results"] == []
    assert doc["runs"][0]["tool"]["driver"]["name"] == "chainguard"


def test_verify_clean_markdown_report(release: Release) -> None:
    out = ok(release.verify("--format", "markdown"))
    assert out.stdout.startswith("## ✅")


def test_verify_output_writes_the_report_and_a_summary_on_stderr(release: Release) -> None:
    target = release.sbom.parent / "report.json"
    out = ok(release.verify("--format", "json", "--output", target))
    assert out.stdout == ""
    assert json.loads(target.read_text())["schema"] == "chainguard.report/v2"
    assert "✔ verified" in out.stderr


def test_verify_output_to_an_unwritable_place_is_exit_3(release: Release) -> None:
    out = release.verify("--output", release.sbom.parent / "no" / "such" / "dir" / "r.txt")
    assert_one_line_error(out, 3, "r.txt")


def test_verify_appends_a_markdown_summary_for_github_actions(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = release.sbom.parent / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    ok(release.verify("--format", "json"))
    (release.model / "config.json").write_text("{}\n")
    assert release.verify().code == 1
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "## ✅" in text and "## ❌" in text and "artifact-modified" in text


# ---------------------------------------------------------------------- verify: selection


@pytest.fixture
def two_model_release(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(sbom, public key, tmp dir) for an SBOM holding models 'encoder' and 'decoder'."""
    a = write_model(tmp_path / "encoder", seed=1)
    b = write_model(tmp_path / "decoder", seed=2)
    sbom = tmp_path / "two.cdx.json"
    ok(cli("keygen", tmp_path / "k"))
    ok(build(sbom, a, "--model", b))
    ok(cli("sign", sbom, "--key", tmp_path / "k.key"))
    return sbom, tmp_path / "k.pub", tmp_path


def test_verify_component_option_selects_by_name(
    two_model_release: tuple[Path, Path, Path],
) -> None:
    sbom, pub, tmp = two_model_release
    deployed = tmp / "deploy" / "current"
    shutil.copytree(tmp / "decoder", deployed)
    trust = ("--sbom", sbom, "--key", pub, "--format", "json")
    doc = report(verify(deployed, *trust, "--component", "decoder"))
    assert doc["ok"] is True and doc["components"] == ["model:decoder"]
    # The wrong component is a real mismatch, not a silent pass.
    wrong = verify(deployed, *trust, "--component", "encoder")
    assert wrong.code == 1 and report(wrong)["components"] == ["model:encoder"]


def test_verify_ambiguous_component_is_exit_2_and_lists_the_names(
    two_model_release: tuple[Path, Path, Path],
) -> None:
    sbom, pub, tmp = two_model_release
    deployed = tmp / "current"
    shutil.copytree(tmp / "decoder", deployed)
    out = cli("verify", "model", deployed, "--sbom", sbom, "--key", pub)
    assert_one_line_error(out, 2, "encoder", "decoder", "--component")


def test_verify_unknown_component_is_exit_2(two_model_release: tuple[Path, Path, Path]) -> None:
    sbom, pub, tmp = two_model_release
    out = cli(
        "verify", "model", tmp / "encoder", "--sbom", sbom, "--key", pub, "--component", "nope"
    )
    assert_one_line_error(out, 2, "nope", "encoder", "decoder")


def test_sbom_and_signature_kept_inside_the_model_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build leaves out the SBOM and SBOM.sig it writes into the tree; verify must too."""
    model = write_model(tmp_path / "weights")
    sbom = model / "deploy.cdx.json"
    ok(cli("keygen", tmp_path / "k"))
    ok(build(sbom, model))
    ok(cli("sign", sbom, "--key", tmp_path / "k.key"))
    pinned = ("--key", tmp_path / "k.pub", "--deployment", "svc")
    ok(verify(model, "--sbom", sbom, *pinned))
    monkeypatch.chdir(model)
    ok(verify(Path("."), "--sbom", "deploy.cdx.json", *pinned))
    # Anything else dropped there is still caught.
    (model / "deploy.cdx.json.bak").write_text("{}")
    out = verify(model, "--sbom", sbom, *pinned, "--format", "json")
    assert rules(report(out)) == [("artifact-unexpected", "deploy.cdx.json.bak")]


def test_verify_single_model_is_selected_whatever_the_directory_is_called(
    release: Release,
) -> None:
    renamed = release.model.parent / "srv-model-v1"
    release.model.rename(renamed)
    doc = report(ok(release.verify("--format", "json", directory=renamed)))
    # Verified, but the choice is said: a NOTE, since nothing named the component.
    assert doc["ok"] is True and doc["components"] == ["model:weights"]
    assert [(f["rule"], f["severity"], f["path"]) for f in doc["findings"]] == [
        ("component-inferred", "note", str(renamed))
    ]
    # Naming it (--component) is the quiet, explicit way.
    named = report(
        ok(release.verify("--format", "json", "--component", "weights", directory=renamed))
    )
    assert named["ok"] is True and named["findings"] == []


# ------------------------------------------------------------------ verify: configuration


def test_chainguard_toml_in_the_working_directory_makes_the_short_command_work(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = release.sbom.parent
    (root / "chainguard.toml").write_text(
        f'sbom = "{release.sbom.name}"\n'
        f'signature = "{release.sig.name}"\n'
        'ignore = ["*.tmp"]\n'
        f'[trust]\nkeys = ["{release.pub.name}"]\n'
    )
    (release.model / "scratch.tmp").write_text("ignored via the config\n")
    monkeypatch.chdir(root)
    out = ok(cli("verify", "model", "./weights"))
    assert out.stdout.startswith("✔ verified")
    # Command-line options override the file: another key is not trusted.
    ok(cli("keygen", root / "other"))
    bad = cli("verify", "model", "./weights", "--key", root / "other.pub", "--format", "json")
    assert bad.code == 1 and rules(report(bad)) == [("signature-untrusted", str(release.sig))]


def test_config_paths_are_relative_to_the_config_file(
    release: Release, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "etc" / "cg.toml"
    conf.parent.mkdir()
    conf.write_text(f'sbom = "../{release.sbom.name}"\n[trust]\nkeys = ["../{release.pub.name}"]\n')
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ok(cli("verify", "model", release.model, "--config", conf))


def test_missing_config_file_given_explicitly_is_exit_3(release: Release) -> None:
    out = cli("verify", "model", release.model, "--config", release.model.parent / "nope.toml")
    assert_one_line_error(out, 3, "nope.toml")


def test_verify_with_only_the_signature_reads_the_sbom_from_the_statement(
    release: Release,
) -> None:
    release.sbom.unlink()  # not needed: the signed statement carries the SBOM
    doc = report(
        verify(release.model, "--signature", release.sig, "--key", release.pub, "--format", "json")
    )
    assert doc["ok"] is True and doc["sbom"] is None and doc["deployment"] == "svc@1.0"


def test_verify_without_any_trusted_key_is_exit_2(release: Release) -> None:
    out = cli("verify", "model", release.model, "--sbom", release.sbom)
    assert_one_line_error(out, 2, "--key")


def test_verify_without_sbom_or_signature_is_exit_2(release: Release) -> None:
    out = cli("verify", "model", release.model, "--key", release.pub)
    assert_one_line_error(out, 2, "--sbom")


def test_verify_missing_directory_is_exit_3(release: Release) -> None:
    out = release.verify(directory=release.model.parent / "gone")
    assert_one_line_error(out, 3, "gone")


def test_verify_missing_sbom_file_is_exit_3(release: Release) -> None:
    release.sbom.rename(release.sbom.with_suffix(".moved"))
    assert_one_line_error(release.verify("--signature", release.sig), 3, str(release.sbom))


def test_verify_missing_signature_is_a_finding(release: Release) -> None:
    release.sig.unlink()
    out = release.verify("--format", "json")
    assert out.code == 1
    missing = f"{release.sbom}.sigstore.json"  # neither name exists: the default is reported
    assert rules(report(out)) == [("signature-missing", missing)]


# ------------------------------------------------------------------------ malformed inputs


def _malformed_sbom(good: bytes, case: str) -> bytes:
    """The good SBOM broken in one way."""
    doc = json.loads(good)
    model = doc["components"][0]
    match case:
        case "not-json":
            return b"this is not an SBOM\n"
        case "truncated":
            return good[: len(good) // 2]
        case "empty":
            return b""
        case "json-array":
            return b"[]"
        case "not-utf8":
            return b"\xff\xfe{}"
        case "wrong-bomFormat":
            doc["bomFormat"] = "SPDX"
        case "no-metadata":
            del doc["metadata"]
        case "no-deployment-version":
            del doc["metadata"]["component"]["version"]
        case "file-without-size":
            node = model["components"][0]
            node["properties"] = [p for p in node["properties"] if p["name"] != "chainguard:size"]
        case "component-without-root-digest":
            del model["hashes"]
        case "file-hash-not-hex":
            model["components"][0]["hashes"][0]["content"] = "zz" * 32
        case _:
            raise AssertionError(case)
    return json.dumps(doc).encode()


SBOM_CASES = [
    "not-json",
    "truncated",
    "empty",
    "json-array",
    "not-utf8",
    "wrong-bomFormat",
    "no-metadata",
    "no-deployment-version",
    "file-without-size",
    "component-without-root-digest",
    "file-hash-not-hex",
]


@pytest.mark.parametrize("case", SBOM_CASES)
def test_malformed_sbom_given_to_sign_is_exit_3(release: Release, case: str) -> None:
    bad = release.sbom.parent / f"{case}.cdx.json"
    bad.write_bytes(_malformed_sbom(release.sbom.read_bytes(), case))
    assert_one_line_error(cli("sign", bad, "--key", release.key), 3, bad.name)
    assert not Path(f"{bad}.sig").exists()


@pytest.mark.parametrize("case", SBOM_CASES)
def test_malformed_signed_sbom_is_exit_3(release: Release, case: str) -> None:
    """A validly signed statement whose SBOM is malformed cannot be verified at all."""
    from chainguard.models import Subject
    from chainguard.trust import dsse
    from chainguard.trust.bundle import key_bundle_json
    from chainguard.trust.keys import load_private_key
    from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, build_statement

    raw = _malformed_sbom(release.sbom.read_bytes(), case)
    try:
        predicate = json.loads(raw)
    except ValueError:
        predicate = {"raw": raw.decode("utf-8", "replace")}  # the statement needs an object
    if not isinstance(predicate, dict):
        predicate = {"value": predicate}
    key = load_private_key(release.key, None)
    subject = Subject("deployment:svc", (("sha256", "00" * 32),))
    payload = build_statement([subject], "https://cyclonedx.org/bom", predicate)
    sig = release.sbom.parent / f"{case}.sig"
    sig.write_bytes(key_bundle_json(dsse.sign(payload, PAYLOAD_TYPE_IN_TOTO, key), key.trusted_key))
    out = cli("verify", "model", release.model, "--signature", sig, "--key", release.pub)
    assert_one_line_error(out, 3, sig.name)


def test_unsigned_garbage_sbom_next_to_a_valid_signature_is_bad_input(release: Release) -> None:
    """The expected state is read from the signature; an SBOM file that is not the signed one is
    parsed only to tell bad input (exit 3, one line) from a genuine mismatch (exit 1)."""
    release.sbom.write_bytes(b"garbage\n")
    out = release.verify("--format", "json")
    assert out.code == 3
    assert str(release.sbom) in out.stderr and out.stderr.count("\n") == 1


def _malformed_bundle(good: bytes, case: str) -> bytes:
    doc = json.loads(good)
    envelope = doc["dsseEnvelope"]
    match case:
        case "garbage":
            return b"\x00\x01 not a bundle"
        case "truncated":
            return good[: len(good) // 2]
        case "empty":
            return b""
        case "json-list":
            return b"[1, 2]"
        case "wrong-mediaType":
            doc["mediaType"] = "application/json"
        case "no-mediaType":
            del doc["mediaType"]
        case "no-envelope":
            del doc["dsseEnvelope"]
        case "payload-not-base64":
            envelope["payload"] = "%%% not base64 %%%"
        case "no-signatures":
            envelope["signatures"] = []
        case _:
            raise AssertionError(case)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "case",
    [
        "garbage",
        "truncated",
        "empty",
        "json-list",
        "wrong-mediaType",
        "no-mediaType",
        "no-envelope",
        "payload-not-base64",
        "no-signatures",
    ],
)
def test_malformed_bundle_is_exit_3(release: Release, case: str) -> None:
    release.sig.write_bytes(_malformed_bundle(release.sig.read_bytes(), case))
    assert_one_line_error(release.verify(), 3, release.sig.name)


@pytest.mark.parametrize(
    ("case", "content"),
    [
        ("garbage", b"not a key\n"),
        ("empty", b""),
        ("broken-pem", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        ("certificate", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    ],
)
def test_malformed_trusted_key_is_exit_3(release: Release, case: str, content: bytes) -> None:
    bad = release.pub.parent / f"{case}.pub"
    bad.write_bytes(content)
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--key", bad)
    assert_one_line_error(out, 3, bad.name)


def test_private_key_passed_as_trusted_key_is_exit_3(release: Release) -> None:
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--key", release.key)
    assert_one_line_error(out, 3, release.key.name, ".pub")


def test_missing_trusted_key_file_is_exit_3(release: Release) -> None:
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--key", "nope.pub")
    assert_one_line_error(out, 3, "nope.pub")


@pytest.mark.parametrize(
    ("case", "content"),
    [
        ("garbage", b"not a key\n"),
        ("broken-pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
    ],
)
def test_malformed_signing_key_is_exit_3(release: Release, case: str, content: bytes) -> None:
    bad = release.key.parent / f"{case}.key"
    bad.write_bytes(content)
    assert_one_line_error(cli("sign", release.sbom, "--key", bad), 3, bad.name)


def test_public_key_given_to_sign_is_exit_3(release: Release) -> None:
    out = cli("sign", release.sbom, "--key", release.pub)
    assert_one_line_error(out, 3, release.pub.name, "private")


@pytest.mark.parametrize(
    ("case", "text", "needle"),
    [
        ("bad-toml", 'sbom = "unterminated\n', "TOML"),
        ("unknown-key", 'signture = "x.sig"\n', "signture"),
        ("unknown-trust-key", '[trust]\nkey = ["a.pub"]\n', "key"),
        ("sbom-not-a-string", "sbom = 3\n", "sbom"),
        ("ignore-not-a-list", 'ignore = "*.tmp"\n', "ignore"),
        ("trust-not-a-table", "trust = 1\n", "trust"),
        ("keys-not-paths", "[trust]\nkeys = [1, 2]\n", "keys"),
        ("both-signature-forms", 'signature = "a"\nsignatures = ["b"]\n', "signature"),
    ],
)
def test_malformed_config_is_exit_3(
    release: Release, monkeypatch: pytest.MonkeyPatch, case: str, text: str, needle: str
) -> None:
    root = release.sbom.parent
    (root / "chainguard.toml").write_text(text)
    monkeypatch.chdir(root)
    # Both ways of finding the file: the working directory, and --config.
    assert_one_line_error(cli("verify", "model", "weights"), 3, "chainguard.toml", needle)
    other = root / f"{case}.toml"
    other.write_text(text)
    out = cli("verify", "model", "weights", "--config", other)
    assert_one_line_error(out, 3, other.name, needle)


# ---------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["verify", "model", "weights", "--bogus"], "--bogus"),
        (["verify", "model", "weights", "--format", "xml"], "--format"),
        (["verify", "model"], "Missing argument"),
        (["sbom", "build", "--name", "n", "--model", "weights", "-o", "s.json"], "--version"),
        (["sign", "s.json"], "--key"),
        (["keygen"], "prefix"),
        (["verify", "image", "x"], "image"),
        (["frobnicate"], "frobnicate"),
        (["sbom", "build", "--name", "n", "--version", "1", "--hash", "md5", "-o", "s"], "--hash"),
    ],
)
def test_usage_errors_are_exit_2(args: list[str], needle: str) -> None:
    assert_usage_error(cli(*args), needle)


def test_help_and_version() -> None:
    top = ok(cli("--help"))
    for command in ("keygen", "sbom", "sign", "verify"):
        assert command in top.stdout
    verify_help = ok(cli("verify", "--help"))
    assert "model" in verify_help.stdout and "dataset" in verify_help.stdout
    model_help = ok(cli("verify", "model", "--help"))
    for option in ("--sbom", "--signature", "--key", "--component", "--format", "--output"):
        assert option in model_help.stdout
    assert ok(cli("--version")).stdout == f"chainguard {__version__}\n"


# ------------------------------------------------------------------------ real processes


def test_python_dash_m_prints_the_version(tmp_path: Path) -> None:
    out = run_process([sys.executable, "-m", "chainguard", "--version"], cwd=tmp_path)
    assert (out.code, out.stdout, out.stderr) == (0, f"chainguard {__version__}\n", "")


def test_exit_codes_through_a_real_process(release: Release) -> None:
    """What a shell script sees: 0, 1, 2, 3, and never a traceback."""
    script = chainguard_script()
    if not script.exists():
        pytest.skip(f"console script not installed at {script}")
    cwd = release.sbom.parent
    verify = [script, "verify", "model", release.model, "--sbom", release.sbom]
    verify += ["--deployment", "svc"]

    clean = run_process([*verify, "--key", release.pub], cwd)
    assert clean.code == 0 and clean.stdout.startswith("✔ verified") and clean.stderr == ""

    usage = run_process([*verify, "--key", release.pub, "--bogus"], cwd)
    assert usage.code == 2 and "--bogus" in usage.stderr and "Traceback" not in usage.stderr

    malformed = run_process([*verify, "--key", release.sbom], cwd)  # an SBOM is not a key
    assert_one_line_error(malformed, 3, release.sbom.name)

    (release.model / "config.json").write_bytes(b"{}")
    tampered = run_process([*verify, "--key", release.pub, "--format", "json"], cwd)
    assert tampered.code == 1 and tampered.stderr == ""
    assert json.loads(tampered.stdout)["findings"][0]["rule"] == "artifact-modified"


def test_python_dash_m_maps_errors_to_one_line(release: Release) -> None:
    cwd = release.sbom.parent
    release.sig.write_text("{ not json")
    out = run_process(
        [
            sys.executable,
            "-m",
            "chainguard",
            "verify",
            "model",
            release.model,
            "--sbom",
            release.sbom,
            "--key",
            release.pub,
        ],
        cwd,
    )
    assert_one_line_error(out, 3, release.sig.name)
    missing = run_process([sys.executable, "-m", "chainguard", "sign"], cwd)
    assert missing.code == 2 and "Traceback" not in missing.stderr


def test_a_second_release_with_another_key_is_not_trusted(tmp_path: Path) -> None:
    first = make_release(
        tmp_path / "a", models=[write_model(tmp_path / "a" / "weights")], via="cli"
    )
    second = make_release(
        tmp_path / "b", models=[write_model(tmp_path / "b" / "weights")], via="cli"
    )
    out = cli(
        "verify",
        "model",
        first.model,
        "--sbom",
        first.sbom,
        "--key",
        second.pub,
        "--format",
        "json",
    )
    assert out.code == 1
    [finding] = report(out)["findings"]
    assert finding["rule"] == "signature-untrusted"
