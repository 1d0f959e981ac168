"""fleet status as text, JSON (``chainguard.fleet/v1``, docs/fleet-schema.v1.json) and
Markdown: text out, no I/O, as the reporters of verify."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from chainguard.findings import Finding
from chainguard.fleet.status import SCHEMA, Attestation, FleetStatus, HostRow


def _stamp(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _age(status: FleetStatus, a: Attestation | None) -> int | None:
    return None if a is None else int((status.time - a.time).total_seconds())


def _row_json(status: FleetStatus, row: HostRow) -> dict[str, object]:
    a = row.latest
    return {
        "host": row.host,
        "enrolled": row.enrolled,
        "state": row.state,
        "time": _stamp(a.time) if a else None,
        "age_seconds": _age(status, a),
        "result": a.result if a else None,
        "deployment": a.deployment if a else None,
        "drift": (
            {"new": a.drift[0], "resolved": a.drift[1], "unchanged": a.drift[2]} if a else None
        ),
        "findings": [f.as_json() for f in a.findings] if a else [],
        "findings_total": a.findings_total if a else 0,
        "tag": a.tag if a else None,
        "log_entry": a.log_entry if a else None,
        "untrusted": row.untrusted,
        "tags": row.tags,
    }


def _finding_json(f: Finding) -> dict[str, object]:
    return {
        "rule": f.rule,
        "severity": f.effective_severity.value,
        "host": f.component,
        "path": f.path,
        "message": f.message,
        "expected": f.expected,
        "actual": f.actual,
        "remediation": f.remediation,
    }


def render_json(status: FleetStatus) -> str:
    doc = {
        "schema": SCHEMA,
        "command": "fleet status",
        "registry": status.registry,
        "time": _stamp(status.time),
        "stale_seconds": int(status.stale.total_seconds()),
        "since": _stamp(status.since),
        "ok": status.ok,
        "hosts": [_row_json(status, r) for r in status.rows],
        "findings": [_finding_json(f) for f in status.findings],
        "tags_listed": status.tags_listed,
        "tags_truncated": status.tags_truncated,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _drift_text(a: Attestation | None) -> str:
    return "-" if a is None else f"+{a.drift[0]} -{a.drift[1]} ={a.drift[2]}"


def render_text(status: FleetStatus) -> str:
    verdict = "OK" if status.ok else "NOT OK"
    lines = [
        f"fleet status {status.registry}: {verdict} "
        f"({sum(r.enrolled for r in status.rows)} enrolled host(s), stale after "
        f"{int(status.stale.total_seconds())}s)"
    ]
    width = max([len(r.host) for r in status.rows] + [4])
    lines.append(f"  {'HOST':<{width}}  {'STATE':<10}  {'TIME':<20}  {'RESULT':<6}  DRIFT")
    for row in status.rows:
        a = row.latest
        lines.append(
            f"  {row.host:<{width}}  {row.state:<10}  {_stamp(a.time) if a else '-':<20}  "
            f"{a.result if a else '-':<6}  {_drift_text(a)}"
            + (f"  ({row.untrusted} untrusted)" if row.untrusted else "")
        )
        if a is not None and a.result == "FAILED":
            for f in a.findings:
                lines.append(f"      {f.severity}: {f.rule}: {f.path}: {f.message}")
            if a.findings_total > len(a.findings):
                lines.append(f"      ... {a.findings_total - len(a.findings)} more")
    if status.findings:
        lines.append("")
        lines += [f"{f.effective_severity.value}: {f.rule}: {f.message}" for f in status.findings]
    if status.tags_truncated:
        lines.append(f"note: only the first {status.tags_listed} tags were listed")
    return "\n".join(lines) + "\n"


def render_markdown(status: FleetStatus) -> str:
    from chainguard.reporters.markdown import _text  # the one escaper of registry/host text

    verdict = "✅ all hosts fresh and passing" if status.ok else "❌ not all hosts pass"
    lines = [
        f"### chainguard fleet status: {verdict}",
        "",
        f"Registry {_text(status.registry)}, stale after {int(status.stale.total_seconds())}s.",
        "",
        "| Host | State | Time | Result | Drift | Untrusted |",
        "|---|---|---|---|---|---|",
    ]
    for row in status.rows:
        a = row.latest
        lines.append(
            f"| {_text(row.host)} | {row.state} | {_stamp(a.time) if a else '—'} | "
            f"{a.result if a else '—'} | {_text(_drift_text(a))} | {row.untrusted} |"
        )
    failed = [r for r in status.rows if r.latest is not None and r.latest.result == "FAILED"]
    for row in failed:
        assert row.latest is not None
        lines += ["", f"**{_text(row.host)}** findings:", ""]
        lines += [
            f"- {_text(f.severity)} {_text(f.rule)}: {_text(f.path)}: {_text(f.message)}"
            for f in row.latest.findings
        ]
    if status.findings:
        lines += ["", *(f"- {_text(f.rule)}: {_text(f.message)}" for f in status.findings)]
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
