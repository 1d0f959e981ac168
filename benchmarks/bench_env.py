#!/usr/bin/env python3
"""Side-by-side: reading an installed environment with and without the bytecode check.

One run measures, on the same environment (default: the venv running this script, i.e. the
project's .venv with numpy, pyarrow, sigstore and their dependencies) with a warm page cache:

  record only     collect_environment(env, check_bytecode=False): every RECORD entry hashed,
                  site-packages walked (what `verify deps --env` did before bytecode checks)
  with bytecode   collect_environment(env): the same, plus every .pyc the environment's
                  interpreter would run compiled again from its source and compared
  cold cache      the same with a bytecode verdict cache that starts empty every run (compiles
                  everything, then stores the passes)
  warm cache      the same with the cache a previous run filled (compiles nothing)
  verify deps     `chainguard verify deps --env ENV --sbom SBOM --key PUB` end to end (the
                  SBOM built and signed once, untimed), its state directory emptied before
                  each run: a cold cache
  verify deps, warm cache   the same, keeping the state directory

Each is a fresh process, timed by wall clock with user+system CPU of it and its children; after
one untimed warm-up, the cases run interleaved ``--repeat`` times and the fastest run is kept.
Results: benchmarks/README.md, "Installed environments".

    python benchmarks/bench_env.py                 # the running venv
    python benchmarks/bench_env.py --env /opt/app/.venv --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLLECT = (
    "import shutil, sys; from pathlib import Path\n"
    "from chainguard.collectors.bytecode_cache import bytecode_cache\n"
    "from chainguard.collectors.environment import collect_environment\n"
    "env, check, cache_dir = Path(sys.argv[1]), sys.argv[2] != 'off', sys.argv[3]\n"
    "if sys.argv[2] == 'cold': shutil.rmtree(cache_dir, ignore_errors=True)\n"
    "with bytecode_cache(Path(cache_dir) if sys.argv[2] in ('cold', 'warm') else None) as c:\n"
    "    o = collect_environment(env, check_bytecode=check, bytecode_cache=c)\n"
    "assert not o.record_problems, o.record_problems[:3]\n"
    "print(o.files_checked, o.bytecode_compiled)\n"
)


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stdout)."""
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"{command[:4]}…: exit {done.returncode}\n{done.stderr[-2000:]}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, done.stdout


def count_bytecode(env: Path) -> tuple[int, int]:
    sources = pycs = 0
    for _, _, files in os.walk(env):
        sources += sum(f.endswith(".py") for f in files)
        pycs += sum(f.endswith(".pyc") for f in files)
    return sources, pycs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", type=Path, default=Path(sys.prefix))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    env = args.env.absolute()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        from chainguard import api

        key, pub = api.keygen(Path(tmp) / "release")
        sbom = Path(tmp) / "env.cdx.json"
        api.build_sbom(name="bench", version="1", envs=(env,), output=sbom)
        api.sign_sbom(sbom, key)
        chainguard = [python, "-m", "chainguard"]
        cache = str(Path(tmp) / "collect-cache")
        cold_state, warm_state = Path(tmp) / "state-cold", Path(tmp) / "state-warm"
        verify = [
            *chainguard,
            "verify",
            "deps",
            "--env",
            str(env),
            "--sbom",
            str(sbom),
            "--key",
            str(pub),
            "--format",
            "json",
            "--output",
            str(Path(tmp) / "report.json"),
        ]
        cases: dict[str, tuple[list[str], Path | None]] = {
            "record only": ([python, "-c", COLLECT, str(env), "off", cache], None),
            "with bytecode": ([python, "-c", COLLECT, str(env), "on", cache], None),
            "cold cache": ([python, "-c", COLLECT, str(env), "cold", cache], None),
            "warm cache": ([python, "-c", COLLECT, str(env), "warm", cache], None),
            "verify deps": (verify, cold_state),
            "verify deps, warm cache": (verify, warm_state),
        }
        best: dict[str, tuple[float, float, str]] = {}
        for round_ in range(args.repeat + 1):
            for name, (command, state) in cases.items():
                environ = None
                if state is not None:
                    if state == cold_state:
                        shutil.rmtree(state, ignore_errors=True)
                    environ = {**os.environ, "CHAINGUARD_STATE_DIR": str(state)}
                result = timed(command, environ)
                if round_ and (name not in best or result[0] < best[name][0]):
                    best[name] = result
    sources, pycs = count_bytecode(env)
    print(
        f"environment: {env} ({sources} .py, {pycs} .pyc); {os.cpu_count()} cores; "
        f"Python {sys.version.split()[0]}; best of {args.repeat}"
    )
    print("| case | seconds | cpu s | files checked | .pyc compiled |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, cpu, out) in best.items():
        files, compiled = out.split() if not name.startswith("verify") else ("", "")
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {files} | {compiled} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
