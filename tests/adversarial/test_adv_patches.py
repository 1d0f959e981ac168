"""Declared patches against hosts that resist them, each through the CLI against a real signed
release: a host that keeps the vulnerable version, old weights put back after a model patch,
an old validly signed release replayed to dodge a required patch, and a release engineer asked
to sign a declaration the release does not satisfy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import Outcome, assert_one_line_error, cli
from support.deps import DepsVenv, build_wheel, copy_venv, make_venv, pip_install, venv_python
from support.release import MODEL_FILES, Release, make_release, write_tree
from support.surgery import sha256

from chainguard.models import FileDigest, tree_digest

WEIGHTS = "model.safetensors"
# The patched weights: other tensor bytes, still a valid safetensors file (bytes appended after
# the data would be refused by sbom build: malformed-artifact, ends-at-eof).
PATCHED = {**MODEL_FILES, WEIGHTS: MODEL_FILES[WEIGHTS][:-8] + b"patched!"}
CVE = "CVE-2025-32434"
TORCH_FIX = "torch>=2.6.0"

posix_venv = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")


# --- dependencies: a host that keeps torch 2.5.1 ------------------------------------------------


@pytest.fixture(scope="module")
def torch_wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A stand-in "torch" distribution (a tiny pure-Python wheel) at the fixed and the
    vulnerable version."""
    out = tmp_path_factory.mktemp("torch-wheels")
    return {
        version: build_wheel(
            out, "torch", version, {"torch/__init__.py": f'__version__ = "{version}"\n'}
        )
        for version in ("2.6.0", "2.5.1")
    }


