"""Bytecode checks: the pyc header rules (pure), and a real venv's interpreter compiling its
sources again (the CLI verdicts are in tests/adversarial/test_adv_bytecode.py)."""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import os
import py_compile
import sqlite3
import sys
from pathlib import Path

import pytest
from support.deps import DepsVenv, copy_venv, record_hash

from chainguard.collectors import bytecode as bc
from chainguard.collectors.bytecode_cache import CACHE_NAME, BytecodeCache, bytecode_cache
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
    checked = bc.check_cached_bytecode(python, candidates(venv_copy), workers=1)
    assert [(p.path, p.kind) for p in checked.problems] == [("cli", "bytecode-mismatch")]
    assert "kills the interpreter (signal 11)" in checked.problems[0].detail
    assert checked.compared == checked.compiled == 3


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


# --- the verdict cache -------------------------------------------------------------------------


def collect(env: DepsVenv, cache: BytecodeCache | None) -> tuple[list[tuple[str, str]], int, int]:
    """(problems, files checked, .pyc files compiled) of one read of ``env`` with ``cache``."""
    observed = collect_environment(env.path, bytecode_cache=cache)
    found = [(p.path, p.kind) for p in observed.record_problems]
    return found, observed.files_checked, observed.bytecode_compiled


def open_cache(directory: Path, warnings: list[str] | None = None) -> BytecodeCache | None:
    return BytecodeCache.open(directory, warn=(warnings if warnings is not None else []).append)


def stored_keys(directory: Path) -> int:
    with sqlite3.connect(directory / CACHE_NAME) as db:
        return int(db.execute("SELECT count(*) FROM passes").fetchone()[0])


def test_a_cached_pass_is_not_compiled_again(venv_copy: DepsVenv, tmp_path: Path) -> None:
    pycs = len(list(venv_copy.site_packages.rglob("*.pyc")))
    assert pycs == 4
    uncached = collect(venv_copy, None)
    assert uncached == ([], uncached[1], pycs)
    with bytecode_cache(tmp_path / "state") as cache:
        assert collect(venv_copy, cache) == uncached  # cold: compiled, passes stored
    assert stored_keys(tmp_path / "state") == pycs
    with bytecode_cache(tmp_path / "state") as cache:
        assert collect(venv_copy, cache) == ([], uncached[1], 0)  # same report, nothing compiled


def test_a_pyc_changed_by_one_byte_after_a_cached_pass_is_compiled_and_reported(
    venv_copy: DepsVenv, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with bytecode_cache(state) as cache:
        _, files, _ = collect(venv_copy, cache)
    pyc = venv_copy.site_packages / "tinypkg" / "__pycache__" / f"core.{TAG}.pyc"
    data = pyc.read_bytes()
    # the constant 42: a marshalled int ("i", with or without the reference flag)
    (int_type,) = {t for t in b"i\xe9" if bytes([t]) + b"*\0\0\0" in data}
    forty_two = bytes([int_type]) + b"*\0\0\0"
    assert data.count(forty_two) == 1
    pyc.write_bytes(data.replace(forty_two, forty_two.replace(b"*", b")")))  # 41: same size
    mismatch = [(f"tinypkg/__pycache__/core.{TAG}.pyc", "bytecode-mismatch")]
    for _ in range(2):  # a mismatch is never cached: compiled again on every run
        with bytecode_cache(state) as cache:
            assert collect(venv_copy, cache) == (mismatch, files, 1)
    assert stored_keys(state) == 4  # the four passes of the first run, nothing else


def test_a_source_changed_by_one_byte_after_a_cached_pass_is_compiled_and_reported(
    venv_copy: DepsVenv, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with bytecode_cache(state) as cache:
        _, files, _ = collect(venv_copy, cache)
    source = venv_copy.site_packages / "tinypkg" / "core.py"
    st = source.stat()
    source.write_bytes(source.read_bytes().replace(b"42", b"41"))
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))  # the .pyc's header still matches
    with bytecode_cache(state) as cache:
        assert collect(venv_copy, cache) == (
            [
                (f"tinypkg/__pycache__/core.{TAG}.pyc", "bytecode-mismatch"),
                ("tinypkg/core.py", "modified"),
            ],
            files,
            1,
        )


