#!/usr/bin/env python3
"""Side-by-side dataset verify benchmark: chainguard vs the hashlib floor vs OpenSSF model_signing.

Two trees (created once under --data-dir, default benchmarks/.data, which git ignores):

  many    100,000 files of 4 KiB in 100 directories   (--quick: 10,000)
  large   20 files of 256 MiB                          (--quick: 2)

For each tree, with a warm page cache, every tool runs as a fresh subprocess, interleaved, each
measurement repeated (--runs, default 3) keeping the best wall time and the highest peak RSS
(os.wait4 ru_maxrss):

  floor          one fresh ``python -I -S`` per core, each hashing its share of the top-level
                 entries (walking directories with os.scandir) with a plain hashlib loop
  chainguard     ``chainguard verify dataset DIR --sbom SBOM --key PUB`` (SBOM built, signed once)
  model_signing  ``model_signing verify key DIR --signature SIG --public_key PUB`` (signed once)

``--million`` instead creates 1,000,000 tiny files, builds and signs once, and reports the peak
RSS of ``chainguard verify dataset`` (memory must stay bounded: nothing per file but its record).

    python benchmarks/bench_dataset.py            # full sizes (~5.4 GiB of data)
    python benchmarks/bench_dataset.py --quick    # 10k files, 2 x 256 MiB
    python benchmarks/bench_dataset.py --million  # peak RSS with 1M files
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent

FLOOR = """
import hashlib, os, sys
buf = bytearray(1 << 20)
view = memoryview(buf)
def digest(path):
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()
def walk(path):
    with os.scandir(path) as it:
        for e in it:
            if e.is_dir(follow_symlinks=False):
                walk(e.path)
            elif e.is_file(follow_symlinks=False):
                digest(e.path)
for arg in sys.argv[1:]:
    walk(arg) if os.path.isdir(arg) else digest(arg)
"""


@dataclass
class Measure:
    seconds: float = float("inf")
    rss_mb: float = 0.0
    ok: bool = True

    def add(self, seconds: float, rss_mb: float, ok: bool) -> None:
        self.seconds = min(self.seconds, seconds)
        self.rss_mb = max(self.rss_mb, rss_mb)
        self.ok = self.ok and ok


def tool_env(cwd: Path) -> dict[str, str]:
    env = dict(os.environ)
    # An installed package has bytecode (pip compiles it at install); an editable checkout run
    # with PYTHONDONTWRITEBYTECODE=1 (as some shells set) would recompile chainguard's modules,
    # the workers' included, on every start. Let the warm-up run write __pycache__ as usual.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # verify records rollback state; keep it out of the user's ~/.local/state.
    env["CHAINGUARD_STATE_DIR"] = str(cwd / "state")
    return env


def run_timed(commands: list[list[str]], cwd: Path) -> tuple[float, float, bool]:
    """Start the commands together; wall time until the last ends, highest peak RSS, all ok."""
    env = tool_env(cwd)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(c, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for c in commands
    ]
    rss = 0.0
    ok = True
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        rss = max(rss, usage.ru_maxrss / 1024)  # KiB on Linux
        if p.returncode != 0:
            ok = False
            err = p.stderr.read().decode(errors="replace") if p.stderr else ""
            print(f"  ! {' '.join(commands[0][:3])} exited {p.returncode}: {err[-300:]}")
    wall = time.perf_counter() - start
    for p in procs:
        if p.stderr:
            p.stderr.close()
    return wall, rss, ok


# --- data ---------------------------------------------------------------------------------------


def make_many(root: Path, files: int, size: int = 4096, dirs: int = 100) -> Path:
    tree = root / f"many-{files}"
    if tree.is_dir():
        return tree
    tmp = root / f".many-{files}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    per_dir = -(-files // dirs)
    for i in range(files):
        d = tmp / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(parents=True)
        (d / f"f{i:07d}.bin").write_bytes(os.urandom(size))
    tmp.rename(tree)
    _forget_signatures(tree)
    return tree


def _forget_signatures(tree: Path) -> None:
    """A tree made anew has new random content: SBOMs and signatures of an older one are stale."""
    for suffix in (".cdx.json", ".cdx.json.sig", ".ms.sig"):
        tree.with_name(tree.name + suffix).unlink(missing_ok=True)


def make_large(root: Path, files: int, size: int = 256 * MIB) -> Path:
    tree = root / f"large-{files}x{size // MIB}M"
    if tree.is_dir():
        return tree
    tmp = root / f".{tree.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for i in range(files):
        with (tmp / f"part-{i:05d}.bin").open("wb") as f:
            for _ in range(size // (8 * MIB)):
                f.write(os.urandom(8 * MIB))
    tmp.rename(tree)
    _forget_signatures(tree)
    return tree


@dataclass
class Signed:
    tree: Path
    sbom: Path
    pub: Path
    ms_sig: Path | None
    ms_pub: Path | None


def prepare(tree: Path, work: Path, with_model_signing: bool) -> Signed:
    """Build + sign with chainguard; sign once with model_signing (outside the tree)."""
    chainguard = str(BIN / "chainguard")
    key = work / "release"
    if not key.with_suffix(".key").exists():
        subprocess.run([chainguard, "keygen", str(key)], check=True, cwd=work)
    sbom = work / f"{tree.name}.cdx.json"
    if not (sbom.exists() and Path(f"{sbom}.sig").exists()):
        build = [chainguard, "sbom", "build", "--name", "bench", "--version", "1"]
        t = time.perf_counter()
        subprocess.run([*build, "--dataset", str(tree), "-o", str(sbom)], check=True, cwd=work)
        print(f"  chainguard sbom build: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        subprocess.run([chainguard, "sign", str(sbom), "--key", f"{key}.key"], check=True, cwd=work)
        print(f"  chainguard sign: {time.perf_counter() - t:.1f} s")
    ms_sig = ms_pub = None
    if with_model_signing and shutil.which("model_signing", path=str(BIN)):
        ms_key, ms_pub = work / "ms.key", work / "ms.pub"
        if not ms_key.exists():
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec

            private = ec.generate_private_key(ec.SECP256R1())
            ms_key.write_bytes(
                private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            ms_pub.write_bytes(
                private.public_key().public_bytes(
                    serialization.Encoding.PEM,
                    serialization.PublicFormat.SubjectPublicKeyInfo,
                )
            )
        ms_sig = work / f"{tree.name}.ms.sig"
        if not ms_sig.exists():
            t = time.perf_counter()
            subprocess.run(
                [
                    str(BIN / "model_signing"),
                    "sign",
                    "key",
                    str(tree),
                    "--signature",
                    str(ms_sig),
                    "--private_key",
                    str(ms_key),
                ],
                check=True,
                cwd=work,
                stdout=subprocess.DEVNULL,
            )
            print(f"  model_signing sign key: {time.perf_counter() - t:.1f} s")
    return Signed(tree, sbom, key.with_suffix(".pub"), ms_sig, ms_pub)


def floor_commands(tree: Path) -> list[list[str]]:
    """The tree's top-level entries split across one process per core, balanced by size."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    entries = sorted(tree.iterdir(), key=lambda p: p.stat().st_size, reverse=True)
    shares: list[list[str]] = [[] for _ in range(cores or 1)]
    for i, e in enumerate(entries):
        shares[i % len(shares)].append(str(e))
    return [[sys.executable, "-I", "-S", "-c", FLOOR, *s] for s in shares if s]


