"""Pure: measured dependency versions, OSV advisories and VEX statements in, findings out.

For each measured distribution (installed or locked) and each vulnerability the advisories
know for its package (records that share an id or alias, such as a GHSA record and the PYSEC
record of the same CVE, are one vulnerability):

- the measured version inside an affected range, and a VEX statement for that vulnerability
  says ``fixed``: **vex-contradicted**; says ``not_affected``: **vex-not-affected** (a warning,
  with the statement's justification); says nothing, ``affected`` or ``under_investigation``:
  **known-vulnerability**, with the first fixed version;
- the measured version outside every affected range: nothing, whatever a statement says.

A statement names a vulnerability by any of its ids: ``CVE-2025-32434`` matches the record
``GHSA-53q9-r3pm-6pq6`` that lists it as an alias, and the reverse.

Without an advisory for it (no ``--advisories``, or the mirror has no record of that
vulnerability for that package), a statement cannot say which versions are affected; only a
``fixed`` statement whose purl names a version is checked: it is read as "fixed in VERSION", and
a measured version below it is **vex-contradicted**.

Which statement applies to a measured version, when several name its package and the
vulnerability: one naming that very version, else one naming no version, else a ``fixed``
statement naming another version (read as "fixed in"); among equals, the last one given (files
in command-line order, statements in document order).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chainguard.advisories.osv import Advisory
from chainguard.advisories.ranges import Hit, affected_hit, nearest, parse_version, same_version
from chainguard.advisories.vex import VexStatement
from chainguard.findings import Finding
from chainguard.models import Dependency, ObservedDependencies


@dataclass(frozen=True, slots=True)
class Vulnerability:
    """The advisory records for one package that name the same vulnerability."""

    records: tuple[Advisory, ...]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset().union(*(r.ids for r in self.records))

    @property
    def id(self) -> str:
        """The first record id (GHSA before PYSEC)."""
        return min(r.id for r in self.records)

    @property
    def label(self) -> str:
        """``GHSA-53q9-r3pm-6pq6 (CVE-2025-32434, PYSEC-2025-41)``: the id, then every other id
        and alias."""
        others = sorted({i for r in self.records for i in (r.id, *r.aliases)} - {self.id})
        return f"{self.id} ({', '.join(others)})" if others else self.id

    @property
    def summary(self) -> str:
        return next((r.summary for r in sorted(self.records, key=lambda r: r.id) if r.summary), "")

    def hit(self, package: str, version: str) -> Hit | None:
        hits = [
            hit
            for record in self.records
            for entry in record.affected
            if entry.package == package and (hit := affected_hit(version, entry)) is not None
        ]
        return nearest(hits) if hits else None


def vulnerabilities_by_package(advisories: Iterable[Advisory]) -> dict[str, list[Vulnerability]]:
    """Each package's vulnerabilities: its records, those sharing an id or alias merged."""
    records: dict[str, list[Advisory]] = {}
    for advisory in advisories:
        for package in dict.fromkeys(entry.package for entry in advisory.affected):
            records.setdefault(package, []).append(advisory)
    return {package: _merged(found) for package, found in records.items()}


def _merged(records: list[Advisory]) -> list[Vulnerability]:
    groups: list[tuple[set[str], list[Advisory]]] = []
    for record in records:
        ids = set(record.ids)
        joined = [g for g in groups if g[0] & ids]
        for group in joined:
            groups.remove(group)
            ids |= group[0]
        members = [r for g in joined for r in g[1]] + [record]
        groups.append((ids, members))
    found = [Vulnerability(tuple(sorted(members, key=lambda r: r.id))) for _, members in groups]
    return sorted(found, key=lambda v: v.label)


def applicable(statements: Sequence[VexStatement], version: str) -> VexStatement | None:
    """The statement that applies to ``version`` (see the module's rule), or None."""
    for tier in (
        [s for s in statements if s.version is not None and same_version(s.version, version)],
        [s for s in statements if s.version is None],
        [s for s in statements if s.status == "fixed"],
    ):
        if tier:
            return tier[-1]
    return None


