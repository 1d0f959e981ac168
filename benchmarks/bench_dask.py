#!/usr/bin/env python3
"""`--dask`: the same trees hashed by the local engine and by a LocalCluster on this machine.

Two trees, made once: many small files (the per-file cost) and a few large ones (the per-byte
cost). Each is hashed in verify mode (large files by shards of the default size, as verify
hashes them: every byte read once) by

  local   collectors/tree.collect_tree: the local engine (threads and worker processes)
  dask    collectors/dask_tree.collect_dask_tree on a LocalCluster of --workers worker
          processes, one thread each, on 127.0.0.1, the client already connected

in the same process, interleaved, best of --repeat. From the differences: the overhead per file
and per byte of going through Dask, and the measured per-worker throughput; from those, the
worked estimate of hashing 50 TB on 100 workers (benchmarks/README.md, "Hashing on Dask").

Usage (from the repository, with the venv active):

    python benchmarks/bench_dask.py             # 20,000 x 4 KiB and 4 x 256 MiB
    python benchmarks/bench_dask.py --quick     # 2,000 x 4 KiB and 2 x 32 MiB, a sanity run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
TB = 10**12


def _make_trees(root: Path, files: int, large: int, large_mib: int) -> tuple[Path, Path]:
    small, big = root / "small", root / "large"
    if not small.is_dir():
        for i in range(files):
            d = small / f"d{i % 100:02d}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i:06d}.bin").write_bytes(os.urandom(4096))
    if not big.is_dir():
        big.mkdir(parents=True)
        block = os.urandom(8 * MIB)
        for i in range(large):
            with open(big / f"part-{i}.bin", "wb") as f:
                for j in range(large_mib // 8):
                    f.write(block[:-1] + bytes([(i * 31 + j) % 256]))
    return small, big


def _best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--estimate-files",
        type=int,
        default=1_000_000,
        help="files in the 50 TB estimate (their per-file cost is added to the per-byte one)",
    )
    args = parser.parse_args()
    files, large, large_mib = (2000, 2, 32) if args.quick else (20000, 4, 256)

    from distributed import Client, LocalCluster

    from chainguard.collectors.dask_tree import DaskCluster, collect_dask_tree
    from chainguard.collectors.tree import collect_tree
    from chainguard.hashing import EveryPath, HashSettings

    tmp = None
    data = args.data_dir
    if data is None:
        tmp = tempfile.mkdtemp(prefix="chainguard-bench-dask-")
        data = Path(tmp)
    small, big = _make_trees(data, files, large, large_mib)
    settings = HashSettings()
    every = EveryPath(settings.shard_size)
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        worker_dashboard_address=":0",
    )
    client = Client(cluster.scheduler_address, set_as_default=False)
    target = DaskCluster(cluster.scheduler_address)
    try:

        def local(tree: Path) -> Callable[[], Any]:
            return lambda: collect_tree(tree, settings, mode="verify", shard_sizes=every)

        def dask(tree: Path) -> Callable[[], Any]:
            return lambda: collect_dask_tree(
                tree, target, settings, mode="verify", shard_sizes=every, client=client
            )

        for fn in (local(small), dask(small), local(big), dask(big)):  # page cache, imports
            fn()
        assert list(dask(small)().files) == list(local(small)().files)
        times = {
            "local small": _best(local(small), args.repeat),
            "dask small": _best(dask(small), args.repeat),
            "local large": _best(local(big), args.repeat),
            "dask large": _best(dask(big), args.repeat),
        }
    finally:
        client.close()
        cluster.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    large_bytes = large * large_mib * MIB
    per_file = (times["dask small"] - times["local small"]) / files
    per_byte = (times["dask large"] - times["local large"]) / large_bytes
    worker_rate = large_bytes / times["dask large"] / args.workers  # bytes/s per worker
    worker_files = files / times["dask small"] / args.workers  # files/s per worker
    estimate_s = 50 * TB / (100 * worker_rate) + args.estimate_files / (100 * worker_files)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "workers": args.workers,
        "small_files": files,
        "large_bytes": large_bytes,
        **{k.replace(" ", "_") + "_s": round(v, 4) for k, v in times.items()},
        "overhead_per_file_ms": round(per_file * 1e3, 4),
        "overhead_per_gib_s": round(per_byte * 2**30, 4),
        "per_worker_mib_s": round(worker_rate / MIB, 1),
        "per_worker_files_s": round(worker_files, 1),
        "estimate_50tb_100_workers_h": round(estimate_s / 3600, 2),
        "client_peak_rss_mib": round(rss_mib, 1),
    }
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
