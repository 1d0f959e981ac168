"""FileList: the compact file list of the dataset verify path behaves as the tuple it stands for."""

from __future__ import annotations

import hashlib

from chainguard.models import FileDigest, FileList, tree_digest


def digest(path: str, size: int) -> FileDigest:
    return FileDigest(path, size, hashlib.sha256(f"{path}{size}".encode()).hexdigest())


def lines(*files: FileDigest) -> str:
    ordered = sorted(files, key=lambda f: f.path.encode())
    return "".join(f"{f.path}\0{f.size}\0{f.sha256}\n" for f in ordered)


PLAIN = (digest("b/x.bin", 3), digest("a", 0), digest("é/z", 12), digest("a-b", 1))
SHARDED = FileDigest("big.bin", 30, "c" * 64, shard_size=10, shards=("1" * 64,) * 3)
BLAKE = FileDigest("a/c", 2, "d" * 64, blake3="e" * 64)


def test_materialises_every_file_in_path_byte_order() -> None:
    files = FileList(lines(*PLAIN), [SHARDED, BLAKE])
    want = tuple(sorted([*PLAIN, SHARDED, BLAKE], key=lambda f: f.path.encode()))
    assert len(files) == len(want) == 6
    assert tuple(files) == want and files[0] == want[0] and files[1:3] == want[1:3]
    assert files == want and want == files and files == list(want)
    assert files == FileList(lines(*PLAIN), [BLAKE, SHARDED])
    assert hash(files) == hash(want)


def test_digest_and_size_without_making_objects() -> None:
    files = FileList(lines(*PLAIN), [BLAKE])
    assert files.tree_digest() == tree_digest([*PLAIN, BLAKE])
    assert FileList(lines(*PLAIN)).tree_digest() == tree_digest(PLAIN)
    assert files.total_size() == sum(f.size for f in [*PLAIN, BLAKE])
    assert FileList(lines(*PLAIN), plain_size=16).total_size() == 16  # as the producer says


def test_plain_files_take_the_list_shard_size() -> None:
    files = FileList(lines(*PLAIN), shard_size=1024 * 1024)
    assert {f.shard_size for f in files} == {1024 * 1024}
    assert files != FileList(lines(*PLAIN))


def test_empty() -> None:
    assert FileList() == () and len(FileList()) == 0 and list(FileList()) == []
    assert FileList().tree_digest() == tree_digest([])
    assert "0 files" in repr(FileList())
