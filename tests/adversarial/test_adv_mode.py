"""A file's mode changed after signing: `chmod +x` on a data file, `-x` on a signed executable,
setuid added, a model file made executable. Each is `mode-changed` at that file, whichever way
verify reads (the dataset fast path: hashing alongside trust, chunks taken by digest; or trust
first), through a hub cache's blobs and attest --incremental's hash cache; and a tree with
executable files builds and verifies clean (sbom/fileshape.py MODE, docs/formats.md "Mode")."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.cli import report as json_report
from support.fastpath import CHUNK, observe, read_both, verify_outcome
from support.release import MODEL_FILES, Release, make_release, write_model, write_tree
from support.surgery import component_of, resign

from chainguard import api
from chainguard.attest.cache import open_hash_cache
from chainguard.findings import Finding, Report

NEVER = 1 << 62  # an overlap threshold no bundle reaches: trust first, then hash
REF = "dataset:ds"
SECOND = f"d/{CHUNK:04d}"  # the first path of d/'s second chunk
DAY = 24 * 3600.0


def files() -> dict[str, bytes]:
    # d/: two chunks of the hashing engine (the second of 18 files); a script beside them
    tree = {f"d/{i:04d}": b"d%d" % i for i in range(CHUNK + 18)}
    tree |= {"tool.sh": b"#!/bin/sh\nexit 0\n", "z.txt": b"z"}
    return tree


def dataset(tmp_path: Path, executable: tuple[str, ...] = ()) -> Release:
    """A dataset release; ``executable``: files made 0755 before it is built and signed."""
    data = write_tree(tmp_path / "ds", files())
    for rel in executable:
        (data / rel).chmod(0o755)
    return make_release(tmp_path, datasets=[data], sbom_name="ds.cdx.json")


def findings_both_ways(release: Release) -> tuple[Finding, ...]:
    """verify_tree with the hashing alongside trust (runs taken by digest) and trust first:
    the same report, whose findings are returned."""
    fast = verify_outcome(release, overlap_from_bytes=0)
    plain = verify_outcome(release, overlap_from_bytes=NEVER)
    assert fast == plain
    assert plain[0] != "error", plain
    found = plain[1]
    assert isinstance(found, tuple)
    return found


def only(found: tuple[Finding, ...]) -> Finding:
    assert len(found) == 1, found
    return found[0]


def test_chmod_x_on_a_signed_data_file_among_many_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINGUARD_PROCESS_MIN_FILES", "1")  # the worker processes' loop
    release = dataset(tmp_path)
    assert findings_both_ways(release) == ()
    (release.data / "d/0500").chmod(0o755)
    # The chunk holding it is no longer rendered (the signed text says "plain"); the other is.
    _, runs = observe(release.data)
    assert runs.starting_at(REF, "d/0000") is None
    assert runs.starting_at(REF, SECOND) is not None
    _, fast = read_both(release.payload(), release.sbom_sha256(), runs)
    assert fast.runs_taken >= 1
    f = only(findings_both_ways(release))
    assert (f.rule, f.path, f.expected, f.actual) == ("mode-changed", "d/0500", "0000", "0111")
    assert f.component == REF
    assert "owner execute" in f.message and "added" in f.message


def test_chmod_minus_x_on_a_signed_executable_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINGUARD_PROCESS_MIN_FILES", "1")
    release = dataset(tmp_path, executable=("d/0007", "tool.sh"))
    assert findings_both_ways(release) == ()  # built with the modes, verifies as it is
    (release.data / "d/0007").chmod(0o644)
    f = only(findings_both_ways(release))
    assert (f.rule, f.path, f.expected, f.actual) == ("mode-changed", "d/0007", "0111", "0000")
    assert f.message.endswith("removed")


def test_setuid_added_to_a_signed_executable_is_found(tmp_path: Path) -> None:
    release = dataset(tmp_path, executable=("tool.sh",))
    (release.data / "tool.sh").chmod(0o4755)
    f = only(findings_both_ways(release))
    assert (f.rule, f.path, f.expected, f.actual) == ("mode-changed", "tool.sh", "0111", "4111")
    assert f.message == "file mode changed: setuid added"


def test_a_mode_only_change_on_a_model_file_fails_verify(tmp_path: Path) -> None:
    release = make_release(tmp_path, models={"m": MODEL_FILES})
    assert release.verify(json=True).code == 0
    (release.model / "model.safetensors").chmod(0o700)
    outcome = release.verify(json=True)
    assert outcome.code == 1
    assert outcome.rules == [("mode-changed", "model.safetensors")]
    [finding] = json_report(outcome)["findings"]
    assert (finding["expected"], finding["actual"], finding["severity"]) == (
        "0000",
        "0100",
        "error",
    )


def test_sbom_build_then_verify_passes_with_executable_files(tmp_path: Path) -> None:
    """Through the CLI: small and large (thread pool) executables, setgid, and plain files."""
    model = write_model(tmp_path / "m")
    (model / "run.sh").write_bytes(b"#!/bin/sh\nexec python -m serve\n")
    (model / "run.sh").chmod(0o755)
    (model / "big.bin").write_bytes(b"\x01" * (3 * 1024 * 1024 + 1))  # beyond the small files
    (model / "big.bin").chmod(0o2750)
    release = make_release(tmp_path / "r", models=[model], via="cli")
    files = {f["name"]: f for f in component_of(release.document(), "model:m")["components"]}
    modes = {
        name: p["value"]
        for name, f in files.items()
        for p in f["properties"]
        if p["name"] == "chainguard:mode"
    }
    assert modes == {"run.sh": "0755", "big.bin": "2750"}
    assert release.verify(json=True).code == 0
    (model / "big.bin").chmod(0o640)
    assert release.verify(json=True).rules == [("mode-changed", "big.bin")]


def test_a_single_file_model_records_and_compares_its_mode(tmp_path: Path) -> None:
    weights = tmp_path / "w" / "model.bin"
    weights.parent.mkdir()
    weights.write_bytes(b"weights")
    weights.chmod(0o755)
    release = make_release(tmp_path / "r", models=[weights])
    assert release.verify(json=True).code == 0
    weights.chmod(0o644)
    assert release.verify(json=True).rules == [("mode-changed", "model.bin")]


def test_an_sbom_without_modes_flags_executable_files(tmp_path: Path) -> None:
    """Built before modes were recorded (here: the property cut out and signed again): nothing
    tells "not executable" from "not recorded", so verify compares anyway (fail closed)."""
    release = dataset(tmp_path, executable=("tool.sh",))
    doc = release.document()
    for f in component_of(doc, REF)["components"]:
        f["properties"] = [p for p in f["properties"] if p["name"] != "chainguard:mode"]
    resign(release, doc)
    f = only(findings_both_ways(release))
    assert (f.rule, f.path, f.expected, f.actual) == ("mode-changed", "tool.sh", "0000", "0111")


def test_a_hub_cache_blob_made_executable_is_found(tmp_path: Path) -> None:
    """A snapshot's files are links to blobs: the blob's mode is the file's."""
    from support.hub_server import HubRepo, download_snapshot, serve_hub

    repo = HubRepo("model", "acme/tiny-model")
    repo.push(MODEL_FILES)
    with serve_hub(repo) as hub:
        snapshot = download_snapshot(hub, repo, tmp_path / "cache")
    folder = snapshot.parent.parent
    release = make_release(tmp_path / "release", models=[folder])
    assert release.verify(json=True).code == 0
    blob = (snapshot / "config.json").resolve()
    assert blob.parent.name == "blobs"
    blob.chmod(0o755)
    assert release.verify(json=True).rules == [("mode-changed", "config.json")]


