"""Measured versions x advisories x VEX → findings (chainguard/advisories/check.py), and
advisory_findings on a Measured: alias matching, precedence of statements, the VEX-only reading
of "fixed in VERSION"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.advisories import (
    TORCH_CVE,
    TORCH_GHSA,
    TORCH_PYSEC,
    cyclonedx_vex,
    openvex,
    openvex_statement,
    osv_record,
    torch_ghsa,
    torch_pysec,
    write_json,
    write_records,
)

from chainguard.advisories import advisory_findings
from chainguard.advisories.check import applicable, check, vulnerabilities_by_package
from chainguard.advisories.osv import Advisory, parse_record
from chainguard.advisories.vex import VexStatement, parse_vex
from chainguard.findings import Finding, Severity
from chainguard.models import (
    Dependency,
    DeploymentInfo,
    ExpectedState,
    Measured,
    ObservedDependencies,
)


def lock(**versions: str | None) -> ObservedDependencies:
    deps = tuple(Dependency(name, version) for name, version in versions.items())
    return ObservedDependencies("uv-lock", "uv.lock", "uv.lock", deps)


def records(*docs: dict[str, Any]) -> list[Advisory]:
    parsed = [parse_record(json.dumps(d).encode(), f"{d['id']}.json") for d in docs]
    return [a for a in parsed if a is not None]


def statements(*docs: dict[str, Any]) -> list[VexStatement]:
    return [s for i, d in enumerate(docs) for s in parse_vex(json.dumps(d).encode(), f"v{i}.json")]


def run(
    manifest: ObservedDependencies,
    advisories: list[Advisory],
    vex: tuple[VexStatement, ...] | list[VexStatement] = (),
) -> list[Finding]:
    return check([manifest], vulnerabilities_by_package(advisories), vex)


def rules(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, f.path) for f in findings]


def fixed_statement(vuln: str = TORCH_CVE, purl: str = "pkg:pypi/torch@2.5.1") -> dict[str, Any]:
    return openvex(openvex_statement(vuln, purl, "fixed"))


def test_known_vulnerability_names_ids_aliases_version_and_fix() -> None:
    (finding,) = run(lock(torch="2.5.1", numpy="2.1.3"), records(torch_ghsa()))
    assert (finding.rule, finding.path, finding.component) == (
        "known-vulnerability",
        "torch",
        "uv-lock:uv.lock",
    )
    assert (finding.expected, finding.actual) == (f">= 2.6.0 ({TORCH_GHSA})", "2.5.1")
    assert f"{TORCH_GHSA} ({TORCH_CVE})" in finding.message
    assert "first fixed: 2.6.0" in finding.message and "torch.load" in finding.message


def test_records_of_one_vulnerability_are_one_finding() -> None:
    """The PyPI export has a GHSA and a PYSEC record of the same CVE, aliasing each other."""
    (finding,) = run(lock(torch="2.5.1"), records(torch_ghsa(), torch_pysec()))
    assert f"{TORCH_GHSA} ({TORCH_CVE}, {TORCH_PYSEC})" in finding.message


def test_fixed_and_unaffected_versions_give_nothing() -> None:
    assert run(lock(torch="2.6.0"), records(torch_ghsa())) == []
    assert run(lock(torch="2.7.1+cu126"), records(torch_ghsa())) == []
    assert run(lock(torch=None), records(torch_ghsa())) == []  # unpinned: nothing to look up
    assert run(lock(numpy="1.0"), records(torch_ghsa())) == []


def test_pre_release_of_the_fix_is_affected() -> None:
    assert rules(run(lock(torch="2.6.0rc9"), records(torch_ghsa()))) == [
        ("known-vulnerability", "torch")
    ]


@pytest.mark.parametrize(
    ("vuln", "aliases"),
    [(TORCH_CVE, ()), (TORCH_GHSA, ()), (TORCH_PYSEC, ()), ("VULN-internal", (TORCH_CVE,))],
)
def test_vex_fixed_on_an_affected_version_is_contradicted(
    vuln: str, aliases: tuple[str, ...]
) -> None:
    """Matched by id or alias, either way: CVE → GHSA alias, GHSA → GHSA, PYSEC via the
    merged records, a statement's own alias."""
    vex = openvex(openvex_statement(vuln, "pkg:pypi/torch@2.5.1", "fixed", aliases=aliases))
    (finding,) = run(lock(torch="2.5.1"), records(torch_ghsa(), torch_pysec()), statements(vex))
    assert finding.rule == "vex-contradicted" and finding.path == "torch"
    assert finding.expected == f"fixed (VEX {vuln})"
    assert finding.actual == "2.5.1 (affected: >=0, <2.6.0)"
    assert "v0.json: statements[0] says torch 2.5.1 is fixed" in finding.message
    assert finding.effective_severity is Severity.ERROR


