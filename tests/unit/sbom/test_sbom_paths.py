"""Which SBOM paths may be joined under a root: a table of safe and unsafe shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainguard.paths import MAX_PATH_BYTES, safe_join, unsafe_reason

SAFE = [
    "a",
    "model.safetensors",
    "sub/dir/file.bin",
    ".hidden",
    "..dots",
    "dots..",
    "a/.config/b",
    "a/...",
    "name with spaces",
    "vocab été.txt",
    "日本語/モデル.bin",
    "emoji-😀.txt",
    "C",  # a drive letter needs the colon
    "ab:c",  # a drive prefix is one letter and a colon
    "ab:/c",
    "x/C:y",
    "x" * MAX_PATH_BYTES,
]

UNSAFE = [
    ("", "empty"),
    ("/etc/passwd", "absolute"),
    ("/", "absolute"),
    ("C:", "drive"),
    ("C:x", "drive"),
    ("a:b", "drive"),  # drive-relative on Windows
    ("c:/windows", "drive"),
    ("C:\\windows", "backslash"),  # both; the backslash is reported first
    ("\\\\server\\share\\x", "UNC"),
    ("//server/share/x", "UNC"),
    ("a\\b", "backslash"),
    ("..\\evil", "backslash"),
    ("a\x00b", "NUL"),
    ("\x00", "NUL"),
    ("a\nb", "control"),
    ("a\tb", "control"),
    ("a\x1bb", "control"),
    ("a\x7fb", "control"),
    ("a\x9bb", "control"),  # C1 CSI: a terminal escape when printed
    ("..", "'..'"),
    ("../etc/passwd", "'..'"),
    ("a/../../b", "'..'"),
    ("a/..", "'..'"),
    (".", "'.'"),
    ("./a", "'.'"),
    ("a/./b", "'.'"),
    ("a//b", "empty path component"),
    ("a/", "empty path component"),
    ("a/b/", "empty path component"),
    ("x" * (MAX_PATH_BYTES + 1), "longer than"),
    ("é" * (MAX_PATH_BYTES // 2 + 1), "longer than"),  # counted in UTF-8 bytes
    ("a\ud800b", "lone surrogate"),
]


@pytest.mark.parametrize("path", SAFE)
def test_safe_paths(path: str) -> None:
    assert unsafe_reason(path) is None


@pytest.mark.parametrize(("path", "reason"), UNSAFE)
def test_unsafe_paths_give_a_short_reason(path: str, reason: str) -> None:
    got = unsafe_reason(path)
    assert got is not None
    assert reason in got
    assert "\n" not in got and len(got) < 80


def test_safe_join_joins_components(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "sub/dir/f.bin") == tmp_path / "sub" / "dir" / "f.bin"


@pytest.mark.parametrize(("path", "reason"), UNSAFE)
def test_safe_join_refuses_unsafe(tmp_path: Path, path: str, reason: str) -> None:
    with pytest.raises(ValueError, match="unsafe path") as info:
        safe_join(tmp_path, path)
    assert "\n" not in str(info.value)
