"""The format policy over a hashed tree: what `sbom build` and every verify of a model or
dataset add to their findings (chainguard/formats/policy.py decides; this picks the files).

Each file's format was detected where its bytes were read (the hashing engine), so most files
cost nothing more here: only the formats whose safety depends on more than the first bytes
(pickle-bearing files and archives that may hold one, safetensors headers, GGUF metadata) are
read again, by ``policy.scan_file``. The others are evaluated from their format alone, and
under the default policy (no allow/deny lists) only when their name promises a format the
policy checks (a ``.safetensors`` that is not one). A dataset of 100,000 text files is then one
regular expression over its format lines, not a Python call per file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from chainguard.findings import Finding
from chainguard.formats.detect import INSPECTED, NAMED
from chainguard.formats.policy import FormatPolicy, evaluate, scan_file
from chainguard.models import FileDigest, FileList

_DEFAULT = FormatPolicy()


def format_findings(
    root: Path,
    files: Sequence[FileDigest],
    policy: FormatPolicy | None,
    component: str | None = None,
) -> list[Finding]:
    """The policy's findings for the files of the tree at ``root`` (a directory, or the one
    file of a single-file model), in path order. Files without a detected format (measured
    through a hash cache) are not checked."""
    from chainguard.formats.inspect import Inspection

    policy = policy or _DEFAULT
    findings: list[Finding] = []
    for path, fmt in sorted(_selected(files, policy)):
        if fmt in INSPECTED:
            target = root if root.is_file() else root / path
            try:
                _, found = scan_file(target, policy, path)
            except OSError as e:
                detail = f"{fmt} file could not be read to check it: {e.strerror or e}"
                found = [Finding("malformed-artifact", path, detail, actual=fmt)]
        else:
            found = evaluate(path, Inspection(fmt), policy)
        findings += (replace(f, component=component) for f in found) if component else found
    return findings


def _selected(files: Sequence[FileDigest], policy: FormatPolicy) -> Iterator[tuple[str, str]]:
    """(path, format) of every file the policy may have something to say about."""
    lists = bool(policy.allow or policy.deny or policy.paths)
    if not isinstance(files, FileList):
        for f in files:
            if f.format is not None and (lists or _relevant(f.path, f.format)):
                yield f.path, f.format
        return
    for f in files.extra:
        if f.format is not None and (lists or _relevant(f.path, f.format)):
            yield f.path, f.format
    for piece in files.format_pieces:
        yield from format_lines(piece, policy)


def format_lines(piece: str, policy: FormatPolicy) -> Iterator[tuple[str, str]]:
    """(path, format) of the lines of ``piece`` ("path \0 format \n" each) the policy may have
    something to say about (what chainguard scan evaluates, too)."""
    if policy.allow or policy.deny or policy.paths:
        yield from _split(_ANY_LINE.finditer(piece))
        return
    # Two searches for what sets a line apart (its format; the end of its path, lowercased)
    # rather than a match tried at every line: a dataset verify's hot path, where most pieces
    # hold no such line at all.
    lowered = piece.lower()
    if len(lowered) != len(piece):  # a name whose lowercase is longer: positions differ
        yield from _split(_RELEVANT_LINE.finditer(piece))
        return
    starts = {piece.rfind("\n", 0, m.start()) + 1 for m in _INSPECTED_FORMAT.finditer(piece)}
    starts.update(piece.rfind("\n", 0, m.start()) + 1 for m in _NAMED_END.finditer(lowered))
    for start in sorted(starts):
        end = piece.find("\n", start)
        path, fmt = piece[start : end if end >= 0 else len(piece)].split("\0")
        yield path, fmt


def _split(matches: Iterator[re.Match[str]]) -> Iterator[tuple[str, str]]:
    for m in matches:
        path, fmt = m.group(0).split("\0")
        yield path, fmt


def _relevant(path: str, fmt: str) -> bool:
    return fmt in INSPECTED or Path(path).suffix.lower() in NAMED


# Format lines are "path \0 format \n" (models.FileList). _RELEVANT_LINE selects a superset
# of what _relevant accepts (evaluate decides).
_ANY_LINE = re.compile(r"^[^\0\n]*\0[^\n]*$", re.MULTILINE)
_INSPECTED_ALT = "|".join(re.escape(f) for f in sorted(INSPECTED))
_NAMED_ALT = "|".join(re.escape(s) for s in sorted(NAMED))
_RELEVANT_LINE = re.compile(
    rf"^(?:[^\0\n]*\0(?:{_INSPECTED_ALT})|[^\0\n]*(?i:{_NAMED_ALT})\0[^\n]*)$", re.MULTILINE
)
# The same selection, by what ends a path (lowercased) or is a whole format (format_lines).
_INSPECTED_FORMAT = re.compile(rf"\0(?:{_INSPECTED_ALT})(?=\n|\Z)")
_NAMED_END = re.compile(rf"(?:{_NAMED_ALT})\0")
