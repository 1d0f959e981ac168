"""`--dask` under faults and attacks: a worker killed mid-run, a file changed between the
client's listing and the worker's read, a "scheduler" that accepts connections and never
answers, and a tree whose link leaves it. Real worker processes on 127.0.0.1; no mocks."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import assert_one_line_error, cli
from support.dask import (
    local_cluster,
    new_bucket,
    s3_filesystem,
    s3_options,
    s3_server,
    upload_tree,
    worker_pids,
)
from support.release import Release, make_release, write_tree

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with local_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    root = tmp_path_factory.mktemp("adv-dask")
    files = {f"part-{i:04d}.txt": b"row %d\n" % i for i in range(1500)}
    files["large.bin"] = bytes(range(256)) * (3 * MIB // 256 + 7)
    return make_release(root, datasets={"data": files}, shard_size=MIB)


class ChangeAfterListing:
    """A Progress receiver that rewrites a file once the listing is done (start is called
    between listing and hashing): what a writer racing the hashing would do."""

    def __init__(self, path: Path, content: bytes) -> None:
        self.path, self.content = path, content

    def start(self, files: int, total_bytes: int) -> None:
        time.sleep(0.01)  # a modification time the listing cannot have seen
        self.path.write_bytes(self.content)

    def advance(self, nbytes: int) -> None:
        pass


def test_a_file_changed_after_listing_is_a_finding(release: Release, cluster: Any) -> None:
    from chainguard import api
    from chainguard.collectors.dask_tree import DaskCluster

    for name in ("part-0007.txt", "large.bin"):  # a batched small file; a sharded one
        target = release.data / name
        original = target.read_bytes()
        try:
            report = api.verify_tree(
                release.data,
                kind="dataset",
                trust=release.trust(),
                progress=ChangeAfterListing(target, original[:-1] + b"!"),
                dask=DaskCluster(cluster.scheduler_address),
            )
        finally:
            target.write_bytes(original)
        assert [(f.rule, f.path) for f in report.findings] == [
            ("artifact-changed-during-verify", name)
        ]


def test_build_refuses_a_file_changed_after_listing(
    release: Release, cluster: Any, tmp_path: Path
) -> None:
    from chainguard import api
    from chainguard.collectors.dask_tree import DaskCluster
    from chainguard.errors import InputError

    target = release.data / "part-0001.txt"
    original = target.read_bytes()
    try:
        with pytest.raises(InputError, match=r"part-0001\.txt: changed-during-hash"):
            api.build_sbom(
                name="svc",
                version="1",
                datasets=[release.data],
                output=tmp_path / "out.json",
                progress=ChangeAfterListing(target, b"other\n"),
                dask=DaskCluster(cluster.scheduler_address),
            )
    finally:
        target.write_bytes(original)
    assert not (tmp_path / "out.json").exists()


class OverwriteObjectAfterListing:
    """As ChangeAfterListing, for an object in the S3-compatible server."""

    def __init__(self, fs: Any, key: str, content: bytes) -> None:
        self.fs, self.key, self.content = fs, key, content

    def start(self, files: int, total_bytes: int) -> None:
        self.fs.pipe_file(self.key, self.content)

    def advance(self, nbytes: int) -> None:
        pass


@pytest.mark.slow
def test_an_object_overwritten_after_listing_is_a_finding(cluster: Any, tmp_path: Path) -> None:
    """Same size, other bytes: only the ETag the worker reads after hashing tells them apart."""
    from chainguard import api
    from chainguard.collectors.dask_tree import DaskCluster, parse_storage_options

    files = {"a.txt": b"alpha\n", "b.txt": b"bravo\n", "big.bin": b"B" * (2 * MIB + 5)}
    release = make_release(tmp_path, datasets={"data": files}, shard_size=MIB)
    with s3_server() as endpoint:
        fs = s3_filesystem(endpoint)
        bucket = new_bucket(fs)
        upload_tree(fs, release.data, f"{bucket}/data")
        # the SBOM names the dataset "data", as the prefix's last segment does
        dask = DaskCluster(
            cluster.scheduler_address, parse_storage_options(s3_options(endpoint)[1::2])
        )
        for key, content in (("a.txt", b"ALPHA\n"), ("big.bin", b"C" * (2 * MIB + 5))):
            report = api.verify_tree(
                f"s3://{bucket}/data",
                kind="dataset",
                trust=release.trust(),
                progress=OverwriteObjectAfterListing(fs, f"{bucket}/data/{key}", content),
                dask=dask,
            )
            assert [(f.rule, f.path) for f in report.findings] == [
                ("artifact-changed-during-verify", key)
            ]
            fs.pipe_file(f"{bucket}/data/{key}", files[key])


@pytest.mark.slow
def test_a_worker_killed_mid_run_changes_nothing(release: Release, tmp_path: Path) -> None:
    """A worker is frozen while it holds a task (SIGSTOP: the run cannot finish without it),
    then killed; Dask runs its tasks again on the other worker (and the one its nanny starts
    again), and the result is the local one."""
    from distributed import Client

    from chainguard import api
    from chainguard.collectors.dask_tree import DaskCluster

    with local_cluster() as own, Client(own.scheduler_address, set_as_default=False) as client:
        pids = worker_pids(client)
        outcome: dict[str, Any] = {}

        def verify() -> None:
            outcome["report"] = api.verify_tree(
                release.data,
                kind="dataset",
                trust=release.trust(state_dir=tmp_path / "state"),
                dask=DaskCluster(own.scheduler_address),
            )

        runner = threading.Thread(target=verify)
        runner.start()
        victim = None
        deadline = time.monotonic() + 15
        while victim is None and time.monotonic() < deadline and runner.is_alive():
            busy = [a for a, tasks in client.processing().items() if tasks and a in pids]
            if busy:
                victim = pids[busy[0]]
                os.kill(victim, signal.SIGSTOP)
            time.sleep(0.005)
        assert victim is not None, "no worker was ever seen holding a task"
        runner.join(timeout=1.0)
        stalled = runner.is_alive()
        os.kill(victim, signal.SIGKILL)
        runner.join(timeout=60)
        assert not runner.is_alive()
    assert stalled, "the run finished without the frozen worker: it held no task"
    report = outcome["report"]
    assert report.ok, report.findings
    assert report.stats.files == 1501


def test_a_scheduler_that_never_answers_is_exit_3(release: Release) -> None:
    """A port that accepts the connection and says nothing: bounded by --dask-timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        outcome = release.verify("--dask", address, "--dask-timeout", "1")
        elapsed = time.monotonic() - started
    assert_one_line_error(outcome, 3, "cannot reach the Dask scheduler")
    assert elapsed < 15


def test_a_link_leaving_the_tree_is_refused_as_locally(cluster: Any, tmp_path: Path) -> None:
    data = write_tree(tmp_path / "data", {"a.txt": b"a"})
    (tmp_path / "secret").write_bytes(b"outside")
    (data / "escape").symlink_to(tmp_path / "secret")
    args = ["sbom", "build", "--name", "svc", "--version", "1", "--dataset", str(data)]
    local = cli(*args, "-o", str(tmp_path / "l.json"))
    dask = cli(*args, "-o", str(tmp_path / "d.json"), "--dask", cluster.scheduler_address)
    assert_one_line_error(dask, 3, "symlink-escape")
    assert (dask.code, dask.stderr) == (local.code, local.stderr)
