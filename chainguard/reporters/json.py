"""The machine-readable report, `chainguard.report/v1`.

A public contract: users' scripts read these fields. docs/report-schema.v1.json describes it
exactly; changing a field's name, type or meaning, or adding one, means a new schema id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainguard import __version__
from chainguard.findings import Finding, Report
from chainguard.reporters.interface import dump_json

SCHEMA = "chainguard.report/v1"


def report_to_dict(report: Report) -> dict[str, Any]:
    """The v1 document as plain data, fields in their documented order."""
    return {
        "schema": SCHEMA,
        "ok": report.ok,
        "command": report.command,
        "target": report.target,
        "deployment": report.deployment,
        "sbom": report.sbom,
        "signature": report.signature,
        "signers": list(report.signers),
        "components": list(report.components),
        "findings": [_finding(f) for f in report.findings],
        "stats": {
            "files": report.stats.files,
            "bytes": report.stats.bytes,
            # Milliseconds are all the precision a wall-clock time deserves.
            "seconds": round(float(report.stats.seconds), 3),
        },
        "chainguard_version": __version__,
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "severity": finding.effective_severity.value,
        "path": finding.path,
        "message": finding.message,
        "expected": finding.expected,
        "actual": finding.actual,
        "component": finding.component,
        "remediation": finding.remediation,
    }


@dataclass(frozen=True, slots=True)
class JsonReporter:
    name = "json"

    def render(self, report: Report, *, color: bool = False) -> str:
        # `color` is meaningless for data; accepted so every reporter is called the same way.
        return dump_json(report_to_dict(report))
