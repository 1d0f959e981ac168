"""compare_dependencies is pure: each kind of drift gets exactly its rule, with old → new."""

from __future__ import annotations

import hashlib

from chainguard.compare_deps import VersionKey, compare_dependencies, hashes_required_by
from chainguard.findings import RULES, Finding
from chainguard.models import Dependency, Property, RecordProblem
from chainguard.sbom import vocabulary as v


def h(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def dep(
    name: str,
    version: str | None = "1.0",
    *hashes: str,
    record: str | None = None,
    marker: str | None = None,
    locator: str | None = None,
    specifier: str | None = None,
    source: str = "",
) -> Dependency:
    extras = []
    for prop, value in ((v.MARKER, marker), (v.LOCATOR, locator), (v.SPECIFIER, specifier)):
        if value is not None:
            extras.append(Property(prop, value))
    return Dependency(
        name,
        version,
        hashes=tuple(sorted(hashes)),
        record_sha256=record,
        source=source,
        extras=tuple(extras),
    )


def rules(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, f.path) for f in findings]


def compare(
    expected: list[Dependency], observed: list[Dependency], *, require_hashes: bool = False
) -> list[Finding]:
    return compare_dependencies(expected, observed, require_hashes=require_hashes)


LOCK = [dep("numpy", "2.1.3", h("np1"), h("np2")), dep("requests", "2.32.3", h("rq"))]


def test_identical_sets_have_no_findings() -> None:
    assert compare(LOCK, list(reversed(LOCK)), require_hashes=True) == []


def test_downgrade_and_upgrade_say_old_to_new() -> None:
    observed = [dep("numpy", "1.26.4", h("old")), dep("requests", "2.33.0", h("new"))]
    findings = compare(LOCK, observed)
    assert rules(findings) == [("dependency-version", "numpy"), ("dependency-version", "requests")]
    numpy, requests = findings
    assert numpy.message == "numpy 2.1.3 → 1.26.4 (downgrade)"
    assert (numpy.expected, numpy.actual) == ("2.1.3", "1.26.4")
    assert requests.message == "requests 2.32.3 → 2.33.0 (upgrade)"


def test_versions_compare_as_versions_and_invalid_ones_as_strings() -> None:
    assert compare([dep("a", "1.0", h("a"))], [dep("a", "1.0.0", h("a"))]) == []
    assert VersionKey("1.0") == VersionKey("1.0.0")
    assert VersionKey("2.0") < VersionKey("10.0")
    assert VersionKey("not a version") < VersionKey("0.1")  # valid versions sort last
    (f,) = compare([dep("a", "weird-1", h("a"))], [dep("a", "weird-2", h("a"))])
    assert f.message == "a weird-1 → weird-2 (changed)"
    assert compare([dep("a", "weird", h("a"))], [dep("a", "weird", h("a"))]) == []


def test_missing_and_unexpected() -> None:
    findings = compare(LOCK, [LOCK[0], dep("evil", "0.1", h("e"))])
    assert rules(findings) == [
        ("dependency-unexpected", "evil"),
        ("dependency-missing", "requests"),
    ]
    assert findings[0].actual == "0.1" and findings[1].expected == "2.32.3"


def test_hash_set_changes_explain_what_was_added_and_removed() -> None:
    observed = [dep("numpy", "2.1.3", h("np1"), h("np-evil")), LOCK[1]]
    (f,) = compare(LOCK, observed)
    assert f.rule == "dependency-hash"
    assert f"1 added ({h('np-evil')})" in f.message
    assert f"1 removed ({h('np2')})" in f.message
    # an extra hash alone (a new, unsigned artifact for the same version) is drift too
    (g,) = compare(LOCK, [dep("numpy", "2.1.3", h("np1"), h("np2"), h("x")), LOCK[1]])
    assert g.rule == "dependency-hash" and "removed" not in g.message


def test_hashes_dropped_from_the_lock_is_one_hash_finding_even_when_required() -> None:
    observed = [dep("numpy", "2.1.3"), LOCK[1]]
    findings = compare(LOCK, observed, require_hashes=True)
    assert rules(findings) == [("dependency-hash", "numpy")]
    assert findings[0].actual == "no hashes"