def check(
    manifests: Sequence[ObservedDependencies],
    vulnerabilities: dict[str, list[Vulnerability]],
    statements: Sequence[VexStatement],
) -> list[Finding]:
    by_package: dict[str, list[VexStatement]] = {}
    for statement in statements:
        by_package.setdefault(statement.package, []).append(statement)
    findings: list[Finding] = []
    for manifest in manifests:
        for dep in manifest.dependencies:
            if dep.version is None:
                continue  # an unpinned requirement: no version to look up
            known = vulnerabilities.get(dep.name, [])
            about = by_package.get(dep.name, [])
            for vulnerability in known:
                matching = [s for s in about if s.ids & vulnerability.ids]
                finding = _judged(dep, dep.version, vulnerability, matching, manifest.ref)
                if finding is not None:
                    findings.append(finding)
            unknown = [s for s in about if not any(s.ids & v.ids for v in known)]
            findings += _fixed_in_checks(dep, dep.version, unknown, manifest.ref)
    return findings


def _judged(
    dep: Dependency,
    version: str,
    vulnerability: Vulnerability,
    statements: Sequence[VexStatement],
    component: str,
) -> Finding | None:
    hit = vulnerability.hit(dep.name, version)
    if hit is None:
        return None
    statement = applicable(statements, version)
    inside = f"{version} (affected: {hit.bounds})"
    where = f"the affected range of {vulnerability.label}: {hit.bounds}"
    if statement is not None and statement.status == "fixed":
        said = _said(statement, dep.name)
        return Finding(
            "vex-contradicted",
            dep.name,
            f"{said} is fixed for {statement.vulnerability}, but {dep.name} {version} is "
            f"inside {where}; first fixed: {hit.fixed or 'none published'}",
            expected=f"fixed (VEX {statement.vulnerability})",
            actual=inside,
            component=component,
        )
    if statement is not None and statement.status == "not_affected":
        why = statement.justification or "no justification given"
        return Finding(
            "vex-not-affected",
            dep.name,
            f"{_said(statement, dep.name)} is not affected by {statement.vulnerability} "
            f"({why}), but {dep.name} {version} is inside {where}",
            expected=f"not affected (VEX {statement.vulnerability}: {why})",
            actual=inside,
            component=component,
        )
    summary = f": {vulnerability.summary}" if vulnerability.summary else ""
    vex_note = f"; VEX {statement.status}" if statement is not None else ""
    return Finding(
        "known-vulnerability",
        dep.name,
        f"{dep.name} {version} is affected by {vulnerability.label}{summary} "
        f"(affected: {hit.bounds}; first fixed: {hit.fixed or 'none published'}{vex_note})",
        # the id in expected too: the text report shows expected and actual, not the message
        expected=f"{hit.remedy} ({vulnerability.id})",
        actual=version,
        component=component,
    )


def _fixed_in_checks(
    dep: Dependency, version: str, statements: Sequence[VexStatement], component: str
) -> list[Finding]:
    """Statements about vulnerabilities the advisories do not know for this package: a
    ``fixed`` one naming a version above the measured one is contradicted."""
    findings = []
    for group in _by_vulnerability(statements):
        statement = applicable(group, version)
        if statement is None or statement.status != "fixed" or statement.version is None:
            continue
        fixed_in, measured = parse_version(statement.version), parse_version(version)
        if fixed_in is None or measured is None or measured >= fixed_in:
            continue
        findings.append(
            Finding(
                "vex-contradicted",
                dep.name,
                f"{statement.source} says {statement.vulnerability} is fixed in {dep.name} "
                f"{statement.version}, but {dep.name} {version} is what was measured",
                expected=(
                    f"fixed (VEX {statement.vulnerability}): {dep.name} >= {statement.version}"
                ),
                actual=f"{version} (older than the version the statement says is fixed)",
                component=component,
            )
        )
    return findings


def _by_vulnerability(statements: Sequence[VexStatement]) -> list[list[VexStatement]]:
    """Statements grouped by the vulnerability they name (sharing an id or alias), in order."""
    groups: list[tuple[set[str], list[int]]] = []
    for i, statement in enumerate(statements):
        ids = set(statement.ids)
        joined = [g for g in groups if g[0] & ids]
        for group in joined:
            groups.remove(group)
            ids |= group[0]
        groups.append((ids, sorted([n for g in joined for n in g[1]] + [i])))
    return [[statements[i] for i in members] for _, members in groups]


def _said(statement: VexStatement, package: str) -> str:
    subject = f"{package} {statement.version}" if statement.version else package
    return f"{statement.source} says {subject}"
