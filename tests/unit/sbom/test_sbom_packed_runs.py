"""Reading a signed file list with the runs of the directory as hashed (sbom/packed.py
``expect``, hashing_runs.RenderedRuns) gives exactly what reading it without them gives: the same
ExpectedState, root digests and FileList lines, for trees as signed and trees that differ."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from support.fastpath import CHANGES, CHUNK, TRAIN, Undo, dataset_files, observe, read_both
from support.release import Release, make_release

from chainguard.models import FileList


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """Made once (creating 650 files is slow on some disks); tests that change the tree
    undo their change."""
    return make_release(
        tmp_path_factory.mktemp("signed"), datasets={"ds": dataset_files()}, sbom_name="ds.cdx.json"
    )


def component_files(reading_state: object) -> FileList:
    files = reading_state.components[0].files  # type: ignore[attr-defined]
    assert isinstance(files, FileList)
    return files


@pytest.mark.parametrize("process_min_files", [1, 10**9], ids=["processes", "serial"])
def test_the_tree_as_signed_reads_the_same_with_runs(
    release: Release, process_min_files: int
) -> None:
    _, runs = observe(release.data, process_min_files=process_min_files)
    plain, fast = read_both(release.payload(), release.sbom_sha256(), runs)
    assert plain.state is not None
    # not vacuous: [README.md, a.txt], a/, [a0, b], train/ (2 chunks), val/, with space/,
    # é/, 数据/ were taken whole (the walk splits the top-level files around a/ and blobs/,
    # in path order). Not taken: blobs/ (large.bin is not hashed whole by the workers), and
    # [model.safetensors] and tables/, whose signed elements carry format facts.
    assert fast.runs_taken == 9
    files = component_files(plain.state)
    assert len(files) == len(dataset_files())
    assert any(f.path == "model.safetensors" for f in files.extra)


def test_a_tree_of_one_directory_is_read_in_one_digest(tmp_path: Path) -> None:
    # every element a run, in order: the packer's running digest is the root digest
    files = {f"{i:04d}.txt": b"%d" % i for i in range(CHUNK + 8)}
    release = make_release(tmp_path, datasets={"ds": files}, sbom_name="ds.cdx.json")
    _, runs = observe(release.data)
    plain, fast = read_both(release.payload(), release.sbom_sha256(), runs)
    assert fast.runs_taken == 2
    assert fast.state is not None and plain.state is not None
    assert component_files(fast.state).plain_lines == component_files(plain.state).plain_lines


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
def test_a_tree_that_differs_reads_the_same_with_its_runs(
    release: Release, change: Callable[[Path], Undo]
) -> None:
    undo = change(release.data)
    try:
        _, runs = observe(release.data)
    finally:
        undo()
    plain, fast = read_both(release.payload(), release.sbom_sha256(), runs)
    assert plain.state is not None
    # Each change touches one of the 9 chunks taken from the tree as signed (train/'s first,
    # val/, a/ or 数据/): the other 8 are still taken whole, the changed one is not. (A file
    # added to or removed from train/'s first chunk shifts where the second begins, but the
    # second's files still stand together, in order, in the signed array.)
    assert fast.runs_taken == 8


def test_runs_observed_under_another_component_name_are_not_used(
    release: Release,
) -> None:
    _, runs = observe(release.data, bom_ref="dataset:other")
    _, fast = read_both(release.payload(), release.sbom_sha256(), runs)
    assert fast.runs_taken == 0


def test_when_every_chunk_differs_no_run_is_taken(release: Release) -> None:
    # one file in each of the 9 chunks test_the_tree_as_signed_reads_the_same_with_runs takes
    touched = [
        "a.txt",
        "b",
        "train/00003.jsonl",
        f"train/{TRAIN - 1:05d}.jsonl",
        "val/039.jsonl",
        "a/y",
        "with space/file name.txt",
        "é/ça.txt",
        "数据/文件 2.bin",
    ]
    before = {rel: (release.data / rel).read_bytes() for rel in touched}
    for rel in touched:
        (release.data / rel).write_bytes(before[rel] + b"!")
    try:
        _, runs = observe(release.data)
    finally:
        for rel, content in before.items():
            (release.data / rel).write_bytes(content)
    plain, fast = read_both(release.payload(), release.sbom_sha256(), runs)
    assert fast.runs_taken == 0
    assert plain.state is not None


def test_after_a_cancelled_observation_reading_still_ends(release: Release) -> None:
    # An observation that stopped early closes its runs: the reader gets no run and waits
    # for nothing, and reads what the plain reading reads.
    from chainguard.hashing_runs import RenderedRuns

    runs = RenderedRuns("dataset:ds")
    runs.dispatched("train/00000.jsonl")  # in flight when the hashing stopped
    runs.close()
    _, fast = read_both(release.payload(), release.sbom_sha256(), runs)
    assert fast.runs_taken == 0


def test_files_not_hashable_whole_leave_their_chunk_to_the_plain_reading(
    release: Release,
) -> None:
    unreadable = release.data / "val" / "001.jsonl"
    replaced = release.data / "with space" / "file name.txt"
    before = replaced.read_bytes()
    os.chmod(unreadable, 0)  # unreadable (unless root)
    replaced.unlink()
    os.mkfifo(replaced)
    try:
        _, runs = observe(release.data)
    finally:
        os.chmod(unreadable, 0o644)
        replaced.unlink()
        replaced.write_bytes(before)
    read_both(release.payload(), release.sbom_sha256(), runs)