def test_unhashed_requirements_when_hashes_are_required() -> None:
    expected = [dep("a", "1", h("a")), dep("proj", "0.1", locator="virtual:.")]
    observed = [*expected, dep("b", "2")]
    assert rules(compare(expected, observed, require_hashes=True)) == [
        ("dependency-unexpected", "b"),
        ("dependency-unhashed", "b"),
    ]
    assert rules(compare(expected, observed, require_hashes=False)) == [
        ("dependency-unexpected", "b")
    ]


def test_the_default_hash_policy() -> None:
    assert hashes_required_by(LOCK)
    assert hashes_required_by([*LOCK, dep("proj", "0.1", locator="editable:.")])
    assert not hashes_required_by([*LOCK, dep("loose", None, specifier=">=1")])
    assert not hashes_required_by([])
    assert not hashes_required_by([dep("a", "1", record="0" * 64)])  # environments


def test_record_digest_changes() -> None:
    expected = [dep("tinypkg", "1.0", record="a" * 64, source="tinypkg-1.0.dist-info")]
    (f,) = compare(
        expected, [dep("tinypkg", "1.0", record="b" * 64, source="tinypkg-1.0.dist-info")]
    )
    assert (f.rule, f.path) == ("record-modified", "tinypkg-1.0.dist-info/RECORD")
    assert (f.expected, f.actual) == ("sha256:" + "a" * 64, "sha256:" + "b" * 64)
    (g,) = compare(expected, [dep("tinypkg", "1.0", source="tinypkg-1.0.dist-info")])
    assert g.actual == "no RECORD"


def test_forks_pair_by_version_then_marker() -> None:
    old, new = "python_version < '3.10'", "python_version >= '3.10'"
    expected = [
        dep("numpy", "2.0.2", h("a"), marker=old),
        dep("numpy", "2.1.3", h("b"), marker=new),
    ]
    assert compare(expected, list(reversed(expected))) == []
    observed = [expected[0], dep("numpy", "2.1.0", h("c"), marker=new)]
    (f,) = compare(expected, observed)
    assert f.message == "numpy 2.1.3 → 2.1.0 (downgrade)"
    findings = compare(expected, [expected[1]])
    assert rules(findings) == [("dependency-missing", "numpy")]
    assert findings[0].expected == "2.0.2"


def test_source_and_specifier_changes_at_the_same_version() -> None:
    e = dep("lib", "1.0", locator="vcs:git+https://example.com/lib.git@aaaa")
    o = dep("lib", "1.0", locator="vcs:git+https://evil.example/lib.git@bbbb")
    (f,) = compare([e], [o])
    assert f.rule == "dependency-version"
    assert f.message.startswith("lib source changed: vcs:git+https://example.com")
    (g,) = compare([dep("r", None, specifier=">=2")], [dep("r", None, specifier=">=0.1")])
    assert (g.rule, g.expected, g.actual) == ("dependency-version", ">=2", ">=0.1")


def test_pinned_to_unpinned_is_a_version_change() -> None:
    (f,) = compare([dep("r", "2.0", h("r"))], [dep("r", None, specifier=">=2")])
    assert (f.rule, f.expected, f.actual) == ("dependency-version", "2.0", "unpinned (>=2)")


def test_record_problems_become_findings() -> None:
    record_problems = [
        RecordProblem("tinypkg/core.py", "modified", "content differs", "tinypkg", "x", "y"),
        RecordProblem("tinypkg/cli.py", "missing", "listed but missing", "tinypkg", "x", "absent"),
        RecordProblem("evil.pth", "unlisted", "no RECORD lists it", expected="absent"),
    ]
    findings = compare_dependencies([], [], require_hashes=False, record_problems=record_problems)
    assert rules(findings) == [
        ("installed-file-unexpected", "evil.pth"),
        ("installed-file-modified", "tinypkg/cli.py"),
        ("installed-file-modified", "tinypkg/core.py"),
    ]
    assert findings[2].message == "tinypkg: content differs"
    assert findings[2].component == "tinypkg"
    assert all(f.rule in RULES for f in findings)