def bench(signed: Signed, runs: int, work: Path) -> dict[str, Measure]:
    chainguard = [
        str(BIN / "chainguard"),
        "verify",
        "dataset",
        str(signed.tree),
        "--sbom",
        str(signed.sbom),
        "--key",
        str(signed.pub),
    ]
    tools: dict[str, list[list[str]]] = {
        "floor": floor_commands(signed.tree),
        "chainguard": [chainguard],
    }
    if signed.ms_sig is not None and signed.ms_pub is not None:
        tools["model_signing"] = [
            [
                str(BIN / "model_signing"),
                "verify",
                "key",
                str(signed.tree),
                "--signature",
                str(signed.ms_sig),
                "--public_key",
                str(signed.ms_pub),
            ]
        ]
    # warm the page cache (and chainguard's bytecode cache) once, untimed
    run_timed(tools["floor"], work)
    run_timed(tools["chainguard"], work)
    results = {name: Measure() for name in tools}
    for r in range(runs):
        for name, commands in tools.items():
            wall, rss, ok = run_timed(commands, work)
            results[name].add(wall, rss, ok)
            print(f"  run {r + 1} {name:14} {wall:7.2f} s {rss:7.0f} MB")
    return results


def table(label: str, results: dict[str, Measure]) -> str:
    floor = results["floor"].seconds
    ms = results.get("model_signing")
    lines = [
        f"{label}",
        f"  {'tool':14} {'seconds':>8} {'x floor':>8} {'x model_signing':>16} {'peak RSS':>9}",
    ]
    for name, m in results.items():
        vs_ms = f"{m.seconds / ms.seconds:16.2f}" if ms else f"{'-':>16}"
        note = "" if m.ok else "  (FAILED)"
        lines.append(
            f"  {name:14} {m.seconds:8.2f} {m.seconds / floor:8.2f} {vs_ms} "
            f"{m.rss_mb:6.0f} MB{note}"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=HERE / ".data")
    ap.add_argument("--quick", action="store_true", help="10k files and 2 x 256 MiB")
    ap.add_argument("--million", action="store_true", help="peak RSS with 1,000,000 files")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-model-signing", action="store_true")
    ap.add_argument("--only", choices=("many", "large"), help="benchmark one tree only")
    args = ap.parse_args()
    data = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-dataset-", dir=data))
    (work / "keep").mkdir()
    try:
        if args.million:
            print("creating 1,000,000 files of 64 bytes in 1,000 directories (once)...")
            tree = make_many(data, 1_000_000, size=64, dirs=1000)
            signed = prepare(tree, data, with_model_signing=False)
            wall, rss, ok = run_timed(
                [
                    [
                        str(BIN / "chainguard"),
                        "verify",
                        "dataset",
                        str(tree),
                        "--sbom",
                        str(signed.sbom),
                        "--key",
                        str(signed.pub),
                    ]
                ],
                work,
            )
            print(
                f"1,000,000 files: chainguard verify dataset {wall:.1f} s, peak RSS "
                f"{rss:.0f} MB{'' if ok else ' (FAILED)'}"
            )
            return 0 if ok else 1
        many_n, large_n = (10_000, 2) if args.quick else (100_000, 20)
        print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}")
        reports = []
        trees = []
        if args.only != "large":
            trees.append((f"{many_n:,} files x 4 KiB in 100 directories", make_many(data, many_n)))
        if args.only != "many":
            trees.append((f"{large_n} files x 256 MiB", make_large(data, large_n)))
        for label, tree in trees:
            print(f"{label}: preparing")
            signed = prepare(tree, data, with_model_signing=not args.no_model_signing)
            reports.append(table(label, bench(signed, args.runs, work)))
        print()
        print("\n\n".join(reports))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
