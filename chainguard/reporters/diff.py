"""The release diff (chainguard.diff.DiffReport) as text, JSON (`chainguard.diff/v1`) and
Markdown for a pull-request comment. Not a `Report` format: no registry entry; RENDERERS maps
each `--format` of `chainguard diff` to its function. String out, no I/O.

Every value from the SBOMs (names, paths, versions, requirements, signer identities) is
attacker-chosen text: the text form prints it through `printable`, the Markdown form through
the markdown reporter's own escaping (code spans), so no link, mention or HTML forms from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chainguard import __version__
from chainguard.diff import (
    ComponentChange,
    ComponentState,
    DependencyChange,
    DiffReport,
    FileChange,
    FileState,
    PatchChange,
    ReleaseSide,
    SignatureCheck,
)
from chainguard.models import DeploymentInfo
from chainguard.reporters.interface import dump_json, format_bytes, printable, shorten_digests
from chainguard.reporters.markdown import _cell, _literal, _text

SCHEMA = "chainguard.diff/v1"


def _differences(report: DiffReport) -> str:
    n = report.diff.count()
    return "no differences" if n == 0 else f"{n} difference{'' if n == 1 else 's'}"


def _versions(versions: Sequence[str | None]) -> str:
    return ", ".join("(unpinned)" if v is None else v for v in versions) or "—"


# --- text ---------------------------------------------------------------------------------------

_MARK = {
    "added": "+",
    "removed": "-",
    "changed": "~",
    "declared": "+",
    "withdrawn": "-",
    "upgrade": "↑",
    "downgrade": "↓",
    "rehashed": "~",
}


def render_text(report: DiffReport) -> str:
    p = printable
    diff = report.diff
    lines = [f"chainguard diff {p(report.old.sbom)} → {p(report.new.sbom)}: {_differences(report)}"]
    lines.append(_deployment_text(report))
    for label, side in (("old", report.old), ("new", report.new)):
        if side.signature is not None:
            lines += _signature_text(label, side.signature)
    if diff.components:
        lines += ["", "components:"]
        for c in diff.components:
            lines.append(f"  {_MARK[c.change]} {p(c.bom_ref)}  {_component_text(c)}")
            for f in c.files:
                lines.append(f"      {_MARK[f.change]} {p(f.path)}  {_file_text(f)}")
    if diff.dependencies:
        lines += ["", "dependencies:"]
        for d in diff.dependencies:
            lines.append(f"  {_MARK[d.change]} {p(d.name)}  {_dependency_text(d)}")
    if diff.patches:
        lines += ["", "patches:"]
        for patch in diff.patches:
            lines.append(f"  {_MARK[patch.change]} {p(patch.id)}  {_patch_text(patch)}")
    return "\n".join(lines) + "\n"


def _deployment_text(report: DiffReport) -> str:
    d = report.diff.deployment
    old, new = d.old, d.new

    def pair(a: object, b: object) -> str:
        return printable(str(a)) if a == b else f"{printable(str(a))} → {printable(str(b))}"

    serial = pair(old.serial, new.serial)
    if d.serial_change == "rollback":
        serial += " (rollback)"
    text = f"deployment {pair(old.name, new.name)}, version {pair(old.version, new.version)}, "
    text += f"serial {serial}"
    if old.expires or new.expires:
        text += f", expires {pair(old.expires or 'never', new.expires or 'never')}"
    return text


def _signature_text(label: str, check: SignatureCheck) -> list[str]:
    head = f"{label} signature {printable(check.signature)}: "
    if check.verified:
        signers = ", ".join(printable(s) for s in check.signers)
        head += f"verified, signed by {signers}"
    else:
        head += "NOT VERIFIED"
    notes = [
        f"  {'error' if n.error else 'warning'} {n.rule}: {printable(n.message)}"
        for n in check.notes
    ]
    return [head, *notes]


def _component_text(c: ComponentChange) -> str:
    if c.old is not None and c.new is not None:
        text = f"sha256:{c.old.root_digest} → sha256:{c.new.root_digest}"
        text += f" ({c.old.files} → {c.new.files} files)"
        if c.old.version != c.new.version:
            text += f", version {_version_or_none(c.old)} → {_version_or_none(c.new)}"
        return text
    state = c.new or c.old
    assert state is not None
    version = f", version {printable(state.version)}" if state.version else ""
    files = f"{state.files} file{'' if state.files == 1 else 's'}"
    return f"sha256:{state.root_digest} ({files}, {format_bytes(state.size)}{version})"


def _version_or_none(state: ComponentState) -> str:
    return printable(state.version) if state.version else "none"


def _file_fact(state: FileState) -> str:
    return f"{state.size} B sha256:{state.sha256}{_mode(state)}"


def _mode(state: FileState) -> str:
    return f" mode {state.mode:04o}" if state.mode else ""


def _file_text(f: FileChange) -> str:
    if f.old is not None and f.new is not None:
        return f"{_file_fact(f.old)} → {_file_fact(f.new)}"
    state = f.new or f.old
    assert state is not None
    return _file_fact(state)


def _dependency_text(d: DependencyChange) -> str:
    old, new = printable(_versions(d.old)), printable(_versions(d.new))
    match d.change:
        case "added":
            return f"{new} (added)"
        case "removed":
            return f"{old} (removed)"
        case "rehashed":
            hashes = [f"+{h}" for h in d.hashes_added] + [f"-{h}" for h in d.hashes_removed]
            return f"{old} (rehashed: {', '.join(printable(h) for h in hashes)})"
        case _:
            return f"{old} → {new} ({d.change})"


def _patch_text(patch: PatchChange) -> str:
    old, new = printable(patch.old or ""), printable(patch.new or "")
    match patch.change:
        case "declared":
            return f"{new} (declared)"
        case "withdrawn":
            return f"{old} (withdrawn)"
        case _:
            return f"{old} → {new} (changed)"


# --- JSON ---------------------------------------------------------------------------------------


def diff_to_dict(report: DiffReport) -> dict[str, Any]:
    """The `chainguard.diff/v1` document (docs/diff-schema.v1.json), fields in that order."""
    diff = report.diff
    return {
        "schema": SCHEMA,
        "same": diff.same,
        "ok": report.ok,
        "differences": diff.count(),
        "old": _side(report.old, diff.deployment.old),
        "new": _side(report.new, diff.deployment.new),
        "deployment": {
            "changed": list(diff.deployment.changed_fields),
            "serial": diff.deployment.serial_change,
        },
        "components": [_component(c) for c in diff.components],
        "dependencies": [
            {
                "name": d.name,
                "change": d.change,
                "old": list(d.old),
                "new": list(d.new),
                "hashes_added": list(d.hashes_added),
                "hashes_removed": list(d.hashes_removed),
            }
            for d in diff.dependencies
        ],
        "patches": [
            {"id": p.id, "change": p.change, "old": p.old, "new": p.new} for p in diff.patches
        ],
        "chainguard_version": __version__,
    }


def render_json(report: DiffReport) -> str:
    return dump_json(diff_to_dict(report))


def _side(side: ReleaseSide, deployment: DeploymentInfo) -> dict[str, Any]:
    check = side.signature
    return {
        "sbom": side.sbom,
        "sha256": side.sha256,
        "deployment": {
            "name": deployment.name,
            "version": deployment.version,
            "serial": deployment.serial,
            "expires": deployment.expires,
        },
        "signature": None
        if check is None
        else {
            "bundle": check.signature,
            "verified": check.verified,
            "signers": list(check.signers),
            "notes": [
                {
                    "rule": n.rule,
                    "severity": "error" if n.error else "warning",
                    "message": n.message,
                }
                for n in check.notes
            ],
        },
    }


def _component(c: ComponentChange) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "name": c.name,
        "change": c.change,
        "old": _component_state(c.old),
        "new": _component_state(c.new),
        "files": [
            {
                "path": f.path,
                "change": f.change,
                "old": _file_state(f.old),
                "new": _file_state(f.new),
            }
            for f in c.files
        ],
    }


def _component_state(state: ComponentState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "version": state.version,
        "root_sha256": state.root_digest,
        "files": state.files,
        "size": state.size,
    }


def _file_state(state: FileState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    mode = {"mode": f"{state.mode:04o}"} if state.mode else {}  # only where one is recorded
    return {"size": state.size, "sha256": state.sha256, **mode}


# --- Markdown -----------------------------------------------------------------------------------

# A pull-request comment holds at most 65,536 characters: each table shows this many rows, and
# says how many more the JSON form lists.
MAX_ROWS = 100
_ABSENT = "—"


def render_markdown(report: DiffReport, *, max_rows: int = MAX_ROWS) -> str:
    diff = report.diff
    d = diff.deployment
    title = f"{_pair(d.old.name, d.new.name)} {_pair(d.old.version, d.new.version)}"
    icon = "✅" if report.ok else "❌" if not report.signatures_ok else "🔀"
    lines = [f"## {icon} Release diff: {title}", "", _summary(report), ""]
    lines += _table(("", "old", "new"), _overview(report), max_rows)
    notes = [
        (label, n)
        for label, side in (("old", report.old), ("new", report.new))
        if side.signature is not None
        for n in side.signature.notes
    ]
    if notes:
        lines.append("")
        lines += [
            f"- {label} signature: **{'error' if n.error else 'warning'}** "
            f"{_literal(n.rule)}: {_text(n.message)}"
            for label, n in notes
        ]
    sections: list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]] = [
        ("Components", ("change", "component", "old", "new"), _component_rows(diff.components)),
        ("Files", ("change", "component", "path", "old", "new"), _file_rows(diff.components)),
        ("Dependencies", ("change", "package", "old", "new"), _dependency_rows(report)),
        ("Patches", ("change", "patch", "old requirement", "new requirement"), _patch_rows(report)),
    ]
    for heading, header, rows in sections:
        if rows:
            lines += ["", f"**{heading}**", "", *_table(header, rows, max_rows)]
    return "\n".join(lines) + "\n"


def _summary(report: DiffReport) -> str:
    facts = [f"**{_differences(report)}**"]
    if report.diff.deployment.serial_change == "rollback":
        facts.append("**serial rollback**")
    if not report.signatures_ok:
        facts.append("**a signature did not verify**")
    return " · ".join(facts)


def _pair(old: str, new: str) -> str:
    return _literal(old) if old == new else f"{_literal(old)} → {_literal(new)}"


def _optional(value: str | None) -> str:
    return _ABSENT if value is None else _literal(value)


def _overview(report: DiffReport) -> list[tuple[str, ...]]:
    d = report.diff.deployment
    old, new = d.old, d.new
    serial = _literal(str(new.serial))
    if d.serial_change == "rollback":
        serial += " **rollback**"
    rows: list[tuple[str, ...]] = [
        ("SBOM", _literal(report.old.sbom), _literal(report.new.sbom)),
        ("SBOM sha256", _digest(report.old.sha256), _digest(report.new.sha256)),
        ("deployment", _literal(old.name), _literal(new.name)),
        ("version", _literal(old.version), _literal(new.version)),
        ("serial", _literal(str(old.serial)), serial),
        ("expires", _optional(old.expires), _optional(new.expires)),
    ]
    if report.old.signature is not None or report.new.signature is not None:
        rows.append(("signed by", _signed(report.old), _signed(report.new)))
    return rows


def _signed(side: ReleaseSide) -> str:
    check = side.signature
    if check is None:
        return "not checked"
    if not check.verified:
        return "❌ **not verified**"
    return "✅ " + ", ".join(_text(s) for s in check.signers)


def _digest(value: str) -> str:
    return _literal(shorten_digests(value))


def _component_state_md(state: ComponentState | None) -> str:
    if state is None:
        return _ABSENT
    files = f"{state.files} file{'' if state.files == 1 else 's'}"
    version = f", version {_literal(state.version)}" if state.version else ""
    return f"{_digest(state.root_digest)} ({files}, {format_bytes(state.size)}{version})"


def _component_rows(components: Sequence[ComponentChange]) -> list[tuple[str, ...]]:
    return [
        (c.change, _literal(c.bom_ref), _component_state_md(c.old), _component_state_md(c.new))
        for c in components
    ]


def _file_state_md(state: FileState | None) -> str:
    if state is None:
        return _ABSENT
    return f"{_digest(state.sha256 or '')} ({state.size} B{_mode(state)})"


def _file_rows(components: Sequence[ComponentChange]) -> list[tuple[str, ...]]:
    return [
        (
            f.change,
            _literal(c.bom_ref),
            _literal(f.path),
            _file_state_md(f.old),
            _file_state_md(f.new),
        )
        for c in components
        for f in c.files
    ]


def _dependency_rows(report: DiffReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for d in report.diff.dependencies:
        change = f"**{d.change}**" if d.change == "downgrade" else d.change
        old, new = _versions_md(d.old), _versions_md(d.new)
        if d.change == "rehashed":
            new += f" (hashes: {len(d.hashes_added)} added, {len(d.hashes_removed)} removed)"
        rows.append((change, _literal(d.name), old, new))
    return rows


def _versions_md(versions: Sequence[str | None]) -> str:
    return ", ".join(_literal(_versions((v,))) for v in versions) or _ABSENT


def _patch_rows(report: DiffReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for p in report.diff.patches:
        change = f"**{p.change}**" if p.change == "withdrawn" else p.change
        rows.append((change, _literal(p.id), _optional(p.old), _optional(p.new)))
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], max_rows: int) -> list[str]:
    lines = [
        f"| {' | '.join(header)} |",
        f"|{'---|' * len(header)}",
        *(f"| {' | '.join(_cell(cell) or ' ' for cell in row)} |" for row in rows[:max_rows]),
    ]
    hidden = len(rows) - max_rows
    if hidden > 0:
        lines += ["", f"…and {hidden} more; the JSON form (`--format json`) lists every one."]
    return lines


RENDERERS: dict[str, Callable[[DiffReport], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
}
