"""SARIF 2.1.0, for code-scanning dashboards (GitHub code scanning and other SARIF viewers).

One run; the driver's rules are the chainguard rules that occur in the report, described
from the same RULES table as every other format. A finding's path is relative to its
component's local directory: each compared component has its own `originalUriBaseIds` entry
(its directory as a file URI), so a viewer resolves the path to the real file; other relative
paths resolve against ROOT, the verified target. `partialFingerprints` (rule, component, path,
hashed) let code scanning track a finding across runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from chainguard import __version__
from chainguard.findings import RULES, Finding, Report, Severity
from chainguard.reporters.interface import dump_json

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"
ROOT = "ROOT"  # uriBaseId of relative finding paths: the verified directory
FINGERPRINT = "chainguardFinding/v1"  # partialFingerprints key: sha256 of rule, component, path

# Spelled out rather than reusing Severity.value: SARIF levels are SARIF's vocabulary, and a
# new Severity must be mapped deliberately (a test checks every Severity is here).
LEVELS: dict[Severity, str] = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.NOTE: "note",
}

# RFC 3986 unreserved characters plus "/" stay as they are in a URI path; all else is %XX.
_URI_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


@dataclass(frozen=True, slots=True)
class SarifReporter:
    name = "sarif"

    def render(self, report: Report, *, color: bool = False) -> str:
        return dump_json(report_to_sarif(report))


def report_to_sarif(report: Report) -> dict[str, Any]:
    used = {f.rule for f in report.findings}
    rule_ids = [rule_id for rule_id in RULES if rule_id in used]  # RULES order: stable output
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    bases = _root_base_ids(report)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "chainguard",
                "version": __version__,
                "rules": [_rule(rule_id) for rule_id in rule_ids],
            }
        },
        # Findings are the analysis succeeding; a run that could not verify says why here.
        "invocations": [_invocation(report)],
        "originalUriBaseIds": {
            ROOT: {"description": {"text": f"The verified target: {report.target}"}},
            **{
                base: {
                    "uri": "file://" + _uri_path(directory.rstrip("/") + "/"),
                    "description": {"text": f"The local directory of {ref}"},
                }
                for ref, (base, directory) in bases.items()
            },
        },
        "results": [_result(f, index[f.rule], bases) for f in report.findings],
        "properties": _run_properties(report),
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rule(rule_id: str) -> dict[str, Any]:
    rule = RULES[rule_id]
    return {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "help": {"text": rule.remediation},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": ["security", "supply-chain"]},
    }


def _root_base_ids(report: Report) -> dict[str, tuple[str, str]]:
    """Each component root's uriBaseId (derived from its bom-ref, unique) and directory."""
    bases: dict[str, tuple[str, str]] = {}
    taken = {ROOT}
    for ref, directory in report.roots:
        stem = "ROOT_" + (re.sub(r"[^A-Za-z0-9]+", "_", ref).strip("_").upper() or "COMPONENT")
        base, number = stem, 1
        while base in taken:
            number += 1
            base = f"{stem}_{number}"
        taken.add(base)
        bases[ref] = (base, directory)
    return bases


def _result(finding: Finding, rule_index: int, bases: dict[str, tuple[str, str]]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.effective_severity],
        "message": {"text": _message(finding)},
    }
    if finding.path:  # a finding about the whole run (e.g. no signature) has no location
        root = bases.get(finding.component or "")
        artifact = _location(finding.path, root[0] if root else ROOT)
        result["locations"] = [{"physicalLocation": {"artifactLocation": artifact}}]
    result["partialFingerprints"] = {FINGERPRINT: _fingerprint(finding)}
    properties = {
        key: value
        for key, value in (
            ("expected", finding.expected),
            ("actual", finding.actual),
            ("component", finding.component),
        )
        if value is not None
    }
    if properties:
        result["properties"] = properties
    return result


def _message(finding: Finding) -> str:
    details = []
    if finding.expected is not None:
        details.append(f"expected {finding.expected}")
    if finding.actual is not None:
        details.append(f"actual {finding.actual}")
    return f"{finding.message} ({'; '.join(details)})" if details else finding.message


def _fingerprint(finding: Finding) -> str:
    """Stable across runs: what is wrong and where, never the digests or the message."""
    key = "\0".join((finding.rule, finding.component or "", finding.path))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _location(path: str, base: str) -> dict[str, str]:
    if path.startswith("/"):
        return {"uri": "file://" + _uri_path(path)}
    return {"uri": _uri_path(path), "uriBaseId": base}


def _uri_path(path: str) -> str:
    try:
        # surrogateescape recovers the original bytes of a file name that is not valid UTF-8.
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file name produced; keep it visible
        raw = path.encode("utf-8", "surrogatepass")
    return "".join(chr(b) if b in _URI_SAFE else f"%{b:02X}" for b in raw)


def _invocation(report: Report) -> dict[str, Any]:
    if report.error is None:
        return {"executionSuccessful": True}
    return {
        "executionSuccessful": False,
        "toolExecutionNotifications": [
            {"level": "error", "message": {"text": f"could not verify: {report.error}"}}
        ],
    }


def _run_properties(report: Report) -> dict[str, Any]:
    from chainguard.reporters.json import report_to_dict

    properties: dict[str, Any] = {
        "ok": report.ok,
        "command": report.command,
        "target": report.target,
    }
    document = report_to_dict(report)
    optional = {
        "error": report.error,
        "time": report.time,
        "host": report.host,
        "deployment": report.deployment,
        "sbom": report.sbom,
        "sbom_digest": report.sbom_digest,
        "serial": report.serial,
        "signature": report.signature,
        "signers": list(report.signers),
        "components": list(report.components),
        "config": document["config"],
        "trust": document["trust"],
    }
    properties.update({key: value for key, value in optional.items() if value not in (None, [])})
    properties["stats"] = {
        "files": report.stats.files,
        "bytes": report.stats.bytes,
        "seconds": round(float(report.stats.seconds), 3),
    }
    return properties
