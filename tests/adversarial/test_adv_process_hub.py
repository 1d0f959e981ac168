"""``verify process`` on weights served from a Hugging Face hub cache: the process opens
``snapshots/COMMIT/model.safetensors``, a link, and /proc shows what it resolved to,
``blobs/ETAG``. That blob is the signed file when the verified snapshot links to it; any other
blob of the repository (another revision's, one dropped in) is weights the signed snapshot
does not name, and the process must not pass on a warning that it loaded nothing.

Real processes (a Python that memory-maps the weights), killed when each test ends.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli import cli, verdict
from support.release import make_release, write_model
from support.serving import serve

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class HubHost:
    root: Path
    config: Path
    repo: Path  # hub/models--org--tiny
    snapshot: Path


def _hub_repo(repo: Path, files: Path) -> Path:
    """A hub cache repository folder holding ``files`` as one snapshot of links to blobs."""
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for f in sorted(files.iterdir()):
        etag = hashlib.sha256(f.read_bytes()).hexdigest()
        shutil.copyfile(f, repo / "blobs" / etag)
        (snapshot / f.name).symlink_to(f"../../blobs/{etag}")
    return snapshot


@pytest.fixture(scope="module")
def signed_hub(tmp_path_factory: pytest.TempPathFactory) -> HubHost:
    root = tmp_path_factory.mktemp("hub-host")
    repo = root / "hub" / "models--org--tiny"
    snapshot = _hub_repo(repo, write_model(root / "files", seed=0))
    make_release(root, models=[repo])
    config = root / "chainguard.toml"
    config.write_text(
        'deployment = "svc"\nsbom = "deploy.cdx.json"\n[trust]\nkeys = ["release.pub"]\n'
        '[models]\ntiny = "hub/models--org--tiny"\n'
    )
    return HubHost(root, config, repo, snapshot)


@pytest.fixture
def hub(signed_hub: HubHost, tmp_path: Path) -> HubHost:
    root = tmp_path / "host"
    shutil.copytree(signed_hub.root, root, symlinks=True)
    repo = root / "hub" / "models--org--tiny"
    return HubHost(root, root / "chainguard.toml", repo, repo / "snapshots" / COMMIT)


def _verify(hub: HubHost, pid: int) -> tuple[int, list[dict[str, str]]]:
    outcome = verdict(
        cli("verify", "process", str(pid), "--config", hub.config, "--format", "json")
    )
    findings = outcome.report["findings"]
    assert isinstance(findings, list)
    return outcome.code, findings


def test_the_signed_blob_through_its_snapshot_link_is_verified(
    hub: HubHost, processes: list[subprocess.Popen[str]]
) -> None:
    pid = serve(processes, hub.snapshot / "model.safetensors").pid
    code, findings = _verify(hub, pid)
    assert code == 0, findings
    (note,) = [f for f in findings if f["rule"] == "process-verified"]
    assert note["severity"] == "note" and "runs the signed weights" in note["message"]


def test_a_blob_the_snapshot_does_not_link_is_caught(
    hub: HubHost, processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    # another revision's weights, downloaded into the same repository's blobs/
    other = write_model(tmp_path / "other", seed=1) / "model.safetensors"
    blob = hub.repo / "blobs" / hashlib.sha256(other.read_bytes()).hexdigest()
    shutil.copyfile(other, blob)
    pid = serve(processes, blob).pid
    code, findings = _verify(hub, pid)
    assert code == 1, findings
    (found,) = [f for f in findings if f["rule"] == "loaded-artifact-unexpected"]
    assert found["path"] == str(blob.resolve())
    assert "no file of the verified snapshot links to" in found["message"]


def test_the_signed_blob_replaced_after_loading_is_caught(
    hub: HubHost, processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    link = hub.snapshot / "model.safetensors"
    blob = link.resolve()
    signed = blob.read_bytes()
    unsigned = write_model(tmp_path / "unsigned", seed=2) / "model.safetensors"
    os.replace(unsigned, blob)  # the process loads unsigned bytes under the signed blob's name
    pid = serve(processes, link).pid
    staged = blob.with_name("staged")
    staged.write_bytes(signed)
    os.replace(staged, blob)  # and the signed bytes are back on disk
    code, findings = _verify(hub, pid)
    assert code == 1, findings
    (found,) = [f for f in findings if f["rule"] == "loaded-artifact-replaced"]
    assert found["expected"] == f"sha256:{hashlib.sha256(signed).hexdigest()}"
