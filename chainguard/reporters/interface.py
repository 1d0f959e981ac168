"""The reporter contract, plus the few small helpers several formats share.

A reporter turns a finished `Report` into a string. It does no I/O and picks no exit code:
the CLI writes the string where it belongs and decides how the process ends.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from chainguard.findings import RULES, Finding, Report, Severity, Stats


@runtime_checkable
class Reporter(Protocol):
    name: str  # the registry key, e.g. "sarif"

    def render(self, report: Report, *, color: bool = False) -> str:
        """Return the whole report; `color` asks for ANSI colour where the format has any."""
        ...


# --- helpers for the JSON formats (json, sarif) ---------------------------------------------

# File names that are not valid UTF-8 reach us as lone surrogates (os.fsdecode). Left raw they
# would make the output unencodable, so they are written as JSON \u escapes instead.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def dump_json(document: Any) -> str:
    """Indented JSON, non-ASCII kept readable, key order as built, ending in a newline."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if not text.isascii():
        text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)
    return text


# --- helpers for the human-readable formats (text, markdown) --------------------------------

_SEVERITY_ORDER = {severity: rank for rank, severity in enumerate(Severity)}  # most severe first

# 17+ hex digits is a digest (or a shard list), never a size or a version worth reading in full.
_LONG_HEX = re.compile(r"\b([0-9a-fA-F]{16})[0-9a-fA-F]+\b")


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, then notes; otherwise the order compare produced."""
    return sorted(findings, key=lambda f: _SEVERITY_ORDER[f.effective_severity])


def count_summary(findings: Iterable[Finding]) -> str:
    """How many findings of each severity, most severe first: "2 errors, 1 warning"."""
    counts = dict.fromkeys(Severity, 0)
    for finding in findings:
        counts[finding.effective_severity] += 1
    return ", ".join(f"{n} {sev.value}{'' if n == 1 else 's'}" for sev, n in counts.items() if n)


def shorten_digests(value: str) -> str:
    """Cut every hex run longer than 16 digits to 16 and "…": enough to tell digests apart by
    eye, and short enough for a table. JSON and SARIF keep the full values."""
    return _LONG_HEX.sub(r"\1…", value)


def printable(value: str) -> str:
    """Make attacker-controlled text (file names come from disk) inert and unambiguous.

    Control characters could move the cursor or forge lines; format characters such as the
    bidi overrides of "Trojan Source", and unusual spaces, could make one path look like
    another. Each becomes a visible escape, and so does a backslash, so two different paths
    never print the same.
    """
    if value.isprintable() and "\\" not in value:  # the common case: nothing to escape
        return value
    return "".join(_escape(ch) if ch == "\\" or not ch.isprintable() else ch for ch in value)


_NAMED_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def display_width(value: str) -> int:
    """Terminal columns `value` takes: wide East Asian characters two, combining marks none."""
    if value.isascii():
        return len(value)
    return sum(_char_width(ch) for ch in value)


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def remediations(findings: Iterable[Finding]) -> list[tuple[str, int, str]]:
    """(rule id, number of findings, remediation) once per rule, in order of first appearance."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.rule] = counts.get(finding.rule, 0) + 1
    return [(rule, n, RULES[rule].remediation) for rule, n in counts.items()]


def format_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def format_stats(stats: Stats, verb: str = "hashed") -> str:
    """Throughput for the human formats: "12 files, 1.4 GiB hashed in 2.31 s (612 MiB/s)"
    (a scan reads each file's head: "read")."""
    if stats.files == 0 and stats.bytes == 0:
        return f"no files {verb}"
    files = "1 file" if stats.files == 1 else f"{stats.files} files"
    seconds = stats.seconds
    line = f"{files}, {format_bytes(stats.bytes)} {verb} in {seconds:.2f} s"
    if seconds > 0:
        rate = stats.bytes / (1024 * 1024) / seconds
        line += f" ({rate:.0f} MiB/s)" if rate >= 10 else f" ({rate:.1f} MiB/s)"
    return line


def is_scan(report: Report) -> bool:
    """A `chainguard scan` report: it verifies nothing against an SBOM, and says so."""
    return report.command == "scan"


def stats_line(report: Report) -> str:
    return format_stats(report.stats, "read" if is_scan(report) else "hashed")


def describe_trust(report: Report) -> list[tuple[str, str]]:
    """(label, value) lines saying what decided trust: every human-readable format shows them,
    so a change of trust shows in the output."""
    trust = report.trust
    if trust is None:
        return []
    config = trust.config or "none"
    if trust.config_note:
        config += f" ({trust.config_note})"
    if is_scan(report):  # no SBOM, no signature: the config's format policy decides
        return [("config", config), ("policy", trust.policy or "default")]
    anchors = [
        f"key {k.path} " + (f"sha256:{k.fingerprint[:16]}…" if k.fingerprint else "(unreadable)")
        for k in trust.keys
    ]
    for i in trust.identities:
        refine = (("repo", i.repository), ("ref", i.ref))
        extra = "".join(f", {name} {v}" for name, v in refine if v)
        noun = "identity regexp" if i.regexp else "identity"
        anchors.append(f"{noun} {i.identity} via {i.issuer}{extra}")
    anchors += [f"CA {c}" for c in trust.certificate_chains]
    if trust.trusted_root:
        anchors.append(f"root {trust.trusted_root}")
    lines = [
        ("config", config),
        ("trust from", f"{trust.source}; threshold {trust.threshold}"),
    ]
    lines += [("anchor", a) for a in anchors] or [("anchor", "none")]
    if trust.ignore:
        lines.append(("ignored", ", ".join(trust.ignore)))
    pins = [f"deployment {trust.deployment}" if trust.deployment else "deployment not pinned"]
    if trust.min_serial is not None:
        pins.append(f"serial >= {trust.min_serial}")
    if trust.allow_expired:
        pins.append("expired SBOM accepted (--allow-expired)")
    lines.append(("pinned", "; ".join(pins)))
    if report.sbom_digest:
        serial = f", serial {report.serial}" if report.serial is not None else ""
        lines.append(("sbom", f"{shorten_digests(report.sbom_digest)}{serial}"))
    return lines
