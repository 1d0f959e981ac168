"""Bytecode is code: attacks through .pyc files on a verified environment, run through the CLI
(``chainguard verify deps --env VENV --format json``) against a real signed SBOM.

Each attack first shows that Python really runs the planted bytecode (the venv's own
interpreter imports the module), then that verify reports it. Honest bytecode (written by pip,
compileall in every invalidation mode, and imports at every optimization level) must pass, and
the report counts it as checked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal
import os
import py_compile
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.deps import DepsVenv, build_wheel, copy_venv, pip_install, signed_sbom
from typer.testing import CliRunner

from chainguard.cli import app
from chainguard.collectors import bytecode as bc
from chainguard.collectors.bytecode_cache import CACHE_NAME, BytecodeCache

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")

TAG = sys.implementation.cache_tag  # the test venv is made from the interpreter running this
EVIL = "import os\nos.environ['PWNED'] = '1'\ndef answer() -> int:\n    return 41\n"


@pytest.fixture(scope="module")
def signed_env(deps_venv: DepsVenv, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return signed_sbom(tmp_path_factory.mktemp("release"), envs=(deps_venv.path,))


@pytest.fixture
def env(deps_venv: DepsVenv, tmp_path: Path) -> DepsVenv:
    return copy_venv(deps_venv, tmp_path)


def verify(env: DepsVenv, signed: tuple[Path, Path]) -> tuple[int, dict[str, Any]]:
    """``chainguard verify deps --env`` as a user runs it: (exit code, JSON report)."""
    sbom, pub = signed
    args = ["verify", "deps", "--env", str(env.path), "--sbom", str(sbom), "--key", str(pub)]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    return result.exit_code, json.loads(result.stdout)


def errors(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["rule"], f["path"]) for f in report["findings"] if f["severity"] == "error")


def run_python(env: DepsVenv, *args: str) -> subprocess.CompletedProcess[str]:
    """The environment's interpreter as the deployment runs it (site, .pth files and all)."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(
        [str(env.python), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=env.path,
        env=environ,
    )


