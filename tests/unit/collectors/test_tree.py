"""Directory walking: what is a file, what is an anomaly, what is ignored."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from chainguard.collectors.tree import IgnoreRules, collect_tree
from chainguard.errors import HashingError
from chainguard.hashing import HashSettings


def kinds(tree) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {a.path: a.kind for a in tree.anomalies}


def test_nested_files_get_relative_posix_paths(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "a.bin").write_bytes(b"a")
    (tmp_path / "sub" / "deeper" / "b.json").write_bytes(b"{}")
    tree = collect_tree(tmp_path, HashSettings())
    assert [f.path for f in tree.files] == ["a.bin", "sub/deeper/b.json"]
    assert tree.anomalies == ()


def test_symlink_inside_tree_is_hashed_as_its_target(tmp_path: Path) -> None:
    (tmp_path / "blob").write_bytes(b"weights")
    (tmp_path / "model.bin").symlink_to("blob")
    tree = collect_tree(tmp_path, HashSettings())
    by_path = {f.path: f for f in tree.files}
    assert by_path["model.bin"].sha256 == by_path["blob"].sha256


def test_symlink_escaping_tree_is_an_anomaly(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret")
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").symlink_to(outside)
    (root / "rel").symlink_to("../outside")
    tree = collect_tree(root, HashSettings())
    assert kinds(tree) == {"weights.bin": "symlink-escape", "rel": "symlink-escape"}
    assert tree.files == ()


def test_dangling_and_directory_symlinks(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "dirlink").symlink_to("d")
    (tmp_path / "dangling").symlink_to("nowhere")
    assert kinds(collect_tree(tmp_path, HashSettings())) == {
        "dirlink": "special-file",
        "dangling": "unreadable",
    }


def test_fifo_and_socket_are_special_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(tmp_path / "sock"))
        tree = collect_tree(tmp_path, HashSettings())
    finally:
        s.close()
    assert kinds(tree) == {"fifo": "special-file", "sock": "special-file"}


def test_ignore_rules(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("x")
    (tmp_path / "cache" / "x").mkdir(parents=True)
    (tmp_path / "cache" / "x" / "y.bin").write_text("x")
    (tmp_path / "cache" / "top.bin").write_text("x")
    (tmp_path / "keep.bin").write_text("x")
    (tmp_path / "debug.log").write_text("x")
    rules = IgnoreRules((".git", "*.log", "cache/*.bin"))
    assert [f.path for f in collect_tree(tmp_path, HashSettings(), ignore=rules).files] == [
        "cache/x/y.bin",
        "keep.bin",
    ]
    rules = IgnoreRules(("cache/**",))
    assert "cache/x/y.bin" not in [
        f.path for f in collect_tree(tmp_path, HashSettings(), ignore=rules).files
    ]


def test_single_file_model(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    tree = collect_tree(tmp_path / "model.gguf", HashSettings())
    assert [f.path for f in tree.files] == ["model.gguf"]


def test_missing_root_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(HashingError, match="No such file"):
        collect_tree(tmp_path / "nope", HashSettings())


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file(tmp_path: Path) -> None:
    p = tmp_path / "locked"
    p.write_bytes(b"x")
    p.chmod(0)
    assert kinds(collect_tree(tmp_path, HashSettings())) == {"locked": "unreadable"}
