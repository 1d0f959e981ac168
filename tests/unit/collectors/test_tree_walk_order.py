"""collectors/tree.walk hands out regular files in global path order (UTF-8 bytes, as a signed
file list holds them): a directory's files are split around its subdirectories. verify's fast
path relies on it (hashing_runs.RenderedRuns: a chunk is a run of the signed array)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainguard.collectors.tree import IgnoreRules, walk
from chainguard.hashing import ListedFiles

# Names that interleave with directories in sort order: "!", "+", "-", "." sort before "/",
# "0" and letters after it; non-ASCII names (2-, 3- and 4-byte UTF-8) sort after all ASCII.
# (Listed here in no particular order.)
FILES = [
    "a!",
    "a+",
    "a-1",
    "a.txt",
    "a/x",
    "a/b.txt",
    "a/b-/e",
    "a/b/c/d.txt",
    "a/b/c.txt",
    "a/b0",
    "a0",
    "b/f",
    "b-c/g",
    "b.txt",
    "deep/er/est/f",
    "with space/x",
    "with space.txt",
    "z",
    "é.txt",
    "é/h",
    "ｚ",  # U+FF5A: 3 bytes, after 数据 (U+6570)
    "数据/文件 1.bin",
    "数据/文件 2.bin",
    "😀",  # 4 bytes, after everything above
    "x.lock",
]


def make_tree(root: Path) -> Path:
    for rel in FILES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode())
    (root / "empty").mkdir()
    (root / "only-dirs" / "inner").mkdir(parents=True)
    return root


def listed_paths(root: Path, ignore: IgnoreRules) -> list[str]:
    items = list(walk(root, ignore))
    assert all(isinstance(item, ListedFiles) and item.names for item in items), items
    return [
        item.prefix + name for item in items if isinstance(item, ListedFiles) for name in item.names
    ]


@pytest.mark.parametrize(
    "ignore",
    # unfiltered (plain-named directories listed in one pass), and filtered (every entry
    # looked at one by one)
    [IgnoreRules(), IgnoreRules(patterns=("*.lock",))],
    ids=["unfiltered", "filtered"],
)
def test_files_come_sorted_by_utf8_bytes(tmp_path: Path, ignore: IgnoreRules) -> None:
    root = make_tree(tmp_path / "ds")
    paths = listed_paths(root, ignore)
    expected = [p for p in FILES if not ignore.matches(p)]
    assert sorted(paths) == sorted(expected)  # every file once
    assert paths == sorted(expected, key=lambda p: p.encode())


def test_a_directorys_files_are_split_around_its_subdirectories(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    for rel in ["a.txt", "d/1", "d/2", "e/1", "m", "n", "z.txt"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    chunks = [(c.prefix, c.names) for c in walk(root, IgnoreRules()) if isinstance(c, ListedFiles)]
    # a.txt before d/; m, n between e/ and z.txt stay one chunk with z.txt
    assert chunks == [
        ("", ("a.txt",)),
        ("d/", ("1", "2")),
        ("e/", ("1",)),
        ("", ("m", "n", "z.txt")),
    ]
