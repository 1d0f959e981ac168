"""`--dask ADDRESS`: `sbom build --dataset` and `verify dataset` hashed on a real
dask.distributed cluster (worker processes on 127.0.0.1), compared with the local path on the
same tree: the same SBOM components, the same findings. The object-store path runs against a
real S3-compatible server (moto in server mode) on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import assert_one_line_error, assert_usage_error, cli
from support.dask import (
    free_port,
    local_cluster,
    new_bucket,
    s3_filesystem,
    s3_options,
    s3_server,
    upload_tree,
)
from support.fastpath import dataset_files
from support.release import Release, make_release, write_tree

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with local_cluster() as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """A signed dataset with shards of 1 MiB (blobs/large.bin has two), safetensors, Parquet,
    non-ASCII names and a symbolic link inside the tree."""
    root = tmp_path_factory.mktemp("dask")
    data = write_tree(root / "data", dataset_files())
    (data / "link-to-readme").symlink_to("README.md")
    return make_release(root, datasets=[data], shard_size=MIB)


def components(sbom: Path) -> list[Any]:
    document: dict[str, Any] = json.loads(sbom.read_text())
    return list(document["components"])


def build(output: Path, dataset: str | Path, *extra: str) -> None:
    outcome = cli(
        "sbom", "build", "--name", "svc", "--version", "1", "-o", output,
        "--dataset", dataset, *extra,
    )  # fmt: skip
    assert outcome.code == 0, outcome


def test_build_components_equal_the_local_path(
    release: Release, scheduler: str, tmp_path: Path
) -> None:
    from chainguard import api
    from chainguard.collectors.dask_tree import DaskCluster

    # sharded (1 MiB shards: shard digests and whole digests from one read on the worker)
    local, dask = tmp_path / "local.json", tmp_path / "dask.json"
    api.build_sbom(name="svc", version="1", datasets=[release.data], output=local, shard_size=MIB)
    api.build_sbom(
        name="svc",
        version="1",
        datasets=[release.data],
        output=dask,
        shard_size=MIB,
        dask=DaskCluster(scheduler),
    )
    assert components(dask) == components(local)
    files = {c["name"]: c for c in components(dask)[0]["components"]}
    assert len(files) == len(dataset_files()) + 1  # and the link, with its target's content
    # and through the CLI, default shard size
    build(tmp_path / "cli-local.json", release.data)
    build(tmp_path / "cli-dask.json", release.data, "--dask", scheduler)
    assert components(tmp_path / "cli-dask.json") == components(tmp_path / "cli-local.json")


def test_the_observed_inventory_equals_the_local_one(release: Release, scheduler: str) -> None:
    """Verify mode, large files by shards only: digests, shards, sizes and formats alike."""
    from chainguard.collectors.dask_tree import DaskCluster, collect_dask_tree
    from chainguard.collectors.tree import collect_tree
    from chainguard.hashing import EveryPath, HashSettings

    settings = HashSettings(shard_size=MIB)
    local = collect_tree(release.data, settings, mode="verify", shard_sizes=EveryPath(MIB))
    dask = collect_dask_tree(
        release.data, DaskCluster(scheduler), settings, mode="verify", shard_sizes=EveryPath(MIB)
    )
    assert list(dask.files) == list(local.files)
    (large,) = [f for f in dask.files if f.path == "blobs/large.bin"]
    assert (large.sha256, len(large.shards), large.format) == (None, 2, "text")
    assert (dask.anomalies, dask.bytes_hashed) == (local.anomalies, local.bytes_hashed)


def test_verify_reports_the_same_findings(release: Release, scheduler: str) -> None:
    ok = release.verify("--dask", scheduler, json=True)
    assert ok.code == 0, ok
    large = release.data / "blobs" / "large.bin"
    original = large.read_bytes()
    readme = release.data / "README.md"
    try:
        large.write_bytes(original[:-1] + b"X")  # the last shard differs
        readme.write_bytes(b"changed\n")  # and through the link, twice
        (release.data / "new.txt").write_bytes(b"added")
        local = release.verify(json=True)
        dask = release.verify("--dask", scheduler, json=True)
    finally:
        large.write_bytes(original)
        readme.write_bytes(b"# readme\n")
        (release.data / "new.txt").unlink()
    assert local.code == dask.code == 1
    assert dask.rules == local.rules
    assert ("artifact-modified", "blobs/large.bin") in dask.rules


class Recorded:
    """A Progress receiver that keeps what it was told."""

    def __init__(self) -> None:
        self.started: list[tuple[int, int]] = []
        self.advanced = 0

    def start(self, files: int, total_bytes: int) -> None:
        self.started.append((files, total_bytes))

    def advance(self, nbytes: int) -> None:
        self.advanced += nbytes


def test_progress_is_reported(release: Release, scheduler: str) -> None:
    from chainguard import api
    from chainguard.collectors.dask_tree import DaskCluster

    progress = Recorded()
    report = api.verify_tree(
        release.data,
        kind="dataset",
        trust=release.trust(),
        progress=progress,
        dask=DaskCluster(scheduler),
    )
    assert report.ok, report.findings
    ((files, total),) = progress.started
    assert (files, total) == (report.stats.files, report.stats.bytes)
    assert progress.advanced == total


def test_unreachable_scheduler_is_exit_3_in_one_line(release: Release, tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    outcome = release.verify("--dask", address, "--dask-timeout", "0.5")
    assert_one_line_error(outcome, 3, "cannot reach the Dask scheduler", address)
    outcome = cli(
        "sbom", "build", "--name", "svc", "--version", "1", "-o", tmp_path / "x.json",
        "--dataset", release.data, "--dask", address, "--dask-timeout", "0.5",
    )  # fmt: skip
    assert_one_line_error(outcome, 3, "cannot reach the Dask scheduler")
    assert not (tmp_path / "x.json").exists()


def test_dask_options_need_dask(release: Release) -> None:
    assert_usage_error(release.verify("--storage-option", "anon=true"), "--dask")
    assert_usage_error(release.verify("--dask", "tcp://127.0.0.1:1", "--storage-option", "x"))
    outcome = cli(
        "verify", "dataset", "s3://bucket/data", "--key", release.pub, "--sbom", release.sbom
    )
    assert_usage_error(outcome, "--dask")


def test_the_cli_starts_without_importing_dask() -> None:
    code = (
        "import sys, chainguard, chainguard.cli, chainguard.cli.verify, chainguard.cli.build\n"
        "loaded = [m for m in ('dask', 'distributed', 'fsspec', 's3fs') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_fleet_extra_is_one_line(release: Release, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['distributed'] = None\n"
        "from chainguard.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    argv = [sys.executable, "-c", code, "verify", "dataset", str(release.data)]
    argv += ["--key", str(release.pub), "--sbom", str(release.sbom), "--dask", "tcp://x:1"]
    from support.cli import run_process

    outcome = run_process([*argv], tmp_path)
    assert_one_line_error(outcome, 2, "pip install 'chainguard[fleet]'")


@pytest.mark.slow
def test_s3_build_and_verify(release: Release, scheduler: str, tmp_path: Path) -> None:
    """The workers read s3://bucket/data from the server (the client only lists it): the
    components equal the local build of the same files; a tampered object is a finding."""
    from chainguard import api

    # dataset_files() without most of train/ (a request or two per file to the server)
    files = {k: v for k, v in dataset_files().items() if not k.startswith("train/0")}
    data = write_tree(tmp_path / "data", files)
    with s3_server() as endpoint:
        fs = s3_filesystem(endpoint)
        bucket = new_bucket(fs)
        upload_tree(fs, data, f"{bucket}/data")
        options = s3_options(endpoint)
        remote = tmp_path / "s3.cdx.json"
        build(remote, f"s3://{bucket}/data", "--dask", scheduler, *options)
        build(tmp_path / "local.cdx.json", data)
        assert components(remote) == components(tmp_path / "local.cdx.json")

        api.sign_sbom(remote, release.key, Path(f"{remote}.sig"))
        verify = [
            "verify", "dataset", f"s3://{bucket}/data", "--key", release.pub, "--sbom", remote,
            "--signature", f"{remote}.sig", "--dask", scheduler, *options,
            "--state", tmp_path / "state", "--format", "json",
        ]  # fmt: skip
        ok = cli(*verify)
        assert ok.code == 0, ok
        assert ok.report["target"] == f"s3://{bucket}/data"

        fs.pipe_file(f"{bucket}/data/tables/schema.txt", b"tampered\n")
        fs.rm_file(f"{bucket}/data/a.txt")
        tampered = cli(*verify)
        assert tampered.code == 1, tampered
        assert ("artifact-modified", "tables/schema.txt") in tampered.rules
        assert ("artifact-missing", "a.txt") in tampered.rules
