#!/usr/bin/env python3
"""`chainguard sign` against `chainguard sbom build` for the same tree: time and peak RSS.

Creates (once, under --data-dir, default benchmarks/.data, which git ignores) a tree of
--files small text files (default 1,000,000 of 64 bytes in 1,000 directories; text, so that no
random file is taken for a broken pickle and refused), then runs each as a fresh subprocess
(wall time; peak RSS from os.wait4), best of --runs:

  sbom build   ``chainguard sbom build --dataset TREE``
  sign         ``chainguard sign SBOM --key KEY`` (ECDSA P-256: streamed, api/sign.py)
  sign whole   the whole-statement path ``sign`` took before streaming (and still takes for
               Ed25519 keys): api.sbom_statement, dsse.sign, key_bundle_json (--no-whole: skip)
  verify       ``chainguard verify dataset TREE --sbom SBOM --key PUB`` on what sign wrote

and checks that the streamed bundle's payload is byte for byte the whole path's.

    python benchmarks/bench_sign.py                   # 1,000,000 files (~4 GB of disk, minutes)
    python benchmarks/bench_sign.py --files 200000    # 200,000 files
    python benchmarks/bench_sign.py --files 20000 --runs 1   # a quick check that it works
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_dataset import BIN, HERE, Measure, run_timed

WHOLE = """
import sys
from pathlib import Path
from chainguard.api import sbom_statement
from chainguard.api._common import IN_TOTO_PAYLOAD_TYPE
from chainguard.trust.bundle import key_bundle_json
from chainguard.trust.dsse import sign
from chainguard.trust.keys import load_private_key

key = load_private_key(Path(sys.argv[2]), None)
envelope = sign(sbom_statement(Path(sys.argv[1])), IN_TOTO_PAYLOAD_TYPE, key)
Path(sys.argv[3]).write_bytes(key_bundle_json(envelope, key.trusted_key))
"""


def make_tree(root: Path, files: int, dirs: int) -> Path:
    tree = root / f"sign-{files}"
    if tree.is_dir():
        return tree
    tmp = root / f".sign-{files}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    per_dir = -(-files // dirs)
    for i in range(files):
        d = tmp / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(parents=True)
        (d / f"f{i:07d}.txt").write_bytes(f"{i:07d} ".encode() * 8)
    tmp.rename(tree)
    return tree


def payload(bundle: Path) -> bytes:
    doc = json.loads(bundle.read_bytes())
    return base64.b64decode(doc["dsseEnvelope"]["payload"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=HERE / ".data")
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--dirs", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-whole", action="store_true", help="skip the whole-statement path")
    args = ap.parse_args()
    data = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-sign-", dir=data))
    chainguard = str(BIN / "chainguard")
    try:
        t = time.perf_counter()
        tree = make_tree(data, args.files, min(args.dirs, args.files))
        print(f"tree: {args.files:,} files ({time.perf_counter() - t:.0f} s to make or find)")
        subprocess.run([chainguard, "keygen", str(work / "k")], check=True, cwd=work)
        sbom, streamed, whole = work / "t.cdx.json", work / "streamed.sig", work / "whole.sig"
        build = [chainguard, "sbom", "build", "--name", "bench", "--version", "1"]
        commands = {
            "sbom build": [*build, "--dataset", str(tree), "-o", str(sbom)],
            "sign": [chainguard, "sign", str(sbom), "--key", str(work / "k.key")],
            "sign whole": [sys.executable, "-c", WHOLE, str(sbom), str(work / "k.key")],
            "verify": [chainguard, "verify", "dataset", str(tree), "--sbom", str(sbom)],
        }
        commands["sign"] += ["-o", str(streamed)]
        commands["sign whole"] += [str(whole)]
        commands["verify"] += ["--key", str(work / "k.pub"), "--signature", str(streamed)]
        if args.no_whole:
            del commands["sign whole"]
        results = {name: Measure() for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                wall, rss, ok = run_timed([command], work)
                results[name].add(wall, rss, ok)
                print(f"  {name}: {wall:.1f} s, {rss:.0f} MB{'' if ok else ' FAILED'}")
        if not args.no_whole:
            same = payload(streamed) == payload(whole)
            print(f"streamed payload == whole-statement payload: {same}")
            if not same:
                return 1
        base = results["sbom build"].seconds
        print(f"\n| {args.files:,} files | seconds | × sbom build | peak RSS MB |")
        print("|---|---:|---:|---:|")
        for name, m in results.items():
            flag = "" if m.ok else " (FAILED)"
            print(f"| {name}{flag} | {m.seconds:.1f} | {m.seconds / base:.2f} | {m.rss_mb:.0f} |")
        print(f"\nbundle: {os.path.getsize(streamed) / 1e6:.0f} MB")
        return 0 if all(m.ok for m in results.values()) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
