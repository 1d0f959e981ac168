"""SARIF locations resolvable to the real file (one base per component root) and fingerprints
that stay the same across runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from chainguard.findings import Finding, Report
from chainguard.reporters.json import JsonReporter
from chainguard.reporters.sarif import FINGERPRINT, SarifReporter


def _run(report: Report) -> dict[str, Any]:
    run: dict[str, Any] = json.loads(SarifReporter().render(report))["runs"][0]
    return run


def _deployment(tmp_path: Path) -> Report:
    return Report(
        command="verify deployment",
        target="sentiment-api",
        findings=(
            Finding("artifact-modified", "config.json", "changed", "a" * 64, "b" * 64,
                    component="model:sentiment"),
            Finding("artifact-modified", "config.json", "changed", "c" * 64, "d" * 64,
                    component="dataset:eval set"),
            Finding("component-missing", "dataset:other", "missing", component="other"),
        ),
        roots=(
            ("model:sentiment", str(tmp_path / "weights")),
            ("dataset:eval set", str(tmp_path / "data dir")),
        ),
    )  # fmt: skip


def test_each_location_resolves_to_its_components_directory(tmp_path: Path) -> None:
    run = _run(_deployment(tmp_path))
    bases = run["originalUriBaseIds"]
    resolved = []
    for result in run["results"][:2]:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        base = bases[artifact["uriBaseId"]]["uri"]
        assert base.startswith("file:///") and base.endswith("/")
        resolved.append(Path(unquote(urlparse(base + artifact["uri"]).path)))
    assert resolved == [tmp_path / "weights" / "config.json", tmp_path / "data dir/config.json"]
    other = run["results"][2]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert other["uriBaseId"] == "ROOT"  # a component without a local root
    assert len(bases) == 3


def test_fingerprints_are_stable_and_distinguish_components(tmp_path: Path) -> None:
    report = _deployment(tmp_path)
    first = [r["partialFingerprints"][FINGERPRINT] for r in _run(report)["results"]]
    assert len(set(first)) == 3  # same rule and path, different components
    # another run: other digests, another machine's directories, same findings
    again = replace(
        report,
        findings=tuple(replace(f, actual="e" * 64) for f in report.findings),
        roots=tuple((ref, "/elsewhere" + d) for ref, d in report.roots),
        time="2030-01-01T00:00:00Z",
    )
    assert [r["partialFingerprints"][FINGERPRINT] for r in _run(again)["results"]] == first


def test_colliding_base_names_stay_distinct(tmp_path: Path) -> None:
    report = Report(
        "verify deployment",
        "d",
        (),
        roots=(("model:a-b", str(tmp_path / "1")), ("model:a_b", str(tmp_path / "2"))),
    )
    bases = _run(report)["originalUriBaseIds"]
    assert sorted(bases) == ["ROOT", "ROOT_MODEL_A_B", "ROOT_MODEL_A_B_2"]


def test_roots_are_not_in_the_json_report(tmp_path: Path) -> None:
    report = _deployment(tmp_path)
    assert JsonReporter().render(report) == JsonReporter().render(replace(report, roots=()))
