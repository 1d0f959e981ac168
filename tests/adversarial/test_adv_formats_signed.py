"""Formats in the signed SBOM and the format policy at build and verify, through the CLI: a
pickle renamed .safetensors after signing, a malicious pickle that was signed, SBOMs written
before formats were recorded, [formats] in chainguard.toml, and sbom build refusing an unsafe
file. No file here is ever unpickled or loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import assert_one_line_error, cli, ok, verdict
from support.release import MODEL_FILES, Release, make_release
from support.surgery import component_of, file_node, reseal, set_prop, sha256, signed_variant
from support.unsafe_artifacts import OS_SYSTEM, STATE_DICT

from chainguard import api


def test_a_pickle_renamed_to_safetensors_is_format_changed_and_unsafe(tmp_path: Path) -> None:
    release = make_release(tmp_path, models={"weights": MODEL_FILES})
    (release.model / "model.safetensors").write_bytes(OS_SYSTEM)
    out = release.verify(json=True)
    assert out.code == 1
    rules = set(out.rules)
    assert {
        ("artifact-modified", "model.safetensors"),
        ("format-changed", "model.safetensors"),
        ("unsafe-pickle", "model.safetensors"),
    } <= rules
    changed = out.finding("format-changed", "model.safetensors")
    assert (changed["expected"], changed["actual"]) == ("safetensors", "pickle")


def _signed_with(release: Release, tmp_path: Path, path: str, content: bytes, fmt: str) -> Release:
    """The release's SBOM, with the file at ``path`` signed as ``content`` (written there)."""
    doc = release.document()
    node = file_node(doc, "model:weights", path)
    node["hashes"] = [{"alg": "SHA-256", "content": sha256(content)}]
    set_prop(node, "chainguard:size", str(len(content)))
    set_prop(node, "chainguard:format", fmt)
    node["properties"].sort(key=lambda p: p["name"])
    reseal(component_of(doc, "model:weights"))
    (release.model / path).write_bytes(content)
    return signed_variant(release, tmp_path / "signed", doc)


def test_a_signed_malicious_pickle_is_still_reported(tmp_path: Path) -> None:
    # As if signed by a publisher whose build did not check formats: the bytes are exactly the
    # signed ones, and verify still says what loading them would do.
    release = make_release(tmp_path, models={"weights": {**MODEL_FILES, "extra.bin": b"x"}})
    (tmp_path / "signed").mkdir()
    signed = _signed_with(release, tmp_path, "extra.bin", OS_SYSTEM, "pickle")
    out = signed.verify(json=True)
    assert out.code == 1
    assert out.rules == [("unsafe-pickle", "extra.bin")]
    assert "system" in out.finding("unsafe-pickle", "extra.bin")["message"]


def test_a_signed_tensor_pickle_is_a_warning(tmp_path: Path) -> None:
    release = make_release(tmp_path, models={"weights": {**MODEL_FILES, "extra.bin": b"x"}})
    (tmp_path / "signed").mkdir()
    signed = _signed_with(release, tmp_path, "extra.bin", STATE_DICT, "pickle")
    out = signed.verify(json=True)
    assert out.code == 0 and out.rules == [("pickle-format", "extra.bin")]
    assert out.severity("pickle-format") == "warning"


def _without_formats(doc: dict[str, Any]) -> None:
    for component in doc["components"]:
        for node in component.get("components", []):
            if node.get("type") == "file":
                set_prop(node, "chainguard:format", None)
                node["properties"].sort(key=lambda p: p["name"])


@pytest.mark.parametrize("overlap", [0, 1 << 40], ids=["hashed-while-read", "trust-first"])
def test_an_sbom_without_formats_still_verifies(tmp_path: Path, overlap: int) -> None:
    files = {f"part-{i // 40}/{i:04d}.txt": f"row {i}\n".encode() for i in range(120)}
    release = make_release(tmp_path, datasets={"ds": files})
    doc = release.document()
    assert "chainguard:format" in json.dumps(doc)
    _without_formats(doc)
    assert "chainguard:format" not in json.dumps(doc)
    (tmp_path / "old").mkdir()
    old = signed_variant(release, tmp_path / "old", doc)
    ok(verdict(old.verify(json=True)))
    report = api.verify_tree(
        old.data, kind="dataset", trust=old.trust(), overlap_from_bytes=overlap
    )
    assert report.ok and not report.findings
    (old.data / "part-1/0050.txt").write_bytes(b"\x80\x02N.")  # now a pickle: not compared
    report = api.verify_tree(
        old.data, kind="dataset", trust=old.trust(), overlap_from_bytes=overlap
    )
    assert {(f.rule, f.path) for f in report.findings} >= {("artifact-modified", "part-1/0050.txt")}
    assert "format-changed" not in {f.rule for f in report.findings}


def test_sbom_build_refuses_an_unsafe_file(tmp_path: Path) -> None:
    model = tmp_path / "weights"
    model.mkdir()
    (model / "config.json").write_bytes(b"{}")
    (model / "pytorch_model.bin").write_bytes(OS_SYSTEM)
    output = tmp_path / "out.cdx.json"
    out = cli("sbom", "build", "--name", "svc", "--version", "1", "--model", model, "-o", output)
    assert out.code == 1
    assert "pytorch_model.bin" in out.stderr and "unsafe-pickle" in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert not output.exists()


