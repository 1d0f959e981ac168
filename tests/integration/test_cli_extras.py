"""Optional extras: without ``chainguard[sigstore]`` or ``chainguard[build]`` the commands that
need them say so in one line (exit 2), and key verification (the README quick start) works.

Each case is a fresh interpreter whose ``sys.modules`` marks the extra's packages as absent
before chainguard is imported (an ``import`` of a ``None`` entry raises ImportError, as a
missing package does), then runs ``chainguard.cli.main`` as the console script does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.cli import Outcome, assert_one_line_error, run_process
from support.release import Release, make_release, write_model

SIGSTORE = ("sigstore", "sigstore_models")
BUILD = ("cyclonedx", "jsonschema")
ISSUER = "https://token.actions.githubusercontent.com"


def run_without(modules: tuple[str, ...], cwd: Path, *args: str | Path) -> Outcome:
    code = (
        "import sys\n"
        f"for name in {modules!r}:\n"
        "    sys.modules[name] = None\n"
        "from chainguard.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    return run_process([sys.executable, "-c", code, *args], cwd)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    return make_release(tmp_path_factory.mktemp("extras"), models={"model": {"a.txt": b"a\n"}})


def test_sign_sigstore_names_the_sigstore_extra(release: Release, tmp_path: Path) -> None:
    outcome = run_without(
        SIGSTORE, tmp_path, "sign", release.sbom, "--sigstore", "--identity-token", "x.y.z"
    )
    assert_one_line_error(
        outcome,
        2,
        "Sigstore keyless needs the 'sigstore' extra: pip install 'chainguard[sigstore]'",
    )
    assert not Path(f"{release.sbom}.sigstore.json").exists()


def test_verify_blob_identity_names_the_sigstore_extra(release: Release, tmp_path: Path) -> None:
    artifact = tmp_path / "blob.bin"
    artifact.write_bytes(b"bytes\n")
    bundle = tmp_path / "blob.bin.sigstore.json"
    bundle.write_text("{}")
    outcome = run_without(
        SIGSTORE,
        tmp_path,
        "verify",
        "blob",
        artifact,
        "--bundle",
        bundle,
        "--identity",
        "ci@example.com",
        "--issuer",
        ISSUER,
    )
    assert_one_line_error(outcome, 2, "pip install 'chainguard[sigstore]'")


def test_sbom_build_names_the_build_extra(tmp_path: Path) -> None:
    model = write_model(tmp_path / "model")
    out = tmp_path / "sbom.cdx.json"
    outcome = run_without(
        BUILD,
        tmp_path,
        "sbom",
        "build",
        "--model",
        model,
        "--name",
        "svc",
        "--version",
        "1",
        "-o",
        out,
    )
    assert_one_line_error(
        outcome, 2, "sbom build needs the 'build' extra: pip install 'chainguard[build]'"
    )
    assert not out.exists()


def test_key_verification_needs_neither_extra(release: Release, tmp_path: Path) -> None:
    args = ["verify", "model", release.model, "--key", release.pub, "--sbom", release.sbom]
    args += ["--signature", release.sig, "--deployment", release.deployment]
    outcome = run_without(SIGSTORE + BUILD, tmp_path, *args, "--state", tmp_path / "state")
    assert outcome.code == 0, outcome
    assert "Traceback" not in outcome.stderr
