#!/usr/bin/env python3
"""Before/after: two chainguard source trees, side by side in one run on the same files.

For a change that must not slow anything down (a restructuring), this runs the same commands
with the working tree's chainguard and with a baseline checkout, interleaved, best of N:

  model multi    verify model: 4 x 256 MiB + small JSON files
  safetensors    verify model: 4 x 256 MiB safetensors files + a small JSON file
  model single   verify model: one 1 GiB file
  dataset        verify dataset: 100,000 x 4 KiB files
  --version      start-up

Both run in this interpreter's environment (same dependencies); the baseline's package is put
first on PYTHONPATH, so only chainguard's own code differs. Each tree verifies the SBOMs it
built and signed itself (once): what it records may differ (issue 13 added each file's format).

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


def write_safetensors(path: Path, size: int) -> None:
    """A valid safetensors file of ``size`` bytes: one U8 tensor of random bytes."""
    if path.exists() and path.stat().st_size == size:
        return
    import json
    import struct

    n = 0
    for _ in range(3):  # the header's length depends on n's digits
        header = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}})
        header += " " * (-len(header) % 8)
        n = size - 8 - len(header)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(header)) + header.encode())
        left = n
        while left:
            k = min(left, 8 * MIB)
            f.write(os.urandom(k))
            left -= k


def make_data(root: Path, quick: bool) -> dict[str, Path]:
    shard = 16 * MIB if quick else 256 * MIB
    single = 64 * MIB if quick else 1024 * MIB
    files = 10_000 if quick else 100_000
    multi = root / "multi"
    for i in range(4):
        write_random(multi / f"model-0000{i}-of-00004.bin", shard)
    (multi / "config.json").write_text('{"hidden_size": 4096}\n')
    tensors = root / "safetensors"
    for i in range(4):
        write_safetensors(tensors / f"model-0000{i}-of-00004.safetensors", shard)
    (tensors / "config.json").write_text('{"hidden_size": 4096}\n')
    write_random(root / "single" / "model.bin", single)
    dataset = root / "dataset"
    # Random bytes, but for a zeroed head: about one random file in 256 starts like a
    # safetensors or pickle file, which the format policy then reads and refuses (sbom build
    # stops); these files are meant to be of no known format, as most dataset files are.
    marker = dataset / f".complete-v2-{files}"
    if not marker.exists():
        for i in range(files):
            path = dataset / f"part-{i // 1000:03d}" / f"{i:06d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes(16) + os.urandom(4096 - 16))
        marker.write_text("")
    return {
        "model multi": multi,
        "safetensors": tensors,
        "model single": root / "single",
        "dataset": dataset,
    }


def run(tree: Path, args: list[str]) -> float:
    state = HERE / ".data" / "compare" / "state" / tree.name
    env = {**os.environ, "PYTHONPATH": str(tree), "CHAINGUARD_STATE_DIR": str(state)}
    started = time.perf_counter()
    # cwd: `python -c` puts the working directory first on sys.path, before PYTHONPATH; run
    # from the repository, both sides would import the working tree's chainguard.
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH, *args], env=env, cwd=tree, capture_output=True, check=False
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
    trees = {"baseline": opts.baseline.resolve(), "working tree": REPO}
    cases: dict[str, dict[str, list[str]]] = {"--version": {name: ["--version"] for name in trees}}
    for label, data_tree in data.items():
        kind = "dataset" if label == "dataset" else "model"
        flag = "--dataset" if kind == "dataset" else "--model"
        cases[label] = {}
        for name, tree in trees.items():
            built = opts.data_dir / size / name.replace(" ", "-")
            sbom = built / f"{label.replace(' ', '-')}.cdx.json"
            built.mkdir(parents=True, exist_ok=True)
            if not sbom.exists():
                run(tree, ["sbom", "build", "--name", "bench", "--version", "1", flag,
                           str(data_tree), "-o", str(sbom)])  # fmt: skip
                run(tree, ["sign", str(sbom), "--key", str(keys / "release.key")])
            cases[label][name] = ["verify", kind, str(data_tree), "--sbom", str(sbom),
                "--key", str(keys / "release.pub"), "--deployment", "bench"]  # fmt: skip
    best: dict[tuple[str, str], float] = {}
    for label, argv in cases.items():
        for name, tree in trees.items():  # one warm-up each
            run(tree, argv[name])
        for _ in range(opts.runs):
            for name, tree in trees.items():  # interleaved: background load hits both alike
                elapsed = run(tree, argv[name])
                key = (label, name)
                best[key] = min(best.get(key, elapsed), elapsed)
    print(f"{'case':<14} {'baseline s':>11} {'working s':>10} {'ratio':>7}")
    for label in cases:
        before, after = best[(label, "baseline")], best[(label, "working tree")]
        print(f"{label:<14} {before:>11.3f} {after:>10.3f} {after / before:>7.3f}")


if __name__ == "__main__":
    main()