def test_attest_incremental_cache_sees_a_chmod(tmp_path: Path) -> None:
    """A chmod moves the ctime the cache keys on: the file is read again, and the mode is taken
    from the stat of this run in any case (never from the cache)."""
    release = make_release(tmp_path / "release", models=[write_model(tmp_path / "model")])
    host_key, _ = api.keygen(tmp_path / "host")
    state = tmp_path / "state"
    state.mkdir()

    def attest() -> tuple[Report, int]:
        with open_hash_cache(state, host_key, DAY, racy_window=0) as cache:
            report = api.verify_deployment(
                trust=release.trust(), models=[("model", release.model)], hash_cache=cache
            )
        return report, sum(view.misses for view in cache.trees)

    assert attest()[0].ok
    report, read = attest()
    assert report.ok and read == 0
    time.sleep(0.01)
    os.chmod(release.model / "config.json", 0o755)
    for expected_reads in (1, 0):  # read again once, then answered by the cache
        report, read = attest()
        assert read == expected_reads
        assert [(f.rule, f.path) for f in report.findings] == [("mode-changed", "config.json")]


@pytest.mark.slow  # a LocalCluster and an S3-compatible server
def test_dask_compares_modes_on_a_shared_path_and_none_on_an_object_store(tmp_path: Path) -> None:
    from support.dask import (
        local_cluster,
        new_bucket,
        s3_filesystem,
        s3_options,
        s3_server,
        upload_tree,
    )

    from chainguard.collectors.dask_tree import DaskCluster, parse_storage_options

    small = {"tool.sh": b"#!/bin/sh\n", "z.txt": b"z", "big.bin": b"b" * (2 * 1024 * 1024 + 3)}
    data = write_tree(tmp_path / "ds", small)
    (data / "tool.sh").chmod(0o755)
    release = make_release(tmp_path / "r", datasets=[data], sbom_name="ds.cdx.json")
    with local_cluster(workers=1) as cluster:
        dask = DaskCluster(cluster.scheduler_address)
        built = tmp_path / "built.cdx.json"
        api.build_sbom(name="svc", version="1", datasets=[release.data], output=built, dask=dask)
        assert '"chainguard:mode"' in built.read_text()  # recorded from the shared path too

        def shared() -> list[tuple[str, str]]:
            report = api.verify_tree(release.data, kind="dataset", trust=release.trust(), dask=dask)
            return [(f.rule, f.path) for f in report.findings]

        assert shared() == []
        (release.data / "z.txt").chmod(0o755)
        (data / "big.bin").chmod(0o700)
        assert shared() == [("mode-changed", "big.bin"), ("mode-changed", "z.txt")]
        with s3_server() as endpoint:
            fs = s3_filesystem(endpoint)
            bucket = new_bucket(fs)
            upload_tree(fs, release.data, f"{bucket}/ds")  # an object has no mode
            options = parse_storage_options(s3_options(endpoint)[1::2])
            remote = DaskCluster(cluster.scheduler_address, options)
            report = api.verify_tree(
                f"s3://{bucket}/ds", kind="dataset", trust=release.trust(), dask=remote
            )
            assert report.ok and report.findings == (), report.findings
