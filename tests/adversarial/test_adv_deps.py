"""Attacks on the Python dependencies of a deployment, each against a real signed SBOM.

The installed environment is a real venv (pip-installed wheels, see tests/support/deps.py);
every attack works on a copy of it. The lock attacks edit copies of fixtures/deps.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from support import DEPLOYMENT, DEPS_FIXTURES
from support.deps import (
    DepsVenv,
    build_wheel,
    copy_venv,
    dist_info_of,
    pip_install,
    rewrite_record,
    signed_sbom,
)

from chainguard import api
from chainguard.errors import LockfileError
from chainguard.findings import Report

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")


@pytest.fixture(scope="module")
def signed_env(deps_venv: DepsVenv, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The SBOM of the pristine venv, signed once for this module."""
    return signed_sbom(tmp_path_factory.mktemp("release"), envs=(deps_venv.path,))


@pytest.fixture
def env(deps_venv: DepsVenv, tmp_path: Path) -> DepsVenv:
    return copy_venv(deps_venv, tmp_path)


def verify_env(env: DepsVenv, signed: tuple[Path, Path]) -> Report:
    sbom, pub = signed
    trust = api.TrustInputs(sbom=sbom, signatures=(), keys=(pub,), deployment=DEPLOYMENT)
    return api.verify_deps(env=env.path, trust=trust)


def found(report: Report) -> list[tuple[str, str]]:
    return [(f.rule, f.path) for f in report.findings]


def test_the_untouched_copy_verifies(env: DepsVenv, signed_env: tuple[Path, Path]) -> None:
    report = verify_env(env, signed_env)
    assert report.ok, report.findings
    assert report.components == ("environment:venv",)


def test_patched_installed_module(env: DepsVenv, signed_env: tuple[Path, Path]) -> None:
    """A backdoor written into site-packages: the file no longer matches its RECORD."""
    core = env.site_packages / "tinypkg" / "core.py"
    core.write_text(core.read_text().replace("42", "__import__('os').system('id') or 42"))
    report = verify_env(env, signed_env)
    assert found(report) == [("installed-file-modified", "tinypkg/core.py")]
    assert report.findings[0].component == "tinypkg"
    assert not report.ok


def test_patched_file_with_a_rewritten_record(env: DepsVenv, signed_env: tuple[Path, Path]) -> None:
    """The careful attacker also rewrites RECORD, so every file matches it again; only the
    signed RECORD digest shows the change."""
    site = env.site_packages
    rewrite_record(
        site,
        dist_info_of(site, "tinypkg"),
        {"tinypkg/core.py": b"def answer() -> int:\n    return 41\n"},
    )
    # A rewrite within the second the venv was built would leave the old .pyc loadable (same
    # mtime and size in its header): a bytecode-mismatch, rightly, but not this scenario.
    core = site / "tinypkg" / "core.py"
    later = core.stat().st_mtime + 10
    os.utime(core, (later, later))
    report = verify_env(env, signed_env)
    assert found(report) == [("record-modified", "tinypkg-1.0.0.dist-info/RECORD")]


def test_console_script_in_bin_is_checked(env: DepsVenv, signed_env: tuple[Path, Path]) -> None:
    script = env.path / "bin" / "tinypkg-cli"
    script.write_text(script.read_text() + "\nimport os; os.system('id')\n")
    assert found(verify_env(env, signed_env)) == [
        ("installed-file-modified", "../../../bin/tinypkg-cli")
    ]


def test_dropped_in_pth_file(env: DepsVenv, signed_env: tuple[Path, Path]) -> None:
    """A .pth file runs at every interpreter start and belongs to no distribution."""
    (env.site_packages / "_virtualenv_hook.pth").write_text("import os; os.system('id')\n")
    assert found(verify_env(env, signed_env)) == [
        ("installed-file-unexpected", "_virtualenv_hook.pth")
    ]


def test_module_replaced_by_a_link_out_of_the_environment(
    env: DepsVenv, signed_env: tuple[Path, Path], tmp_path: Path
) -> None:
    evil = tmp_path / "evil.py"
    evil.write_text("def helps() -> bool:\n    return False\n")
    target = env.site_packages / "helper_lib.py"
    target.unlink()
    target.symlink_to(evil)
    report = verify_env(env, signed_env)
    assert found(report) == [("installed-file-modified", "helper_lib.py")]
    assert "symbolic link" in report.findings[0].message


def test_unexpected_package_installed(
    env: DepsVenv, signed_env: tuple[Path, Path], tmp_path: Path
) -> None:
    extra = build_wheel(tmp_path, "sneaky", "6.6.6", {"sneaky.py": "import os\n"})
    pip_install(env.path, extra)
    assert found(verify_env(env, signed_env)) == [("dependency-unexpected", "sneaky")]


def test_package_removed(env: DepsVenv, signed_env: tuple[Path, Path]) -> None:
    site = env.site_packages
    shutil.rmtree(site / dist_info_of(site, "helper_lib"))
    (site / "helper_lib.py").unlink()  # its bytecode stays behind, as after a sloppy removal
    assert found(verify_env(env, signed_env)) == [("dependency-missing", "helper-lib")]


