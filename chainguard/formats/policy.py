"""Format policy: a file's format and what its inspection found, under allow/deny lists, as
findings. `evaluate` is pure; `scan_file` inspects one file and evaluates it (what `chainguard
scan`, and the SBOM build and verify, call).

Lists hold format ids (`detect.FORMATS`) and `pickle`, which names every pickle-bearing file
(a raw pickle, a PyTorch zip, an object `.npy`, an archive holding a pickle). An empty `allow`
allows every format. A `PathRule` (a glob, as `ignore` patterns match) replaces the lists for
the paths it matches; the first matching rule wins.

By default a pickle whose imports are all tensor-rebuilding ones is `pickle-format` (warning);
one importing anything else, or that cannot be fully analysed, is `unsafe-pickle`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.findings import Finding
from chainguard.formats.detect import NAMED, PICKLE_BEARING

if TYPE_CHECKING:  # inspect imports the pickle analysis: only a file inspected needs it
    from chainguard.formats.inspect import Inspection

PICKLE = "pickle"


@dataclass(frozen=True, slots=True)
class PathRule:
    pattern: str
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FormatPolicy:
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    paths: tuple[PathRule, ...] = ()

    def describe(self) -> str:
        """One line for a report: what this policy allows and denies."""
        parts = [f"allow {', '.join(self.allow)}"] if self.allow else []
        parts += [f"deny {', '.join(self.deny)}"] if self.deny else []
        if self.paths:
            parts.append(f"{len(self.paths)} path rule{'s' if len(self.paths) > 1 else ''}")
        return "; ".join(parts) or "default (every format allowed; pickles analysed)"

    def lists_for(self, rel: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        from chainguard.collectors.tree import IgnoreRules

        for rule in self.paths:
            if IgnoreRules(patterns=(rule.pattern,)).matches(rel):
                return rule.allow, rule.deny
        return self.allow, self.deny


def _names(fmt: str, inspection: Inspection) -> set[str]:
    names = {fmt}
    if fmt in PICKLE_BEARING or inspection.pickles is not None:
        names.add(PICKLE)
    return names


def evaluate(rel: str, inspection: Inspection, policy: FormatPolicy) -> list[Finding]:
    """The findings for one inspected file under `policy` (pure)."""
    fmt = inspection.format
    findings: list[Finding] = []
    allow, deny = policy.lists_for(rel)
    names = _names(fmt, inspection)
    denied = sorted(names & set(deny))
    if denied:
        findings.append(
            Finding("unsafe-format", rel, f"{fmt} file: format {denied[0]!r} is denied", actual=fmt)
        )
    elif allow and not names & set(allow):
        findings.append(
            Finding("unsafe-format", rel, f"{fmt} file: format not in the allowed list", actual=fmt)
        )
    suffix = os.path.splitext(rel)[1].lower()
    if suffix in NAMED and fmt not in NAMED[suffix]:
        findings.append(
            Finding(
                "malformed-artifact",
                rel,
                f"named {suffix} but its bytes are {fmt}",
                expected=suffix.lstrip("."),
                actual=fmt,
            )
        )
    if inspection.malformed is not None:
        findings.append(
            Finding("malformed-artifact", rel, f"{fmt} file: {inspection.malformed}", actual=fmt)
        )
    findings += _pickle_findings(rel, inspection, denied=bool(denied))
    if inspection.gguf is not None and inspection.gguf.chat_template is not None:
        from chainguard.formats.gguf import template_risks

        risks = template_risks(inspection.gguf.chat_template)
        if risks:
            findings.append(
                Finding(
                    "template-review",
                    rel,
                    f"gguf file: tokenizer.chat_template uses {', '.join(risks)}",
                    actual=fmt,
                )
            )
    return findings


def _pickle_findings(rel: str, inspection: Inspection, *, denied: bool) -> list[Finding]:
    analysis = inspection.pickles
    fmt = inspection.format
    if analysis is None:
        return []
    if analysis.error is not None:
        return [
            Finding(
                "unsafe-pickle",
                rel,
                f"{fmt} file: cannot be fully analysed: {analysis.error}",
                actual=fmt,
            )
        ]
    if analysis.unsafe:
        shown = ", ".join(analysis.unsafe[:8])
        more = f" and {len(analysis.unsafe) - 8} more" if len(analysis.unsafe) > 8 else ""
        return [
            Finding(
                "unsafe-pickle",
                rel,
                f"{fmt} file: its pickle imports {shown}{more}",
                actual=fmt,
            )
        ]
    if denied:
        return []
    return [
        Finding(
            "pickle-format",
            rel,
            f"{fmt} file: a pickle (imports only tensor-rebuilding globals)",
            actual=fmt,
        )
    ]


def scan_file(
    path: Path | str, policy: FormatPolicy, rel: str | None = None
) -> tuple[str, list[Finding]]:
    """Inspect one file and evaluate it: (its format, the findings). Raises OSError when it
    cannot be read."""
    from chainguard.formats.inspect import inspect_file

    inspection = inspect_file(path)
    return inspection.format, evaluate(
        rel if rel is not None else os.path.basename(path), inspection, policy
    )
