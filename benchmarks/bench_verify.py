#!/usr/bin/env python3
"""Side-by-side verify benchmark: chainguard vs the hashlib floor vs OpenSSF model_signing.

One run measures, on the same files with a warm page cache:

  case multi   4 x 256 MiB safetensors shards + a few small JSON files
  case single  one 1 GiB safetensors file

  floor (threads)  fresh ``python -I -S``: hashlib SHA-256 loop, a thread per core, a file per task
  floor (procs)    one fresh ``python -I -S`` per core, each hashing its share of the files
  chainguard       ``chainguard verify model DIR --sbom SBOM --key PUB`` (SBOM built, signed once)
  model_signing    ``model_signing verify key DIR --signature SIG --public_key PUB`` (signed once)

Each subprocess is timed (wall clock, CPU) and its peak RSS taken from ``os.wait4`` in a small
launcher process; after one untimed warm-up run, each measurement is repeated (best time kept)
with the tools interleaved, so background load hits them alike. The floor is the faster of the two
floor variants. ``chainguard --version`` start-up is measured against ``python -c pass``.
``--rss-scaling`` instead verifies a 1 GiB and an 8 GiB single-file model (sparse files: fine for
memory, not for speed) and reports chainguard's peak RSS for each. Method and results:
benchmarks/README.md, "Models". Exit status 1 when chainguard misses a target.

Usage (from the repository, with the venv active):

    python benchmarks/bench_verify.py                 # full sizes, ~2 GiB of data
    python benchmarks/bench_verify.py --rss-scaling   # 1 GiB vs 8 GiB peak RSS
    python benchmarks/bench_verify.py --quick         # small sizes, a sanity run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

MIB = 1024 * 1024
HERE = Path(__file__).resolve().parent
GEN_CHUNK = 8 * MIB  # data generation writes this much at a time: constant memory

# Targets from the issue: chainguard time <= factor x floor / model_signing, per case.
TARGETS: dict[str, dict[str, float]] = {
    "multi": {"floor": 1.25, "model_signing": 0.7},
    "single": {"floor": 0.8, "model_signing": 0.5},
}
RSS_LIMIT_MB = 100.0
VERSION_LIMIT_S = 0.2
RSS_FLAT_TOLERANCE_MB = 10.0  # "flat": the 8 GiB peak may exceed the 1 GiB peak by at most this

# The floor: the plain loop anyone would write, run with no site-packages (-I -S).
FLOOR_THREADS = """
import hashlib, os, sys
from concurrent.futures import ThreadPoolExecutor
def digest(path):
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()
paths = sorted(sys.argv[1:], key=os.path.getsize, reverse=True)
with ThreadPoolExecutor(os.cpu_count()) as pool:
    for d, p in zip(pool.map(digest, paths), paths):
        print(d, p)
