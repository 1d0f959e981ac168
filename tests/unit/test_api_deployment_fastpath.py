"""verify deployment hashes its datasets while a large signed SBOM is read (as verify_tree
does): the same report either way, and nothing is compared or left running when trust fails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.fastpath import (
    Undo,
    add_one,
    dataset_files,
    modify_middle,
    observing_threads,
    remove_one,
    report_view,
)
from support.release import Release, make_release

from chainguard import api

NEVER = 1 << 62  # a bundle size no SBOM reaches: trust first, then hash (the plain path)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    return make_release(
        tmp_path_factory.mktemp("deploy"), datasets={"ds": dataset_files()}, sbom_name="ds.cdx.json"
    )


def deployment(release: Release, monkeypatch: pytest.MonkeyPatch, threshold: int) -> object:
    report = api.verify_deployment(
        trust=release.trust(), datasets=[("ds", release.data)], overlap_from_bytes=threshold
    )
    assert observing_threads() == []
    return report_view(report)


@pytest.mark.parametrize("change", [None, modify_middle, remove_one, add_one])
def test_the_same_report_with_and_without_hashing_alongside(
    release: Release,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[Path], Undo] | None,
) -> None:
    undo = change(release.data) if change is not None else None
    try:
        fast = deployment(release, monkeypatch, 0)
        plain = deployment(release, monkeypatch, NEVER)
    finally:
        if undo is not None:
            undo()
    assert fast == plain
    assert fast[0] is (change is None)  # ok exactly when nothing changed


def test_untrusted_signature_stops_the_hashing_and_reports_trust_alone(
    release: Release, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, other = api.keygen(tmp_path / "other")
    trust = api.TrustInputs(sbom=release.sbom, signatures=(release.sig,), keys=(other,))
    fast = api.verify_deployment(trust=trust, datasets=[("ds", release.data)], overlap_from_bytes=0)
    assert observing_threads() == []
    plain = api.verify_deployment(
        trust=trust, datasets=[("ds", release.data)], overlap_from_bytes=NEVER
    )
    assert report_view(fast) == report_view(plain)
    assert [f.rule for f in fast.findings] == ["signature-untrusted"]
