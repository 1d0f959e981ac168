"""A host that lies about what it runs, or cannot say: each scenario builds a real signed
release, lets the host claim something (a JSON file, or a status endpoint on 127.0.0.1 served
by the test), runs ``chainguard verify ... --claim`` through the CLI and asserts the exit code
and the exact claim finding in the JSON report. A claim is never taken for the measurement."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import DEPLOYMENT
from support.claim_server import ClaimServer, claim_server
from support.cli import Outcome, cli, verdict
from support.deps import (
    DepsVenv,
    build_wheel,
    copy_venv,
    make_venv,
    pip_install,
    site_packages,
    venv_python,
)
from support.release import MODEL_FILES, Release, make_release
from support.surgery import component_of

from chainguard import api

WEIGHTS = "model.safetensors"


def signed_root(release: Release, bom_ref: str = "model:weights") -> str:
    """The root digest the signed SBOM records for the component, as a claim writes it."""
    (digest,) = component_of(release.document(), bom_ref)["hashes"]
    return f"sha256:{digest['content']}"


def write_claim(directory: Path, claim: dict[str, Any]) -> Path:
    path = directory / "claim.json"
    path.write_text(json.dumps(claim))
    return path


def claim_findings(outcome: Outcome) -> list[tuple[str, str]]:
    return sorted((r, p) for r, p in outcome.rules if r.startswith("claim-"))


# --- a model host -------------------------------------------------------------------------------


def test_a_consistent_claim_passes_and_says_so(release: Release, tmp_path: Path) -> None:
    claim = {
        "deployment": DEPLOYMENT,
        "version": "1.0",
        "components": {"weights": {"digest": signed_root(release)}},
        "status": "serving",  # unknown fields are ignored
    }
    outcome = release.verify("--claim", write_claim(tmp_path, claim), json=True)
    assert outcome.code == 0
    path = str(tmp_path / "claim.json")
    assert outcome.rules == [("claim-consistent", path)]
    note = outcome.finding("claim-consistent", path)
    assert note["severity"] == "note"
    assert "claim consistent with what was measured (3 facts checked)" in note["message"]


def test_tampered_weights_while_claiming_the_signed_digest(
    release: Release, tmp_path: Path
) -> None:
    """The host swaps the weights and keeps reporting the signed digest."""
    signed = signed_root(release)
    (release.model / WEIGHTS).write_bytes(MODEL_FILES[WEIGHTS][:-1] + b"\x00")
    claim = write_claim(tmp_path, {"components": {"weights": {"digest": signed}}})
    outcome = release.verify("--claim", claim, json=True)
    assert outcome.code == 1
    assert outcome.rules == [
        ("artifact-modified", WEIGHTS),
        ("claim-mismatch", "components.weights.digest"),
    ]
    lie = outcome.finding("claim-mismatch", "components.weights.digest")
    assert lie["expected"] == signed
    assert lie["actual"].startswith("sha256:") and lie["actual"] != signed
    assert lie["component"] == "model:weights"


def test_a_claimed_patch_the_release_never_declared(release: Release, tmp_path: Path) -> None:
    claim = write_claim(tmp_path, {"deployment": DEPLOYMENT, "patches": ["CVE-2025-32434"]})
    outcome = release.verify("--claim", claim, json=True)
    assert outcome.code == 1
    assert outcome.rules == [("claim-mismatch", "patches[0]")]
    lie = outcome.finding("claim-mismatch", "patches[0]")
    assert (lie["expected"], lie["actual"]) == ("CVE-2025-32434", "not declared in the signed SBOM")


def test_an_old_release_claiming_to_be_the_new_one(tmp_path: Path) -> None:
    """Release 1.0 is deployed, validly signed; the host reports 2.0 (and another name)."""
    old = make_release(tmp_path / "v1", models={"weights": MODEL_FILES}, version="1.0")
    make_release(tmp_path / "v2", models={"weights": MODEL_FILES}, version="2.0", signer=old)
    claim = write_claim(tmp_path, {"deployment": "svc-prod", "version": "2.0"})
    outcome = old.verify("--claim", claim, json=True)
    assert outcome.code == 1
    assert outcome.rules == [("claim-mismatch", "deployment"), ("claim-mismatch", "version")]
    version = outcome.finding("claim-mismatch", "version")
    assert (version["expected"], version["actual"]) == ("2.0", "1.0")
    name = outcome.finding("claim-mismatch", "deployment")
    assert (name["expected"], name["actual"]) == ("svc-prod", DEPLOYMENT)


def test_a_package_claim_on_verify_model_is_a_warning_naming_verify_deps(
    release: Release, tmp_path: Path
) -> None:
    claim = write_claim(tmp_path, {"version": "1.0", "packages": {"torch": "2.6.0"}})
    outcome = release.verify("--claim", claim, json=True)
    assert outcome.code == 0
    assert claim_findings(outcome) == [
        ("claim-consistent", str(claim)),
        ("claim-unverified", "packages.torch"),
    ]
    warning = outcome.finding("claim-unverified", "packages.torch")
    assert warning["severity"] == "warning"
    assert "verify deps --env" in warning["message"]


def test_a_missing_claim_file_fails_verification_not_the_run(
    release: Release, tmp_path: Path
) -> None:
    outcome = release.verify("--claim", tmp_path / "absent.json", json=True)
    assert outcome.code == 1
    assert outcome.rules == [("claim-unavailable", str(tmp_path / "absent.json"))]


# --- a status endpoint --------------------------------------------------------------------------


@pytest.fixture
def endpoint(release: Release) -> Iterator[ClaimServer]:
    claim = {"deployment": DEPLOYMENT, "components": {"weights": {"digest": signed_root(release)}}}
    with claim_server(claim) as server:
        yield server


def test_a_consistent_endpoint_behind_a_same_host_redirect(
    release: Release, endpoint: ClaimServer
) -> None:
    url = endpoint.url("/redirect-here")
    outcome = release.verify("--claim", url, "--claim-timeout", "2", json=True)
    assert outcome.code == 0
    assert outcome.rules == [("claim-consistent", url)]
    assert endpoint.paths == ["/redirect-here", "/claim"]


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/hang", "no answer within 0.5 s"),
        ("/big", "over the 1 MiB cap"),
        ("/big-undeclared", "larger than the 1 MiB cap"),
        ("/redirect-away", "redirected to another origin"),
        ("/error", "HTTP 500"),
        ("/not-json", "not valid JSON"),
    ],
)
def test_an_endpoint_that_cannot_state_its_claim_does_not_pass(
    release: Release, endpoint: ClaimServer, path: str, says: str
) -> None:
    url = endpoint.url(path)
    outcome = release.verify("--claim", url, "--claim-timeout", "0.5", json=True)
    assert outcome.code == 1
    assert "Traceback" not in outcome.stderr
    assert outcome.rules == [("claim-unavailable", url)]
    finding = outcome.finding("claim-unavailable", url)
    assert finding["severity"] == "error"
    assert says in finding["message"]
    if path == "/redirect-away":
        assert endpoint.paths == ["/redirect-away"]  # localhost was never contacted


def test_the_text_report_names_the_unavailable_claim(
    release: Release, endpoint: ClaimServer
) -> None:
    url = endpoint.url("/error")
    outcome = release.verify("--claim", url)
    assert outcome.code == 1
    assert "claim-unavailable" in outcome.stdout and "HTTP 500" in outcome.stdout
    assert "Traceback" not in outcome.stdout + outcome.stderr


# --- a host that keeps torch 2.5.1 while claiming 2.6.0 -----------------------------------------


@pytest.fixture(scope="module")
def torch_wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("torch-wheels")
    return {
        v: build_wheel(out, "torch", v, {"torch/__init__.py": f'__version__ = "{v}"\n'})
        for v in ("2.5.1", "2.6.0")
    }


@pytest.fixture(scope="module")
def patched_release(
    torch_wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Release]:
    """A venv with torch 2.6.0, and the release signed from it that declares CVE-2025-32434
    fixed by torch>=2.6.0."""
    root = tmp_path_factory.mktemp("torch-release")
    venv = make_venv(root / "venv")
    pip_install(venv, torch_wheels["2.6.0"])
    key, pub = api.keygen(root / "release")
    sbom = root / "deploy.cdx.json"
    api.build_sbom(
        name=DEPLOYMENT,
        version="1.0",
        envs=(venv,),
        output=sbom,
        patches={"CVE-2025-32434": "torch>=2.6.0"},
    )
    sig = api.sign_sbom(sbom, key)
    return venv, Release(root, sbom, sig, key, pub)


def verify_env(release: Release, env: Path, claim: Path) -> Outcome:
    return verdict(
        cli(
            "verify", "deps", "--env", env, "--sbom", release.sbom, "--key", release.pub,
            "--deployment", DEPLOYMENT, "--claim", claim, "--format", "json",
        )
    )  # fmt: skip


CLAIMS_PATCHED = {"version": "1.0", "patches": ["CVE-2025-32434"], "packages": {"torch": "2.6.0"}}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
def test_the_patched_host_claiming_it_is_consistent(
    patched_release: tuple[Path, Release], tmp_path: Path
) -> None:
    venv, release = patched_release
    outcome = verify_env(release, venv, write_claim(tmp_path, CLAIMS_PATCHED))
    assert outcome.code == 0
    assert outcome.rules == [("claim-consistent", str(tmp_path / "claim.json"))]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
def test_a_host_keeping_torch_2_5_1_while_claiming_2_6_0(
    patched_release: tuple[Path, Release], torch_wheels: dict[str, Path], tmp_path: Path
) -> None:
    venv, release = patched_release
    host = copy_venv(DepsVenv(venv, venv_python(venv), site_packages(venv), ()), tmp_path)
    pip_install(host.path, torch_wheels["2.5.1"])  # the old torch put back
    outcome = verify_env(release, host.path, write_claim(tmp_path, CLAIMS_PATCHED))
    assert outcome.code == 1
    assert claim_findings(outcome) == [
        ("claim-mismatch", "packages.torch"),
        ("claim-mismatch", "patches[0]"),
    ]
    torch = outcome.finding("claim-mismatch", "packages.torch")
    assert (torch["expected"], torch["actual"]) == ("2.6.0", "2.5.1")
    patch = outcome.finding("claim-mismatch", "patches[0]")
    assert patch["expected"] == "CVE-2025-32434" and "2.5.1" in patch["actual"]
    assert "patch-not-applied" in outcome.rule_names  # the measurement says so, claim or not
