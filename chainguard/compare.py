"""Pure comparison: expected (signed) x observed (measured) -> findings. No I/O here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from chainguard.findings import Finding
from chainguard.models import Anomaly, ExpectedComponent, FileDigest, FileList, ObservedTree

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
    findings: list[Finding] = [
        Finding(
            "sbom-path-unsafe",
            path,
            f"signed SBOM lists a path that escapes the {expected.kind} directory; "
            "it was not opened",
            expected="a relative path inside the directory",
            actual=path,
            component=comp,
        )
        for path in expected.unsafe_paths
    ]
    anomaly_paths = {a.path for a in observed.anomalies}
    findings.extend(_anomaly_finding(a, comp) for a in observed.anomalies)

    exp = {f.path: f for f in expected.files}
    obs = {f.path: f for f in observed.files}
    by_content: dict[str, list[str]] = defaultdict(list)
    for f in expected.files:
        for key in _content_keys(f):
            by_content[key].append(f.path)

    def signed_match(o: FileDigest) -> list[str]:
        """Expected paths whose signed content equals the observed file."""
        paths: list[str] = []
        for key in _content_keys(o):
            paths.extend(p for p in by_content.get(key, ()) if exp[p].size == o.size)
        return sorted(set(paths))

    modified = {p for p in exp.keys() & obs.keys() if not same_content(exp[p], obs[p])}
    missing = {p for p in exp.keys() - obs.keys() if p not in anomaly_paths}
    unexpected = sorted(obs.keys() - exp.keys())
    explained_missing: set[str] = set()

    for path in sorted(modified):
        o, e = obs[path], exp[path]
        holders = [q for q in signed_match(o) if q != path]
        swapped = [q for q in holders if q in modified and same_content(exp[path], obs[q])]
        if swapped:
            other = swapped[0]
            findings.append(
                Finding(
                    "artifact-swapped",
                    path,
                    f"holds the signed content of {other}, and {other} holds this file's",
                    expected=_describe(e),
                    actual=_describe(o),
                    component=comp,
                )
            )
            continue
        note = f"; it now holds the signed content of {holders[0]}" if holders else ""
        size_note = f" (size {e.size} → {o.size})" if e.size != o.size else ""
        findings.append(
            Finding(
                "artifact-modified",
                path,
                f"content differs from the signed digest{size_note}{note}",
                expected=_describe(e),
                actual=_describe(o),
                component=comp,
            )
        )

    for path in unexpected:
        o = obs[path]
        origins = [q for q in signed_match(o) if q in missing and q not in explained_missing]
        if origins:
            origin = origins[0]
            explained_missing.add(origin)
            findings.append(
                Finding(
                    "artifact-renamed",
                    path,
                    f"holds the signed content of {origin}, which is missing (renamed)",
                    expected=origin,
                    actual=path,
                    component=comp,
                )
            )
            continue
        copies = signed_match(o)
        note = f" (a copy of signed {copies[0]})" if copies else ""
        findings.append(
            Finding(
                "artifact-unexpected",
                path,
                f"file is not listed in the signed SBOM{note}",
                expected=None,  # the SBOM says nothing about it (report schema: null)
                actual=_describe(o),
                component=comp,
            )
        )

    findings.extend(
        Finding(
            "artifact-missing",
            path,
            "file listed in the signed SBOM is missing",
            expected=_describe(exp[path]),
            actual=None,  # nothing observed (report schema: null)
            component=comp,
        )
        for path in sorted(missing - explained_missing)
    )
    return sorted(findings, key=lambda f: (f.path, f.rule))


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
