"""verify_tree hashes while it checks the signature, and compares only once trust is established
(api.TreeObservation): a failed trust check stops the hashing and reports trust alone; large
files whose signed shard size differs from the default are hashed again."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from support.release import Release, make_release

from chainguard import api
from chainguard.errors import HashingError
from chainguard.hashing import PROCESS_MIN_FILES_ENV

MIB = 1024 * 1024


def release(tmp_path: Path, files: dict[str, int], shard_size: int = 64 * MIB) -> Release:
    data = tmp_path / "ds"
    for rel, size in files.items():
        path = data / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            f.write(rel.encode())
            f.truncate(size)  # sparse: large files cost no disk
    return make_release(
        tmp_path, datasets=[data], version="1", sbom_name="ds.cdx.json", shard_size=shard_size
    )


@pytest.fixture(autouse=True)
def _worker_processes_and_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROCESS_MIN_FILES_ENV, "1")


def observing() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "chainguard-observe"]


def small_files() -> dict[str, int]:
    return {f"part{d}/{i:03d}.bin": 100 + i for d in range(4) for i in range(50)}


def test_verifies_and_leaves_nothing_running(tmp_path: Path) -> None:
    r = release(tmp_path, small_files())
    report = api.verify_tree(r.data, kind="dataset", trust=r.trust(), overlap_from_bytes=0)
    assert report.ok and report.stats.files == 200
    assert observing() == []


def test_a_failed_trust_check_stops_the_hashing_and_reports_trust_alone(tmp_path: Path) -> None:
    r = release(tmp_path, small_files())
    (r.data / "part0" / "000.bin").write_bytes(b"tampered")
    Path(f"{r.sbom}.sig").unlink()
    report = api.verify_tree(r.data, kind="dataset", trust=r.trust(), overlap_from_bytes=0)
    assert [f.rule for f in report.findings] == ["signature-missing"]
    assert report.stats.files == 0
    assert observing() == []


def test_a_hashing_error_counts_only_once_trust_is_established(tmp_path: Path) -> None:
    r = release(tmp_path, small_files())
    other = tmp_path / "fifo"
    os.mkfifo(other)  # exists, but cannot be hashed as a tree
    with pytest.raises(HashingError, match="not a directory or regular file"):
        api.verify_tree(other, kind="dataset", trust=r.trust(), overlap_from_bytes=0)
    Path(f"{r.sbom}.sig").unlink()
    report = api.verify_tree(other, kind="dataset", trust=r.trust(), overlap_from_bytes=0)
    assert [f.rule for f in report.findings] == ["signature-missing"]


def test_large_files_signed_with_another_shard_size_are_hashed_again(tmp_path: Path) -> None:
    r = release(tmp_path, {"big.bin": 65 * MIB, "small.txt": 10}, shard_size=32 * MIB)
    assert api.verify_tree(r.data, kind="dataset", trust=r.trust(), overlap_from_bytes=0).ok
    with (r.data / "big.bin").open("r+b") as f:
        f.seek(40 * MIB)
        f.write(b"x")
    (r.data / "new.bin").write_bytes(b"n")
    os.truncate(r.data / "new.bin", 65 * MIB)  # not in the SBOM: hashed whole again
    report = api.verify_tree(r.data, kind="dataset", trust=r.trust(), overlap_from_bytes=0)
    found = {(f.rule, f.path): f for f in report.findings}
    assert set(found) == {("artifact-modified", "big.bin"), ("artifact-unexpected", "new.bin")}
    assert found[("artifact-unexpected", "new.bin")].actual.startswith("sha256:")  # type: ignore[union-attr]


def test_large_files_with_the_default_shard_size_are_hashed_once(tmp_path: Path) -> None:
    r = release(tmp_path, {"big.bin": 65 * MIB})
    report = api.verify_tree(r.data, kind="dataset", trust=r.trust(), overlap_from_bytes=0)
    assert report.ok and report.stats.bytes == 65 * MIB


def test_attacks_on_the_tree_are_found_through_the_overlapped_path(tmp_path: Path) -> None:
    r = release(tmp_path, small_files())
    (r.data / "part0" / "001.bin").write_bytes(b"poisoned")
    (r.data / "part1" / "002.bin").unlink()
    (r.data / "part1" / "002.bin").symlink_to(tmp_path / "ds.cdx.json")  # leaves the tree
    os.mkfifo(r.data / "part2" / "pipe")
    (r.data / "part3" / "003.bin").rename(r.data / "part3" / "renamed.bin")
    report = api.verify_tree(r.data, kind="dataset", trust=r.trust(), overlap_from_bytes=0)
    assert sorted((f.rule, f.path) for f in report.findings) == [
        ("artifact-modified", "part0/001.bin"),
        ("artifact-renamed", "part3/renamed.bin"),
        ("format-changed", "part0/001.bin"),
        ("special-file", "part2/pipe"),
        ("symlink-escape", "part1/002.bin"),
    ]


def test_small_signed_sboms_check_trust_before_hashing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(api.TreeObservation, "__init__", lambda *a, **k: started.append(a))
    r = release(tmp_path, small_files())
    assert api.verify_tree(r.data, kind="dataset", trust=r.trust(), overlap_from_bytes=8 * MIB).ok
    assert started == []
