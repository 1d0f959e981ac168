"""VEX that lies, and advisories found offline, through the CLI against real signed releases.

The host keeps torch 2.5.1 (CVE-2025-32434 / GHSA-53q9-r3pm-6pq6: ``torch.load`` with
``weights_only=True`` still runs code) and publishes a VEX saying it is fixed. The release was
signed with that lock, so the signature and the pins all verify: only the advisory check shows
the claim is false. No network: the OSV records are written here, as a mirror holds them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import DEPLOYMENT
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
    write_zip,
)
from support.cli import Outcome, cli
from support.deps import DepsVenv, signed_sbom

from chainguard import api
from chainguard.api._assurance import Assurance

HASH = "sha256:" + "ab" * 32
LOCK = f"""\
torch==2.5.1 \\
    --hash={HASH}
numpy==2.1.3 \\
    --hash={HASH.replace("ab", "cd")}
"""


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(lockfile, sbom, public key): a release signed with torch 2.5.1 locked."""
    lock = tmp_path / "project" / "requirements.txt"
    lock.parent.mkdir()
    lock.write_text(LOCK)
    sbom, pub = signed_sbom(tmp_path / "release", locks=(lock,))
    return lock, sbom, pub


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """The OSV PyPI export as an air-gapped site mirrors it: a zip of <ID>.json records."""
    other = osv_record(
        "GHSA-9wx4-h78v-vm56", "requests", [{"introduced": "0"}, {"fixed": "2.32.0"}]
    )
    return write_zip(
        tmp_path / "osv" / "all.zip",
        {f"{r['id']}.json": r for r in (torch_ghsa(), torch_pysec(), other)},
    )


def verify_deps(release: tuple[Path, Path, Path], *extra: str | Path) -> Outcome:
    lock, sbom, pub = release
    return cli(
        "verify", "deps", lock, "--sbom", sbom, "--key", pub, "--deployment", DEPLOYMENT,
        "--format", "json", *extra,
    )  # fmt: skip


def test_without_advisories_or_vex_the_release_verifies(release: tuple[Path, Path, Path]) -> None:
    outcome = verify_deps(release)
    assert outcome.code == 0, outcome


def test_a_vex_that_says_fixed_on_a_vulnerable_version(
    release: tuple[Path, Path, Path], mirror: Path, tmp_path: Path
) -> None:
    vex = write_json(
        tmp_path / "host.vex.json",
        openvex(
            openvex_statement(TORCH_CVE, "pkg:pypi/torch@2.5.1", "fixed", product="pkg:oci/svc")
        ),
    )
    outcome = verify_deps(release, "--vex", vex, "--advisories", mirror)
    assert outcome.code == 1
    assert outcome.rules == [("vex-contradicted", "torch")]
    finding = outcome.finding("vex-contradicted", "torch")
    assert finding["severity"] == "error"
    assert finding["expected"] == f"fixed (VEX {TORCH_CVE})"
    assert finding["actual"] == "2.5.1 (affected: >=0, <2.6.0)"
    assert TORCH_GHSA in finding["message"] and TORCH_PYSEC in finding["message"]


def test_a_cyclonedx_vex_resolved_on_a_vulnerable_version(
    release: tuple[Path, Path, Path], mirror: Path, tmp_path: Path
) -> None:
    vex = write_json(
        tmp_path / "host.cdx.json",
        cyclonedx_vex(TORCH_GHSA, {"torch@2.5.1": "pkg:pypi/torch@2.5.1"}, "resolved"),
    )
    outcome = verify_deps(release, "--vex", vex, "--advisories", mirror)
    assert (outcome.code, outcome.rules) == (1, [("vex-contradicted", "torch")])


