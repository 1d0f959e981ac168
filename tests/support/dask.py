"""A real dask.distributed cluster and a real S3-compatible server, both on 127.0.0.1 and both
stopped by the context managers that start them (tests of `--dask`)."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# What every S3 test passes: moto accepts any credentials; they go to client and workers as
# fsspec storage options (--storage-option), never through this process's environment.
S3_KEY = "testing"
S3_SECRET = "testing"  # moto's dummy credentials


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def local_cluster(workers: int = 2) -> Iterator[Any]:
    """A LocalCluster of worker processes (one thread each) on 127.0.0.1."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        worker_dashboard_address=":0",
    )
    try:
        yield cluster
    finally:
        cluster.close(timeout=10)


def worker_pids(client: Any) -> dict[str, int]:
    """Worker address -> the process id hashing there."""
    pids: dict[str, int] = client.run(os.getpid)
    return pids


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


@contextmanager
def s3_server() -> Iterator[str]:
    """moto in server mode on 127.0.0.1:<free port>; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_options(endpoint: str) -> list[str]:
    """The --storage-option arguments that reach the server."""
    return [
        "--storage-option",
        f"endpoint_url={endpoint}",
        "--storage-option",
        f"key={S3_KEY}",
        "--storage-option",
        f"secret={S3_SECRET}",
    ]


def s3_filesystem(endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(
        key=S3_KEY, secret=S3_SECRET, endpoint_url=endpoint, skip_instance_cache=True
    )


def new_bucket(fs: Any) -> str:
    """A bucket of its own (moto keeps one store per process, shared by its servers)."""
    import uuid

    name = f"bucket-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    return name


def upload_tree(fs: Any, directory: Path, url: str) -> None:
    """Every regular file under ``directory`` to ``url`` (bucket/prefix), same relative keys."""
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            fs.pipe_file(f"{url}/{path.relative_to(directory).as_posix()}", path.read_bytes())
