#!/usr/bin/env python3
"""Side-by-side `chainguard scan` benchmark: the scan of a many-file dataset vs the walk floor.

One tree (created once under --data-dir, default benchmarks/.data, which git ignores): 100,000
files of 4 KiB in 100 directories (--quick: 10,000), half JSON lines, half random binary whose
first 16 bytes are zero (so no magic number matches and every detector runs).

With a warm page cache, interleaved, each measurement repeated (--runs, default 5) keeping the
best wall time:

  floor  one fresh ``python -I -S`` per core, each walking its share of the top-level
         directories with os.scandir and reading the first 4 KiB of every file
  scan   ``chainguard scan DIR --format json -o /dev/null``
  start  the same scan of an empty directory: the command's fixed cost (interpreter, imports)
  baseline  with --baseline DIR: the same scan run by the chainguard package under DIR (a
         checkout or a copy of an earlier tree, put first on sys.path; its worker processes
         inherit it), for a before/after ratio measured in the same run

    python benchmarks/bench_scan.py            # 100,000 files
    python benchmarks/bench_scan.py --quick    # 10,000 files
    python benchmarks/bench_scan.py --profile  # also cProfile one in-process scan
    python benchmarks/bench_scan.py --baseline /tmp/cg-baseline  # before/after, interleaved
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dataset import BIN, HERE, Measure, run_timed

FLOOR = """
import os, sys
def walk(path):
    with os.scandir(path) as it:
        for e in it:
            if e.is_dir(follow_symlinks=False):
                walk(e.path)
            elif e.is_file(follow_symlinks=False):
                fd = os.open(e.path, os.O_RDONLY)
                try:
                    os.read(fd, 4096)
                finally:
                    os.close(fd)
for arg in sys.argv[1:]:
    walk(arg)
"""


def make_tree(root: Path, files: int, size: int = 4096, dirs: int = 100) -> Path:
    tree = root / f"scan-{files}"
    if tree.is_dir():
        return tree
    tmp = root / f".scan-{files}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    per_dir = -(-files // dirs)
    line = json.dumps({"id": 0, "text": "lorem ipsum dolor sit amet " * 3}).encode() + b"\n"
    jsonl = (line * (size // len(line) + 1))[:size]
    for i in range(files):
        d = tmp / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(parents=True)
        if i % 2:
            (d / f"f{i:07d}.jsonl").write_bytes(jsonl)
        else:
            (d / f"f{i:07d}.bin").write_bytes(bytes(16) + os.urandom(size - 16))
    tmp.rename(tree)
    return tree


# The chainguard entry point, importing the package from a given source tree first.
BASELINE = """
import sys
sys.path.insert(0, sys.argv.pop(1))
sys.argv[0] = "chainguard"
from chainguard._launch import main
main()
"""


def floor_commands(tree: Path, cores: int) -> list[list[str]]:
    entries = sorted(str(p) for p in tree.iterdir())
    shares = [entries[i::cores] for i in range(cores)]
    return [[sys.executable, "-I", "-S", "-c", FLOOR, *s] for s in shares if s]


def profile(tree: Path) -> None:
    import cProfile
    import pstats

    from chainguard.api.scan import scan_path

    prof = cProfile.Profile()
    prof.enable()
    scan_path(tree)
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 files instead of 100,000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--profile", action="store_true", help="cProfile one in-process scan")
    parser.add_argument(
        "--baseline", type=Path, help="a source tree whose chainguard scans too (before/after)"
    )
    args = parser.parse_args()

    args.data_dir.mkdir(parents=True, exist_ok=True)
    files = 10_000 if args.quick else 100_000
    started = time.perf_counter()
    tree = make_tree(args.data_dir, files)
    print(f"tree: {tree} ({files} files, ready in {time.perf_counter() - started:.1f}s)")
    cores = os.cpu_count() or 1
    scan = [str(BIN / "chainguard"), "scan", str(tree), "--format", "json", "-o", os.devnull]
    floor = floor_commands(tree, cores)
    empty = args.data_dir / "scan-empty"
    empty.mkdir(exist_ok=True)
    start = [*scan[:2], str(empty), *scan[3:]]
    cwd = args.data_dir
    # Bytecode for both sides, as an installed package has it (a run under
    # PYTHONDONTWRITEBYTECODE, or of a tree edited since, would compile its changed modules on
    # every start); then warm the page cache.
    import compileall

    import chainguard

    compileall.compile_dir(Path(chainguard.__file__).parent, quiet=1)
    if args.baseline is not None:
        compileall.compile_dir(args.baseline.resolve() / "chainguard", quiet=1)
    run_timed(floor, cwd)
    run_timed([scan], cwd)
    cases: list[tuple[str, list[list[str]]]] = [
        ("floor", floor),
        ("scan", [scan]),
        ("start", [start]),
    ]
    if args.baseline is not None:
        source = str(args.baseline.resolve())
        before = [sys.executable, "-c", BASELINE, source, *scan[1:]]
        run_timed([before], cwd)  # warm its bytecode too
        cases.append(("baseline", [before]))
    results = {name: Measure() for name, _ in cases}
    for _ in range(args.runs):
        for name, commands in cases:
            wall, rss, ok = run_timed(commands, cwd)
            results[name].add(wall, rss, ok)
    load = os.getloadavg()[0]
    print(f"best of {args.runs}, {cores} cores, load average {load:.2f}")
    for name, m in results.items():
        print(f"  {name:8} {m.seconds:7.3f}s  peak RSS {m.rss_mb:6.1f} MiB  ok={m.ok}")
    ratio = results["scan"].seconds / results["floor"].seconds
    work = (results["scan"].seconds - results["start"].seconds) / results["floor"].seconds
    print(f"  scan / floor = {ratio:.2f}x; without the fixed start-up cost {work:.2f}x")
    if args.baseline is not None:
        base = results["baseline"].seconds
        print(f"  baseline / floor = {base / results['floor'].seconds:.2f}x")
        print(f"  scan / baseline = {results['scan'].seconds / base:.2f}x")
    if args.profile:
        profile(tree)
    return 0 if all(m.ok for m in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
