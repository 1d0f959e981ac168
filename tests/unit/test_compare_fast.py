"""compare_tree's fast path (the observed tree's root digest equals the signed one) reports
exactly what the full comparison reports."""

from __future__ import annotations

import hashlib

import pytest

from chainguard.compare import compare_tree
from chainguard.models import (
    Anomaly,
    ExpectedComponent,
    FileDigest,
    FileList,
    ObservedTree,
    tree_digest,
)


def fd(path: str, content: bytes) -> FileDigest:
    return FileDigest(path, len(content), hashlib.sha256(content).hexdigest())


def as_list(files: tuple[FileDigest, ...]) -> FileList:
    plain = [f for f in files if not f.shards and f.blake3 is None and f.sha256]
    extra = [f for f in files if f not in plain]
    ordered = sorted(plain, key=lambda f: f.path.encode())
    return FileList("".join(f"{f.path}\0{f.size}\0{f.sha256}\n" for f in ordered), extra)


def signed(*files: FileDigest, unsafe: tuple[str, ...] = ()) -> ExpectedComponent:
    return ExpectedComponent(
        "dataset", "d", "dataset:d", tree_digest(files), as_list(files), unsafe_paths=unsafe
    )


A, B, C = fd("a", b"alpha"), fd("dir/b", b"beta"), fd("c", b"gamma")
SIGNED = signed(A, B, C)


@pytest.mark.parametrize(
    ("files", "anomalies"),
    [
        ((A, B, C), ()),
        ((A, B), ()),
        ((A, B, C, fd("x", b"new")), ()),
        ((A, fd("dir/b", b"beta!"), C), ()),
        ((A, fd("dir/b", b"gamma"), fd("c", b"beta")), ()),
        ((A, C, fd("moved", b"beta")), ()),
        ((A, B, C), (Anomaly("z", "special-file", "fifo"),)),
    ],
    ids=["same", "missing", "unexpected", "modified", "swapped", "renamed", "anomaly"],
)
def test_compact_and_plain_observations_give_the_same_findings(
    files: tuple[FileDigest, ...], anomalies: tuple[Anomaly, ...]
) -> None:
    compact = compare_tree(SIGNED, ObservedTree("/d", as_list(files), anomalies))
    plain = compare_tree(SIGNED, ObservedTree("/d", files, anomalies))
    assert compact == plain
    assert (compact == []) == (files == (A, B, C) and not anomalies)


def test_unsafe_signed_paths_are_still_reported() -> None:
    component = signed(A, unsafe=("../x",))
    [finding] = compare_tree(component, ObservedTree("/d", as_list((A,))))
    assert finding.rule == "sbom-path-unsafe"


def test_files_observed_by_shards_count_with_their_signed_digest() -> None:
    shards = tuple(hashlib.sha256(bytes([i])).hexdigest() for i in range(3))
    big = FileDigest("big", 25, "f" * 64, shard_size=10, shards=shards)
    component = signed(A, big)
    by_shards = FileDigest("big", 25, None, shard_size=10, shards=shards)
    assert (
        compare_tree(
            component, ObservedTree("/d", FileList(as_list((A,)).plain_lines, [by_shards]))
        )
        == []
    )
    tampered = FileDigest("big", 25, None, shard_size=10, shards=(shards[0], shards[2], shards[1]))
    [finding] = compare_tree(
        component, ObservedTree("/d", FileList(as_list((A,)).plain_lines, [tampered]))
    )
    assert finding.rule == "artifact-modified" and finding.path == "big"
