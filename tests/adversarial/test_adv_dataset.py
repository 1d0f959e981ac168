"""Attacks on a dataset: poisoned shard, swapped shards, extra file, truncated Parquet, symlink
swap. Every scenario runs `chainguard verify dataset` through the CLI with the small-file worker
processes forced on (CHAINGUARD_PROCESS_MIN_FILES=1), so the process path is the one attacked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support.cli import rules
from support.release import Release, make_release

from chainguard.hashing import PROCESS_MIN_FILES_ENV

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(autouse=True)
def _force_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROCESS_MIN_FILES_ENV, "1")


@pytest.fixture
def release(tmp_path: Path) -> Release:
    data = tmp_path / "corpus"
    for split in ("train", "test"):
        (data / split).mkdir(parents=True)
        for i in range(40):
            (data / split / f"shard-{i:05d}.jsonl").write_bytes(
                b"".join(b'{"text": "%s %d"}\n' % (split.encode(), i * 100 + j) for j in range(20))
            )
    table = pa.table(
        {"id": pa.array(range(500), pa.int64()), "text": [f"r{i}" for i in range(500)]}
    )
    pq.write_table(table, data / "train" / "table.parquet")
    return make_release(tmp_path, datasets=[data], version="1", sbom_name="release.cdx.json")


def verify(r: Release, *extra: str) -> tuple[int, dict[str, Any]]:
    """`verify dataset` with a JSON report, the deployment pinned (Release.verify)."""
    outcome = r.verify(*extra, json=True)
    return outcome.code, outcome.report


def test_untouched_dataset_verifies_and_records_parquet_facts(release: Release) -> None:
    code, report = verify(release)
    assert (code, report["ok"], report["stats"]["files"]) == (0, True, 81)
    doc = json.loads(release.sbom.read_bytes())
    [dataset] = [c for c in doc["components"] if c["type"] == "data"]
    [table] = [f for f in dataset["components"] if f["name"] == "train/table.parquet"]
    facts = {p["name"]: p["value"] for p in table["properties"]}
    assert facts["chainguard:parquet:rows"] == "500"
    assert facts["chainguard:parquet:columns"] == "id:INT64,text:BYTE_ARRAY/STRING"


def test_poisoned_shard(release: Release) -> None:
    shard = release.data / "train" / "shard-00007.jsonl"
    poisoned = shard.read_bytes().replace(b"train 700", b"IGNORE ALL")
    assert len(poisoned) != len(shard.read_bytes()) or poisoned != shard.read_bytes()
    shard.write_bytes(poisoned)
    code, report = verify(release)
    assert code == 1
    assert rules(report) == [("artifact-modified", "train/shard-00007.jsonl")]


def test_same_size_bit_flip(release: Release) -> None:
    shard = release.data / "test" / "shard-00031.jsonl"
    data = bytearray(shard.read_bytes())
    data[5] ^= 0x01
    shard.write_bytes(bytes(data))
    code, report = verify(release)
    assert code == 1 and rules(report) == [("artifact-modified", "test/shard-00031.jsonl")]


def test_swapped_pair_of_shards(release: Release) -> None:
    a, b = (
        release.data / "train" / "shard-00001.jsonl",
        release.data / "train" / "shard-00002.jsonl",
    )
    tmp = a.with_suffix(".tmp")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    code, report = verify(release)
    assert code == 1
    assert rules(report) == [
        ("artifact-swapped", "train/shard-00001.jsonl"),
        ("artifact-swapped", "train/shard-00002.jsonl"),
    ]


def test_extra_file_and_missing_file(release: Release) -> None:
    (release.data / "train" / "shard-99999.jsonl").write_bytes(b'{"text": "backdoor"}\n')
    (release.data / "test" / "shard-00000.jsonl").unlink()
    code, report = verify(release)
    assert code == 1
    assert rules(report) == [
        ("artifact-missing", "test/shard-00000.jsonl"),
        ("artifact-unexpected", "train/shard-99999.jsonl"),
    ]


def test_truncated_parquet_file(release: Release) -> None:
    table = release.data / "train" / "table.parquet"
    table.write_bytes(table.read_bytes()[:-100])
    code, report = verify(release)
    assert code == 1 and rules(report) == [("artifact-modified", "train/table.parquet")]
    [finding] = report["findings"]
    assert "size" in finding["message"]


def test_truncated_parquet_refused_at_build(
    release: Release, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainguard.cli import main

    table = release.data / "train" / "table.parquet"
    table.write_bytes(table.read_bytes()[:-100])
    out = tmp_path / "again.cdx.json"
    args = ["sbom", "build", "--name", "x", "--version", "1", "--dataset", str(release.data)]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "-o", str(out)])
    assert exit_info.value.code == 3
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and "table.parquet" in stderr and "PAR1" in stderr
    assert not out.exists()


def test_shard_replaced_by_symlink_to_outside(release: Release, tmp_path: Path) -> None:
    shard = release.data / "test" / "shard-00003.jsonl"
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(shard.read_bytes())  # identical bytes, but outside the dataset
    shard.unlink()
    shard.symlink_to(outside)
    code, report = verify(release)
    assert code == 1 and rules(report) == [("symlink-escape", "test/shard-00003.jsonl")]


def test_shard_replaced_by_fifo(release: Release) -> None:
    shard = release.data / "test" / "shard-00004.jsonl"
    shard.unlink()
    os.mkfifo(shard)
    code, report = verify(release)  # must not hang on the FIFO
    assert code == 1 and rules(report) == [("special-file", "test/shard-00004.jsonl")]


def test_shard_made_unreadable(release: Release) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    shard = release.data / "train" / "shard-00009.jsonl"
    shard.chmod(0)
    code, report = verify(release)
    assert code == 1 and rules(report) == [("artifact-unreadable", "train/shard-00009.jsonl")]
