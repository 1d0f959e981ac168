from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chainguard import __version__
from chainguard.findings import RULES, Finding, Report, Severity
from chainguard.reporters.json import SCHEMA, JsonReporter, report_to_dict

DOCS = Path(__file__).resolve().parents[3] / "docs"
TOP_LEVEL = [
    "schema", "ok", "error", "command", "target", "time", "host", "deployment", "sbom",
    "sbom_digest", "serial", "signature", "signers", "components", "config", "trust", "findings",
    "stats", "chainguard_version",
]  # fmt: skip
TRUST = [
    "source", "config", "config_note", "keys", "identities", "certificate_chains", "trusted_root",
    "threshold", "ignore", "deployment", "allow_expired", "min_serial", "state",
]  # fmt: skip
FINDING = ["rule", "severity", "path", "message", "expected", "actual", "component", "remediation"]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DOCS / "report-schema.v2.json").read_text("utf-8"))
    Draft202012Validator.check_schema(document)
    return document


def _render(report: Report) -> dict[str, Any]:
    out = JsonReporter().render(report)
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def test_validates_against_the_published_schema(schema: dict[str, Any], any_report: Report) -> None:
    Draft202012Validator(schema).validate(_render(any_report))


def test_schema_and_code_agree_on_fields(schema: dict[str, Any], failing_report: Report) -> None:
    assert schema["required"] == TOP_LEVEL
    assert list(schema["properties"]) == TOP_LEVEL
    assert schema["$defs"]["finding"]["required"] == FINDING
    assert schema["$defs"]["trust"]["required"] == TRUST
    assert list(schema["properties"]["stats"]["properties"]) == ["files", "bytes", "seconds"]
    document = _render(failing_report)
    assert list(document) == TOP_LEVEL  # stable, documented order, not sorted
    assert all(list(finding) == FINDING for finding in document["findings"])
    assert document["schema"] == SCHEMA == schema["properties"]["schema"]["const"]


def test_clean_report(clean_report: Report) -> None:
    document = _render(clean_report)
    assert document["ok"] is True
    assert document["findings"] == []
    assert document["signers"] == ["release key (ecdsa-p256 1f2e3d4c)"]
    assert document["components"] == ["model:llama"]
    assert document["stats"] == {"files": 3, "bytes": 3 * 1024**3, "seconds": 2.0}
    assert document["chainguard_version"] == __version__


def test_failing_report(failing_report: Report) -> None:
    document = _render(failing_report)
    assert document["ok"] is False
    assert document["signers"] == []
    findings = document["findings"]
    assert len(findings) == len(failing_report.findings)
    for finding, source in zip(findings, failing_report.findings, strict=True):
        assert finding["rule"] == source.rule  # report order kept
        assert finding["severity"] == source.effective_severity.value
        assert finding["path"] == source.path
        assert finding["expected"] == source.expected  # full values, nulls kept
        assert finding["actual"] == source.actual
        assert finding["remediation"] == RULES[source.rule].remediation
    assert findings[0]["severity"] == "warning"  # per-finding override of the rule default


def test_formatting(failing_report: Report) -> None:
    out = JsonReporter().render(failing_report)
    assert out.endswith("}\n")
    assert out.splitlines()[1] == '  "schema": "chainguard.report/v2",'
    odd = next(f.path for f in failing_report.findings if "|" in f.path)
    assert json.dumps(odd, ensure_ascii=False) in out  # non-ASCII written as is, not \u-escaped


def test_color_changes_nothing(failing_report: Report) -> None:
    assert JsonReporter().render(failing_report, color=True) == JsonReporter().render(
        failing_report
    )


def test_undecodable_file_name_stays_encodable() -> None:
    path = "weights-\udcff.bin"  # os.fsdecode(b"weights-\xff.bin")
    report = Report(
        command="verify model",
        target="m",
        findings=(Finding("artifact-unexpected", path, "unexpected", actual="b" * 64),),
    )
    out = JsonReporter().render(report)
    out.encode("utf-8")
    assert json.loads(out)["findings"][0]["path"] == path


def test_seconds_are_rounded_to_milliseconds() -> None:
    from chainguard.findings import Stats

    report = Report(command="c", target="t", findings=(), stats=Stats(1, 1, 1.23456789))
    assert report_to_dict(report)["stats"]["seconds"] == 1.235


def test_severity_enum_matches(schema: dict[str, Any]) -> None:
    assert schema["$defs"]["finding"]["properties"]["severity"]["enum"] == [
        s.value for s in Severity
    ]


def test_rule_ids_match_the_schema_pattern(schema: dict[str, Any]) -> None:
    import re

    pattern = re.compile(schema["$defs"]["finding"]["properties"]["rule"]["pattern"])
    assert all(pattern.fullmatch(rule_id) for rule_id in RULES)


def test_reports_doc_covers_fields_and_rules() -> None:
    doc = (DOCS / "reports.md").read_text("utf-8")
    for name in [*TOP_LEVEL, *FINDING, "files", "bytes", "seconds"]:
        assert f"`{name}`" in doc, name
    for rule_id in RULES:
        assert f"`{rule_id}`" in doc, rule_id


def test_trust_and_provenance_fields(schema: dict[str, Any]) -> None:
    from chainguard.findings import TrustedIdentityAnchor, TrustedKeyAnchor, TrustSummary

    trust = TrustSummary(
        source="config",
        config="/etc/chainguard/chainguard.toml",
        keys=(TrustedKeyAnchor("/etc/chainguard/release.pub", "ab" * 32),),
        identities=(TrustedIdentityAnchor("ci@example.com", "https://issuer.example"),),
        trusted_root="sigstore production (shipped)",
        threshold=2,
        ignore=(".git",),
        deployment="llama-prod",
        min_serial=3,
    )
    report = Report(
        "verify model",
        "models/llama",
        (),
        trust=trust,
        sbom_digest="sha256:" + "cd" * 32,
        serial=14,
        time="2026-12-02T03:18:52Z",
        host="inference-07",
    )
    document = _render(report)
    Draft202012Validator(schema).validate(document)
    assert list(document["trust"]) == TRUST
    assert document["config"] == "/etc/chainguard/chainguard.toml"
    assert document["trust"]["keys"] == [
        {"path": "/etc/chainguard/release.pub", "fingerprint": "ab" * 32}
    ]
    assert document["trust"]["identities"][0]["issuer"] == "https://issuer.example"
    assert (document["serial"], document["host"]) == (14, "inference-07")
    assert document["ok"] is True and document["error"] is None


def test_an_error_report_is_never_ok(schema: dict[str, Any]) -> None:
    document = _render(Report("verify model", "m", (), error="m/x.sig: not JSON"))
    Draft202012Validator(schema).validate(document)
    assert document["ok"] is False and document["error"] == "m/x.sig: not JSON"
    assert document["trust"] is None
