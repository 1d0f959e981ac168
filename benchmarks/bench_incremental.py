#!/usr/bin/env python3
"""attest --incremental: an unchanged 4 GiB model verified through the hash cache vs read in full.

One run builds and signs a model of four 1 GiB weight shards and a few small files, then times
``api.verify_deployment`` (the call ``chainguard attest`` makes: trust, hashing, comparison, the
report) in the same process:

  full         no cache: every byte read and hashed (warm page cache: the full run's best case)
  incremental  ``hash_cache=open_hash_cache(...)``, the cache filled by one earlier run: every
               file stat'ed, its entry looked up and authenticated (HMAC), nothing read

Each is repeated (best time kept), interleaved. The target (issue 11): incremental at most 10 %
of full. Results: benchmarks/README.md, "Incremental attestation". Exit status 1 when missed.

Usage (from the repository, with the venv active):

    python benchmarks/bench_incremental.py            # 4 GiB
    python benchmarks/bench_incremental.py --quick    # 256 MiB, a sanity run
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MIB = 1024 * 1024
TARGET = 0.10
DAY = 24 * 3600.0


def _write_model(root: Path, shard_mib: int, shards: int) -> None:
    root.mkdir(parents=True)
    block = os.urandom(8 * MIB)
    for i in range(shards):
        with open(root / f"model-{i + 1:05}-of-{shards:05}.bin", "wb") as f:
            for j in range(shard_mib // 8):
                f.write(block[: 8 * MIB - 1] + bytes([(i * 131 + j) % 256]))  # no two alike
    (root / "config.json").write_text('{"architectures": ["Bench"]}\n')
    (root / "tokenizer.json").write_text('{"model": {"vocab": {}}}\n' * 100)
    (root / "generation_config.json").write_text("{}\n")


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB instead of 4 GiB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()

    from chainguard import api
    from chainguard.attest.cache import open_hash_cache

    shard_mib, shards = (64, 4) if args.quick else (1024, 4)
    with tempfile.TemporaryDirectory(dir=args.data_dir) as tmp:
        root = Path(tmp)
        model = root / "model"
        _write_model(model, shard_mib, shards)
        key, pub = api.keygen(root / "release")
        sbom = root / "deploy.cdx.json"
        api.build_sbom(name="bench", version="1", models=[model], output=sbom)
        api.sign_sbom(sbom, key)
        host_key, _ = api.keygen(root / "host")
        state = root / "state"
        state.mkdir()
        trust = api.TrustInputs(
            sbom=sbom, signatures=(), keys=(pub,), state_dir=state, deployment="bench"
        )

        def full() -> None:
            report = api.verify_deployment(trust=trust, models=[("model", model)])
            assert report.ok, report.findings

        def incremental() -> None:
            with open_hash_cache(state, host_key, DAY) as cache:
                report = api.verify_deployment(
                    trust=trust, models=[("model", model)], hash_cache=cache
                )
            assert report.ok, report.findings
            assert sum(v.misses for v in cache.trees) == 0, "the cache missed"

        full()  # warm the page cache
        time.sleep(2.0)  # the files' ctime out of the cache's racy window
        for _ in range(2):  # fill the cache: a full run, then one storing what it left out
            with open_hash_cache(state, host_key, DAY) as cache:
                api.verify_deployment(trust=trust, models=[("model", model)], hash_cache=cache)
        full_s = incremental_s = float("inf")
        for _ in range(args.repeat):
            full_s = min(full_s, _best(full, 1))
            incremental_s = min(incremental_s, _best(incremental, 1))
    size = shard_mib * shards
    ratio = incremental_s / full_s
    print(f"model: {size} MiB in {shards + 3} files, {os.cpu_count()} cores")
    print(f"full run:        {full_s:8.3f} s  ({size / full_s:,.0f} MiB/s)")
    print(f"incremental run: {incremental_s:8.3f} s")
    verdict = "ok" if ratio <= TARGET else "MISSED"
    print(f"incremental / full: {ratio:.1%} (target <= {TARGET:.0%}): {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