"""

FLOOR_PROC = """
import hashlib, sys
buf = bytearray(1 << 20)
view = memoryview(buf)
for path in sys.argv[1:]:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    print(h.hexdigest(), path)
"""

SMALL_JSON = {
    "config.json": {
        "architectures": ["BenchForCausalLM"],
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "torch_dtype": "float32",
    },
    "generation_config.json": {"do_sample": True, "temperature": 0.7, "top_p": 0.9},
    "tokenizer_config.json": {"model_max_length": 4096, "padding_side": "left"},
    "special_tokens_map.json": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
}


# ------------------------------------------------------------------------------------ data


def write_safetensors(
    path: Path, payload: int, *, tensors: int = 4, first_layer: int = 0, sparse: bool = False
) -> list[str]:
    """A valid safetensors file of ``payload`` bytes of F32 tensors, written in bounded chunks.

    Random bytes, so no filesystem or cache trick can shortcut the reads; ``sparse`` leaves the
    payload as a hole instead (only for the memory check, where speed does not matter).
    """
    if payload % (4 * tensors):
        raise SystemExit(f"payload {payload} is not a multiple of {4 * tensors}")
    header: dict[str, object] = {"__metadata__": {"format": "pt", "generator": "bench_verify"}}
    per = payload // tensors
    names = [f"model.layers.{first_layer + i}.weight" for i in range(tensors)]
    for i, name in enumerate(names):
        header[name] = {
            "dtype": "F32",
            "shape": [per // 4],
            "data_offsets": [i * per, (i + 1) * per],
        }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes with spaces
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        if sparse:
            f.truncate(8 + len(raw) + payload)
        else:
            left = payload
            while left:
                n = min(left, GEN_CHUNK)
                f.write(os.urandom(n))
                left -= n
    tmp.replace(path)
    return names


def make_multi(root: Path, file_mib: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    weight_map: dict[str, str] = {}
    for i in range(4):
        name = f"model-{i + 1:05d}-of-00004.safetensors"
        for tensor in write_safetensors(root / name, file_mib * MIB, first_layer=4 * i):
            weight_map[tensor] = name
    index = {"metadata": {"total_size": 4 * file_mib * MIB}, "weight_map": weight_map}
    for name, content in {**SMALL_JSON, "model.safetensors.index.json": index}.items():
        (root / name).write_text(json.dumps(content, indent=2) + "\n")


def make_single(root: Path, mib: int, *, sparse: bool = False) -> None:
    root.mkdir(parents=True, exist_ok=True)
    write_safetensors(root / "model.safetensors", mib * MIB, sparse=sparse)


def model_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def warm(root: Path) -> int:
    """Read every file once so each tool starts from the same warm page cache."""
    buf = bytearray(GEN_CHUNK)
    total = 0
    for p in model_files(root):
        with open(p, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                total += n
    return total


def prepare_data(data_dir: Path, specs: dict[str, tuple[str, int]], sparse: bool) -> None:
    """Generate (or reuse, when the stamp matches) each model directory."""
    for name, (kind, mib) in specs.items():
        root = data_dir / name
        stamp = data_dir / f"{name}.stamp.json"
        want = {"kind": kind, "mib": mib, "sparse": sparse, "format": 1}
        if root.is_dir() and stamp.is_file() and json.loads(stamp.read_text()) == want:
            continue
        shutil.rmtree(root, ignore_errors=True)
        stamp.write_text("{}")  # marks the directory as ours even if generation is interrupted
        started = time.perf_counter()
        if kind == "multi":
            make_multi(root, mib)
        else:
            make_single(root, mib, sparse=sparse)
        stamp.write_text(json.dumps(want))
        log(f"generated {name}/ ({kind}, {mib} MiB) in {time.perf_counter() - started:.1f} s")


# ----------------------------------------------------------------------------------- tools


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def tool_command(name: str) -> list[str]:
    """The console script next to this interpreter (the venv's), else on PATH, else ``-m``."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", name]


def tool_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CHAINGUARD_KEY_PASSWORD", None)  # keys here are unencrypted
    env["NO_COLOR"] = "1"
    # An installed package has bytecode (pip compiles it at install); an editable checkout run
    # with PYTHONDONTWRITEBYTECODE=1 (as some shells set) recompiles chainguard's modules on
    # every start (~10 ms). Let the warm-up run write __pycache__ (gitignored) as usual.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # verify records rollback state; keep it out of the user's ~/.local/state.
    env["CHAINGUARD_STATE_DIR"] = str(work / "state")
    return env


def run_checked(argv: Sequence[str], cwd: Path) -> None:
    proc = subprocess.run(
        list(argv), cwd=cwd, env=tool_env(cwd), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"setup step failed (exit {proc.returncode}): {' '.join(argv)}\n{proc.stderr[-2000:]}"
        )


def write_ec_key(private: Path, public: Path) -> None:
    """An unencrypted P-256 key pair (PEM) for model_signing's `key` method."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


@dataclass(frozen=True, slots=True)
class Signed:
    """Paths each tool's verify command needs for one model directory."""

    root: Path
    sbom: Path
    cg_pub: Path
    ms_sig: Path
    ms_pub: Path


def sign_all(data_dir: Path, names: Sequence[str], with_model_signing: bool) -> dict[str, Signed]:
    """Sign every model once with each tool, the independent steps in parallel.

    chainguard: one SBOM describing all the models (``verify`` picks the component named like
    the directory), signed once. model_signing: one signature per model directory.
    """
    started = time.perf_counter()
    keys = data_dir / "keys"
    shutil.rmtree(keys, ignore_errors=True)
    keys.mkdir()
    cg = tool_command("chainguard")
    ms = tool_command("model_signing")
    run_checked([*cg, "keygen", str(keys / "chainguard")], data_dir)
    write_ec_key(keys / "model_signing.key", keys / "model_signing.pub")
    sbom = data_dir / f"{'+'.join(names)}.cdx.json"
    build = [*cg, "sbom", "build", "--name", "bench", "--version", "1", "-o", str(sbom)]
    for name in names:
        build += ["--model", str(data_dir / name)]
    chains: list[list[list[str]]] = [
        [build, [*cg, "sign", str(sbom), "--key", str(keys / "chainguard.key")]]
    ]
    signed: dict[str, Signed] = {}
    for name in names:
        root = data_dir / name
        ms_sig = data_dir / f"{name}.model_signing.sig"
        if with_model_signing:
            ms_key = str(keys / "model_signing.key")
            sign = [*ms, "sign", "key", str(root), "--signature", str(ms_sig)]
            chains.append([[*sign, "--private_key", ms_key]])
        cg_pub, ms_pub = keys / "chainguard.pub", keys / "model_signing.pub"
        signed[name] = Signed(root, sbom, cg_pub, ms_sig, ms_pub)
    for stale in (sbom, Path(f"{sbom}.sig"), *(s.ms_sig for s in signed.values())):
        stale.unlink(missing_ok=True)
    errors: list[BaseException] = []

    def run_chain(chain: list[list[str]]) -> None:
        try:
            for argv in chain:
                run_checked(argv, data_dir)
        except BaseException as e:  # surfaced below, on the main thread
            errors.append(e)

    threads = [threading.Thread(target=run_chain, args=(c,)) for c in chains]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    log(f"signed {', '.join(names)} once with each tool in {time.perf_counter() - started:.1f} s")
    return signed


# ----------------------------------------------------------------------------- measurement


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float  # wall clock
    cpu: float  # user + system CPU seconds of the tool's processes
    rss_kib: int


# Peak RSS comes from wait4, and a child's ru_maxrss starts at the RSS of the process it was
# forked from (the mm high-water mark survives exec). This script holds tens of MB (imports,
# buffers), so it does not fork the tools itself: a fresh ``python -I -S`` launcher (~10 MB,
# less than any Python tool) forks and times them and reports wall time and the peak RSS.
LAUNCHER = """
import json, os, sys, time
commands = json.loads(sys.argv[1])
null = os.open(os.devnull, os.O_WRONLY)
started = time.perf_counter()
pids = []
for argv in commands:
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(null, 1)
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    pids.append(pid)
rss, cpu, codes = 0, 0.0, []
for pid in pids:
    _, status, usage = os.wait4(pid, 0)
    rss = max(rss, usage.ru_maxrss)
    cpu += usage.ru_utime + usage.ru_stime
    codes.append(os.waitstatus_to_exitcode(status))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "cpu": cpu, "rss_kib": rss, "codes": codes}))
"""


def measure(commands: Sequence[Sequence[str]], cwd: Path) -> Sample:
    """Start the commands together; wall time until the last exits, the largest peak RSS."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, json.dumps([list(c) for c in commands])],
            cwd=cwd,
            env=tool_env(cwd),
            stdout=subprocess.PIPE,
            stderr=err,
            check=False,
        )
        err.seek(0)
        detail = err.read().decode(errors="replace")[-2000:]
    if proc.returncode != 0:
        raise SystemExit(f"benchmark launcher failed (exit {proc.returncode}):\n{detail}")
    result = json.loads(proc.stdout)
    for argv, code in zip(commands, result["codes"], strict=True):
        if code != 0:
            raise SystemExit(f"benchmark command failed (exit {code}): {' '.join(argv)}\n{detail}")
    return Sample(result["seconds"], result["cpu"], result["rss_kib"])


def split_shares(files: Sequence[Path], workers: int) -> list[list[Path]]:
    """Largest-first greedy split of files over workers by size (the floor's best static plan)."""
    shares: list[list[Path]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for p in sorted(files, key=lambda f: f.stat().st_size, reverse=True):
        i = loads.index(min(loads))
        shares[i].append(p)
        loads[i] += p.stat().st_size
    return [s for s in shares if s]


def commands_for(
    signed: Signed, cores: int, with_model_signing: bool
) -> dict[str, list[list[str]]]:
    files = model_files(signed.root)
    floor_py = [sys.executable, "-I", "-S", "-c"]
    cmds: dict[str, list[list[str]]] = {
        "floor (threads)": [[*floor_py, FLOOR_THREADS, *map(str, files)]],
        "floor (procs)": [
            [*floor_py, FLOOR_PROC, *map(str, share)] for share in split_shares(files, cores)
        ],
        "chainguard": [
            [
                *tool_command("chainguard"),
                "verify",
                "model",
                str(signed.root),
                "--sbom",
                str(signed.sbom),
                "--key",
                str(signed.cg_pub),
            ]
        ],
    }
    if with_model_signing:
        cmds["model_signing"] = [
            [
                *tool_command("model_signing"),
                "verify",
                "key",
                str(signed.root),
                "--signature",
                str(signed.ms_sig),
                "--public_key",
                str(signed.ms_pub),
            ]
        ]
    return cmds


def best_of(
    commands: dict[str, list[list[str]]], repeat: int, cwd: Path, warmup: int = 1
) -> dict[str, tuple[Sample, Sample]]:
    """Round-robin the tools ``repeat`` times; per tool (fastest sample, largest RSS sample).

    ``warmup`` untimed runs per tool first: they fill the bytecode cache and page in the
    tool's own files, as on a host that runs it routinely.
    """
    for _ in range(warmup):
        for cmd in commands.values():
            measure(cmd, cwd)
    samples: dict[str, list[Sample]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            samples[name].append(measure(cmd, cwd))
    return {
        name: (min(s, key=lambda x: x.seconds), max(s, key=lambda x: x.rss_kib))
        for name, s in samples.items()
    }


# -------------------------------------------------------------------------------- reporting


@dataclass(slots=True)
class Row:
    case: str
    tool: str
    seconds: float
    cpu: float
    rss_mb: float
    vs_floor: float | None = None
    vs_model_signing: float | None = None
    checks: dict[str, bool] = field(default_factory=dict)


def mb(kib: int) -> float:
    return kib * 1024 / 1e6


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def render(rows: Sequence[Row]) -> str:
    head = ["case", "tool", "seconds", "cpu s", "vs floor", "vs model_signing", "peak RSS MB"]
    head.append("targets")
    lines = [
        [
            r.case,
            r.tool,
            f"{r.seconds:.3f}",
            f"{r.cpu:.2f}",
            fmt_ratio(r.vs_floor),
            fmt_ratio(r.vs_model_signing),
            f"{r.rss_mb:.1f}",
            " ".join(f"{k}:{'PASS' if ok else 'FAIL'}" for k, ok in r.checks.items()) or "-",
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    out = []
    for i, line in enumerate([head, *lines]):
        out.append("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def compare_rows(
    case: str, results: dict[str, tuple[Sample, Sample]], with_model_signing: bool
) -> list[Row]:
    floor = min(results["floor (threads)"][0].seconds, results["floor (procs)"][0].seconds)
    ms = results["model_signing"][0].seconds if with_model_signing else None
    rows = []
    for tool, (fast, big) in results.items():
        row = Row(case, tool, fast.seconds, fast.cpu, mb(big.rss_kib))
        row.vs_floor = fast.seconds / floor
        row.vs_model_signing = fast.seconds / ms if ms else None
        if tool == "chainguard":
            target = TARGETS[case]
            row.checks[f"<={target['floor']}x floor"] = row.vs_floor <= target["floor"]
            if row.vs_model_signing is not None:
                limit = target["model_signing"]
                row.checks[f"<={limit}x ms"] = row.vs_model_signing <= limit
            row.checks[f"RSS<{RSS_LIMIT_MB:.0f}MB"] = row.rss_mb < RSS_LIMIT_MB
        rows.append(row)
    return rows


def version_rows(repeat: int, cwd: Path, warmup: int) -> list[Row]:
    """Start-up: ``chainguard --version`` against a bare interpreter, best of ``repeat``."""
    cmds = {
        "python -c pass": [[sys.executable, "-c", "pass"]],
        "chainguard --version": [[*tool_command("chainguard"), "--version"]],
    }
    results = best_of(cmds, repeat, cwd, warmup)
    base = results["python -c pass"][0].seconds
    rows = []
    for tool, (fast, big) in results.items():
        row = Row("startup", tool, fast.seconds, fast.cpu, mb(big.rss_kib))
        row.vs_floor = fast.seconds / base
        if tool == "chainguard --version":
            row.checks[f"<={VERSION_LIMIT_S}s"] = fast.seconds <= VERSION_LIMIT_S
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------- modes


def run_compare(args: argparse.Namespace, data_dir: Path) -> list[Row]:
    with_ms = (
        shutil.which("model_signing") is not None
        or Path(sys.executable).with_name("model_signing").exists()
    )
    if not with_ms:
        log("model_signing not installed: its rows and ratios are left out")
    specs = {"multi": ("multi", args.file_mib), "single": ("single", args.single_mib)}
    prepare_data(data_dir, specs, sparse=False)
    signed = sign_all(data_dir, list(specs), with_ms)
    cores = os.cpu_count() or 1
    rows: list[Row] = []
    for case in specs:
        warmed = warm(signed[case].root)
        log(f"{case}: page cache warmed ({warmed / MIB:,.0f} MiB read once); measuring")
        cmds = commands_for(signed[case], cores, with_ms)
        results = best_of(cmds, args.repeat, data_dir, args.warmup)
        rows += compare_rows(case, results, with_ms)
    rows += version_rows(max(args.repeat, args.version_runs), data_dir, args.warmup)
    return rows


def run_rss_scaling(args: argparse.Namespace, data_dir: Path) -> list[Row]:
    small, large = (128, 1024) if args.quick else (1024, 8192)
    specs = {f"sparse-{small}m": ("single", small), f"sparse-{large}m": ("single", large)}
    prepare_data(data_dir, specs, sparse=True)
    signed = sign_all(data_dir, list(specs), False)
    rows = []
    for case in specs:
        warm(signed[case].root)
        cmd = commands_for(signed[case], os.cpu_count() or 1, False)["chainguard"]
        fast, big = best_of({"chainguard": cmd}, args.repeat, data_dir, args.warmup)["chainguard"]
        rows.append(Row(case, "chainguard", fast.seconds, fast.cpu, mb(big.rss_kib)))
    low, high = rows
    for r in rows:
        r.checks[f"RSS<{RSS_LIMIT_MB:.0f}MB"] = r.rss_mb < RSS_LIMIT_MB
    high.checks[f"flat(+<={RSS_FLAT_TOLERANCE_MB:.0f}MB)"] = (
        high.rss_mb - low.rss_mb <= RSS_FLAT_TOLERANCE_MB
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--quick", action="store_true", help="small sizes: a fast sanity run")
    parser.add_argument("--keep", action="store_true", help="keep generated data for next time")
    parser.add_argument("--rss-scaling", action="store_true", help="1 GiB vs 8 GiB peak RSS")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--version-runs", type=int, default=5, help="runs of --version (best)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per tool first")
    parser.add_argument("--file-mib", type=int, help="size of each of the 4 shards (default 256)")
    parser.add_argument("--single-mib", type=int, help="size of the single file (default 1024)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    args.file_mib = args.file_mib or (32 if args.quick else 256)
    args.single_mib = args.single_mib or (128 if args.quick else 1024)
    data_dir: Path = args.data_dir.resolve()
    created = not data_dir.exists()
    # Everything this script writes lives in its own subdirectory, removed unless --keep.
    work = data_dir / "bench_verify"
    work.mkdir(parents=True, exist_ok=True)
    info = machine()
    try:
        rows = run_rss_scaling(args, work) if args.rss_scaling else run_compare(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            if created:
                with contextlib.suppress(OSError):
                    data_dir.rmdir()
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"machine: {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}; load average {info['loadavg_start']} -> {info['loadavg_end']}"
    )
    if not args.rss_scaling:
        print(
            f"sizes: multi = 4 x {args.file_mib} MiB + 5 JSON files; single = {args.single_mib} MiB"
        )
    if args.rss_scaling:
        print(f"best of {args.repeat} runs; sparse files (all zeros): valid for RSS only\n")
    else:
        print(f"best of {args.repeat} runs, warm page cache; floor = faster of the floor rows\n")
    print(render(rows))
    if args.json:
        results = {"machine": info, "rows": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    failed = [r for r in rows if not all(r.checks.values())]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
