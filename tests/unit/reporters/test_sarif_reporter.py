from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from chainguard import __version__
from chainguard.findings import RULES, Finding, Report, Severity
from chainguard.reporters.sarif import LEVELS, SARIF_SCHEMA, SarifReporter

# No SARIF 2.1.0 JSON schema ships in any installed package, so the required shape is checked
# by hand here (the output was validated against the OASIS schema when this was written).


def _render(report: Report) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SarifReporter().render(report))
    return document


def _run(report: Report) -> dict[str, Any]:
    document = _render(report)
    assert len(document["runs"]) == 1
    run: dict[str, Any] = document["runs"][0]
    return run


def test_top_level_shape(any_report: Report) -> None:
    document = _render(any_report)
    assert document["$schema"] == SARIF_SCHEMA
    assert SARIF_SCHEMA.endswith("sarif-schema-2.1.0.json")
    assert document["version"] == "2.1.0"
    run = _run(any_report)
    driver = run["tool"]["driver"]
    assert driver["name"] == "chainguard"
    assert driver["version"] == __version__
    assert "informationUri" not in driver
    assert run["invocations"] == [{"executionSuccessful": True}]
    assert isinstance(run["results"], list)


def test_clean_report_has_no_rules_or_results(clean_report: Report) -> None:
    run = _run(clean_report)
    assert run["tool"]["driver"]["rules"] == []
    assert run["results"] == []
    assert run["properties"]["ok"] is True


def test_rules_are_exactly_those_used(failing_report: Report) -> None:
    run = _run(failing_report)
    rules = run["tool"]["driver"]["rules"]
    rule_ids = [rule["id"] for rule in rules]
    assert len(rule_ids) == len(set(rule_ids))
    assert set(rule_ids) == {result["ruleId"] for result in run["results"]}
    assert rule_ids == [r for r in RULES if r in set(rule_ids)]  # RULES order: stable diffs
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_rule_descriptions_come_from_the_rules_table(failing_report: Report) -> None:
    for rule in _run(failing_report)["tool"]["driver"]["rules"]:
        source = RULES[rule["id"]]
        assert rule["name"] == "".join(w.capitalize() for w in source.id.split("-"))
        assert rule["shortDescription"] == {"text": source.title}
        assert rule["help"] == {"text": source.remediation}
        assert rule["defaultConfiguration"] == {"level": LEVELS[source.severity]}


def test_every_severity_has_a_sarif_level() -> None:
    assert set(LEVELS) == set(Severity)
    assert set(LEVELS.values()) <= {"none", "note", "warning", "error"}


def test_results(failing_report: Report) -> None:
    results = _run(failing_report)["results"]
    assert len(results) == len(failing_report.findings)
    for result, finding in zip(results, failing_report.findings, strict=True):
        assert result["ruleId"] == finding.rule
        assert result["level"] == LEVELS[finding.effective_severity]
        text = result["message"]["text"]
        assert text.startswith(finding.message)
        properties = result.get("properties", {})
        for key in ("expected", "actual", "component"):
            value = getattr(finding, key)
            if value is None:
                assert key not in properties
            else:
                assert properties[key] == value
                if key != "component":
                    assert value in text  # full digests, not shortened
    assert [r["level"] for r in results].count("warning") == 1
    assert [r["level"] for r in results].count("note") == 1


def test_relative_paths_are_encoded_uris_under_root(failing_report: Report) -> None:
    results = _run(failing_report)["results"]
    for result, finding in zip(results, failing_report.findings, strict=True):
        if not finding.path:
            assert "locations" not in result  # about the run as a whole
            continue
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "ROOT"
        assert unquote(artifact["uri"]) == finding.path
        assert all(ch not in artifact["uri"] for ch in " |")
        assert artifact["uri"].isascii()
    assert "ROOT" in _run(failing_report)["originalUriBaseIds"]


def test_absolute_path_is_a_file_uri() -> None:
    report = Report(
        command="verify model",
        target="t",
        findings=(Finding("artifact-missing", "/srv/models/a b.bin", "missing"),),
    )
    (result,) = _run(report)["results"]
    artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "file:///srv/models/a%20b.bin"}


def test_undecodable_file_name_keeps_its_bytes() -> None:
    report = Report(
        command="verify model",
        target="t",
        findings=(Finding("artifact-unexpected", "w-\udcff:x.bin", "unexpected"),),
    )
    (result,) = _run(report)["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "w-%FF%3Ax.bin"  # the original byte; ":" escaped so it is no URI scheme


def test_run_properties(failing_report: Report) -> None:
    properties = _run(failing_report)["properties"]
    assert properties["ok"] is False
    assert properties["target"] == "models/llama"
    assert properties["deployment"] == "llama-prod@1.4.0"
    assert "signers" not in properties  # empty: nothing verified
    assert properties["stats"] == {"files": 2, "bytes": 5 * 1024**2, "seconds": 0.5}
