#!/usr/bin/env python3
"""Before/after: two chainguard source trees, side by side in one run on the same files.

For a change that must not slow anything down (a restructuring), this runs the same commands
with the working tree's chainguard and with a baseline checkout, interleaved, best of N:

  model multi    verify model: 4 x 256 MiB + small JSON files
  model single   verify model: one 1 GiB file
  dataset        verify dataset: 100,000 x 4 KiB files
  --version      start-up

Both run in this interpreter's environment (same dependencies); the baseline's package is put
first on PYTHONPATH, so only chainguard's own code differs. The SBOMs are built and signed once,
with the working tree (the SBOM format is the same on both sides).

    git worktree add /tmp/cg-baseline <commit>
    python benchmarks/bench_compare.py --baseline /tmp/cg-baseline [--quick] [--runs 5]

Results: benchmarks/README.md, "Before and after a restructuring".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

MIB = 1024 * 1024
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LAUNCH = "import sys; from chainguard._launch import main; sys.argv[0] = 'chainguard'; main()"


def write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size == size:
        return
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 8 * MIB)
            f.write(os.urandom(n))
            left -= n


def make_data(root: Path, quick: bool) -> dict[str, Path]:
    shard = 16 * MIB if quick else 256 * MIB
    single = 64 * MIB if quick else 1024 * MIB
    files = 10_000 if quick else 100_000
    multi = root / "multi"
    for i in range(4):
        write_random(multi / f"model-0000{i}-of-00004.bin", shard)
    (multi / "config.json").write_text('{"hidden_size": 4096}\n')
    write_random(root / "single" / "model.bin", single)
    dataset = root / "dataset"
    marker = dataset / f".complete-{files}"
    if not marker.exists():
        for i in range(files):
            path = dataset / f"part-{i // 1000:03d}" / f"{i:06d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(4096))
        marker.write_text("")
    return {"model multi": multi, "model single": root / "single", "dataset": dataset}


def run(tree: Path, args: list[str]) -> float:
    state = HERE / ".data" / "compare" / "state" / tree.name
    env = {**os.environ, "PYTHONPATH": str(tree), "CHAINGUARD_STATE_DIR": str(state)}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH, *args], env=env, capture_output=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{tree}: {' '.join(args)} exited {result.returncode}: {result.stderr!r}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="baseline source tree")
    ap.add_argument("--data-dir", type=Path, default=HERE / ".data" / "compare")
    ap.add_argument("--quick", action="store_true", help="small sizes, a sanity run")
    ap.add_argument("--runs", type=int, default=5)
    opts = ap.parse_args()
    size = "quick" if opts.quick else "full"
    data = make_data(opts.data_dir / size, opts.quick)
    keys = opts.data_dir / "keys"
    if not (keys / "release.pub").exists():
        keys.mkdir(parents=True, exist_ok=True)
        run(REPO, ["keygen", str(keys / "release")])
    cases: dict[str, list[str]] = {"--version": ["--version"]}
    for label, tree in data.items():
        kind = "dataset" if label == "dataset" else "model"
        sbom = opts.data_dir / size / f"{label.replace(' ', '-')}.cdx.json"
        flag = "--dataset" if kind == "dataset" else "--model"
        if not sbom.exists():
            run(REPO, ["sbom", "build", "--name", "bench", "--version", "1", flag, str(tree),
                       "-o", str(sbom)])  # fmt: skip
            run(REPO, ["sign", str(sbom), "--key", str(keys / "release.key")])
        cases[label] = ["verify", kind, str(tree), "--sbom", str(sbom),
                        "--key", str(keys / "release.pub"), "--deployment", "bench"]  # fmt: skip
    trees = {"baseline": opts.baseline.resolve(), "working tree": REPO}
    best: dict[tuple[str, str], float] = {}
    for label, args in cases.items():
        for tree in trees.values():  # one warm-up each
            run(tree, args)
        for _ in range(opts.runs):
            for name, tree in trees.items():  # interleaved: background load hits both alike
                elapsed = run(tree, args)
                key = (label, name)
                best[key] = min(best.get(key, elapsed), elapsed)
    print(f"{'case':<14} {'baseline s':>11} {'working s':>10} {'ratio':>7}")
    for label in cases:
        before, after = best[(label, "baseline")], best[(label, "working tree")]
        print(f"{label:<14} {before:>11.3f} {after:>10.3f} {after / before:>7.3f}")


if __name__ == "__main__":
    main()
