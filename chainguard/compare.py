"""Pure comparison: expected (signed) x observed (measured) -> findings. No I/O here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import replace

from chainguard.findings import Finding
from chainguard.models import Anomaly, ExpectedComponent, FileDigest, FileList, ObservedTree
from chainguard.sbom.fileshape import MODE_BITS

_ANOMALY_RULES = {
    "symlink-escape": "symlink-escape",
    "special-file": "special-file",
    "changed-during-hash": "artifact-changed-during-verify",
    "unreadable": "artifact-unreadable",
}


def _describe(f: FileDigest) -> str:
    if f.sha256 is not None:
        return f"sha256:{f.sha256} ({f.size} bytes)"
    return f"shards:{f.content_id()} ({f.size} bytes)"


def same_content(expected: FileDigest, observed: FileDigest) -> bool:
    """True when observed holds exactly the signed bytes, however it was measured."""
    if expected.size != observed.size:
        return False
    if observed.sha256 is not None:
        return observed.sha256 == expected.sha256
    # Observed by shards only: valid when the signed SBOM lists shards of the same size.
    return (
        observed.shard_size == expected.shard_size
        and len(observed.shards) > 0
        and observed.shards == expected.shards
    )


def _content_keys(f: FileDigest) -> Iterable[str]:
    """Keys under which a file's content can be found, whichever way it was measured."""
    if f.sha256 is not None:
        yield "sha256:" + f.sha256
    if f.shards and f.size > f.shard_size:
        yield "shards:" + f.content_id()


def compare_tree(expected: ExpectedComponent, observed: ObservedTree) -> list[Finding]:
    """Every way the observed tree differs from the signed component."""
    if _identical(expected, observed):
        return []
    comp = expected.bom_ref  # reports name components by bom-ref (docs/reports.md)
    findings = [_unsafe_path_finding(path, expected.kind, comp) for path in expected.unsafe_paths]
    findings.extend(_anomaly_finding(a, comp) for a in observed.anomalies)
    diff = _TreeDiff(expected, observed)
    findings.extend(_modified_findings(diff, comp))
    findings.extend(_format_findings(diff, comp))
    if _compares_modes(expected, observed):
        findings.extend(_mode_findings(diff, comp))
    findings.extend(_unexpected_findings(diff, comp))
    findings.extend(_missing_findings(diff, comp))
    return sorted(findings, key=lambda f: (f.path, f.rule))


class _TreeDiff:
    """Which signed files were modified, are missing, and which observed ones are unexpected;
    and where the signed SBOM lists a given content."""

    def __init__(self, expected: ExpectedComponent, observed: ObservedTree) -> None:
        self.exp = {f.path: f for f in expected.files}
        self.obs = {f.path: f for f in observed.files}
        self.by_content: dict[str, list[str]] = defaultdict(list)
        for f in expected.files:
            for key in _content_keys(f):
                self.by_content[key].append(f.path)
        exp, obs = self.exp, self.obs
        anomaly_paths = {a.path for a in observed.anomalies}
        self.modified = {p for p in exp.keys() & obs.keys() if not same_content(exp[p], obs[p])}
        self.missing = {p for p in exp.keys() - obs.keys() if p not in anomaly_paths}
        self.unexpected = sorted(obs.keys() - exp.keys())
        self.explained_missing: set[str] = set()  # missing because renamed

    def signed_match(self, o: FileDigest) -> list[str]:
        """Expected paths whose signed content equals the observed file."""
        paths: list[str] = []
        for key in _content_keys(o):
            paths.extend(p for p in self.by_content.get(key, ()) if self.exp[p].size == o.size)
        return sorted(set(paths))


def _unsafe_path_finding(path: str, kind: str, comp: str) -> Finding:
    return Finding(
        "sbom-path-unsafe",
        path,
        f"signed SBOM lists a path that escapes the {kind} directory; it was not opened",
        expected="a relative path inside the directory",
        actual=path,
        component=comp,
    )


def _modified_findings(diff: _TreeDiff, comp: str) -> Iterator[Finding]:
    """A signed file whose content changed: modified, or swapped with another signed file."""
    for path in sorted(diff.modified):
        o, e = diff.obs[path], diff.exp[path]
        holders = [q for q in diff.signed_match(o) if q != path]
        swapped = [q for q in holders if q in diff.modified and same_content(e, diff.obs[q])]
        if swapped:
            other = swapped[0]
            yield Finding(
                "artifact-swapped",
                path,
                f"holds the signed content of {other}, and {other} holds this file's",
                expected=_describe(e),
                actual=_describe(o),
                component=comp,
            )
            continue
        note = f"; it now holds the signed content of {holders[0]}" if holders else ""
        size_note = f" (size {e.size} → {o.size})" if e.size != o.size else ""
        yield Finding(
            "artifact-modified",
            path,
            f"content differs from the signed digest{size_note}{note}",
            expected=_describe(e),
            actual=_describe(o),
            component=comp,
        )


def _format_findings(diff: _TreeDiff, comp: str) -> Iterator[Finding]:
    """A signed file whose bytes are now another format, whatever the policy allows. Only a
    modified file can be one (the format is read from the bytes); a format not recorded (an
    SBOM written before formats were) or not observed is not compared."""
    for path in sorted(diff.modified):
        signed, now = diff.exp[path].format, diff.obs[path].format
        if signed is not None and now is not None and signed != now:
            yield Finding(
                "format-changed",
                path,
                f"signed as {signed}, its bytes are now {now}",
                expected=signed,
                actual=now,
                component=comp,
            )


