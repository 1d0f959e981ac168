"""The verify path's start-up cost is part of its speed (benchmarks/README.md, "Models").

On a 1 GiB model on two cores, every 10 ms of imports is ~2.5% against the hashlib floor, so the
heavy libraries other commands need must stay off `verify model` with a key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.cli import cli, ok
from support.release import Release

# pydantic: typer >= 0.29 coerces every option through it (+0.08 s; pyproject pins typer < 0.29).
# sigstore/certifi: only keyless (--identity) verification needs them. cyclonedx/jsonschema:
# only `sbom build`. The rest belong to other commands or to no command at all.
HEAVY = {
    "pydantic",
    "sigstore",
    "certifi",
    "cyclonedx",
    "jsonschema",
    "model_signing",
    "huggingface_hub",
    "httpx",  # huggingface_hub's HTTP clients (by version): only `sbom build --model hf://`
    "httpx2",
    "rich",
    "numpy",
    "safetensors",
    "requests",
}

PROBE = """
import atexit, sys
atexit.register(lambda: print("MODULES", *sorted({m.split(".")[0] for m in sys.modules})))
from chainguard.cli import main
main(sys.argv[1:])
"""


def test_key_verify_imports_no_heavy_library(release: Release, tmp_path: Path) -> None:
    env = {**os.environ, "CHAINGUARD_STATE_DIR": str(tmp_path / "state")}
    env.pop("GITHUB_STEP_SUMMARY", None)
    args = ["verify", "model", str(release.model), "--sbom", str(release.sbom)]
    args += ["--key", str(release.pub), "--format", "json"]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("MODULES "))
    imported = set(line.split()[1:])
    assert "chainguard" in imported  # the probe saw the real run
    assert imported & HEAVY == set(), f"verify imported {sorted(imported & HEAVY)}"


def _imported(args: list[str], cwd: Path) -> set[str]:
    """The top-level modules a run of the console script's entry point imported."""
    probe = PROBE.replace("from chainguard.cli import main\nmain(sys.argv[1:])", "")
    probe += "from chainguard._launch import main\nmain()\n"
    env = {**os.environ, "CHAINGUARD_STATE_DIR": str(cwd / "state")}
    env.pop("GITHUB_STEP_SUMMARY", None)
    proc = subprocess.run(
        [sys.executable, "-c", probe, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def test_version_and_hub_cache_verify_import_no_heavy_library(tmp_path: Path) -> None:
    """huggingface_hub is for `sbom build --model hf://` only: verifying a cache folder reads
    refs/ and follows links itself."""
    from support.hub_server import HubRepo, download_snapshot, serve_hub
    from support.release import MODEL_FILES

    assert _imported(["--version"], tmp_path) & HEAVY == set()
    repo = HubRepo("model", "acme/tiny-model")
    repo.push(MODEL_FILES)
    with serve_hub(repo) as hub:
        snapshot = download_snapshot(hub, repo, tmp_path / "cache")
    sbom = tmp_path / "sbom.json"
    ok(cli("keygen", tmp_path / "k"))
    build = ["sbom", "build", "--name", "svc", "--version", "1"]
    ok(cli(*build, "--model", snapshot.parent.parent, "-o", sbom))
    ok(cli("sign", sbom, "--key", tmp_path / "k.key"))
    args = ["verify", "model", str(snapshot.parent.parent), "--sbom", str(sbom)]
    args += ["--key", str(tmp_path / "k.pub"), "--deployment", "svc"]
    imported = _imported(args, tmp_path)
    assert "chainguard" in imported
    assert imported & HEAVY == set(), sorted(imported & HEAVY)
