"""Bytecode checks: the pyc header rules (pure), and a real venv's interpreter compiling its
sources again (the CLI verdicts are in tests/adversarial/test_adv_bytecode.py)."""

from __future__ import annotations

import importlib.util
import marshal
import os
import py_compile
import sys
from pathlib import Path

import pytest
from deps_helpers import DepsVenv, copy_venv, record_hash

from chainguard.collectors import bytecode as bc
from chainguard.collectors.environment import collect_environment
from chainguard.errors import LockfileError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")

MAGIC = importlib.util.MAGIC_NUMBER
TAG = sys.implementation.cache_tag


def header(flags: int, word1: int = 0, word2: int = 0, magic: bytes = MAGIC) -> bytes:
    return (
        magic
        + flags.to_bytes(4, "little")
        + word1.to_bytes(4, "little")
        + word2.to_bytes(4, "little")
    )


# --- the header (pure) -------------------------------------------------------------------------


def test_header_kinds() -> None:
    assert bc.parse_pyc_header(header(0, 1_700_000_000, 42)) == bc.PycHeader(
        MAGIC, "timestamp", source_mtime=1_700_000_000, source_size=42
    )
    hashed = header(3, 0x01020304, 0x05060708)
    assert bc.parse_pyc_header(hashed) == bc.PycHeader(
        MAGIC, "checked-hash", source_hash=hashed[8:16]
    )
    assert bc.parse_pyc_header(header(1) + b"code").invalidation == "unchecked-hash"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"", "truncated: 0 bytes"),
        (MAGIC + b"\0\0", "truncated: 6 bytes"),
        (header(2), "unknown flags 0x2"),
        (header(0xFFFFFFFF), "unknown flags 0xffffffff"),
    ],
)
def test_headers_python_refuses(head: bytes, reason: str) -> None:
    rejected = bc.parse_pyc_header(head)
    assert isinstance(rejected, bc.PycRejected)
    assert rejected.reason.startswith(reason)
    assert not bc.runs_instead_of_source(rejected, MAGIC, 0.0, 0)


def test_which_headers_python_runs_instead_of_the_source() -> None:
    stamp = bc.parse_pyc_header(header(0, 1_700_000_000, 42))
    assert bc.runs_instead_of_source(stamp, MAGIC, 1_700_000_000.9, 42)
    assert not bc.runs_instead_of_source(stamp, MAGIC, 1_700_000_001.0, 42)  # stale: recompiled
    assert not bc.runs_instead_of_source(stamp, MAGIC, 1_700_000_000.0, 43)
    assert not bc.runs_instead_of_source(stamp, b"\0\0\r\n", 1_700_000_000.0, 42)  # other magic
    # only the low 32 bits are recorded, as importlib compares them
    wrapped = bc.parse_pyc_header(header(0, 5, 7))
    assert bc.runs_instead_of_source(wrapped, MAGIC, float(2**32 + 5), 2**32 + 7)
    for flags in (1, 3):  # hash-based: the interpreter decides (checked) or nobody does
        assert bc.runs_instead_of_source(bc.parse_pyc_header(header(flags)), MAGIC, 0.0, 0)


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("mod.cpython-311.pyc", ("mod", "cpython-311", 0)),
        ("__init__.cpython-312.opt-1.pyc", ("__init__", "cpython-312", 1)),
        ("mod.pypy39.opt-2.pyc", ("mod", "pypy39", 2)),
        ("mod.pyc", None),
        ("mod.cpython-311.opt-0.pyc", None),  # level 0 has no suffix: never looked for
        ("mod.cpython-311.opt-x.pyc", None),
        ("mod.cpython-311.txt", None),
    ],
)
def test_cached_names(name: str, parsed: tuple[str, str, int] | None) -> None:
    assert bc.parse_cached_name(name) == parsed


# --- a real venv -------------------------------------------------------------------------------


@pytest.fixture
def venv_copy(deps_venv: DepsVenv, tmp_path: Path) -> DepsVenv:
    return copy_venv(deps_venv, tmp_path)


def problems(env: DepsVenv) -> list[tuple[str, str]]:
    return [(p.path, p.kind) for p in collect_environment(env.path).record_problems]


def matching_header(source: Path, flags: int = 0) -> bytes:
    st = source.stat()
    return header(flags, int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF)


def test_harmless_bytecode_is_not_reported(venv_copy: DepsVenv, tmp_path: Path) -> None:
    """Stale, foreign and orphaned cache files: Python never runs them."""
    pkg = venv_copy.site_packages / "tinypkg"
    evil = marshal.dumps(compile("raise SystemExit('evil')", "x", "exec"))
    cache = pkg / "__pycache__"
    core = pkg / "core.py"
    st = core.stat()
    stale = header(0, (int(st.st_mtime) + 1) & 0xFFFFFFFF, st.st_size)
    (cache / f"core.{TAG}.pyc").write_bytes(stale + evil)  # timestamp differs: recompiled
    (cache / "core.cpython-27.pyc").write_bytes(matching_header(core) + evil)  # other Python
    (cache / f"gone.{TAG}.pyc").write_bytes(evil)  # no gone.py: never loaded from here
    # checked hash that does not match the source: recompiled
    (cache / f"cli.{TAG}.pyc").write_bytes(header(3, 1, 2) + evil)
    (cache / f"__init__.{TAG}.pyc").write_bytes(b"\0\0")  # truncated: recompiled
    assert problems(venv_copy) == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"\xff\x00", "not valid marshalled code"),
        (marshal.dumps(("not", "code")), "holds a tuple, not a code object"),
        (marshal.dumps(compile("x = 1", "core.py", "exec")), "differs from the source"),
    ],
)
def test_bytecode_python_would_run_is_compared(
    venv_copy: DepsVenv, body: bytes, detail: str
) -> None:
    core = venv_copy.site_packages / "tinypkg" / "core.py"
    (core.parent / "__pycache__" / f"core.{TAG}.pyc").write_bytes(matching_header(core) + body)
    (problem,) = collect_environment(venv_copy.path).record_problems
    assert (problem.path, problem.kind) == (
        f"tinypkg/__pycache__/core.{TAG}.pyc",
        "bytecode-mismatch",
    )
    assert detail in problem.detail
    assert problem.distribution == "tinypkg"


