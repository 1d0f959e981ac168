"""chainguard scan walks a tree in its worker processes (each lists its directories): what it
reports must be what the tree collector's walk, file by file, gives for the same tree, links
out of the tree, hops outside, special files, unusual names and large directories included,
whether the listing runs in worker processes or in this one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.unsafe_artifacts import OS_SYSTEM

from chainguard._hashworker import _scan_directory
from chainguard.api.scan import _ANOMALY_RULES, scan_path
from chainguard.collectors.scanwalk import _CHUNK, line_filter
from chainguard.collectors.tree import IgnoreRules, walk
from chainguard.findings import Finding
from chainguard.formats.policy import FormatPolicy, scan_file
from chainguard.hashing import PROCESS_MIN_FILES_ENV, FileEntry, ListedFiles


def _hostile_tree(root: Path, outside: Path) -> Path:
    outside.mkdir()
    (outside / "evil.pkl").write_bytes(OS_SYSTEM)
    (outside / "d").mkdir()
    root.mkdir()
    (root / "a.json").write_text("{}")
    (root / "évian.pkl").write_bytes(OS_SYSTEM)  # a name the fast path leaves to the parent
    (root / "tab\tname.txt").write_text("x")  # unsafe to record
    (root / "sub.txt").write_text("sorts before sub/")
    sub = root / "sub"
    sub.mkdir()
    (sub / "deep").mkdir()
    (sub / "deep" / "w.safetensors").write_text("not safetensors")
    (sub / "empty").mkdir()
    os.symlink("../a.json", sub / "in.json")  # stays in the tree: scanned as the target
    os.symlink(outside / "evil.pkl", sub / "out.pkl")  # leaves the tree
    os.symlink(outside / "d", sub / "hop")  # a link outside, to a directory
    os.symlink("hop/../../" + root.name + "/a.json", sub / "back.json")  # out and back in
    os.symlink("nowhere", sub / "dangling")
    os.symlink("loop", sub / "loop")
    os.mkfifo(sub / "fifo")
    big = root / "big"  # more files than one request: the rest go out in chunks
    big.mkdir()
    for i in range(_CHUNK * 2 + 7):
        (big / f"f{i:05d}.txt").write_text(str(i))
    (big / "f00003.pkl").write_bytes(OS_SYSTEM)
    (big / f"f{_CHUNK + 5:05d}.bin").write_bytes(OS_SYSTEM)  # a pickle in the second chunk
    return root


def _reference(root: Path, policy: FormatPolicy) -> list[tuple[str, str, str]]:
    """The tree collector's walk, every file scanned one by one in this process, in path order
    (the walk yields an anomaly where its listing meets it: scan sorts them into place)."""
    found: list[Finding] = []
    for item in walk(root, IgnoreRules()):
        if isinstance(item, ListedFiles):
            for name in item.names:
                found += scan_file(item.base + name, policy, rel=item.prefix + name)[1]
        elif isinstance(item, FileEntry):
            found += scan_file(item.abs_path, policy, rel=item.rel)[1]
        else:
            rule = _ANOMALY_RULES.get(item.kind, "artifact-unreadable")
            found.append(Finding(rule, item.path, item.detail))
    return [(f.rule, f.path, f.message) for f in sorted(found, key=lambda f: f.path)]


@pytest.mark.parametrize("min_files", [1, 10**9], ids=["workers", "in-process"])
@pytest.mark.parametrize("policy", [FormatPolicy(), FormatPolicy(deny=("text",))])
def test_scan_reports_what_the_walk_gives(
    tmp_path: Path, min_files: int, policy: FormatPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _hostile_tree(tmp_path / "t", tmp_path / "outside")
    monkeypatch.setenv(PROCESS_MIN_FILES_ENV, str(min_files))
    report = scan_path(root, policy)
    got = [(f.rule, f.path, f.message) for f in report.findings]
    assert got == _reference(root, policy)
    rules = {(rule, path) for rule, path, _ in got}
    assert ("symlink-escape", "sub/out.pkl") in rules
    assert ("symlink-escape", "sub/back.json") in rules  # out through hop and back in
    assert ("unsafe-pickle", "big/f00003.pkl") in rules
    assert ("unsafe-pickle", f"big/f{_CHUNK + 5:05d}.bin") in rules
    assert ("unsafe-pickle", "évian.pkl") in rules
    assert ("special-file", "sub/fifo") in rules
    big = len(list((root / "big").iterdir()))
    # and a.json, évian.pkl, sub.txt, sub/deep/w.safetensors, sub/in.json
    assert report.stats.files == big + 5


def test_a_directory_replaced_after_its_listing_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.pkl").write_bytes(OS_SYSTEM)
    other = os.stat(tmp_path)  # the identity its parent listed is another directory's
    reply = _scan_directory(
        str(tmp_path / "d"), "d/", (other.st_ino, other.st_dev), True, None, _CHUNK
    )
    assert reply == ("", [("", "its directory was replaced")], 0, 0, [], [], [])


def test_a_link_in_place_of_a_listed_directory_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "d")
    st = os.stat(tmp_path / "real")
    reply = _scan_directory(str(tmp_path / "d"), "d/", (st.st_ino, st.st_dev), True, None, 8)
    assert reply[1] and reply[1][0][0] == ""  # refused: O_NOFOLLOW


def test_only_plain_names_are_read_by_a_worker(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "ünï.txt").write_text("x")
    st = os.stat(tmp_path)
    keep = line_filter(FormatPolicy())
    reply = _scan_directory(str(tmp_path), "", (st.st_ino, st.st_dev), False, keep, 8)
    # one unusual name and the whole listing goes to the parent, which checks each name
    assert reply[5] == ["plain.txt", "ünï.txt"] and reply[2] == 0
