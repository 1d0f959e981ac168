"""Helpers for the attack scenarios: real releases (keys, SBOM, signature) and SBOM surgery.

Imported by name (the tests directories have no __init__.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from chainguard import api
from chainguard.cli import app
from chainguard.models import FileDigest, tree_digest

REPORT_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "report-schema.v2.json"
DEPLOYMENT = "svc"  # the deployment make_release builds; verify pins it, as an operator would


def _safetensors_bytes() -> bytes:
    import numpy as np
    from safetensors.numpy import save

    weights = np.arange(1024, dtype=np.float32).reshape(32, 32)  # 4 KiB of tensor data
    return save({"layer.weight": weights}, metadata={"format": "np"})


# Small, distinct contents; the names look like a Hugging Face snapshot.
MODEL_FILES = {
    "config.json": b'{"hidden_size": 16, "num_layers": 2}\n',
    "model.safetensors": _safetensors_bytes(),
    "tokenizer.json": b'{"vocab": {"a": 0, "b": 1}}\n',
}


@dataclass(frozen=True)
class Release:
    root: Path  # holds everything; the model is root/weights
    model: Path
    sbom: Path
    sig: Path
    key: Path
    pub: Path


def write_tree(directory: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return directory


def make_release(
    root: Path, files: dict[str, bytes] | None = None, *, shard_size: int | None = None
) -> Release:
    """Write a model, then keygen, build and sign it with the library API."""
    model = write_tree(root / "weights", MODEL_FILES if files is None else files)
    key, pub = api.keygen(root / "release")
    sbom = root / "deploy.cdx.json"
    extra: dict[str, Any] = {} if shard_size is None else {"shard_size": shard_size}
    api.build_sbom(name=DEPLOYMENT, version="1.0", models=[model], output=sbom, **extra)
    sig = api.sign_sbom(sbom, key)
    return Release(root, model, sbom, sig, key, pub)


@dataclass(frozen=True)
class Verdict:
    code: int
    report: dict[str, Any]
    stderr: str

    @property
    def rules(self) -> list[tuple[str, str]]:
        return sorted((f["rule"], f["path"]) for f in self.report["findings"])

    def finding(self, rule: str, path: str) -> dict[str, Any]:
        """The one finding with this rule and path (fails if there is not exactly one)."""
        found = [f for f in self.report["findings"] if f["rule"] == rule and f["path"] == path]
        assert len(found) == 1, (rule, path, self.report["findings"])
        return found[0]


def verify(
    release: Release, *extra: str | Path, directory: Path | None = None, sbom: bool = True
) -> Verdict:
    """``chainguard verify model`` through the CLI with a JSON report (schema-validated).

    The deployment is pinned (``--deployment svc``) unless the caller passes ``--deployment``:
    these scenarios are about what verify catches, as a well-configured operator runs it."""
    from jsonschema import Draft202012Validator

    args = ["verify", "model", str(directory or release.model), "--key", str(release.pub)]
    if sbom:
        args += ["--sbom", str(release.sbom)]
    options = [str(e) for e in extra]
    if not any(o == "--deployment" or o.startswith("--deployment=") for o in options):
        args += ["--deployment", DEPLOYMENT]
    args += ["--format", "json", *options]
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    doc: dict[str, Any] = json.loads(result.stdout)
    Draft202012Validator(json.loads(REPORT_SCHEMA.read_text())).validate(doc)
    assert doc["ok"] is (result.exit_code == 0)
    return Verdict(result.exit_code, doc, result.stderr)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_node(path: str, content: bytes, component: str = "weights") -> dict[str, Any]:
    """A CycloneDX file component exactly as chainguard writes one (small files only)."""
    return {
        "type": "file",
        "bom-ref": f"model:{component}/{path}",
        "name": path,
        "hashes": [{"alg": "SHA-256", "content": sha256(content)}],
        "properties": [{"name": "chainguard:size", "value": str(len(content))}],
    }


def reseal_component(component: dict[str, Any]) -> None:
    """Recompute root digest, file count and total size after editing a component's files, as
    a malicious signer (or a buggy tool) would, so that the SBOM is self-consistent."""
    files = []
    for node in component["components"]:
        props = {p["name"]: p["value"] for p in node["properties"]}
        digest = next(h["content"] for h in node["hashes"] if h["alg"] == "SHA-256")
        files.append(FileDigest(node["name"], int(props["chainguard:size"]), digest))
    for h in component["hashes"]:
        if h["alg"] == "SHA-256":
            h["content"] = tree_digest(files)
    for p in component["properties"]:
        if p["name"] == "chainguard:file-count":
            p["value"] = str(len(files))
        elif p["name"] == "chainguard:total-size":
            p["value"] = str(sum(f.size for f in files))


def resign(release: Release, doc: dict[str, Any]) -> None:
    """Write ``doc`` as the release's SBOM and sign it with the release key."""
    release.sbom.write_text(json.dumps(doc, indent=2) + "\n")
    api.sign_sbom(release.sbom, release.key, release.sig)
