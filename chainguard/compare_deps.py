"""Pure comparison of dependencies: signed (expected) x read now (observed) -> findings.

Dependencies are matched by PEP 503 name. A lock may hold one name several times (uv and
poetry "forks": different versions for different markers), so within a name entries pair up
by equal version first, then by equal marker, then in version order; what is left over is
missing or unexpected. Versions compare with ``packaging.version`` ("1.0" equals "1.0.0");
a string that is not a valid version compares as a string.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from chainguard.findings import Finding
from chainguard.models import Dependency, RecordProblem
from chainguard.sbom import vocabulary as v

_PROBLEM_RULES = {
    "modified": "installed-file-modified",
    "missing": "installed-file-modified",
    "not-regular": "installed-file-modified",
    "outside": "installed-file-modified",
    "unreadable": "installed-file-modified",
    "changed-during-hash": "installed-file-modified",
    "unlisted": "installed-file-unexpected",
    "bytecode-mismatch": "bytecode-mismatch",
    "bytecode-unchecked": "bytecode-unchecked",
    "bytecode-orphan": "bytecode-orphan",
}


class VersionKey:
    """A version as packaging orders it, or the raw string when it does not parse.

    Valid versions sort after invalid strings, which sort after "no version"; only values of
    the same kind are compared with each other.
    """

    __slots__ = ("parsed", "raw")

    def __init__(self, raw: str | None) -> None:
        from packaging.version import InvalidVersion, Version

        self.raw = raw
        self.parsed: Version | None
        try:
            self.parsed = Version(raw) if raw is not None else None
        except InvalidVersion:
            self.parsed = None

    def _rank(self) -> int:
        return 2 if self.parsed is not None else (1 if self.raw is not None else 0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionKey) or self._rank() != other._rank():
            return False
        if self.parsed is not None:
            return self.parsed == other.parsed
        return self.raw == other.raw

    def __lt__(self, other: VersionKey) -> bool:
        if self._rank() != other._rank():
            return self._rank() < other._rank()
        if self.parsed is not None and other.parsed is not None:
            return self.parsed < other.parsed
        return (self.raw or "") < (other.raw or "")

    def __hash__(self) -> int:
        return hash(self.parsed if self.parsed is not None else self.raw)


def _extra(d: Dependency, name: str) -> str | None:
    return next((p.value for p in d.extras if p.name == name), None)


def _pin(d: Dependency) -> str:
    """How the dependency is pinned, for messages: a version, a specifier, or a location."""
    if d.version is not None:
        return d.version
    spec = _extra(d, v.SPECIFIER)
    if spec is not None:
        return f"unpinned ({spec})"
    locator = _extra(d, v.LOCATOR)
    return locator if locator is not None else "unpinned"


def _direction(old: Dependency, new: Dependency) -> str:
    a, b = VersionKey(old.version), VersionKey(new.version)
    if a.parsed is None or b.parsed is None:
        return "changed"
    return "downgrade" if b < a else "upgrade"


def _same_version(e: Dependency, o: Dependency) -> bool:
    return VersionKey(e.version) == VersionKey(o.version)


def _same_marker(e: Dependency, o: Dependency) -> bool:
    return _extra(e, v.MARKER) == _extra(o, v.MARKER)


def _pair(
    expected: list[Dependency], observed: list[Dependency]
) -> tuple[list[tuple[Dependency, Dependency]], list[Dependency], list[Dependency]]:
    """Pair entries of one name: equal versions, then equal markers, then in version order."""
    exp, obs = list(expected), list(observed)
    pairs: list[tuple[Dependency, Dependency]] = []
    for same in (_same_version, _same_marker):
        for e in list(exp):
            match = next((o for o in obs if same(e, o)), None)
            if match is not None:
                pairs.append((e, match))
                exp.remove(e)
                obs.remove(match)
    exp.sort(key=lambda d: VersionKey(d.version))
    obs.sort(key=lambda d: VersionKey(d.version))
    while exp and obs:
        pairs.append((exp.pop(0), obs.pop(0)))
    return pairs, exp, obs


def is_hashable(d: Dependency) -> bool:
    """Downloaded from somewhere (so it can be pinned by hash); not a local source tree."""
    locator = _extra(d, v.LOCATOR) or ""
    return not locator.startswith(("editable:", "virtual:", "directory:"))


def hashes_required_by(expected: Sequence[Dependency]) -> bool:
    """The default policy: require hashes when every hashable signed dependency has them."""
    hashable = [d for d in expected if is_hashable(d) and d.record_sha256 is None]
    return bool(hashable) and all(d.hashes for d in hashable)


def compare_dependencies(
    expected: Sequence[Dependency],
    observed: Sequence[Dependency],
    *,
    require_hashes: bool,
    record_problems: Sequence[RecordProblem] = (),
) -> list[Finding]:
    """Every way the observed dependencies differ from the signed ones."""
    by_name_exp: dict[str, list[Dependency]] = defaultdict(list)
    by_name_obs: dict[str, list[Dependency]] = defaultdict(list)
    for d in expected:
        by_name_exp[d.name].append(d)
    for d in observed:
        by_name_obs[d.name].append(d)
    findings: list[Finding] = []
    hash_reported: set[int] = set()
    for name in sorted(by_name_exp.keys() | by_name_obs.keys()):
        pairs, missing, unexpected = _pair(by_name_exp.get(name, []), by_name_obs.get(name, []))
        for e, o in pairs:
            found = _compare_pair(e, o)
            findings.extend(found)
            if any(f.rule == "dependency-hash" for f in found):
                hash_reported.add(id(o))
        findings.extend(
            Finding(
                "dependency-missing",
                e.name,
                f"{e.name} {_pin(e)} is signed but not present",
                expected=_pin(e),
                actual="absent",
                component=e.name,
            )
            for e in missing
        )
        findings.extend(
            Finding(
                "dependency-unexpected",
                o.name,
                f"{o.name} {_pin(o)} is present but not in the signed SBOM",
                expected="absent",
                actual=_pin(o),
                component=o.name,
            )
            for o in unexpected
        )
    if require_hashes:
        findings.extend(
            Finding(
                "dependency-unhashed",
                o.name,
                f"{o.name} {_pin(o)} is not pinned by hash, and hashes are required",
                expected="at least one distribution hash",
                actual="no hashes",
                component=o.name,
            )
            for o in observed
            if not o.hashes and is_hashable(o) and id(o) not in hash_reported
        )
    findings.extend(_problem_finding(p) for p in record_problems)
    return sorted(findings, key=lambda f: (f.path, f.rule, f.message))


def _compare_pair(e: Dependency, o: Dependency) -> list[Finding]:
    name = e.name
    if VersionKey(e.version) != VersionKey(o.version):
        direction = _direction(e, o)
        return [
            Finding(
                "dependency-version",
                name,
                f"{name} {_pin(e)} → {_pin(o)} ({direction})",
                expected=_pin(e),
                actual=_pin(o),
                component=name,
            )
        ]
    findings = []
    for prop, what in ((v.LOCATOR, "source"), (v.SPECIFIER, "requirement")):
        before, after = _extra(e, prop), _extra(o, prop)
        if before != after:
            findings.append(
                Finding(
                    "dependency-version",
                    name,
                    f"{name} {what} changed: {before or 'none'} → {after or 'none'}",
                    expected=before or "none",
                    actual=after or "none",
                    component=name,
                )
            )
    if set(e.hashes) != set(o.hashes):
        added = sorted(set(o.hashes) - set(e.hashes))
        removed = sorted(set(e.hashes) - set(o.hashes))
        parts = []
        if added:
            parts.append(f"{len(added)} added ({', '.join(added)})")
        if removed:
            parts.append(f"{len(removed)} removed ({', '.join(removed)})")
        findings.append(
            Finding(
                "dependency-hash",
                name,
                f"{name} {_pin(o)}: distribution hashes differ from the signed lock: "
                + "; ".join(parts),
                expected=", ".join(sorted(e.hashes)) or "no hashes",
                actual=", ".join(sorted(o.hashes)) or "no hashes",
                component=name,
            )
        )
    if e.record_sha256 is not None and o.record_sha256 != e.record_sha256:
        actual = f"sha256:{o.record_sha256}" if o.record_sha256 else "no RECORD"
        findings.append(
            Finding(
                "record-modified",
                f"{o.source}/RECORD" if o.source.endswith(".dist-info") else name,
                f"{name} {_pin(o)}: RECORD differs from the signed RECORD digest (installed "
                "files and RECORD were rewritten, or it was reinstalled from elsewhere)",
                expected=f"sha256:{e.record_sha256}",
                actual=actual,
                component=name,
            )
        )
    return findings


def _problem_finding(p: RecordProblem) -> Finding:
    return Finding(
        _PROBLEM_RULES[p.kind],
        p.path,
        f"{p.distribution}: {p.detail}" if p.distribution else p.detail,
        expected=p.expected,
        actual=p.actual,
        component=p.distribution or None,
    )
