"""`chainguard sbom build --requirements/--lock/--env` and `chainguard verify deps` end to end,
through chainguard.cli.main: real files, real keys, real exit codes."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from support import DEPLOYMENT, DEPS_FIXTURES
from support.cli import cli_main
from support.deps import DepsVenv, copy_venv, dist_info_of, signed_sbom


def verify_json(
    capsys: pytest.CaptureFixture[str], sbom: Path, pub: Path, *args: str
) -> tuple[int, dict]:  # type: ignore[type-arg]
    # the deployment signed_sbom builds is pinned, as a well-configured operator does
    trust = ("--sbom", str(sbom), "--key", str(pub), "--deployment", DEPLOYMENT)
    code, out, err = cli_main(capsys, "verify", "deps", *args, *trust, "--format", "json")
    return code, json.loads(out) if out.startswith("{") else {"stderr": err}


@pytest.fixture
def locks(tmp_path: Path) -> Path:
    """A working copy of the lock fixtures (tests edit them)."""
    target = tmp_path / "project"
    shutil.copytree(DEPS_FIXTURES, target)
    return target


def test_sbom_build_with_only_dependencies(
    capsys: pytest.CaptureFixture[str], locks: Path, tmp_path: Path
) -> None:
    out_sbom = tmp_path / "deps.cdx.json"
    code, out, err = cli_main(
        capsys,
        "sbom",
        "build",
        "--name",
        "svc",
        "--version",
        "1",
        "--requirements",
        str(locks / "requirements-dev.txt"),
        "--lock",
        str(locks / "uv.lock"),
        "-o",
        str(out_sbom),
    )
    assert code == 0, err
    assert "requirements:requirements-dev.txt (7 dependencies)" in out
    assert "uv-lock:uv.lock (8 dependencies)" in out
    assert "chainguard: note:" in err and "constraints file" in err
    doc = json.loads(out_sbom.read_text())
    assert sum(c["type"] == "library" for c in doc["components"]) == 15


@pytest.mark.parametrize(
    "lock", ["requirements.txt", "pylock.toml", "uv.lock", "poetry.lock", "poetry-1.8/poetry.lock"]
)
def test_every_format_verifies_and_catches_a_downgrade(
    capsys: pytest.CaptureFixture[str], locks: Path, tmp_path: Path, lock: str
) -> None:
    path = locks / lock
    sbom, pub = signed_sbom(tmp_path / "release", locks=(path,))
    code, report = verify_json(capsys, sbom, pub, str(path))
    assert (code, report["ok"]) == (0, True), report
    assert report["components"] == [f"{report['components'][0]}"]
    path.write_text(path.read_text().replace("2.32.3", "2.31.0"))
    code, report = verify_json(capsys, sbom, pub, str(path))
    assert code == 1
    version = [f for f in report["findings"] if f["rule"] == "dependency-version"]
    assert [(f["path"], f["expected"], f["actual"]) for f in version] == [
        ("requests", "2.32.3", "2.31.0")
    ]
    assert "downgrade" in version[0]["message"]


def test_a_swapped_hash_in_the_lock(
    capsys: pytest.CaptureFixture[str], locks: Path, tmp_path: Path
) -> None:
    lock = locks / "uv.lock"
    sbom, pub = signed_sbom(tmp_path / "release", locks=(lock,))
    text = lock.read_text()
    start = text.index('hash = "sha256:', text.index('name = "idna"')) + len('hash = "sha256:')
    lock.write_text(text[:start] + "0" * 64 + text[start + 64 :])
    code, report = verify_json(capsys, sbom, pub, str(lock))
    assert code == 1
    assert [(f["rule"], f["path"]) for f in report["findings"]] == [("dependency-hash", "idna")]
    assert "1 added" in report["findings"][0]["message"]
    assert "1 removed" in report["findings"][0]["message"]


def test_hashes_are_required_when_the_signed_lock_has_them(
    capsys: pytest.CaptureFixture[str], locks: Path, tmp_path: Path
) -> None:
    reqs = locks / "requirements.txt"
    sbom, pub = signed_sbom(tmp_path / "release", requirements=(reqs,))
    reqs.write_text(reqs.read_text() + "leftpad==1.0\n")
    code, report = verify_json(capsys, sbom, pub, str(reqs))
    assert code == 1
    assert [f["rule"] for f in report["findings"]] == [
        "dependency-unexpected",
        "dependency-unhashed",
    ]
    code, report = verify_json(capsys, sbom, pub, str(reqs), "--no-require-hashes")
    assert [f["rule"] for f in report["findings"]] == ["dependency-unexpected"]


def test_choosing_among_several_signed_locks(
    capsys: pytest.CaptureFixture[str], locks: Path, tmp_path: Path
) -> None:
    sbom, pub = signed_sbom(tmp_path / "release", locks=(locks / "uv.lock", locks / "poetry.lock"))
    elsewhere = tmp_path / "deploy.lock"
    shutil.copy(locks / "uv.lock", elsewhere)
    code, report = verify_json(capsys, sbom, pub, str(elsewhere))
    assert code == 2
    assert "several lockfiles" in report["stderr"] and "uv-lock:uv.lock" in report["stderr"]
    code, report = verify_json(capsys, sbom, pub, str(elsewhere), "--component", "uv.lock")
    assert code == 0 and report["components"] == ["uv-lock:uv.lock"]
    code, report = verify_json(capsys, sbom, pub, str(elsewhere), "--component", "nope.lock")
    assert code == 2 and "no lockfile named 'nope.lock'" in report["stderr"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
def test_an_environment_verifies_and_a_lock_is_not_an_environment(
    capsys: pytest.CaptureFixture[str], deps_venv: DepsVenv, locks: Path, tmp_path: Path
) -> None:
    sbom, pub = signed_sbom(tmp_path / "release", envs=(deps_venv.path,))
    code, report = verify_json(capsys, sbom, pub, "--env", str(deps_venv.python))
    assert (code, report["components"]) == (0, ["environment:venv"]), report
    assert report["stats"]["files"] >= 12
    code, report = verify_json(capsys, sbom, pub, str(locks / "uv.lock"))
    assert code == 2 and "lists no dependencies from a lockfile" in report["stderr"]


def test_exactly_one_input(capsys: pytest.CaptureFixture[str], locks: Path) -> None:
    code, _, err = cli_main(capsys, "verify", "deps")
    assert code == 2 and "exactly one of LOCKFILE or --env" in err
    code, _, err = cli_main(capsys, "verify", "deps", str(locks / "uv.lock"), "--env", str(locks))
    assert code == 2


def test_an_unsigned_sbom_is_not_verified(
    capsys: pytest.CaptureFixture[str], locks: Path, tmp_path: Path
) -> None:
    sbom, pub = signed_sbom(tmp_path / "release", locks=(locks / "uv.lock",))
    Path(str(sbom) + ".sig").unlink()
    code, report = verify_json(capsys, sbom, pub, str(locks / "uv.lock"))
    assert code == 1
    assert [f["rule"] for f in report["findings"]] == ["signature-missing"]


def test_an_sbom_edited_after_signing(
    capsys: pytest.CaptureFixture[str], locks: Path, tmp_path: Path
) -> None:
    """Moving a pin in the SBOM itself (to match a downgraded lock) breaks the signature."""
    lock = locks / "uv.lock"
    sbom, pub = signed_sbom(tmp_path / "release", locks=(lock,))
    sbom.write_text(sbom.read_text().replace("2.32.3", "2.31.0"))
    lock.write_text(lock.read_text().replace("2.32.3", "2.31.0"))
    code, report = verify_json(capsys, sbom, pub, str(lock))
    assert code == 1
    assert [f["rule"] for f in report["findings"]] == ["sbom-mismatch"]


BAD_INPUTS = {
    "truncated uv.lock": ("uv.lock", 'version = 1\n[[package]]\nname = "a'),
    "uv.lock wrong type": ("uv.lock", 'version = 1\npackage = "all of them"\n'),
    "uv.lock unknown version": ("uv.lock", "version = 9\npackage = []\n"),
    "pylock unknown version": ("pylock.toml", 'lock-version = "2.0"\npackages = []\n'),
    "pylock wrong type": ("pylock.toml", 'lock-version = "1.0"\npackages = [1]\n'),
    "poetry truncated": ("poetry.lock", "[[package]]\nname = "),
    "poetry unknown version": ("poetry.lock", '[metadata]\nlock-version = "9.0"\n'),
    "requirements bad line": ("requirements.txt", "numpy==2 ===\n"),
    "requirements cycle": ("requirements.txt", "-r requirements.txt\n"),
    "requirements missing include": ("requirements.txt", "-r base.txt\n"),
    "missing lockfile": ("absent.lock", None),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_malformed_locks_exit_3_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    name, text = BAD_INPUTS[case]
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    code, out, err = cli_main(
        capsys, "verify", "deps", str(path), "--sbom", "x.json", "--key", "x.pub"
    )
    assert code == 3, err
    assert out == ""
    assert err.startswith("chainguard: error: ") and err.count("\n") == 1
    assert "Traceback" not in err
    code, _, err = cli_main(
        capsys, "sbom", "build", "--name", "s", "--version", "1", "--lock", str(path), "-o",
        str(tmp_path / "out.json"),
    )  # fmt: skip
    assert code == 3 and err.count("\n") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tinypkg/x.py,sha256=abc", "expected 3 fields"),
        ("tinypkg/x.py,sha256=!!!!,3", "not urlsafe base64"),
        ("tinypkg/x.py,,three", "size must be a non-negative integer"),
        ("../../../../../etc/passwd,,", "escapes the environment"),
    ],
)
def test_a_broken_record_exits_3(
    capsys: pytest.CaptureFixture[str],
    deps_venv: DepsVenv,
    tmp_path: Path,
    line: str,
    message: str,
) -> None:
    env = copy_venv(deps_venv, tmp_path)
    record = env.site_packages / dist_info_of(env.site_packages, "tinypkg") / "RECORD"
    record.write_text(record.read_text() + line + "\n")
    for args in (
        ("verify", "deps", "--env", str(env.path), "--sbom", "x.json", "--key", "x.pub"),
        (
            "sbom",
            "build",
            "--name",
            "s",
            "--version",
            "1",
            "--env",
            str(env.path),
            "-o",
            str(tmp_path / "o.json"),
        ),
    ):
        code, out, err = cli_main(capsys, *args)
        assert (code, out) == (3, ""), err
        assert err.startswith(f"chainguard: error: {record}:") and err.count("\n") == 1
        assert message in err
