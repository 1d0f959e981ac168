"""The machine-readable report, `chainguard.report/v2`.

A public contract: users' scripts read these fields. docs/report-schema.v2.json describes it
exactly; changing a field's name, type or meaning, or adding one, means a new schema id (v2 is
v1 plus what decided trust, when and where, and the signed SBOM's digest and serial).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainguard import __version__
from chainguard.findings import Finding, Report, TrustSummary
from chainguard.reporters.interface import dump_json

SCHEMA = "chainguard.report/v2"


def report_to_dict(report: Report) -> dict[str, Any]:
    """The v2 document as plain data, fields in their documented order."""
    return {
        "schema": SCHEMA,
        "ok": report.ok,
        "error": report.error,
        "command": report.command,
        "target": report.target,
        "time": report.time,
        "host": report.host,
        "deployment": report.deployment,
        "sbom": report.sbom,
        "sbom_digest": report.sbom_digest,
        "serial": report.serial,
        "signature": report.signature,
        "signers": list(report.signers),
        "components": list(report.components),
        "config": report.trust.config if report.trust else None,
        "trust": _trust(report.trust) if report.trust else None,
        "findings": [_finding(f) for f in report.findings],
        "stats": {
            "files": report.stats.files,
            "bytes": report.stats.bytes,
            # Milliseconds are all the precision a wall-clock time deserves.
            "seconds": round(float(report.stats.seconds), 3),
        },
        "chainguard_version": __version__,
    }


def _trust(trust: TrustSummary) -> dict[str, Any]:
    return {
        "source": trust.source,
        "config": trust.config,
        "config_note": trust.config_note,
        "keys": [{"path": k.path, "fingerprint": k.fingerprint} for k in trust.keys],
        "identities": [
            {"identity": i.identity, "issuer": i.issuer, "repository": i.repository, "ref": i.ref}
            for i in trust.identities
        ],
        "certificate_chains": list(trust.certificate_chains),
        "trusted_root": trust.trusted_root,
        "threshold": trust.threshold,
        "ignore": list(trust.ignore),
        "deployment": trust.deployment,
        "allow_expired": trust.allow_expired,
        "min_serial": trust.min_serial,
        "state": trust.state,
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