def _compares_modes(expected: ExpectedComponent, observed: ObservedTree) -> bool:
    """Whether both sides know file modes (an OMS manifest records none, an object store has
    none). A chainguard SBOM without any mode property is compared: it cannot be told from one
    whose files are all ordinary (docs/formats.md)."""
    return expected.modes_recorded and observed.modes_observed


def _modes(files: Iterable[FileDigest]) -> dict[str, int]:
    """Path → MODE_BITS of every file with one of them (a plain file has none)."""
    return {f.path: f.mode & MODE_BITS for f in files if f.mode & MODE_BITS}


_MODE_BIT_NAMES = (
    (0o4000, "setuid"),
    (0o2000, "setgid"),
    (0o1000, "sticky"),
    (0o100, "owner execute"),
    (0o010, "group execute"),
    (0o001, "others execute"),
)


def _bit_names(bits: int) -> str:
    return ", ".join(name for bit, name in _MODE_BIT_NAMES if bits & bit)


def _mode_findings(diff: _TreeDiff, comp: str) -> Iterator[Finding]:
    """A signed file whose setuid, setgid, sticky or execute bits changed, whatever its content
    (read and write bits are not recorded: they follow the umask)."""
    for path in sorted(diff.exp.keys() & diff.obs.keys()):
        signed, now = diff.exp[path].mode & MODE_BITS, diff.obs[path].mode & MODE_BITS
        if signed == now:
            continue
        changes = [f"{_bit_names(now & ~signed)} added"] if now & ~signed else []
        changes += [f"{_bit_names(signed & ~now)} removed"] if signed & ~now else []
        yield Finding(
            "mode-changed",
            path,
            f"file mode changed: {'; '.join(changes)}",
            expected=f"{signed:04o}",
            actual=f"{now:04o}",
            component=comp,
        )


def _unexpected_findings(diff: _TreeDiff, comp: str) -> Iterator[Finding]:
    """A file the SBOM does not list: a signed file renamed (which explains that one missing),
    or unexpected."""
    for path in diff.unexpected:
        o = diff.obs[path]
        copies = diff.signed_match(o)
        origins = [q for q in copies if q in diff.missing and q not in diff.explained_missing]
        if origins:
            origin = origins[0]
            diff.explained_missing.add(origin)
            yield Finding(
                "artifact-renamed",
                path,
                f"holds the signed content of {origin}, which is missing (renamed)",
                expected=origin,
                actual=path,
                component=comp,
            )
            continue
        note = f" (a copy of signed {copies[0]})" if copies else ""
        yield Finding(
            "artifact-unexpected",
            path,
            f"file is not listed in the signed SBOM{note}",
            expected=None,  # the SBOM says nothing about it (report schema: null)
            actual=_describe(o),
            component=comp,
        )


def _missing_findings(diff: _TreeDiff, comp: str) -> Iterator[Finding]:
    """Signed files not found (and not renamed: run after _unexpected_findings)."""
    for path in sorted(diff.missing - diff.explained_missing):
        yield Finding(
            "artifact-missing",
            path,
            "file listed in the signed SBOM is missing",
            expected=_describe(diff.exp[path]),
            actual=None,  # nothing observed (report schema: null)
            component=comp,
        )


def _identical(expected: ExpectedComponent, observed: ObservedTree) -> bool:
    """The common case, without a FileDigest per file: every observed path, size and content
    digest is exactly what was signed, nothing else is there and nothing was odd.

    The signed root digest (tree_digest) binds every path, size and SHA-256 of the component,
    so an observed tree with the same digest has the same files (up to SHA-256 collisions).
    A file observed by shards only counts with the signed SHA-256 when its shards match the
    signed ones (same_content). Anything else takes the full comparison below.
    """
    files = observed.files
    if expected.unsafe_paths or observed.anomalies or not isinstance(files, FileList):
        return False
    if not expected.root_digest:
        return False
    # Modes are outside the root digest: the few files with any (never plain) compared here.
    if _compares_modes(expected, observed):
        signed_files = expected.files
        signed = signed_files.extra if isinstance(signed_files, FileList) else signed_files
        if _modes(files.extra) != _modes(signed):
            return False
    shard_only = [f for f in files.extra if f.sha256 is None]
    if shard_only:
        signed = expected.files.extra if isinstance(expected.files, FileList) else expected.files
        by_path = {f.path: f for f in signed if f.shards}
        resolved = []
        for f in shard_only:
            e = by_path.get(f.path)
            if e is None or e.sha256 is None or not same_content(e, f):
                return False
            resolved.append(replace(f, sha256=e.sha256))
        whole = [f for f in files.extra if f.sha256 is not None]
        files = FileList(files.plain_pieces, [*whole, *resolved])
    return files.tree_digest() == expected.root_digest


def _anomaly_finding(a: Anomaly, component: str) -> Finding:
    rule = _ANOMALY_RULES[a.kind]
    expected = {
        "symlink-escape": "a regular file inside the directory",
        "special-file": "a regular file",
        "changed-during-hash": "stable content",
        "unreadable": "a readable regular file",
    }[a.kind]
    return Finding(rule, a.path, a.detail, expected=expected, actual=a.detail, component=component)