def test_the_same_vex_without_advisories_checks_the_fixed_version_it_names(
    release: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """No mirror: a statement "fixed in torch 2.6.0" while 2.5.1 is locked is still caught."""
    vex = write_json(
        tmp_path / "host.vex.json",
        openvex(openvex_statement(TORCH_CVE, "pkg:pypi/torch@2.6.0", "fixed")),
    )
    outcome = verify_deps(release, "--vex", vex)
    assert (outcome.code, outcome.rules) == (1, [("vex-contradicted", "torch")])


def test_advisories_find_a_vulnerable_locked_version(
    release: tuple[Path, Path, Path], mirror: Path
) -> None:
    outcome = verify_deps(release, "--advisories", mirror)
    assert outcome.code == 1
    assert outcome.rules == [("known-vulnerability", "torch")]
    finding = outcome.finding("known-vulnerability", "torch")
    assert (finding["expected"], finding["actual"]) == (f">= 2.6.0 ({TORCH_GHSA})", "2.5.1")
    assert f"{TORCH_GHSA} ({TORCH_CVE}, {TORCH_PYSEC})" in finding["message"]


def test_not_affected_is_reported_as_a_warning(
    release: tuple[Path, Path, Path], mirror: Path, tmp_path: Path
) -> None:
    vex = write_json(
        tmp_path / "host.vex.json",
        openvex(
            openvex_statement(
                TORCH_GHSA,
                "pkg:pypi/torch@2.5.1",
                "not_affected",
                justification="vulnerable_code_not_in_execute_path",
            )
        ),
    )
    outcome = verify_deps(release, "--vex", vex, "--advisories", mirror)
    assert outcome.code == 0, outcome
    assert outcome.rules == [("vex-not-affected", "torch")]
    assert outcome.severity("vex-not-affected") == "warning"
    assert (
        "vulnerable_code_not_in_execute_path"
        in outcome.finding("vex-not-affected", "torch")["message"]
    )


def one_line_exit_3(outcome: Outcome, *needles: str) -> None:
    assert outcome.code == 3, outcome
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert "Traceback" not in outcome.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_zip_bomb_in_the_mirror(release: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """64 MiB of JSON whitespace deflates to a few KiB; reading stops at the record cap."""
    bomb = write_zip(
        tmp_path / "all.zip",
        {f"{TORCH_GHSA}.json": torch_ghsa(), "PYSEC-0000-0.json": b" " * (64 * 1024 * 1024)},
    )
    assert bomb.stat().st_size < 200_000
    one_line_exit_3(verify_deps(release, "--advisories", bomb), f"{bomb}:PYSEC-0000-0.json", "cap")


def test_a_malformed_record_in_the_mirror(release: tuple[Path, Path, Path], tmp_path: Path) -> None:
    record = torch_ghsa()
    record["affected"][0]["ranges"][0]["events"].append({"fixed": 2.6})
    mirror = write_records(tmp_path / "osv", record)
    one_line_exit_3(
        verify_deps(release, "--advisories", mirror), f"{TORCH_GHSA}.json", "fixed must be"
    )


def test_a_malformed_vex(release: tuple[Path, Path, Path], tmp_path: Path) -> None:
    vex = tmp_path / "host.vex.json"
    vex.write_text('{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"status": 1}]}')
    one_line_exit_3(verify_deps(release, "--vex", vex), str(vex), "statements[0]")
    missing = tmp_path / "absent.vex.json"
    one_line_exit_3(verify_deps(release, "--vex", missing), str(missing))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
def test_advisories_on_what_is_really_installed(deps_venv: DepsVenv, tmp_path: Path) -> None:
    """The installed environment itself, as pip wrote it: tinypkg 1.0.0 is inside the range."""
    sbom, pub = signed_sbom(tmp_path / "release", envs=(deps_venv.path,))
    mirror = write_records(
        tmp_path / "osv",
        osv_record("GHSA-tiny-0001", "TinyPkg", [{"introduced": "0"}, {"last_affected": "1.0.0"}]),
    )
    trust = api.TrustInputs(sbom=sbom, signatures=(), keys=(pub,), deployment=DEPLOYMENT)
    report = api.verify_deps(
        env=deps_venv.path, trust=trust, assurance=Assurance(advisories=mirror)
    )
    assert [(f.rule, f.path, f.component) for f in report.findings] == [
        ("known-vulnerability", "tinypkg", "environment:venv")
    ]
    assert report.findings[0].expected == "> 1.0.0 (GHSA-tiny-0001)"


def test_a_tree_verify_refuses_vex_it_could_not_check(tmp_path: Path) -> None:
    """verify model measures no dependency versions: --vex/--advisories there would read as a
    check that was never made, so it is a usage error, not silence."""
    from support.cli import cli
    from support.release import MODEL_FILES, make_release

    release = make_release(tmp_path, models={"weights": MODEL_FILES})
    vex = tmp_path / "host.openvex.json"
    vex.write_text("{}")
    for option in (["--vex", str(vex)], ["--advisories", str(tmp_path)]):
        out = cli("verify", "model", release.model, "--sbom", release.sbom, "--key",
                  release.pub, *option)  # fmt: skip
        assert out.code == 2, out.stderr
        assert "verify deps or verify deployment" in out.stderr
