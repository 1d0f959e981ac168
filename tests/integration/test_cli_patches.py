"""`sbom build --patch ID=REQUIREMENT` and `--config F` ([patches]): what lands in the SBOM,
and every malformed declaration as one line with its documented exit code (the console
script's main() and typer's CliRunner alike)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import Outcome, assert_one_line_error, cli, cli_main, ok
from support.release import MODEL_FILES, write_tree
from support.surgery import sha256

from chainguard.sbom.read import read_sbom_file

CONFIG_SHA = sha256(MODEL_FILES["config.json"])
FIX = f"model:weights/config.json@sha256:{CONFIG_SHA}"


def build(tmp_path: Path, *extra: str | Path) -> Outcome:
    model = write_tree(tmp_path / "weights", MODEL_FILES)
    return cli("sbom", "build", "--name", "svc", "--version", "1", "--model", model,
               "-o", tmp_path / "deploy.cdx.json", *extra)  # fmt: skip


def test_patch_declared_on_the_command_line(tmp_path: Path) -> None:
    ok(build(tmp_path, "--patch", f"MODEL-2026-07-fix={FIX}"))
    _, state = read_sbom_file(tmp_path / "deploy.cdx.json")
    assert [(p.id, p.requirement) for p in state.patches] == [("MODEL-2026-07-fix", FIX)]
    doc = json.loads((tmp_path / "deploy.cdx.json").read_text())
    assert doc["vulnerabilities"][0]["analysis"]["state"] == "resolved"


def test_patches_from_the_config_and_the_command_line_add_up(tmp_path: Path) -> None:
    config = tmp_path / "chainguard.toml"
    config.write_text(f'[patches]\n"MODEL-1" = "{FIX}"\n')
    root_fix = f"model:weights@sha256:{_root()}"
    ok(build(tmp_path, "--config", config, "--patch", f"MODEL-2={root_fix}"))
    _, state = read_sbom_file(tmp_path / "deploy.cdx.json")
    assert {(p.id, p.requirement) for p in state.patches} == {
        ("MODEL-1", FIX),
        ("MODEL-2", root_fix),
    }


def test_sbom_build_reads_no_config_unless_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "chainguard.toml").write_text('[patches]\n"MODEL-1" = "torch>=2.6.0"\n')
    monkeypatch.chdir(tmp_path)
    ok(build(tmp_path))
    _, state = read_sbom_file(tmp_path / "deploy.cdx.json")
    assert state.patches == ()


@pytest.mark.parametrize(
    ("declaration", "needle"),
    [
        ("CVE-2025-32434", "ID=REQUIREMENT"),
        ("cve-2025-32434=torch>=2.6.0", "CVE-YYYY-NNNN"),
        ("CVE-2025-32434=torch", "no version specifier"),
        ("CVE-2025-32434=torch>=2.6; python_version<'3.12'", "marker"),
        (f"M-1=model:weights@sha256:{CONFIG_SHA.upper()}", "64 lowercase hex"),
        (f"M-1=model:weights/../etc@sha256:{CONFIG_SHA}", "file path"),
    ],
)
def test_a_malformed_declaration_is_exit_2_before_hashing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], declaration: str, needle: str
) -> None:
    assert_one_line_error(build(tmp_path, "--patch", declaration), 2, needle)
    model = tmp_path / "weights"
    outcome = cli_main(capsys, "sbom", "build", "--name", "s", "--version", "1", "--model",
                       model, "--patch", declaration, "-o", tmp_path / "x")  # fmt: skip
    assert_one_line_error(outcome, 2, needle)
    assert not (tmp_path / "deploy.cdx.json").exists()


def test_the_same_id_twice_with_two_requirements(tmp_path: Path) -> None:
    outcome = build(tmp_path, "--patch", f"M-1={FIX}", "--patch", "M-1=torch>=2")
    assert_one_line_error(outcome, 2, "M-1", "declared twice")


def test_a_malformed_patches_table_is_exit_3(tmp_path: Path) -> None:
    config = tmp_path / "chainguard.toml"
    config.write_text('[patches]\n"CVE-2025-32434" = "torch"\n')
    assert_one_line_error(build(tmp_path, "--config", config), 3, "patches.CVE-2025-32434", "torch")


def test_an_unsatisfied_declaration_is_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = f"model:weights/config.json@sha256:{'0' * 64}"
    outcome = build(tmp_path, "--patch", f"MODEL-1={wrong}")
    assert_one_line_error(outcome, 1, "MODEL-1", f"sha256:{CONFIG_SHA}", "refusing")
    outcome = cli_main(capsys, "sbom", "build", "--name", "s", "--version", "1",
                       "--model", tmp_path / "weights", "--patch", f"MODEL-1={wrong}",
                       "-o", tmp_path / "deploy.cdx.json")  # fmt: skip
    assert_one_line_error(outcome, 1, "MODEL-1")
    assert not (tmp_path / "deploy.cdx.json").exists()


def _root() -> str:
    from chainguard.models import FileDigest, tree_digest

    return tree_digest(FileDigest(n, len(c), sha256(c)) for n, c in MODEL_FILES.items())