@pytest.mark.parametrize("damage", ["garbage", "torn"])
def test_a_corrupt_cache_is_started_afresh_and_never_passes_anything(
    venv_copy: DepsVenv, tmp_path: Path, damage: str
) -> None:
    state = tmp_path / "state"
    with bytecode_cache(state) as cache:
        _, files, _ = collect(venv_copy, cache)
    db = state / CACHE_NAME
    data = db.read_bytes() if damage == "torn" else b""
    db.write_bytes(data[:100] + b"\xff" * (len(data) - 100) if data else b"not a database" * 99)
    core = venv_copy.site_packages / "tinypkg" / "core.py"
    (core.parent / "__pycache__" / f"core.{TAG}.pyc").write_bytes(
        matching_header(core) + marshal.dumps(compile("x = 1", str(core), "exec"))
    )
    warnings: list[str] = []
    cache = open_cache(state, warnings)
    assert cache is not None
    with contextlib.closing(cache):
        found = collect(venv_copy, cache)
    assert found == ([(f"tinypkg/__pycache__/core.{TAG}.pyc", "bytecode-mismatch")], files, 4)
    assert len(warnings) == 1
    assert "starting a new one" in warnings[0]
    assert "\n" not in warnings[0]
    with bytecode_cache(state) as cache:  # the new cache works: the three passes were kept
        assert collect(venv_copy, cache)[2] == 1


@pytest.mark.parametrize("loose", ["directory", "file"])
def test_a_cache_others_may_write_is_not_used(
    venv_copy: DepsVenv, tmp_path: Path, loose: str
) -> None:
    state = tmp_path / "state"
    with bytecode_cache(state) as cache:
        _, files, _ = collect(venv_copy, cache)
    if loose == "directory":
        state.chmod(0o777)
    else:
        (state / CACHE_NAME).chmod(0o666)
    warnings: list[str] = []
    assert open_cache(state, warnings) is None
    assert "bytecode cache not used" in warnings[0]
    assert "writable by everyone" in warnings[0]
    with bytecode_cache(state, warn=warnings.append) as cache:
        assert cache is None
        assert collect(venv_copy, cache) == ([], files, 4)


def test_no_cache_without_the_interpreter_version(venv_copy: DepsVenv, tmp_path: Path) -> None:
    """An interpreter that does not say which compiler it is: nothing is cached or reused."""
    python = fake_interpreter(
        tmp_path, 'cat >/dev/null; for i in 1 2 3; do echo \'["match", ""]\'; done'
    )
    with bytecode_cache(tmp_path / "state") as cache:
        for _ in range(2):
            checked = bc.check_cached_bytecode(
                python, candidates(venv_copy), workers=1, cache=cache
            )
            assert (checked.problems, checked.compared, checked.compiled) == ((), 3, 3)
    assert stored_keys(tmp_path / "state") == 0


def test_the_key_covers_everything_the_verdict_depends_on() -> None:
    python = bc.Interpreter(TAG, MAGIC, "cpython 3.11.7")
    base = ("w" * 64, 0, "s" * 64, "p" * 64)
    key = bc.verdict_key(python, *base)
    assert len(key) == 32
    others = {
        bc.verdict_key(bc.Interpreter("cpython-312", MAGIC, python.version), *base),
        bc.verdict_key(bc.Interpreter(TAG, b"\0\0\r\n", python.version), *base),
        bc.verdict_key(bc.Interpreter(TAG, MAGIC, "cpython 3.11.8"), *base),
        bc.verdict_key(python, "x" * 64, 0, "s" * 64, "p" * 64),
        bc.verdict_key(python, "w" * 64, 1, "s" * 64, "p" * 64),
        bc.verdict_key(python, "w" * 64, 0, "t" * 64, "p" * 64),
        bc.verdict_key(python, "w" * 64, 0, "s" * 64, "q" * 64),
        bc.verdict_key(python, "w" * 64, 0, "p" * 64, "s" * 64),  # roles not interchangeable
    }
    assert key not in others
    assert len(others) == 8
