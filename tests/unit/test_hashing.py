"""The hashing engine: correctness against hashlib, sharding, and change detection."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from chainguard.collectors.tree import collect_tree
from chainguard.errors import UsageError
from chainguard.hashing import CHUNK_SIZE, FileEntry, HashSettings, hash_entries

SHARD = CHUNK_SIZE  # the smallest legal shard size keeps test files small


def entry(path: Path, rel: str) -> FileEntry:
    return FileEntry.from_stat(rel, str(path), os.stat(path))


def test_whole_file_digest_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 17)
    (tmp_path / "w.bin").write_bytes(data)
    digests, anomalies = hash_entries([entry(tmp_path / "w.bin", "w.bin")], HashSettings())
    assert anomalies == []
    assert digests[0].sha256 == hashlib.sha256(data).hexdigest()
    assert digests[0].size == len(data)
    assert digests[0].shards == ()


def test_build_records_shards_and_whole_digest(tmp_path: Path) -> None:
    data = os.urandom(2 * SHARD + 5)
    (tmp_path / "big").write_bytes(data)
    settings = HashSettings(shard_size=SHARD, workers=2)
    [d], _ = hash_entries([entry(tmp_path / "big", "big")], settings, mode="build")
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    expected = [hashlib.sha256(data[i : i + SHARD]).hexdigest() for i in range(0, len(data), SHARD)]
    assert list(d.shards) == expected
    assert len(d.shards) == 3


def test_verify_hashes_only_shards_when_signed_with_shards(tmp_path: Path) -> None:
    data = os.urandom(2 * SHARD + 5)
    (tmp_path / "big").write_bytes(data)
    settings = HashSettings(shard_size=SHARD, workers=2)
    [d], _ = hash_entries(
        [entry(tmp_path / "big", "big")], settings, mode="verify", shard_sizes={"big": SHARD}
    )
    assert d.sha256 is None
    assert len(d.shards) == 3
    # Unknown files (not in the signed SBOM) get a whole-file digest so renames can be traced.
    [u], _ = hash_entries([entry(tmp_path / "big", "big")], settings, mode="verify")
    assert u.sha256 == hashlib.sha256(data).hexdigest()


def test_blake3_recorded_when_asked(tmp_path: Path) -> None:
    blake3 = pytest.importorskip("blake3")
    data = os.urandom(CHUNK_SIZE * 2 + 3)
    (tmp_path / "f").write_bytes(data)
    [d], _ = hash_entries([entry(tmp_path / "f", "f")], HashSettings(blake3=True))
    assert d.blake3 == blake3.blake3(data).hexdigest()


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    [d], anomalies = hash_entries([entry(tmp_path / "empty", "empty")], HashSettings())
    assert anomalies == []
    assert d.sha256 == hashlib.sha256(b"").hexdigest()


def test_file_modified_after_listing_is_an_anomaly(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"a" * 100)
    listed = entry(p, "f")
    p.write_bytes(b"b" * 100)
    os.utime(p, ns=(listed.mtime_ns + 10**9, listed.mtime_ns + 10**9))
    digests, anomalies = hash_entries([listed], HashSettings())
    assert digests == []
    assert anomalies[0].kind == "changed-during-hash"


def test_file_replaced_by_symlink_after_listing(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"weights")
    listed = entry(p, "f")
    p.unlink()
    (tmp_path / "elsewhere").write_bytes(b"evil")
    p.symlink_to(tmp_path / "elsewhere")
    digests, anomalies = hash_entries([listed], HashSettings())
    assert digests == []
    assert anomalies[0].kind == "changed-during-hash"


def test_file_deleted_after_listing(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"weights")
    listed = entry(p, "f")
    p.unlink()
    digests, anomalies = hash_entries([listed], HashSettings())
    assert digests == [] and anomalies[0].kind == "changed-during-hash"


def test_bad_settings_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        HashSettings(shard_size=1000)
    with pytest.raises(UsageError):
        HashSettings(workers=0)


def test_many_files_parallel_equals_serial(tmp_path: Path) -> None:
    for i in range(60):
        (tmp_path / f"f{i:02d}").write_bytes(os.urandom(i * 1000))
    parallel = collect_tree(tmp_path, HashSettings(workers=4))
    serial = collect_tree(tmp_path, HashSettings(workers=1))
    assert parallel.files == serial.files
    assert len(parallel.files) == 60