def timestamp_pyc(source: Path, code_text: str) -> bytes:
    """Bytecode of ``code_text`` under a header claiming it was compiled from ``source`` as it
    is now (its mtime and size): Python runs it instead of the source."""
    st = source.stat()
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
    header += (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
    header += (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    return header + marshal.dumps(compile(code_text, str(source), "exec", dont_inherit=True))


def answer(env: DepsVenv) -> str:
    return run_python(env, "-c", "import tinypkg.core as c; print(c.answer())").stdout.strip()


def all_bytecode(env: DepsVenv) -> list[Path]:
    return sorted(env.site_packages.rglob("*.pyc"))


def files_without_bytecode(env: DepsVenv, signed: tuple[Path, Path], tmp_path: Path) -> int:
    """Files the report counts for a copy of ``env`` holding no .pyc at all."""
    bare = copy_venv(env, tmp_path / "bare")
    for pyc in all_bytecode(bare):
        pyc.unlink()
    code, report = verify(bare, signed)
    assert code == 0, report["findings"]
    return int(report["stats"]["files"])


# --- attacks ---------------------------------------------------------------------------------


def test_malicious_pyc_with_a_matching_timestamp_header(
    env: DepsVenv, signed_env: tuple[Path, Path]
) -> None:
    """core.py is untouched and matches RECORD; its cached bytecode is the attacker's."""
    source = env.site_packages / "tinypkg" / "core.py"
    cached = env.site_packages / "tinypkg" / "__pycache__" / f"core.{TAG}.pyc"
    cached.write_bytes(timestamp_pyc(source, EVIL))
    assert answer(env) == "41"  # Python runs the planted bytecode, not core.py
    code, report = verify(env, signed_env)
    assert code == 1
    assert errors(report) == [("bytecode-mismatch", f"tinypkg/__pycache__/core.{TAG}.pyc")]
    finding = report["findings"][[f["rule"] for f in report["findings"]].index("bytecode-mismatch")]
    assert finding["component"] == "tinypkg"
    assert "core.py" in finding["message"]


def test_malicious_pyc_of_a_module_a_pth_file_imports_at_every_start(
    env: DepsVenv, tmp_path: Path
) -> None:
    """A distribution's own .pth file imports its module whenever the interpreter starts, so
    planted bytecode for that module runs on `python -c pass`."""
    hook = build_wheel(
        tmp_path,
        "startup-hook",
        "1.0",
        {"startup_hook.pth": "import startup_hook\n", "startup_hook.py": "ENABLED = True\n"},
    )
    pip_install(env.path, hook)
    signed = signed_sbom(tmp_path / "release", envs=(env.path,))
    code, report = verify(env, signed)
    assert (code, errors(report)) == (0, [])
    marker = tmp_path / "ran-at-startup"
    source = env.site_packages / "startup_hook.py"
    evil = f"open({str(marker)!r}, 'w').close()\nENABLED = True\n"
    (env.site_packages / "__pycache__" / f"startup_hook.{TAG}.pyc").write_bytes(
        timestamp_pyc(source, evil)
    )
    run_python(env, "-c", "pass")
    assert marker.exists()  # the attack runs at every interpreter start
    code, report = verify(env, signed)
    assert code == 1
    assert errors(report) == [("bytecode-mismatch", f"__pycache__/startup_hook.{TAG}.pyc")]


@pytest.mark.parametrize(
    ("content", "rule"),
    [("honest", "bytecode-unchecked"), ("evil", "bytecode-mismatch")],
)
def test_unchecked_hash_based_pyc(
    env: DepsVenv, signed_env: tuple[Path, Path], tmp_path: Path, content: str, rule: str
) -> None:
    """An unchecked hash-based .pyc runs whatever the source says; even an honest one keeps
    running after the source changes, so it is reported either way."""
    source = env.site_packages / "tinypkg" / "core.py"
    cached = source.parent / "__pycache__" / f"core.{TAG}.pyc"
    compiled_from = source
    if content == "evil":
        compiled_from = tmp_path / "core.py"
        compiled_from.write_text(EVIL)
    py_compile.compile(
        str(compiled_from),
        cfile=str(cached),
        dfile=str(source),
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    assert answer(env) == ("41" if content == "evil" else "42")
    code, report = verify(env, signed_env)
    assert code == 1
    assert errors(report) == [(rule, f"tinypkg/__pycache__/core.{TAG}.pyc")]


@pytest.mark.parametrize(
    ("where", "module"),
    [("sneaky.pyc", "sneaky"), ("__pycache__/sneaky.pyc", "__pycache__.sneaky")],
)
def test_sourceless_bytecode_is_imported(
    env: DepsVenv, signed_env: tuple[Path, Path], tmp_path: Path, where: str, module: str
) -> None:
    """A .pyc with no source beside it is imported as a module (and ``__pycache__`` is a
    namespace package); nothing can show what it does."""
    source = tmp_path / "sneaky.py"
    source.write_text("print('sourceless code ran')\n")
    py_compile.compile(str(source), cfile=str(env.site_packages / where))
    assert run_python(env, "-c", f"import {module}").stdout == "sourceless code ran\n"
    code, report = verify(env, signed_env)
    assert code == 1
    assert errors(report) == [("bytecode-orphan", where)]


# --- honest bytecode ------------------------------------------------------------------------


def test_bytecode_pip_wrote_is_checked_and_passes(
    env: DepsVenv, signed_env: tuple[Path, Path], tmp_path: Path
) -> None:
    pycs = all_bytecode(env)
    assert len(pycs) == 4  # pip compiled every module at install
    code, report = verify(env, signed_env)
    assert (code, errors(report)) == (0, [])
    base = files_without_bytecode(env, signed_env, tmp_path)
    assert report["stats"]["files"] == base + len(pycs)


@pytest.mark.parametrize("mode", ["timestamp", "checked-hash"])
def test_bytecode_compileall_wrote_is_checked_and_passes(
    env: DepsVenv, signed_env: tuple[Path, Path], tmp_path: Path, mode: str
) -> None:
    for cache in env.site_packages.rglob("__pycache__"):
        shutil.rmtree(cache)
    for level in ("", "-O", "-OO"):
        args = [*filter(None, [level]), "-m", "compileall", "-q", "--invalidation-mode", mode]
        run_python(env, *args, str(env.site_packages))
    pycs = all_bytecode(env)
    assert len(pycs) == 12  # four modules, three optimization levels
    code, report = verify(env, signed_env)
    assert (code, errors(report)) == (0, [])
    assert report["stats"]["files"] == files_without_bytecode(env, signed_env, tmp_path) + 12


def test_bytecode_imports_wrote_is_checked_and_passes(
    env: DepsVenv, signed_env: tuple[Path, Path], tmp_path: Path
) -> None:
    for cache in env.site_packages.rglob("__pycache__"):
        shutil.rmtree(cache)
    for level in ("", "-O", "-OO"):
        run_python(env, *filter(None, [level]), "-c", "import tinypkg.core, tinypkg.cli")
    pycs = all_bytecode(env)
    assert {p.name for p in pycs} == {
        f"{m}.{TAG}{opt}.pyc"
        for m in ("__init__", "core", "cli")
        for opt in ("", ".opt-1", ".opt-2")
    }
    code, report = verify(env, signed_env)
    assert (code, errors(report)) == (0, [])
    assert report["stats"]["files"] == files_without_bytecode(env, signed_env, tmp_path) + 9


# --- the verdict cache ------------------------------------------------------------------------


def state_dir() -> Path:
    return Path(os.environ["CHAINGUARD_STATE_DIR"])  # per test (tests/conftest.py)


def cached_passes() -> int:
    with sqlite3.connect(state_dir() / CACHE_NAME) as db:
        return int(db.execute("SELECT count(*) FROM passes").fetchone()[0])


def test_a_clean_run_does_not_vouch_for_a_malicious_pyc_planted_after_it(
    env: DepsVenv, signed_env: tuple[Path, Path]
) -> None:
    """Poisoning by timing: the cache holds passes for every honest (source, .pyc) pair; the
    planted pair is not one of them, so it is compiled and found, on every run."""
    clean = verify(env, signed_env)
    assert (clean[0], errors(clean[1])) == (0, [])
    assert cached_passes() == 4
    again = verify(env, signed_env)
    assert again[1]["findings"] == clean[1]["findings"]  # from the cache: the same report
    assert again[1]["stats"]["files"] == clean[1]["stats"]["files"]
    source = env.site_packages / "tinypkg" / "core.py"
    cached = source.parent / "__pycache__" / f"core.{TAG}.pyc"
    honest = cached.read_bytes()
    cached.write_bytes(timestamp_pyc(source, EVIL))
    assert answer(env) == "41"
    for _ in range(2):
        code, report = verify(env, signed_env)
        assert code == 1
        assert errors(report) == [("bytecode-mismatch", f"tinypkg/__pycache__/core.{TAG}.pyc")]
        assert report["stats"]["files"] == clean[1]["stats"]["files"]
    assert cached_passes() == 4  # the mismatch was not stored
    cached.write_bytes(honest)
    assert verify(env, signed_env)[0] == 0


def test_a_cache_others_could_write_is_not_trusted(
    env: DepsVenv, signed_env: tuple[Path, Path]
) -> None:
    """Poisoning the store: whoever can write it can add the key of their own (source, .pyc)
    pair. A cache in a directory others may write is therefore never read."""
    source = env.site_packages / "tinypkg" / "core.py"
    cached = source.parent / "__pycache__" / f"core.{TAG}.pyc"
    cached.write_bytes(timestamp_pyc(source, EVIL))
    python = bc.interpreter_identity(env.python)
    forged = bc.verdict_key(
        python,
        hashlib.sha256(bc.WORKER.read_bytes()).hexdigest(),
        0,
        hashlib.sha256(source.read_bytes()).hexdigest(),
        hashlib.sha256(cached.read_bytes()).hexdigest(),
    )
    cache = BytecodeCache.open(state_dir())
    assert cache is not None
    cache.add([forged])
    cache.close()
    state_dir().chmod(0o777)  # e.g. a state directory shared by mistake
    sbom, pub = signed_env
    args = ["verify", "deps", "--env", str(env.path), "--sbom", str(sbom), "--key", str(pub)]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 1
    assert errors(json.loads(result.stdout)) == [
        ("bytecode-mismatch", f"tinypkg/__pycache__/core.{TAG}.pyc")
    ]
    assert "bytecode cache not used" in result.stderr
    assert "writable by everyone" in result.stderr
    # The forged key is the one chainguard computes: in a store only its owner can write, the
    # same entry would be honoured. The store is part of what is trusted, like state.db.
    state_dir().chmod(0o700)
    assert verify(env, signed_env)[0] == 0