def test_ids_match_case_insensitively() -> None:
    vex = fixed_statement(TORCH_GHSA.lower().replace("ghsa", "GHSA").upper())
    assert rules(run(lock(torch="2.5.1"), records(torch_ghsa()), statements(vex))) == [
        ("vex-contradicted", "torch")
    ]


def test_vex_fixed_on_a_fixed_version_is_consistent() -> None:
    vex = fixed_statement(purl="pkg:pypi/torch@2.6.0")
    assert run(lock(torch="2.6.0"), records(torch_ghsa()), statements(vex)) == []


def test_vex_fixed_naming_another_version_than_the_measured_one() -> None:
    """Read as "fixed in 2.6.0": a host still on 2.5.1 is contradicted."""
    vex = fixed_statement(purl="pkg:pypi/torch@2.6.0")
    (finding,) = run(lock(torch="2.5.1"), records(torch_ghsa()), statements(vex))
    assert finding.rule == "vex-contradicted"
    assert "says torch 2.6.0 is fixed" in finding.message


def test_an_honest_history_is_not_contradicted() -> None:
    """A statement about the measured version wins over one about another version."""
    vex = openvex(
        openvex_statement(TORCH_CVE, "pkg:pypi/torch@2.5.1", "affected"),
        openvex_statement(TORCH_CVE, "pkg:pypi/torch@2.6.0", "fixed"),
    )
    (finding,) = run(lock(torch="2.5.1"), records(torch_ghsa()), statements(vex))
    assert finding.rule == "known-vulnerability" and "VEX affected" in finding.message


def test_not_affected_is_a_warning_with_its_justification() -> None:
    vex = openvex(
        openvex_statement(
            TORCH_CVE,
            "pkg:pypi/torch",
            "not_affected",
            justification="vulnerable_code_not_in_execute_path",
        )
    )
    (finding,) = run(lock(torch="2.5.1"), records(torch_ghsa()), statements(vex))
    assert finding.rule == "vex-not-affected"
    assert finding.effective_severity is Severity.WARNING
    assert "vulnerable_code_not_in_execute_path" in finding.message
    assert (
        finding.expected == f"not affected (VEX {TORCH_CVE}: vulnerable_code_not_in_execute_path)"
    )


def test_not_affected_for_another_version_does_not_cover_the_measured_one() -> None:
    vex = openvex(openvex_statement(TORCH_CVE, "pkg:pypi/torch@2.4.0", "not_affected"))
    assert rules(run(lock(torch="2.5.1"), records(torch_ghsa()), statements(vex))) == [
        ("known-vulnerability", "torch")
    ]


def test_a_statement_about_another_vulnerability_or_package_does_not_apply() -> None:
    vex = openvex(
        openvex_statement("CVE-2024-0001", "pkg:pypi/torch@2.5.1", "not_affected"),
        openvex_statement(TORCH_CVE, "pkg:pypi/torchvision@2.5.1", "not_affected"),
    )
    assert rules(run(lock(torch="2.5.1"), records(torch_ghsa()), statements(vex))) == [
        ("known-vulnerability", "torch")
    ]


def test_the_last_statement_given_wins() -> None:
    first = openvex(openvex_statement(TORCH_CVE, "pkg:pypi/torch@2.5.1", "not_affected"))
    second = cyclonedx_vex(TORCH_CVE, {"t": "pkg:pypi/torch@2.5.1"}, "resolved")
    assert rules(run(lock(torch="2.5.1"), records(torch_ghsa()), statements(first, second))) == [
        ("vex-contradicted", "torch")
    ]


