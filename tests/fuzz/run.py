"""Run the fuzz targets of tests/fuzz/targets.py under atheris (coverage-guided, libFuzzer).

    python tests/fuzz/run.py all --seconds 20          # what .ci/run does
    python tests/fuzz/run.py sbom_differential --seconds 3600   # a longer run of one target
    python tests/fuzz/run.py --list

Each target runs in its own process, bounded: -max_total_time, -rss_limit_mb (an input that
makes a parser allocate without bound is a finding), -timeout per input (a hang is a finding)
and -max_len. New inputs go to a scratch corpus (not the checked-in one); a crashing input is
written to tests/fuzz/crashes/<target>-crash-<sha1> and the run exits non-zero: put it in
tests/fuzz/corpus/<target>/regression-<what> and a regression test, then fix the parser.
/work/shared/vectors (or $CHAINGUARD_VECTORS), when present, adds extra seeds to the bundle
target at run time (never copied into the repository).

Needs atheris (Python < 3.12: it has no newer wheel); the targets themselves do not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
CRASHES = HERE / "crashes"
RSS_LIMIT_MB = 2048
INPUT_TIMEOUT_S = 10


def _child(name: str, argv: list[str]) -> None:
    """Inside the fuzzing process: instrument chainguard (and the parsers it hands bytes to),
    then hand the target to libFuzzer."""
    import atheris

    sys.path[:0] = [str(TESTS), str(TESTS.parent)]
    with atheris.instrument_imports(include=["chainguard", "picklescan", "gguf"]):
        from fuzz import targets

        # the seeds import the modules a target reaches lazily, so they are instrumented too
        for path in targets.corpus_files(name):
            with contextlib.suppress(Exception):  # a crashing seed is reported by libFuzzer
                targets.TARGETS[name].run(path.read_bytes())
    target = targets.TARGETS[name]

    def one(data: bytes) -> None:
        target.run(data)

    atheris.Setup([sys.argv[0], *argv], one)
    atheris.Fuzz()


def _vector_seeds(name: str, into: Path) -> bool:
    """Extra seeds for ``name`` from the shared interop vectors, if they are here."""
    root = Path(os.environ.get("CHAINGUARD_VECTORS", "/work/shared/vectors"))
    if name != "bundle" or not root.is_dir():
        return False
    found = False
    for path in root.rglob("*"):
        if (
            path.is_file()
            and path.stat().st_size < 128 * 1024
            and (path.suffix in (".sig", ".sigstore") or path.name.endswith(".sigstore.json"))
        ):
            shutil.copyfile(path, into / f"{len(list(into.iterdir()))}-{path.name}")
            found = True
    return found


_STAT = re.compile(rb"stat::(\w+):\s*(\d+)")


def run_one(name: str, seconds: int, workers: int = 1) -> tuple[bool, dict[str, int], str]:
    from fuzz.targets import CORPUS, TARGETS

    target = TARGETS[name]
    CRASHES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"chainguard-fuzz-{name}-") as tmp:
        work, extra = Path(tmp) / "work", Path(tmp) / "vectors"
        work.mkdir()
        extra.mkdir()
        dirs = [str(work), str(CORPUS / name)]
        if _vector_seeds(name, extra):
            dirs.append(str(extra))
        argv = [
            f"-max_total_time={seconds}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-malloc_limit_mb={RSS_LIMIT_MB}",
            f"-timeout={INPUT_TIMEOUT_S}",
            f"-max_len={target.max_len}",
            f"-artifact_prefix={CRASHES}/{name}-",
            "-print_final_stats=1",
            *dirs,
        ]
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", name, "--", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=seconds * 3 + 120,
            check=False,
        )
        elapsed = time.monotonic() - started
    stats = {k.decode(): int(v) for k, v in _STAT.findall(proc.stdout)}
    stats["seconds"] = round(elapsed)
    log = proc.stdout.decode("utf-8", "replace")
    return proc.returncode == 0, stats, log


def main() -> int:
    if sys.argv[1:2] == ["--child"]:  # libFuzzer's flags pass untouched
        _child(sys.argv[2], sys.argv[4:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", help="a target name, or 'all'")
    parser.add_argument("--seconds", type=int, default=60, help="per target")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    sys.path[:0] = [str(TESTS), str(TESTS.parent)]
    from fuzz.targets import TARGETS

    if args.list or not args.target:
        for t in TARGETS.values():
            print(f"{t.name:20} {t.what}")
        return 0
    if sys.version_info >= (3, 12):
        print(
            "fuzz: skipped: atheris has no wheel for Python >= 3.12 (the corpus replay "
            "in tests/fuzz/test_fuzz_corpus.py still runs)"
        )
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz: atheris is not installed (pip install -e '.[test]')", file=sys.stderr)
        return 2
    names = list(TARGETS) if args.target == "all" else args.target.split(",")
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        print(f"fuzz: unknown target(s) {', '.join(unknown)}; --list names them", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        ok, stats, log = run_one(name, args.seconds)
        execs = stats.get("number_of_executed_units", 0)
        rate = execs // max(stats.get("seconds", 1), 1)
        peak = stats.get("peak_rss_mb", 0)
        print(
            f"fuzz {name:20} {'ok' if ok else 'FAILED':6} {execs:>9} execs "
            f"(~{rate}/s) peak {peak} MB",
            flush=True,
        )
        if not ok:
            failed.append(name)
            lines = log.splitlines()
            start = next(
                (i for i, line in enumerate(lines) if "Uncaught Python exception" in line),
                max(len(lines) - 40, 0),
            )
            print("\n".join(lines[start : start + 40]), file=sys.stderr)
    if failed:
        print(f"fuzz: findings in {', '.join(failed)}; inputs in {CRASHES}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
