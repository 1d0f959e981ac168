"""The engine takes each file's mode from the fstat it already makes: an ordinary file stays a
plain line (and its directory chunk is rendered for verify's fast path); a file with a setuid,
setgid, sticky or execute bit comes back as a FileDigest of its own with its mode, and its chunk
is not rendered. The root digest does not depend on modes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chainguard._hashworker import CHUNK_SIZE, HASHED, LARGE, _hash_listed, _hash_small_file
from chainguard.collectors.tree import collect_tree
from chainguard.hashing import HashSettings
from chainguard.models import FileList

BUF = memoryview(bytearray(CHUNK_SIZE + 1))


def listed(d: Path, names: tuple[str, ...]) -> tuple[object, ...]:
    st = os.stat(d)
    return _hash_listed(
        f"{d}/", "d/", names, (st.st_ino, st.st_dev), CHUNK_SIZE, False, BUF, "dataset:x", False
    )


def test_an_executable_file_leaves_the_lines_and_its_chunk_unrendered(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for name in ("a", "b", "c"):
        (d / name).write_bytes(name.encode())
    text, _, others, nbytes, rendered, _ = listed(d, ("a", "b", "c"))
    assert others == [] and rendered is not None and nbytes == 3
    (d / "b").chmod(0o751)
    text, _, others, nbytes, rendered, formats = listed(d, ("a", "b", "c"))
    assert rendered is None
    assert isinstance(text, str) and isinstance(formats, str)
    assert [line.split("\0")[0] for line in text.splitlines()] == ["d/a", "d/c"]
    assert "d/b" not in formats
    assert nbytes == 2  # the lines' files; b's bytes come with its own result
    [(index, result)] = others  # type: ignore[misc]
    assert index == 1 and result[0] == HASHED and result[3] == 1 and result[5] == 0o751


@pytest.mark.parametrize(("mode", "recorded"), [(0o644, 0), (0o700, 0o700), (0o4755, 0o4755)])
def test_one_file_at_a_time_returns_its_mode(tmp_path: Path, mode: int, recorded: int) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    f.chmod(mode)
    result = _hash_small_file((str(f), -1, 0, 0, 0, CHUNK_SIZE), BUF, False)
    assert result[0] == HASHED and result[5] == recorded
    large = _hash_small_file((str(f), -1, 0, 0, 0, 0), BUF, False)  # beyond the limit
    assert large[0] == LARGE and large[5] & 0o7777 == mode


@pytest.mark.parametrize("settings", [HashSettings(workers=1), HashSettings(process_min_files=1)])
def test_collect_tree_keeps_modes_apart_from_the_root_digest(
    tmp_path: Path, settings: HashSettings
) -> None:
    d = tmp_path / "t"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "run").write_bytes(b"#!/bin/sh\n")
    (d / "big").write_bytes(b"b" * (CHUNK_SIZE + 5))  # the thread pool's path
    (d / "plain").write_bytes(b"p")
    before = collect_tree(d, settings)
    assert {f.path: f.mode for f in before.files} == {"big": 0, "plain": 0, "sub/run": 0}
    (d / "sub" / "run").chmod(0o755)
    (d / "big").chmod(0o710)
    after = collect_tree(d, settings)
    assert {f.path: f.mode for f in after.files} == {"big": 0o710, "plain": 0, "sub/run": 0o755}
    assert isinstance(after.files, FileList) and isinstance(before.files, FileList)
    assert {f.path for f in after.files.extra} >= {"big", "sub/run"}
    assert after.files.tree_digest() == before.files.tree_digest()