def test_sbom_build_records_a_tensor_pickle_with_a_note(tmp_path: Path) -> None:
    model = tmp_path / "weights"
    model.mkdir()
    (model / "pytorch_model.bin").write_bytes(STATE_DICT)
    output = tmp_path / "out.cdx.json"
    out = cli("sbom", "build", "--name", "svc", "--version", "1", "--model", model, "-o", output)
    assert out.code == 0 and "pickle-format" in out.stderr
    node = file_node(json.loads(output.read_text()), "model:weights", "pytorch_model.bin")
    assert {"name": "chainguard:format", "value": "pickle"} in node["properties"]


def _config(release: Release, formats: str) -> Path:
    conf = release.root / "chainguard.toml"
    conf.write_text(
        f'sbom = "{release.sbom}"\ndeployment = "{release.deployment}"\n'
        f'[trust]\nkeys = ["{release.pub}"]\n{formats}'
    )
    conf.chmod(0o600)
    return conf


def test_formats_deny_in_the_config_applies_at_verify(tmp_path: Path) -> None:
    release = make_release(tmp_path, models={"weights": MODEL_FILES})
    conf = _config(release, '[formats]\ndeny = ["json"]\n')
    out = verdict(cli("verify", "model", release.model, "--config", conf, "--format", "json"))
    assert out.code == 1
    assert out.rules == [("unsafe-format", "config.json"), ("unsafe-format", "tokenizer.json")]
    # A trust anchor on the command line: the config's trust settings, [formats] included,
    # are not used.
    ok(release.verify("--config", conf))


def test_formats_allow_list_and_glob_rules(tmp_path: Path) -> None:
    files = {**MODEL_FILES, "legacy/old.bin": STATE_DICT}
    release = make_release(tmp_path, models={"weights": files})
    allow = '[formats]\nallow = ["safetensors", "json", "pickle"]\n'
    ok(cli("verify", "model", release.model, "--config", _config(release, allow)))
    strict = '[formats]\nallow = ["safetensors", "json", "pickle"]\n'
    strict += '[[formats.rules]]\nglob = "legacy/*.bin"\ndeny = ["pickle"]\n'
    conf = _config(release, strict)
    out = verdict(cli("verify", "model", release.model, "--config", conf, "--format", "json"))
    assert out.code == 1 and out.rules == [("unsafe-format", "legacy/old.bin")]
    only = '[formats]\nallow = ["safetensors"]\n'
    conf = _config(release, only)
    out = verdict(cli("verify", "model", release.model, "--config", conf, "--format", "json"))
    assert out.code == 1
    assert {p for _, p in out.rules} == {"config.json", "tokenizer.json", "legacy/old.bin"}


def test_sbom_build_applies_the_config_formats(tmp_path: Path) -> None:
    model = tmp_path / "weights"
    model.mkdir()
    (model / "config.json").write_bytes(b"{}")
    conf = tmp_path / "chainguard.toml"
    conf.write_text('[formats]\ndeny = ["json"]\n')
    conf.chmod(0o600)
    output = tmp_path / "out.cdx.json"
    argv = ["sbom", "build", "--name", "svc", "--version", "1", "--model", model, "-o", output]
    out = cli(*argv, "--config", conf)
    assert out.code == 1 and "config.json" in out.stderr and "unsafe-format" in out.stderr
    assert not output.exists()
    ok(cli(*argv))


def test_verify_deployment_reports_a_signed_malicious_pickle_and_the_config_policy(
    tmp_path: Path,
) -> None:
    release = make_release(tmp_path, models={"weights": {**MODEL_FILES, "extra.bin": b"x"}})
    (tmp_path / "signed").mkdir()
    signed = _signed_with(release, tmp_path, "extra.bin", OS_SYSTEM, "pickle")
    conf = tmp_path / "deploy.toml"
    conf.write_text(
        f'sbom = "{signed.sbom}"\ndeployment = "{signed.deployment}"\n'
        f'[trust]\nkeys = ["{signed.pub}"]\n[models]\nweights = "{signed.model}"\n'
        '[formats]\ndeny = ["json"]\n'
    )
    conf.chmod(0o600)
    out = verdict(cli("verify", "deployment", "--config", conf, "--format", "json"))
    assert out.code == 1
    assert out.rules == [
        ("unsafe-format", "config.json"),
        ("unsafe-format", "tokenizer.json"),
        ("unsafe-pickle", "extra.bin"),
    ]
    assert out.finding("unsafe-pickle", "extra.bin")["component"] == "model:weights"


def test_a_malformed_formats_table_is_one_line_exit_3(tmp_path: Path) -> None:
    release = make_release(tmp_path, models={"weights": MODEL_FILES})
    conf = _config(release, '[formats]\ndeny = ["pickles"]\n')
    out = cli("verify", "model", release.model, "--config", conf)
    assert_one_line_error(out, 3, "formats.deny", "unknown format(s) pickles")
