"""`chainguard verify deployment`: one config, every component, one report and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import cli, cli_main
from support.release import make_release

from chainguard import api


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.bin").write_bytes(b"w" * 4096)
    (tmp_path / "data" / "eval").mkdir(parents=True)
    (tmp_path / "data" / "eval" / "part-0.jsonl").write_text('{"x": 1}\n')
    make_release(
        tmp_path,
        models=[tmp_path / "weights"],
        datasets=[tmp_path / "data" / "eval"],
        version="3.1.0",
        serial=7,
        sbom_name="release/svc.cdx.json",
    )
    (tmp_path / "chainguard.toml").write_text(
        'deployment = "svc"\n'
        'sbom = "release/svc.cdx.json"\n'
        "[trust]\n"
        'keys = ["release.pub"]\n'
        "[models]\n"
        'weights = "weights"\n'
        "[datasets]\n"
        'eval = "data/eval"\n'
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    """`verify deployment` with a JSON report: (exit code, the report or {})."""
    outcome = cli("verify", "deployment", "--format", "json", *args)
    return outcome.code, json.loads(outcome.stdout) if outcome.stdout.startswith("{") else {}


def test_whole_deployment_verifies(deployment: Path) -> None:
    code, report = run()
    assert code == 0, report
    assert report["ok"] is True
    assert sorted(report["components"]) == ["dataset:eval", "model:weights"]
    assert report["stats"]["files"] == 2


def test_tampered_dataset_fails_the_whole_deployment(deployment: Path) -> None:
    (deployment / "data" / "eval" / "part-0.jsonl").write_text('{"x": 2}\n')
    code, report = run()
    assert code == 1
    assert [(f["rule"], f["path"]) for f in report["findings"]] == [
        ("artifact-modified", "part-0.jsonl")
    ]


def test_unmapped_component_is_a_finding(deployment: Path) -> None:
    cfg = deployment / "chainguard.toml"
    cfg.write_text(cfg.read_text().replace('[datasets]\neval = "data/eval"\n', ""))
    code, report = run()
    assert code == 1
    assert [f["rule"] for f in report["findings"]] == ["component-missing"]


def test_config_naming_a_component_not_in_the_sbom_is_a_usage_error(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = deployment / "chainguard.toml"
    cfg.write_text(cfg.read_text().replace("[models]\n", '[models]\nwieghts = "weights"\n', 1))
    code, _, err = cli_main(capsys, "verify", "deployment")
    assert code == 2
    assert "model:wieghts" in err and err.count("\n") == 1


def test_sbom_of_another_deployment_is_refused(deployment: Path) -> None:
    cfg = deployment / "chainguard.toml"
    cfg.write_text(cfg.read_text().replace('deployment = "svc"', 'deployment = "payments"'))
    code, report = run()
    assert code == 1
    assert [f["rule"] for f in report["findings"]] == ["subject-mismatch"]


def test_without_config_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli_main(capsys, "verify", "deployment")
    assert code == 2 and "chainguard.toml" in err


@pytest.fixture
def deployment_with_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import shutil

    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.bin").write_bytes(b"w" * 4096)
    shutil.copy(repo / "fixtures" / "deps" / "uv.lock", tmp_path / "uv.lock")
    make_release(
        tmp_path,
        models=[tmp_path / "weights"],
        locks=[tmp_path / "uv.lock"],
        version="1",
        serial=1,
        sbom_name="svc.cdx.json",
    )
    (tmp_path / "chainguard.toml").write_text(
        'deployment = "svc"\nsbom = "svc.cdx.json"\n[trust]\nkeys = ["release.pub"]\n'
        '[models]\nweights = "weights"\n[dependencies]\nlocks = ["uv.lock"]\n'
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_deployment_covers_dependencies(deployment_with_lock: Path) -> None:
    code, report = run()
    assert code == 0, report
    assert any(c.startswith("uv-lock:") for c in report["components"])


def test_downgraded_lock_fails_the_deployment(deployment_with_lock: Path) -> None:
    import re

    lock = deployment_with_lock / "uv.lock"
    text = lock.read_text()
    # bump the first pinned version's patch number
    m = re.search(r'\nversion = "(\d+)\.(\d+)\.(\d+)"', text)
    assert m is not None
    changed = f'\nversion = "{m.group(1)}.{m.group(2)}.{int(m.group(3)) + 1}"'
    lock.write_text(text[: m.start()] + changed + text[m.end() :])
    code, report = run()
    assert code == 1
    assert "dependency-version" in {f["rule"] for f in report["findings"]}


def test_signed_lock_not_configured_is_component_missing(deployment_with_lock: Path) -> None:
    cfg = deployment_with_lock / "chainguard.toml"
    cfg.write_text(cfg.read_text().replace('[dependencies]\nlocks = ["uv.lock"]\n', ""))
    code, report = run()
    assert code == 1
    assert [f["rule"] for f in report["findings"]] == ["component-missing"]


def test_cli_sbom_does_not_borrow_the_config_signature(deployment: Path) -> None:
    """--sbom X on the command line means X.sig, not the signature of the config's SBOM."""
    other = deployment / "other.cdx.json"
    api.build_sbom(name="svc", version="9", models=[deployment / "weights"], output=other)
    api.sign_sbom(other, deployment / "release.key")
    cfg = deployment / "chainguard.toml"
    cfg.write_text('signature = "release/svc.cdx.json.sig"\n' + cfg.read_text())
    result = cli("verify", "model", "weights", "--sbom", str(other), "--format", "json")
    assert result.code == 0, result
    assert json.loads(result.stdout)["signature"] == f"{other}.sigstore.json"
