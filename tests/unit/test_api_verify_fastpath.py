"""verify_tree with the fast path (hashing while the signature is checked, the signed file list
read with the directory's runs) reports exactly what verify_tree without it reports: for a tree
as signed and for every way a tree may differ from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.fastpath import (
    BIG_BUNDLE,
    CHANGES,
    CHUNK,
    Undo,
    dataset_files,
    observing_threads,
    report_view,
    rules,
)
from support.release import Release, make_release

from chainguard import api
from chainguard.findings import Report
from chainguard.models import RenderedFiles
from chainguard.sbom.packed import Expect
from chainguard.trust.gate import establish_trust

NEVER = 1 << 62  # an overlap threshold no bundle reaches: the plain path


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    return make_release(
        tmp_path_factory.mktemp("signed"), datasets={"ds": dataset_files()}, sbom_name="ds.cdx.json"
    )


def verify(release: Release, monkeypatch: pytest.MonkeyPatch, overlap: int) -> Report:
    report = api.verify_tree(
        release.data, kind="dataset", trust=release.trust(), overlap_from_bytes=overlap
    )
    assert observing_threads() == []
    return report


def both(release: Release, monkeypatch: pytest.MonkeyPatch) -> Report:
    plain = verify(release, monkeypatch, NEVER)
    fast = verify(release, monkeypatch, 0)
    assert report_view(fast) == report_view(plain)
    return plain


def test_a_tree_as_signed(release: Release, monkeypatch: pytest.MonkeyPatch) -> None:
    report = both(release, monkeypatch)
    assert report.ok and report.stats.files == len(dataset_files())


EXPECTED_FINDINGS = {
    "modify_middle": [("artifact-modified", "train/00300.jsonl")],
    "remove_one": [("artifact-missing", "train/00100.jsonl")],
    "add_one": [("artifact-unexpected", "train/00512b.jsonl")],
    "rename_one": [("artifact-renamed", "a/x2")],
    "same_size_change": [("artifact-modified", "val/020.jsonl")],
    "rename_directory": [
        ("artifact-renamed", "数据2/文件 1.bin"),
        ("artifact-renamed", "数据2/文件 2.bin"),
    ],
}


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
def test_a_tree_that_differs(
    release: Release, monkeypatch: pytest.MonkeyPatch, change: Callable[[Path], Undo]
) -> None:
    undo = change(release.data)
    try:
        report = both(release, monkeypatch)
    finally:
        undo()
    assert rules(report) == EXPECTED_FINDINGS[change.__name__]


def test_several_differences_at_once(release: Release, monkeypatch: pytest.MonkeyPatch) -> None:
    undos = [change(release.data) for change in CHANGES]
    try:
        report = both(release, monkeypatch)
    finally:
        for undo in reversed(undos):
            undo()
    assert rules(report) == sorted(f for found in EXPECTED_FINDINGS.values() for f in found)


def test_a_large_signed_bundle_takes_the_fast_path_unpatched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real bundle at the threshold: verify_tree overlaps by itself (OVERLAP_FROM_BYTES).
    files = {f"part/{i:04d}": b"%d" % i for i in range(600)} | {"top.txt": b"top"}
    release = make_release(
        tmp_path, datasets={"ds": files}, sbom_name="ds.cdx.json", pad_to=BIG_BUNDLE
    )
    assert release.sig.stat().st_size >= api.OVERLAP_FROM_BYTES
    (release.data / "part" / "0300").write_bytes(b"changed")
    fast = api.verify_tree(release.data, kind="dataset", trust=release.trust())
    assert observing_threads() == []
    plain = verify(release, monkeypatch, NEVER)
    assert report_view(fast) == report_view(plain)
    assert rules(fast) == [("artifact-modified", "part/0300")]


def counting(expect: Expect, taken: list[str]) -> Expect:
    """The observation's own expect, recording which runs it handed out (an observer only)."""

    def ask(ref: str, path: str) -> RenderedFiles | None:
        run = expect(ref, path)
        if run is not None:
            taken.append(path)
        return run

    return ask


def test_reading_while_the_tree_is_hashed_reads_the_same(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The concurrent flow verify_tree runs: hashing on its thread, the statement read with
    # its runs as they come; the expected state equals the one read without.
    observation = api.TreeObservation(release.data, render="dataset:ds")
    taken: list[str] = []
    try:
        expect = observation.expect()
        assert expect is not None
        fast = establish_trust(release.trust(), expect=counting(expect, taken))
        observation.result()
    finally:
        observation.cancel()
    plain = establish_trust(release.trust())
    assert fast.state is not None and fast.state == plain.state
    assert fast.findings == plain.findings and fast.warnings == plain.warnings
    # runs were handed out (the packer then checks their text): the train chunks at least
    assert {"train/00000.jsonl", f"train/{CHUNK:05d}.jsonl"} <= set(taken)


def test_cancelled_observation_leaves_the_plain_reading(
    release: Release,
) -> None:
    observation = api.TreeObservation(release.data, render="dataset:ds")
    observation.cancel()  # as verify does when trust fails; its runs are closed
    expect = observation.expect()
    assert expect is not None
    fast = establish_trust(release.trust(), expect=expect)
    plain = establish_trust(release.trust())
    assert fast.state == plain.state
