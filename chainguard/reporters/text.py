"""The terminal report: a status header, a findings table, what to do, and throughput.

Plain string formatting on purpose: the verify path must not pay for importing rich.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from itertools import zip_longest

from chainguard.findings import Finding, Report, Severity
from chainguard.reporters.interface import (
    by_severity,
    count_summary,
    describe_trust,
    display_width,
    is_scan,
    printable,
    remediations,
    shorten_digests,
    stats_line,
)

_GAP = "  "
_MIN_PATH = 16
_MIN_CHANGE = 8
_CHANGE_WANTED = 40  # two shortened digests and the arrow ("<16 hex>… → <16 hex>…") fit
_HEADER = ("SEVERITY", "RULE", "PATH", "EXPECTED → ACTUAL")
_ABSENT = "—"
_BREAK_AFTER = ("/", " ", "-", "_", ".")

_BOLD, _DIM, _RED, _GREEN, _YELLOW, _CYAN = "1", "2", "31", "32", "33", "36"
_SEVERITY_COLOUR = {Severity.ERROR: _RED, Severity.WARNING: _YELLOW, Severity.NOTE: _CYAN}


class _Paint:
    __slots__ = ("enabled",)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *codes: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"


@dataclass(frozen=True, slots=True)
class TextReporter:
    """`width` is the terminal width to lay the table out for (callers that know the real
    one pass it; 100 otherwise).

    Cells too long for their column wrap onto further lines rather than being cut, so a path
    is always shown whole (two paths that differ only in the middle must not look alike).
    """

    name = "text"
    width: int = 100

    def render(self, report: Report, *, color: bool = False) -> str:
        paint = _Paint(color)
        findings = by_severity(report.findings)
        lines = _header(report, paint)
        if findings:
            lines += ["", *self._table(findings, paint), "", *self._advice(findings, paint)]
        lines += ["", paint(stats_line(report), _DIM)]
        return "\n".join(lines) + "\n"

    def _table(self, findings: list[Finding], paint: _Paint) -> list[str]:
        rows = [
            (f.effective_severity.value, f.rule, printable(f.path), _change(f)) for f in findings
        ]
        natural = [max(display_width(row[i]) for row in [_HEADER, *rows]) for i in range(4)]
        severity_w, rule_w, path_natural, change_natural = natural
        room = self.width - severity_w - rule_w - 3 * len(_GAP)
        # The change column is short and fixed-ish; the path column takes what is left.
        path_w = max(min(path_natural, room - min(change_natural, _CHANGE_WANTED)), _MIN_PATH)
        change_w = max(room - path_w, _MIN_CHANGE)
        widths = (severity_w, rule_w, path_w, change_w)

        lines = [paint(_row(_HEADER, widths)[0], _BOLD)]
        for finding, row in zip(findings, rows, strict=True):
            physical = _row(row, widths)
            colour = _SEVERITY_COLOUR[finding.effective_severity]
            severity_cell = physical[0][:severity_w]
            lines.append(paint(severity_cell, colour) + physical[0][severity_w:])
            lines.extend(physical[1:])
        return lines

    def _advice(self, findings: list[Finding], paint: _Paint) -> list[str]:
        lines = [paint("What to do:", _BOLD)]
        for rule, count, remediation in remediations(findings):
            label = rule if count == 1 else f"{rule} ({count})"
            wrapped = textwrap.wrap(
                f"{label}: {remediation}",
                width=max(self.width, 40),
                initial_indent="  ",
                subsequent_indent="    ",
                break_long_words=False,
                break_on_hyphens=False,  # keep --options and rule ids whole
            )
            wrapped[0] = wrapped[0].replace(rule, paint(rule, _BOLD), 1)
            lines.extend(wrapped)
        return lines


def _header(report: Report, paint: _Paint) -> list[str]:
    scan = is_scan(report)
    if report.error is not None:
        status = paint("✘ could NOT scan" if scan else "✘ could NOT verify", _BOLD, _RED)
    elif report.ok:
        status = paint("✔ nothing unsafe" if scan else "✔ verified", _BOLD, _GREEN)
    else:
        status = paint("✘ UNSAFE files" if scan else "✘ verification FAILED", _BOLD, _RED)
    first = f"{status}  {printable(report.target)}"
    if report.findings:
        first += f"  ({count_summary(report.findings)})"
    lines = [first]
    if report.error is not None:
        lines.append(f"  error       {printable(report.error)}")
    if report.deployment is not None:
        lines.append(f"  deployment  {printable(report.deployment)}")
    if report.components:
        lines.append(f"  components  {', '.join(printable(c) for c in report.components)}")
    if not scan:
        signers = [printable(s) for s in report.signers] or ["(no verified signer)"]
        lines.append(f"  signed by   {signers[0]}")
        lines.extend(f"              {s}" for s in signers[1:])
    lines.extend(f"  {label:<11} {printable(value)}" for label, value in describe_trust(report))
    return lines


def _change(finding: Finding) -> str:
    """Expected → actual; a finding with neither (e.g. a bad signature) shows its message."""
    if finding.expected is None and finding.actual is None:
        return printable(finding.message)
    return f"{_value(finding.expected)} → {_value(finding.actual)}"


def _value(value: str | None) -> str:
    return _ABSENT if value is None else shorten_digests(printable(value))


def _row(cells: tuple[str, ...], widths: tuple[int, ...]) -> list[str]:
    """Lay one logical row out as physical lines; the last column is not padded."""
    wrapped = [_wrap(cell, width) for cell, width in zip(cells, widths, strict=True)]
    lines = []
    for parts in zip_longest(*wrapped, fillvalue=""):
        padded = [_pad(part, width) for part, width in zip(parts[:-1], widths[:-1], strict=True)]
        lines.append(_GAP.join([*padded, parts[-1]]).rstrip())
    return lines


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def _wrap(text: str, width: int) -> list[str]:
    """Split `text` into pieces at most `width` columns wide, preferring to break after a
    separator; nothing is dropped, so the pieces join back to `text` exactly."""
    if display_width(text) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for ch in text:
        if line and display_width(line + ch) > width:
            cut = max(line.rfind(sep) for sep in _BREAK_AFTER) + 1
            if cut <= len(line) // 2:  # a break that early would waste the line
                cut = len(line)
            lines.append(line[:cut])
            line = line[cut:]
        line += ch
    lines.append(line)
    return lines
