"""`verify deployment --format sarif`: every location resolves to the real file, whichever
component it belongs to, and a finding keeps its fingerprint from one run to the next."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from support.cli import cli
from support.release import make_release

CONFIG = b'{"hidden": 16}\n'  # both components hold a config.json


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_release(
        tmp_path,
        models={"weights": {"config.json": CONFIG, "model.bin": b"w" * 4096}},
        datasets={"eval": {"config.json": CONFIG, "part-0.jsonl": b'{"x": 1}\n'}},
        sbom_name="release/svc.cdx.json",
    )
    (tmp_path / "chainguard.toml").write_text(
        'deployment = "svc"\nsbom = "release/svc.cdx.json"\n[trust]\nkeys = ["release.pub"]\n'
        '[models]\nweights = "weights"\n[datasets]\neval = "eval"\n'
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _sarif(tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "out.sarif"
    outcome = cli("verify", "deployment", "--format", "sarif", "--output", out)
    assert outcome.code == 1, outcome
    run: dict[str, Any] = json.loads(out.read_text())["runs"][0]
    return run


def _resolve(run: dict[str, Any], result: dict[str, Any]) -> Path:
    artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
    base = run["originalUriBaseIds"][artifact["uriBaseId"]]["uri"]
    return Path(unquote(urlparse(base + artifact["uri"]).path))


def test_locations_resolve_to_each_components_file(deployment: Path) -> None:
    for component in ("weights", "eval"):
        (deployment / component / "config.json").write_bytes(b'{"hidden": 17}\n')
    run = _sarif(deployment)
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["artifact-modified"] * 2
    resolved = sorted(_resolve(run, r) for r in results)
    assert resolved == sorted(deployment.resolve() / c / "config.json" for c in ("eval", "weights"))
    assert all(path.read_bytes() == b'{"hidden": 17}\n' for path in resolved)
    prints = {r["partialFingerprints"]["chainguardFinding/v1"] for r in results}
    assert len(prints) == 2
    assert {
        r["partialFingerprints"]["chainguardFinding/v1"] for r in _sarif(deployment)["results"]
    } == prints
