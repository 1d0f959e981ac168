"""The small-file path on worker processes: same results as serial, same change detection."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from chainguard import hashing, hashing_pool
from chainguard.collectors.tree import collect_tree
from chainguard.errors import HashingError, UsageError
from chainguard.hashing import CHUNK_SIZE, FileEntry, HashSettings, hash_entries

PROCESSES = HashSettings(workers=2, process_min_files=1, shard_size=CHUNK_SIZE)
SERIAL = HashSettings(workers=1, shard_size=CHUNK_SIZE)


def listed(path: Path, rel: str) -> FileEntry:
    return FileEntry.from_stat(rel, str(path), os.stat(path))


def started() -> int:
    return hashing_pool.worker_processes_started


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    for d in range(5):
        (root / f"part{d}").mkdir(parents=True)
        for i in range(120):
            (root / f"part{d}" / f"{i:03d}.bin").write_bytes(os.urandom((i * 37) % 5000))
    (root / "empty").write_bytes(b"")
    (root / "exact").write_bytes(os.urandom(CHUNK_SIZE))  # at the small-file limit
    (root / "big").write_bytes(os.urandom(2 * CHUNK_SIZE + 3))  # threads, sharded
    (root / "link").symlink_to("exact")
    return root


def test_processes_equal_serial_in_both_modes(tree: Path) -> None:
    before = started()
    for mode in ("build", "verify"):
        parallel = collect_tree(tree, PROCESSES, mode=mode)
        serial = collect_tree(tree, SERIAL, mode=mode)
        assert parallel == serial
        assert len(parallel.files) == 5 * 120 + 4 and parallel.anomalies == ()
    assert started() - before == 4  # two runs with processes, two workers each
    by_path = {f.path: f for f in collect_tree(tree, PROCESSES).files}
    data = (tree / "part3" / "007.bin").read_bytes()
    assert by_path["part3/007.bin"].sha256 == hashlib.sha256(data).hexdigest()
    assert by_path["big"].shards and by_path["link"].sha256 == by_path["exact"].sha256


def test_blake3_in_worker_processes(tree: Path) -> None:
    blake3 = pytest.importorskip("blake3")
    settings = HashSettings(workers=2, process_min_files=1, blake3=True)
    by_path = {f.path: f for f in collect_tree(tree, settings).files}
    data = (tree / "part1" / "011.bin").read_bytes()
    assert by_path["part1/011.bin"].blake3 == blake3.blake3(data).hexdigest()


def test_below_the_threshold_no_process_starts(tree: Path) -> None:
    before = started()
    settings = HashSettings(workers=2, process_min_files=10_000)
    assert collect_tree(tree, settings) == collect_tree(tree, HashSettings(workers=1))
    assert started() == before


def test_changed_after_listing_is_caught_in_a_worker(tmp_path: Path) -> None:
    paths = [tmp_path / f"f{i}" for i in range(20)]
    for p in paths:
        p.write_bytes(b"a" * 100)
    entries = [listed(p, p.name) for p in paths]
    paths[3].write_bytes(b"b" * 100)
    os.utime(paths[3], ns=(entries[3].mtime_ns + 10**9, entries[3].mtime_ns + 10**9))
    paths[4].write_bytes(b"grown" * 100)
    before = started()
    digests, anomalies = hash_entries(entries, PROCESSES)
    assert started() > before
    assert {(a.path, a.kind) for a in anomalies} == {
        ("f3", "changed-during-hash"),
        ("f4", "changed-during-hash"),
    }
    assert len(digests) == 18


def test_symlink_swapped_in_is_refused_in_a_worker(tmp_path: Path) -> None:
    victim = tmp_path / "shard-00001"
    victim.write_bytes(b"good data")
    others = [tmp_path / f"x{i}" for i in range(10)]
    for p in others:
        p.write_bytes(b"x")
    entries = [listed(victim, victim.name), *(listed(p, p.name) for p in others)]
    (tmp_path / "evil").write_bytes(b"good data")  # same bytes and size, other inode
    victim.unlink()
    victim.symlink_to(tmp_path / "evil")
    digests, anomalies = hash_entries(entries, PROCESSES)
    assert [(a.path, a.kind) for a in anomalies] == [("shard-00001", "changed-during-hash")]
    assert "symbolic link" in anomalies[0].detail
    assert len(digests) == 10


def test_listed_by_type_entries_take_identity_at_open(tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(b"s" * 10)
    large.write_bytes(os.urandom(CHUNK_SIZE + 5))
    gone = tmp_path / "gone"
    entries = [
        FileEntry.listed_by_type("small", str(small)),
        FileEntry.listed_by_type("large", str(large)),  # routed back to the thread pool
        FileEntry.listed_by_type("gone", str(gone)),
    ]
    for settings in (PROCESSES, SERIAL):
        digests, anomalies = hash_entries(entries, settings)
        by_path = {d.path: d for d in digests}
        assert by_path["small"].size == 10
        assert by_path["large"].sha256 == hashlib.sha256(large.read_bytes()).hexdigest()
        assert [(a.path, a.kind) for a in anomalies] == [("gone", "changed-during-hash")]


def test_directory_swapped_in_after_listing(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.mkdir()  # listed as a regular file by type, a directory by the time it is opened
    digests, anomalies = hash_entries([FileEntry.listed_by_type("f", str(p))], PROCESSES)
    assert digests == [] and anomalies[0].kind == "changed-during-hash"


def test_worker_failure_is_one_hashing_error(tmp_path: Path) -> None:
    (tmp_path / "ok").write_bytes(b"x")
    bad = FileEntry("bad", str(tmp_path / "nul\0byte"), 1, 1, 1, 1)  # ValueError in the worker
    with pytest.raises(HashingError, match="worker process failed: ValueError"):
        hash_entries([listed(tmp_path / "ok", "ok"), bad], PROCESSES)


def test_progress_and_listed_callbacks(tree: Path) -> None:
    seen: list[int] = []
    listed_at: list[tuple[int, int]] = []
    tree_result = collect_tree(
        tree,
        PROCESSES,
        mode="verify",  # build reads large files twice (whole digest and shards)
        progress=seen.append,
        on_listed=lambda files, size: listed_at.append((files, size)),
    )
    total = sum(f.size for f in tree_result.files)
    assert listed_at == [(len(tree_result.files), total)]
    assert sum(seen) == total


def test_threshold_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hashing.PROCESS_MIN_FILES_ENV, "5")
    assert HashSettings().process_min_files == 5
    monkeypatch.setenv(hashing.PROCESS_MIN_FILES_ENV, "many")
    with pytest.raises(UsageError, match=hashing.PROCESS_MIN_FILES_ENV):
        HashSettings()
    with pytest.raises(UsageError):
        HashSettings(process_min_files=-1, workers=1)