def test_optimized_bytecode_is_compared_at_its_level(venv_copy: DepsVenv) -> None:
    """opt-2 strips docstrings: an opt-2 file holding opt-0 code is not what Python compiles."""
    init = venv_copy.site_packages / "tinypkg" / "__init__.py"
    cache = init.parent / "__pycache__"
    py_compile.compile(str(init), cfile=str(cache / f"__init__.{TAG}.opt-1.pyc"), optimize=1)
    py_compile.compile(str(init), cfile=str(cache / f"__init__.{TAG}.opt-2.pyc"), optimize=0)
    assert problems(venv_copy) == [
        (f"tinypkg/__pycache__/__init__.{TAG}.opt-2.pyc", "bytecode-mismatch")
    ]


def test_sourceless_bytecode(venv_copy: DepsVenv, tmp_path: Path) -> None:
    site = venv_copy.site_packages
    source = tmp_path / "m.py"
    source.write_text("X = 1\n")
    py_compile.compile(str(source), cfile=str(site / "tinypkg" / "extra.pyc"))  # no extra.py
    py_compile.compile(str(source), cfile=str(site / "tinypkg" / "core.pyc"))  # core.py wins
    assert problems(venv_copy) == [
        ("tinypkg/core.pyc", "unlisted"),
        ("tinypkg/extra.pyc", "bytecode-orphan"),
    ]


def test_sourceless_bytecode_a_record_hashes_is_installed_honestly(venv_copy: DepsVenv) -> None:
    site = venv_copy.site_packages
    data = (site / "tinypkg" / "__pycache__" / f"core.{TAG}.pyc").read_bytes()
    (site / "tinypkg" / "compiled.pyc").write_bytes(data)
    record = next(site.glob("tinypkg-*.dist-info")) / "RECORD"
    record.write_text(
        record.read_text() + f"tinypkg/compiled.pyc,{record_hash(data)},{len(data)}\n"
    )
    assert problems(venv_copy) == []
    (site / "tinypkg" / "compiled.pyc").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert problems(venv_copy) == [("tinypkg/compiled.pyc", "modified")]


def test_no_interpreter_to_compile_with(venv_copy: DepsVenv) -> None:
    for name in ("python", "python3"):
        (venv_copy.path / "bin" / name).unlink(missing_ok=True)
    with pytest.raises(LockfileError, match="no bin/python to check its bytecode with"):
        collect_environment(venv_copy.path)
    assert collect_environment(venv_copy.path, check_bytecode=False).record_problems == ()


# --- the worker pool, with stand-in interpreters ---------------------------------------------


def fake_interpreter(tmp_path: Path, body: str) -> Path:
    """A shell script answering `hello` like the worker, then doing ``body``."""
    script = tmp_path / "python"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do [ "$a" = hello ] && '
        f'echo \'["{TAG}", "{MAGIC.hex()}"]\' && exit 0; done\n'
        f"{body}\n"
    )
    script.chmod(0o755)
    return script


def candidates(env: DepsVenv) -> list[bc.CachedPyc]:
    pkg = env.site_packages / "tinypkg"
    return [
        bc.CachedPyc(str(pkg / "__pycache__" / f"{m}.{TAG}.pyc"), str(pkg / f"{m}.py"), m, TAG, 0)
        for m in ("__init__", "cli", "core")
    ]


def test_a_file_that_kills_the_interpreter_is_reported_and_the_rest_checked(
    venv_copy: DepsVenv, tmp_path: Path
) -> None:
    python = fake_interpreter(tmp_path, 'cat >/dev/null; echo \'["match", ""]\'; kill -SEGV $$')
    found, compared = bc.check_cached_bytecode(python, candidates(venv_copy), workers=1)
    assert [(p.path, p.kind) for p in found] == [("cli", "bytecode-mismatch")]
    assert "kills the interpreter (signal 11)" in found[0].detail
    assert compared == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("cat >/dev/null; echo boom >&2; exit 1", "checking bytecode failed (exit 1: boom)"),
        ("cat >/dev/null; echo not-json", "unexpected answer while checking bytecode"),
        ("sleep 5", "did not finish within 0.5 s"),
    ],
)
def test_a_failing_worker_cannot_verify(
    venv_copy: DepsVenv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, message: str
) -> None:
    monkeypatch.setattr(bc, "TIMEOUT_BASE", 0.5)
    monkeypatch.setattr(bc, "TIMEOUT_PER_MIB", 0.0)
    python = fake_interpreter(tmp_path, body)
    with pytest.raises(LockfileError) as e:
        bc.check_cached_bytecode(python, candidates(venv_copy), workers=1)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_the_interpreter_runs_isolated(venv_copy: DepsVenv) -> None:
    """A .pth file of the environment does not run when its interpreter checks bytecode."""
    marker = venv_copy.path / "pth-ran"
    (venv_copy.site_packages / "zz.pth").write_text(f"import os; open({str(marker)!r}, 'w')\n")
    found = problems(venv_copy)
    assert found == [("zz.pth", "unlisted")]
    assert not marker.exists()
    assert os.path.exists(venv_copy.site_packages / "tinypkg" / "__pycache__")
