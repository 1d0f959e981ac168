"""GitHub-flavoured Markdown for a CI job summary ($GITHUB_STEP_SUMMARY).

Everything taken from the report (paths come from disk, so from whoever controls the
deployment) is escaped, so a file name cannot break the table, inject HTML or links.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainguard.findings import Finding, Report
from chainguard.reporters.interface import (
    by_severity,
    count_summary,
    format_stats,
    printable,
    remediations,
    shorten_digests,
)

# ASCII punctuation that can start markup mid-line in GFM (emphasis, code, links, HTML,
# entities, table cells, strikethrough, math, mentions, references, autolinks). Markdown
# lets any ASCII punctuation be backslash-escaped, so over-escaping is harmless.
_SPECIAL = frozenset("\\`*_[]<>|&~$@#:!(){}")
# Values made only of these are shown as `code`: nothing in them can end the code span.
_LITERAL_SAFE = frozenset(".:-_/@+=…~,")
_ABSENT = "—"


@dataclass(frozen=True, slots=True)
class MarkdownReporter:
    """`max_rows` bounds the table: GitHub rejects a job summary larger than 1 MiB."""

    name = "markdown"
    max_rows: int = 200

    def render(self, report: Report, *, color: bool = False) -> str:
        findings = by_severity(report.findings)
        lines = [_heading(report), "", _facts(report)]
        if findings:
            lines += ["", *self._table(findings), "", *_advice(findings)]
        return "\n".join(lines) + "\n"

    def _table(self, findings: list[Finding]) -> list[str]:
        lines = [
            "| Severity | Rule | Path | Message | Expected | Actual |",
            "|---|---|---|---|---|---|",
        ]
        for f in findings[: self.max_rows]:
            cells = (
                f.effective_severity.value,
                _literal(f.rule),
                _literal(f.path) if f.path else _ABSENT,
                _text(f.message),
                _value(f.expected),
                _value(f.actual),
            )
            lines.append(f"| {' | '.join(cells)} |")
        hidden = len(findings) - self.max_rows
        if hidden > 0:
            lines += ["", f"…and {hidden} more; the JSON or SARIF report lists every finding."]
        return lines


def _heading(report: Report) -> str:
    if report.ok:
        return f"## ✅ chainguard verified {_text(report.target)}"
    return f"## ❌ chainguard verification failed: {_text(report.target)}"


def _facts(report: Report) -> str:
    facts = []
    if report.findings:
        facts.append(count_summary(report.findings))
    if report.deployment is not None:
        facts.append(f"deployment {_literal(report.deployment)}")
    if report.signers:
        facts.append(f"signed by {', '.join(_text(s) for s in report.signers)}")
    else:
        facts.append("no verified signer")
    facts.append(format_stats(report.stats))
    return " · ".join(facts)


def _advice(findings: list[Finding]) -> list[str]:
    lines = ["<details>", "<summary>What to do</summary>", ""]
    for rule, count, remediation in remediations(findings):
        times = "" if count == 1 else f" ({count} findings)"
        # Remediation text is chainguard's own Markdown (it uses `code`), so it is not escaped.
        lines.append(f"- **{_literal(rule)}**{times}: {remediation}")
    return [*lines, "", "</details>"]


def _value(value: str | None) -> str:
    return _ABSENT if value is None else _literal(shorten_digests(value))


def _literal(value: str) -> str:
    """A path, digest or id: as `code` when that is safe, else as escaped text."""
    if value and all(ch.isalnum() or ch in _LITERAL_SAFE for ch in value):
        return f"`{value}`"
    return _text(value)


def _text(value: str) -> str:
    """Escape untrusted text for one line of Markdown (a table cell or a heading)."""
    visible = printable(value)  # newlines and other controls become visible escapes first
    return "".join(f"\\{ch}" if ch in _SPECIAL else ch for ch in visible)