@pytest.fixture(scope="module")
def patched_venv(
    torch_wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> DepsVenv:
    """A real venv (named "venv") with torch 2.6.0 installed by pip."""
    path = make_venv(tmp_path_factory.mktemp("patched-env") / "venv")
    pip_install(path, torch_wheels["2.6.0"])
    return DepsVenv(path, venv_python(path), next(path.glob("lib/python*/site-packages")), ())


@pytest.fixture(scope="module")
def env_release(patched_venv: DepsVenv, tmp_path_factory: pytest.TempPathFactory) -> Release:
    """The release built from the patched venv, declaring the torch fix."""
    return make_release(
        tmp_path_factory.mktemp("env-release"),
        envs=(patched_venv.path,),
        patches={CVE: TORCH_FIX},
    )


def verify_deps(release: Release, *target: str | Path) -> Outcome:
    return cli(
        "verify",
        "deps",
        *target,
        "--sbom",
        release.sbom,
        "--key",
        release.pub,
        "--deployment",
        release.deployment,
        "--format",
        "json",
    )


@posix_venv
def test_the_patched_environment_verifies(patched_venv: DepsVenv, env_release: Release) -> None:
    outcome = verify_deps(env_release, "--env", patched_venv.path)
    assert outcome.code == 0, outcome.report["findings"]


@posix_venv
def test_a_host_that_keeps_torch_2_5_1_is_caught(
    patched_venv: DepsVenv, torch_wheels: dict[str, Path], env_release: Release, tmp_path: Path
) -> None:
    """The host reinstalled (or never upgraded) the vulnerable torch: its RECORD is pip's own,
    so only the version gives it away, and the declared patch says which advisory is open."""
    host = copy_venv(patched_venv, tmp_path)
    pip_install(host.path, "--force-reinstall", torch_wheels["2.5.1"])
    outcome = verify_deps(env_release, "--env", host.path)
    assert outcome.code == 1
    finding = outcome.finding("patch-not-applied", "torch")
    assert CVE in finding["message"]
    assert (finding["expected"], finding["actual"]) == (TORCH_FIX, "torch 2.5.1")
    assert "dependency-version" in outcome.rule_names


@posix_venv
def test_a_host_without_torch_at_all_is_not_patched(
    patched_venv: DepsVenv, env_release: Release, tmp_path: Path
) -> None:
    host = copy_venv(patched_venv, tmp_path)
    pip = [sys.executable, "-m", "pip", "--python", str(host.python), "uninstall", "-y", "torch"]
    subprocess.run(pip, check=True, capture_output=True)
    outcome = verify_deps(env_release, "--env", host.path)
    assert outcome.finding("patch-not-applied", "torch")["actual"] == "not installed"


def test_a_lock_that_pins_torch_2_5_1_is_caught(tmp_path: Path) -> None:
    signed_lock = tmp_path / "release" / "requirements.txt"
    signed_lock.parent.mkdir()
    signed_lock.write_text("torch==2.6.0\nnumpy==2.1.3\n")
    release = make_release(
        tmp_path / "release", requirements=(signed_lock,), patches={CVE: TORCH_FIX}
    )
    host_lock = tmp_path / "host" / "requirements.txt"
    host_lock.parent.mkdir()
    host_lock.write_text("torch==2.5.1\nnumpy==2.1.3\n")
    outcome = verify_deps(release, host_lock)
    assert outcome.code == 1
    finding = outcome.finding("patch-not-applied", "torch")
    assert (finding["expected"], finding["actual"]) == (TORCH_FIX, "torch 2.5.1")
    assert verify_deps(release, signed_lock).code == 0


def test_a_dependency_patch_is_not_judged_by_verify_model(tmp_path: Path) -> None:
    """verify model measures no dependencies: the torch patch is neither applied nor not."""
    lock = tmp_path / "requirements.txt"
    lock.write_text("torch==2.6.0\n")
    release = make_release(
        tmp_path, models={"weights": MODEL_FILES}, requirements=(lock,), patches={CVE: TORCH_FIX}
    )
    outcome = release.verify(json=True)
    assert outcome.code == 0, outcome.report["findings"]


# --- models: the old weights put back after a model patch --------------------------------------


def test_the_old_weights_put_back_after_a_file_patch(tmp_path: Path) -> None:
    fix = f"model:weights/{WEIGHTS}@sha256:{sha256(PATCHED[WEIGHTS])}"
    release = make_release(
        tmp_path, models={"weights": PATCHED}, patches={"MODEL-2026-07-backdoor-removal": fix}
    )
    assert release.verify(json=True).code == 0
    (release.model / WEIGHTS).write_bytes(MODEL_FILES[WEIGHTS])  # the backdoored weights
    outcome = release.verify(json=True)
    assert outcome.code == 1
    finding = outcome.finding("patch-not-applied", WEIGHTS)
    assert "MODEL-2026-07-backdoor-removal" in finding["message"]
    assert finding["expected"] == fix
    assert finding["actual"] == f"sha256:{sha256(MODEL_FILES[WEIGHTS])}"
    assert outcome.finding("artifact-modified", WEIGHTS)


def test_the_old_tree_put_back_after_a_root_digest_patch(tmp_path: Path) -> None:
    """A whole-model patch (its root digest): the old model copied back in place."""
    old = write_tree(tmp_path / "old" / "weights", MODEL_FILES)
    patched = write_tree(tmp_path / "new" / "weights", PATCHED)
    root = _root(PATCHED)
    fix = f"model:weights@sha256:{root}"
    release = make_release(tmp_path / "release", models=(patched,), patches={"MODEL-1": fix})
    outcome = release.verify(json=True, directory=old)
    assert outcome.code == 1
    finding = outcome.finding("patch-not-applied", "model:weights")
    assert finding["expected"] == fix
    assert finding["actual"].startswith("sha256:") and finding["actual"] != f"sha256:{root}"


def test_old_weights_put_back_over_a_sharded_file(tmp_path: Path) -> None:
    """A large file is verified by its shards only; its patched digest is known through the
    signed entry. The old weights put back have other shards: not the patched file."""
    old = bytes(range(256)) * (3 * 4096)  # 3 MiB: three shards of 1 MiB
    new = old[:-1] + b"\x00"
    fix = f"model:weights/model.bin@sha256:{sha256(new)}"
    release = make_release(
        tmp_path,
        models={"weights": {"model.bin": new, "config.json": b"{}"}},
        patches={"MODEL-1": fix},
        shard_size=2**20,
    )
    assert release.verify(json=True).code == 0
    (release.model / "model.bin").write_bytes(old)
    outcome = release.verify(json=True)
    finding = outcome.finding("patch-not-applied", "model.bin")
    assert finding["actual"].startswith("not the signed content of model.bin")
    assert outcome.code == 1


# --- an old release, validly signed, replayed to dodge a required patch ------------------------


def test_an_old_signed_release_without_a_required_patch(tmp_path: Path) -> None:
    old = make_release(tmp_path / "old", models={"weights": MODEL_FILES}, version="1.0")
    outcome = old.verify("--require-patch", CVE, json=True)
    assert outcome.code == 1
    finding = outcome.finding("patch-missing", CVE)
    assert (finding["expected"], finding["actual"]) == (CVE, "no patches declared")
    # the release that declares it passes the same policy
    fix = f"model:weights@sha256:{_root(MODEL_FILES)}"
    new = make_release(
        tmp_path / "new", models={"weights": MODEL_FILES}, version="1.1", patches={CVE: fix}
    )
    assert new.verify("--require-patch", CVE, json=True).code == 0


def test_a_required_patch_from_the_config(tmp_path: Path) -> None:
    old = make_release(tmp_path / "old", models={"weights": MODEL_FILES})
    config = tmp_path / "chainguard.toml"
    config.write_text(f'require_patches = ["{CVE}"]\n')
    outcome = old.verify("--config", config, json=True)
    assert outcome.code == 1
    assert outcome.finding("patch-missing", CVE)


def test_a_malformed_required_patch_id_is_a_usage_error(tmp_path: Path) -> None:
    release = make_release(tmp_path, models={"weights": MODEL_FILES})
    outcome = release.verify("--require-patch", "cve-2025-32434")
    assert_one_line_error(outcome, 2, "CVE-YYYY-NNNN")


# --- sbom build refuses to sign what its own inventory contradicts -----------------------------


@posix_venv
def test_sbom_build_refuses_an_unpatched_environment(
    patched_venv: DepsVenv, torch_wheels: dict[str, Path], tmp_path: Path
) -> None:
    host = copy_venv(patched_venv, tmp_path)
    pip_install(host.path, "--force-reinstall", torch_wheels["2.5.1"])
    out = tmp_path / "deploy.cdx.json"
    outcome = cli(
        "sbom", "build", "--name", "svc", "--version", "1", "--env", host.path,
        "--patch", f"{CVE}={TORCH_FIX}", "-o", out,
    )  # fmt: skip
    assert_one_line_error(outcome, 1, CVE, "torch 2.5.1")
    assert not out.exists()


def test_sbom_build_refuses_a_model_that_is_not_the_patched_one(tmp_path: Path) -> None:
    model = write_tree(tmp_path / "weights", MODEL_FILES)
    out = tmp_path / "deploy.cdx.json"
    fix = f"model:weights/{WEIGHTS}@sha256:{sha256(PATCHED[WEIGHTS])}"
    outcome = cli(
        "sbom", "build", "--name", "svc", "--version", "1", "--model", model,
        "--patch", f"MODEL-1={fix}", "-o", out,
    )  # fmt: skip
    assert_one_line_error(outcome, 1, "MODEL-1", sha256(MODEL_FILES[WEIGHTS]))
    assert not out.exists()


def test_sbom_build_refuses_a_patch_of_what_it_does_not_record(tmp_path: Path) -> None:
    model = write_tree(tmp_path / "weights", MODEL_FILES)
    out = tmp_path / "deploy.cdx.json"
    outcome = cli(
        "sbom", "build", "--name", "svc", "--version", "1", "--model", model,
        "--patch", f"{CVE}={TORCH_FIX}", "-o", out,
    )  # fmt: skip
    assert_one_line_error(outcome, 1, CVE, "torch")
    assert not out.exists()


def _root(files: dict[str, bytes]) -> str:
    return tree_digest(FileDigest(n, len(c), sha256(c)) for n, c in files.items())


# --- a whole deployment: every patch that concerns what it measured ----------------------------


def test_verify_deployment_checks_dependency_and_model_patches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = write_tree(tmp_path / "weights", PATCHED)
    lock = tmp_path / "requirements.txt"
    lock.write_text("torch==2.6.0\n")
    fix = f"model:weights/{WEIGHTS}@sha256:{sha256(PATCHED[WEIGHTS])}"
    make_release(
        tmp_path,
        models=(model,),
        requirements=(lock,),
        patches={CVE: TORCH_FIX, "MODEL-1": fix},
        sbom_name="svc.cdx.json",
    )
    (tmp_path / "chainguard.toml").write_text(
        'deployment = "svc"\nsbom = "svc.cdx.json"\n'
        'require_patches = ["MODEL-1", "CVE-2025-1111"]\n'
        '[trust]\nkeys = ["release.pub"]\n[models]\nweights = "weights"\n'
        '[dependencies]\nlocks = ["requirements.txt"]\n'
    )
    monkeypatch.chdir(tmp_path)
    lock.write_text("torch==2.5.1\n")  # the host kept the vulnerable torch
    outcome = cli("verify", "deployment", "--format", "json")
    assert outcome.code == 1
    patch_rules = sorted(r for r in outcome.rules if r[0].startswith("patch-"))
    assert patch_rules == [("patch-missing", "CVE-2025-1111"), ("patch-not-applied", "torch")]
