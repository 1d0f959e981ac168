"""GitHub-flavoured Markdown for a CI job summary ($GITHUB_STEP_SUMMARY).

Everything taken from the report (paths come from disk, so from whoever controls the
deployment) is escaped, so a file name cannot break the table, inject HTML or form a link,
an autolink, an @mention or an issue reference (see _text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chainguard.findings import Finding, Report
from chainguard.reporters.interface import (
    by_severity,
    count_summary,
    describe_trust,
    is_scan,
    printable,
    remediations,
    shorten_digests,
    stats_line,
)

# Report data is shown as `code` unless it is plain prose: GitHub forms no link, mention or
# reference inside code (neither cmark-gfm's autolinks nor its own post-processing of @user,
# #123, GH-123, owner/repo#123, commit SHAs and custom autolink prefixes such as TICKET-123).
# Prose may hold only letters, digits, spaces and this punctuation ...
_PROSE_PUNCTUATION = frozenset(" .,;'\"()!?%+=/-→…—·×")
# ... and none of these: www. (an autolink), 7+ hex digits (a commit SHA), a digit right after
# a letter or "-" (GH-123, or a repository's own autolink prefix). @, #, : and <, which every
# other link form needs, are not prose punctuation.
_LINKABLE = re.compile(r"www\.|[0-9a-f]{7}|[a-z-][0-9]", re.IGNORECASE)
_BACKTICKS = re.compile("`+")
_ABSENT = "—"


@dataclass(frozen=True, slots=True)
class MarkdownReporter:
    """`max_rows` bounds the table: GitHub rejects a job summary larger than 1 MiB."""

    name = "markdown"
    max_rows: int = 200

    def render(self, report: Report, *, color: bool = False) -> str:
        findings = by_severity(report.findings)
        lines = [_heading(report), "", _facts(report)]
        if report.error is not None:
            lines += ["", f"**Could not verify:** {_text(report.error)}"]
        trust = describe_trust(report)
        if trust:
            lines += ["", *(f"- {_text(label)}: {_text(value)}" for label, value in trust)]
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
            lines.append(f"| {' | '.join(map(_cell, cells))} |")
        hidden = len(findings) - self.max_rows
        if hidden > 0:
            lines += ["", f"…and {hidden} more; the JSON or SARIF report lists every finding."]
        return lines


def _heading(report: Report) -> str:
    if is_scan(report):
        if report.error is not None:
            return f"## ⚠️ chainguard could not scan {_text(report.target)}"
        if report.ok:
            return f"## ✅ chainguard scan: nothing unsafe in {_text(report.target)}"
        return f"## ❌ chainguard scan: unsafe files in {_text(report.target)}"
    if report.error is not None:
        return f"## ⚠️ chainguard could not verify {_text(report.target)}"
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
    elif not is_scan(report):
        facts.append("no verified signer")
    facts.append(stats_line(report))
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
    """A path, digest, id or name: always as `code`, exactly as the text report prints it."""
    return _code(printable(value)) if value else ""


def _text(value: str) -> str:
    """Untrusted text for one line of Markdown (a table cell, a heading, the facts line):
    plain prose as escaped text, anything GitHub could link as `code`."""
    if not _is_prose(value):
        return _literal(value)
    # Escaping every ASCII punctuation mark (Markdown allows it) keeps "1." or "-" at the start
    # of a line from becoming a list.
    return "".join(f"\\{ch}" if ch.isascii() and _is_punctuation(ch) else ch for ch in value)


def _is_prose(value: str) -> bool:
    """Only prose characters, no link-shaped run, and no edge space a table cell would trim."""
    if value != value.strip(" ") or _LINKABLE.search(value):
        return False
    return all(ch.isalnum() or ch in _PROSE_PUNCTUATION for ch in value)


def _is_punctuation(ch: str) -> bool:
    return not ch.isalnum() and ch != " "


def _code(visible: str) -> str:
    """A code span around already-printable text: its fence is longer than any run of
    backticks inside, and a space pads content that starts or ends with a backtick or a space
    (the parser strips one from each side). A `|` still ends a table cell: see _cell."""
    fence = "`" * (1 + max((len(run) for run in _BACKTICKS.findall(visible)), default=0))
    edge = visible[0] + visible[-1]
    pad = " " if visible.strip(" ") and ("`" in edge or " " in edge) else ""
    return f"{fence}{pad}{visible}{pad}{fence}"


def _cell(markdown: str) -> str:
    """Inline Markdown as a table cell: GFM splits cells on every unescaped `|`, inside code
    spans too, and turns `\\|` back into `|` there. Prose never holds a `|`."""
    return markdown.replace("|", "\\|")
