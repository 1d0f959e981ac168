"""Installed environments: a real venv (pip-installed wheels), RECORD parsing, and locating
site-packages without running the environment's code."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import sys
from pathlib import Path

import pytest
from support.deps import DepsVenv, copy_venv, dist_info_of, record_hash

from chainguard.collectors.env_layout import locate_environment
from chainguard.collectors.env_record import parse_record
from chainguard.collectors.environment import collect_environment
from chainguard.errors import LockfileError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")


def test_a_clean_venv(deps_venv: DepsVenv) -> None:
    observed = collect_environment(deps_venv.path)
    assert observed.ref == "environment:venv"
    assert [(d.name, d.version) for d in observed.dependencies] == [
        ("helper-lib", "0.3.1"),
        ("tinypkg", "1.0.0"),
    ]
    tiny = observed.dependencies[1]
    record = deps_venv.site_packages / "tinypkg-1.0.0.dist-info" / "RECORD"
    assert tiny.record_sha256 == hashlib.sha256(record.read_bytes()).hexdigest()
    assert tiny.purl == "pkg:pypi/tinypkg@1.0.0"
    assert tiny.source == "tinypkg-1.0.0.dist-info"
    assert tiny.hashes == ()
    assert observed.record_problems == ()
    # modules, dist-info files and the console script in bin/ (listed as ../../../bin/…)
    assert observed.files_checked >= 12
    # pip compiled the four modules; each .pyc was compiled again and compared
    unchecked = collect_environment(deps_venv.path, check_bytecode=False)
    assert observed.files_checked == unchecked.files_checked + 4
    assert not any("bytecode" in n for n in observed.notes)
    assert any("bytecode" in n for n in unchecked.notes)


def test_the_interpreter_of_a_venv_names_the_same_environment(deps_venv: DepsVenv) -> None:
    by_dir = collect_environment(deps_venv.path)
    by_python = collect_environment(deps_venv.python)
    assert by_python.dependencies == by_dir.dependencies
    assert by_python.name == "venv"


def test_an_interpreter_outside_a_venv_layout_is_asked_once(
    deps_venv: DepsVenv, tmp_path: Path
) -> None:
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f'#!/bin/sh\nexec "{deps_venv.python}" "$@"\n')
    wrapper.chmod(0o755)
    layout = locate_environment(wrapper)
    assert os.path.realpath(deps_venv.site_packages) in {
        os.path.realpath(p) for p in layout.site_dirs
    }
    names = [d.name for d in collect_environment(wrapper).dependencies]
    assert names == ["helper-lib", "tinypkg"]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("#!/bin/sh\nexit 3\n", "not a working Python interpreter (exit 3"),
        ("#!/bin/sh\necho not-json\n", "unexpected answer from the interpreter"),
        ('#!/bin/sh\necho \'{"prefix": "/", "exec_prefix": "/", "sites": []}\'\n', "no existing"),
        ("#!/bin/sh\nsleep 5\n", "did not answer within 0.5 s"),
    ],
)
def test_a_broken_interpreter_cannot_be_verified(tmp_path: Path, script: str, message: str) -> None:
    fake = tmp_path / "python3"
    fake.write_text(script)
    fake.chmod(0o755)
    with pytest.raises(LockfileError, match=re.escape(message)):
        collect_environment(fake, timeout=0.5)


def test_not_an_environment(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LockfileError, match="no such environment"):
        collect_environment(tmp_path / "absent")
    with pytest.raises(LockfileError, match=r"no lib/pythonX\.Y/site-packages"):
        collect_environment(tmp_path / "empty")
    with pytest.raises(LockfileError, match="cannot run as a Python interpreter"):
        collect_environment(tmp_path / "notes.txt")


# --- RECORD ---------------------------------------------------------------------------------


def test_record_lines() -> None:
    data = (
        b"pkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n"
        b'"pkg/with,comma.py",sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n'
        b"pkg/__pycache__/x.pyc,,\n"
        b"pkg-1.dist-info/RECORD,,\n"
        b"\n"
    )
    entries = parse_record(data, "RECORD")
    assert [e.path for e in entries] == [
        "pkg/__init__.py",
        "pkg/with,comma.py",
        "pkg/__pycache__/x.pyc",
        "pkg-1.dist-info/RECORD",
    ]
    assert entries[0].digest == hashlib.sha256(b"").digest()
    assert (entries[0].size, entries[2].digest, entries[2].size) == (0, None, None)


def test_debian_hex_digests_are_accepted() -> None:
    hexdigest = hashlib.sha256(b"").hexdigest()
    (entry,) = parse_record(f"a.py,sha256={hexdigest},0\n".encode(), "RECORD")
    assert entry.digest == hashlib.sha256(b"").digest()


GOOD_B64 = base64.urlsafe_b64encode(hashlib.sha256(b"").digest()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a.py,sha256=x", "expected 3 fields (path,hash,size), found 2"),
        (f"a.py,sha256={GOOD_B64},0,extra", "expected 3 fields (path,hash,size), found 4"),
        (",,", "empty path"),
        ("a.py,sha256=@@@@,1", "not urlsafe base64"),
        (f"a.py,sha256={GOOD_B64}=,1", "not urlsafe base64"),
        ("a.py,sha256=abcd,1", "sha256 digest has the wrong length"),
        (f"a.py,md5={GOOD_B64},1", "hash must be <algorithm>=<base64>"),
        (f"a.py,{GOOD_B64},1", "hash must be <algorithm>=<base64>"),
        (f"a.py,sha256={GOOD_B64},-1", "size must be a non-negative integer"),
        (f"a.py,sha256={GOOD_B64},1.5", "size must be a non-negative integer"),
        (f"a.py,sha256={GOOD_B64},012", "size must be a non-negative integer"),
        ('"unterminated,sha256=x,1\n', "expected 3 fields"),
    ],
)
def test_bad_record_lines_raise_with_the_line_number(line: str, message: str) -> None:
    data = f"ok.py,sha256={GOOD_B64},0\n{line}\n".encode()
    with pytest.raises(LockfileError) as e:
        parse_record(data, "x/RECORD")
    assert message in str(e.value)
    assert str(e.value).startswith("x/RECORD:2: ")
    assert "\n" not in str(e.value)


def test_record_not_utf8() -> None:
    with pytest.raises(LockfileError, match="not UTF-8"):
        parse_record(b"a.py,,\n\xff\n", "RECORD")


# --- problems found in an environment (the verdicts are in tests/adversarial) -----------------


@pytest.fixture
def venv_copy(deps_venv: DepsVenv, tmp_path: Path) -> DepsVenv:
    return copy_venv(deps_venv, tmp_path)


def problems(env: DepsVenv) -> list[tuple[str, str]]:
    return [(p.path, p.kind) for p in collect_environment(env.path).record_problems]


def test_modified_missing_and_replaced_files(venv_copy: DepsVenv, tmp_path: Path) -> None:
    site = venv_copy.site_packages
    (site / "tinypkg" / "core.py").write_text("def answer() -> int:\n    return 41\n")
    (site / "helper_lib.py").write_text("x")  # a different size: no hashing needed
    (site / "tinypkg" / "cli.py").unlink()
    (site / "tinypkg" / "__init__.py").unlink()
    outside = tmp_path / "evil.py"
    outside.write_text("print('owned')\n")
    (site / "tinypkg" / "__init__.py").symlink_to(outside)
    assert problems(venv_copy) == [
        ("helper_lib.py", "modified"),
        ("tinypkg/__init__.py", "not-regular"),
        ("tinypkg/cli.py", "missing"),
        ("tinypkg/core.py", "modified"),
    ]


def test_unlisted_files_and_runtime_bytecode(venv_copy: DepsVenv) -> None:
    site = venv_copy.site_packages
    (site / "zzz-startup.pth").write_text("import os; os.system('id')\n")
    (site / "tinypkg" / "extra.py").write_text("")
    (site / "__pycache__").mkdir(exist_ok=True)
    (site / "__pycache__" / "runtime.cpython-311.pyc").write_bytes(b"\0")  # written by imports
    (site / "__pycache__" / "stash.txt").write_text("not bytecode")
    assert problems(venv_copy) == [
        ("__pycache__/stash.txt", "unlisted"),
        ("tinypkg/extra.py", "unlisted"),
        ("zzz-startup.pth", "unlisted"),
    ]


def test_a_record_escaping_the_environment_is_refused(venv_copy: DepsVenv) -> None:
    site = venv_copy.site_packages
    record = site / dist_info_of(site, "helper_lib") / "RECORD"
    record.write_text(record.read_text() + f"../../../../etc/passwd,{record_hash(b'x')},1\n")
    with pytest.raises(LockfileError) as e:
        collect_environment(venv_copy.path)
    assert "escapes the environment" in str(e.value)
    assert str(record) in str(e.value)


def test_an_absolute_record_path_outside_is_refused(venv_copy: DepsVenv) -> None:
    site = venv_copy.site_packages
    record = site / dist_info_of(site, "tinypkg") / "RECORD"
    record.write_text(record.read_text() + f"/etc/hostname,{record_hash(b'x')},1\n")
    with pytest.raises(LockfileError, match="'/etc/hostname' escapes the environment"):
        collect_environment(venv_copy.path)


def test_a_distribution_without_metadata_cannot_be_identified(venv_copy: DepsVenv) -> None:
    site = venv_copy.site_packages
    (site / dist_info_of(site, "tinypkg") / "METADATA").unlink()
    with pytest.raises(LockfileError, match="METADATA: missing"):
        collect_environment(venv_copy.path)


def test_a_distribution_without_record_is_noted(venv_copy: DepsVenv) -> None:
    site = venv_copy.site_packages
    (site / dist_info_of(site, "helper_lib") / "RECORD").unlink()
    observed = collect_environment(venv_copy.path)
    helper = next(d for d in observed.dependencies if d.name == "helper-lib")
    assert helper.record_sha256 is None
    assert any("no RECORD" in n for n in observed.notes)


def test_unreadable_installed_file(venv_copy: DepsVenv) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    target = venv_copy.site_packages / "tinypkg" / "core.py"
    target.chmod(0)
    try:
        assert ("tinypkg/core.py", "unreadable") in problems(venv_copy)
    finally:
        target.chmod(stat.S_IRUSR | stat.S_IWUSR)