def test_cyclonedx_resolved_is_checked_like_openvex_fixed() -> None:
    vex = cyclonedx_vex(TORCH_GHSA, {"pkg:pypi/torch@2.5.1": "pkg:pypi/torch@2.5.1"}, "resolved")
    assert rules(run(lock(torch="2.5.1"), records(torch_ghsa()), statements(vex))) == [
        ("vex-contradicted", "torch")
    ]


def test_without_advisories_only_a_versioned_fixed_statement_is_checked() -> None:
    no_records: list[Advisory] = []
    older = statements(fixed_statement(purl="pkg:pypi/torch@2.6.0"))
    (finding,) = run(lock(torch="2.5.1"), no_records, older)
    assert finding.rule == "vex-contradicted"
    assert finding.expected == f"fixed (VEX {TORCH_CVE}): torch >= 2.6.0"
    assert finding.actual == "2.5.1 (older than the version the statement says is fixed)"
    # the measured version is the fixed one, or newer: consistent
    assert run(lock(torch="2.6.0"), no_records, older) == []
    assert run(lock(torch="2.7.0"), no_records, older) == []
    # no version named, or the measured version named: nothing to check it against
    assert (
        run(lock(torch="2.5.1"), no_records, statements(fixed_statement(purl="pkg:pypi/torch")))
        == []
    )
    assert run(lock(torch="2.5.1"), no_records, statements(fixed_statement())) == []
    # not_affected / affected without advisories: cannot tell
    vex = openvex(openvex_statement(TORCH_CVE, "pkg:pypi/torch@2.5.1", "not_affected"))
    assert run(lock(torch="2.5.1"), no_records, statements(vex)) == []


def test_advisories_that_do_not_know_the_vulnerability_fall_back_to_fixed_in() -> None:
    other = osv_record("GHSA-other", "torch", [{"introduced": "3.0"}])
    vex = statements(fixed_statement(purl="pkg:pypi/torch@2.6.0"))
    assert rules(run(lock(torch="2.5.1"), records(other), vex)) == [("vex-contradicted", "torch")]


def test_advisories_decide_when_they_know_the_vulnerability() -> None:
    """The record says only 2.0 to 2.3 is affected: 1.5 is not, whatever version the statement
    names as fixed."""
    narrow = osv_record(TORCH_GHSA, "torch", [{"introduced": "2.0"}, {"fixed": "2.3"}])
    vex = statements(fixed_statement(TORCH_GHSA, purl="pkg:pypi/torch@2.6.0"))
    assert run(lock(torch="1.5"), records(narrow), vex) == []


def test_applicable_precedence() -> None:
    def s(version: str | None, status: str) -> VexStatement:
        return VexStatement(TORCH_CVE, (), "torch", version, status, "", "x")  # type: ignore[arg-type]

    exact, unversioned, other_fixed = (
        s("2.5.1", "affected"),
        s(None, "not_affected"),
        s("2.6", "fixed"),
    )
    assert applicable([exact, unversioned, other_fixed], "2.5.1") is exact
    assert applicable([unversioned, other_fixed], "2.5.1.0") is unversioned
    assert applicable([other_fixed], "2.5.1") is other_fixed
    assert applicable([s("2.4", "not_affected")], "2.5.1") is None


def measured(*manifests: ObservedDependencies, command: str = "verify deps") -> Measured:
    state = ExpectedState(DeploymentInfo("svc", "1.0"), ())
    return Measured(command, state, dependencies=manifests)


def test_advisory_findings_reads_the_files(tmp_path: Path) -> None:
    osv = write_records(tmp_path / "osv", torch_ghsa(), torch_pysec())
    vex = write_json(tmp_path / "vex.json", fixed_statement())
    env = ObservedDependencies("environment", "venv", "venv", (Dependency("torch", "2.5.1"),))
    found = advisory_findings(measured(lock(torch="2.5.1"), env), vex=[vex], advisories=osv)
    assert [(f.rule, f.component) for f in found] == [
        ("vex-contradicted", "uv-lock:uv.lock"),
        ("vex-contradicted", "environment:venv"),
    ]
    assert str(vex) in found[0].message


def test_a_run_that_measured_no_dependencies_reads_nothing(tmp_path: Path) -> None:
    absent = tmp_path / "absent"
    assert (
        advisory_findings(measured(command="verify model"), vex=[absent], advisories=absent) == []
    )