def test_same_version_rebuilt_and_reinstalled(
    env: DepsVenv, signed_env: tuple[Path, Path], tmp_path: Path
) -> None:
    """A different build of the same version, installed cleanly by pip: files match the new
    RECORD, the version is right, and only the RECORD digest differs."""
    rebuilt = build_wheel(
        tmp_path,
        "helper-lib",
        "0.3.1",
        {"helper_lib.py": "def helps() -> bool:\n    return False\n"},
    )
    pip_install(env.path, "--force-reinstall", rebuilt)
    report = verify_env(env, signed_env)
    assert found(report) == [("record-modified", "helper_lib-0.3.1.dist-info/RECORD")]


def test_version_downgraded_in_the_environment(
    env: DepsVenv, signed_env: tuple[Path, Path], tmp_path: Path
) -> None:
    older = build_wheel(tmp_path, "tinypkg", "0.9.0", {"tinypkg/__init__.py": ""})
    pip_install(env.path, older)  # pip uninstalls 1.0.0 first
    report = verify_env(env, signed_env)
    assert found(report) == [("dependency-version", "tinypkg")]
    assert report.findings[0].message == "tinypkg 1.0.0 → 0.9.0 (downgrade)"


def test_record_pointing_outside_the_environment_cannot_be_verified(
    env: DepsVenv, signed_env: tuple[Path, Path]
) -> None:
    """A RECORD that lists /etc/shadow would make verify read (and report on) any file."""
    record = env.site_packages / dist_info_of(env.site_packages, "tinypkg") / "RECORD"
    record.write_text(record.read_text() + "../../../../../../etc/shadow,,\n")
    with pytest.raises(LockfileError, match="escapes the environment"):
        verify_env(env, signed_env)


def test_a_lock_verified_against_the_environment_is_refused(
    env: DepsVenv, signed_env: tuple[Path, Path]
) -> None:
    from chainguard.errors import UsageError

    sbom, pub = signed_env
    trust = api.TrustInputs(sbom=sbom, signatures=(), keys=(pub,), deployment=DEPLOYMENT)
    with pytest.raises(UsageError):
        api.verify_deps(DEPS_FIXTURES / "uv.lock", trust=trust)


# --- lockfiles -----------------------------------------------------------------------------------


@pytest.fixture
def lock_copy(tmp_path: Path) -> Path:
    target = tmp_path / "app" / "uv.lock"
    target.parent.mkdir()
    shutil.copy(DEPS_FIXTURES / "uv.lock", target)
    return target


def verify_lock(lock: Path, signed: tuple[Path, Path], **kwargs: object) -> Report:
    sbom, pub = signed
    trust = api.TrustInputs(sbom=sbom, signatures=(), keys=(pub,), deployment=DEPLOYMENT)
    return api.verify_deps(lock, trust=trust, **kwargs)  # type: ignore[arg-type]


def test_lock_downgrade_to_a_vulnerable_version(lock_copy: Path, tmp_path: Path) -> None:
    signed = signed_sbom(tmp_path / "release", locks=(lock_copy,))
    text = lock_copy.read_text()
    lock_copy.write_text(
        text.replace('name = "urllib3"\nversion = "2.2.3"', 'name = "urllib3"\nversion = "1.26.4"')
    )
    report = verify_lock(lock_copy, signed)
    assert found(report) == [("dependency-version", "urllib3")]
    assert "downgrade" in report.findings[0].message


def test_lock_hash_swapped_for_an_attacker_wheel(lock_copy: Path, tmp_path: Path) -> None:
    signed = signed_sbom(tmp_path / "release", locks=(lock_copy,))
    text = lock_copy.read_text()
    i = text.index('hash = "sha256:', text.index('name = "certifi"')) + len('hash = "sha256:')
    lock_copy.write_text(text[:i] + "f" * 64 + text[i + 64 :])
    assert found(verify_lock(lock_copy, signed)) == [("dependency-hash", "certifi")]


def test_lock_gains_a_dependency_and_loses_one(lock_copy: Path, tmp_path: Path) -> None:
    signed = signed_sbom(tmp_path / "release", locks=(lock_copy,))
    text = lock_copy.read_text()
    start = text.index('[[package]]\nname = "idna"')
    end = text.index("[[package]]", start + 1)
    idna = text[start:end]
    lock_copy.write_text(text[:start] + idna.replace('"idna"', '"idna-ng"') + text[end:])
    assert found(verify_lock(lock_copy, signed)) == [
        ("dependency-missing", "idna"),
        ("dependency-unexpected", "idna-ng"),
    ]


def test_lock_source_moved_to_a_git_fork(lock_copy: Path, tmp_path: Path) -> None:
    signed = signed_sbom(tmp_path / "release", locks=(lock_copy,))
    text = lock_copy.read_text()
    start = text.index('name = "requests"')
    moved = text[start:].replace(
        'source = { registry = "https://pypi.org/simple" }',
        'source = { git = "https://github.com/attacker/requests?rev=main#deadbeef" }',
        1,
    )
    lock_copy.write_text(text[:start] + moved)
    report = verify_lock(lock_copy, signed)
    assert found(report) == [("dependency-version", "requests")]
    assert "source changed" in report.findings[0].message


def test_a_lock_renamed_to_hide_is_still_compared(lock_copy: Path, tmp_path: Path) -> None:
    """Renaming the lock does not escape the comparison: content decides its format, and the
    only signed lock is chosen."""
    signed = signed_sbom(tmp_path / "release", locks=(lock_copy,))
    hidden = lock_copy.with_name("requirements.txt")
    lock_copy.rename(hidden)
    hidden.write_text(hidden.read_text().replace('version = "3.10"', 'version = "3.7"'))
    report = verify_lock(hidden, signed)
    assert found(report) == [("dependency-version", "idna")]
