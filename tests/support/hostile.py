"""Hostile inputs that are large in what they claim or expand to, small on disk: written by the
resource-bound tests (tests/adversarial/test_adv_resource_bounds.py) and measured by
benchmarks/bench_hostile.py. Large ones are sparse files or are written piece by piece, never
held in memory."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GIB = 1 << 30
PICKLE_HEAD = b"\x80\x02"


def sparse(path: Path, head: bytes, size: int, tail: bytes = b"") -> Path:
    """``head``, then a hole (zero bytes, no disk blocks) up to ``size``, then ``tail``."""
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size - len(tail))
        f.seek(size - len(tail))
        f.write(tail)
    return path


def safetensors_claiming(path: Path, header_bytes: int = 4 * GIB) -> Path:
    """A safetensors file whose 8-byte prefix claims a ``header_bytes`` JSON header."""
    path.write_bytes(struct.pack("<Q", header_bytes) + b'{"__metadata__": {}}')
    return path


def gguf_claiming_counts(path: Path) -> Path:
    """A GGUF v3 header claiming 2**62 tensors and 2**62 metadata keys."""
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1 << 62, 1 << 62))
    return path


def gguf_claiming_string(path: Path) -> Path:
    """One metadata key whose name claims to be 2**62 bytes long."""
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 62) + b"k")
    return path


def gguf_claiming_array(path: Path) -> Path:
    """One metadata key holding an array of 2**40 strings (type 9 of type 8)."""
    key = b"general.tags"
    path.write_bytes(
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + struct.pack("<Q", len(key))
        + key
        + struct.pack("<IIQ", 9, 8, 1 << 40)
        + struct.pack("<Q", 1)
        + b"a"
    )
    return path


def pickle_ops(path: Path, ops: int, *, stop: bool = True) -> Path:
    """A pickle of ``ops`` opcodes doing nothing (NONE, POP), written in pieces; without
    ``stop`` it never ends (no STOP)."""
    piece = b"N0" * 65536
    with path.open("wb") as f:
        f.write(PICKLE_HEAD)
        left = ops // 2
        while left > 0:
            n = min(left, 65536)
            f.write(piece[: 2 * n])
            left -= n
        if stop:
            f.write(b"N.")
    return path


def torch_zip_bomb(path: Path, inflated: int) -> Path:
    """A PyTorch-style zip whose ``archive/data.pkl`` inflates to ``inflated`` zero bytes
    (deflate: ~1,000 to 1), compressed piece by piece."""
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("archive/version", b"3\n")
        with z.open("archive/data.pkl", "w", force_zip64=True) as member:
            left = inflated
            while left > 0:
                member.write(zeros[: min(left, len(zeros))])
                left -= len(zeros)
    return path


def torch_zip_of(path: Path, data_pkl: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/version", b"3\n")
        z.writestr("archive/data.pkl", data_pkl)
    return path


def zip_members(path: Path, members: int) -> Path:
    """A zip of ``members`` tiny pickles (each one a fresh analysis)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(members):
            z.writestr(f"m{i}.pkl", PICKLE_HEAD + b"N.")
    return path


def deep_json(depth: int, *, key: str | None = None) -> bytes:
    """``depth`` nested arrays, inside ``{key: ...}`` when a key is given."""
    nested = b"[" * depth + b"]" * depth
    return b'{"%s": %s}' % (key.encode(), nested) if key is not None else nested


def deep_toml(depth: int, key: str = "x") -> bytes:
    return f"{key} = ".encode() + b"[" * depth + b"]" * depth + b"\n"


def json_string_file(path: Path, size: int, *, prefix: str = '{"a": "') -> Path:
    """A JSON document of ``size`` bytes that is one string (of zero bytes: a sparse hole)."""
    return sparse(path, prefix.encode(), size, b'"}')


def sbom_components(path: Path, components: int) -> Path:
    """A CycloneDX document listing ``components`` file components, written piece by piece
    (about 190 bytes a component, as small as a file entry gets)."""
    with path.open("w") as f:
        f.write('{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": [')
        for start in range(0, components, 10_000):
            f.write(
                ",".join(
                    f'{{"type": "file", "name": "d/{i}", "hashes": '
                    f'[{{"alg": "SHA-256", "content": "{i:064x}"}}]}}'
                    for i in range(start, min(start + 10_000, components))
                )
                + ("," if start + 10_000 < components else "")
            )
        f.write("]}")
    return path


# --- running the CLI on them, measured -----------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """A finished chainguard process: what it said, its wall time and its peak RSS."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    rss_mib: float  # the process's own peak (ru_maxrss), not its worker processes'


# Forked from a tiny launcher, not from the test process: a child's ru_maxrss starts at the
# RSS of the process it was forked from.
_LAUNCHER = (
    "import os, sys, time\n"
    "t = time.perf_counter()\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "sys.stderr.write(f'\\n@@measured {os.waitstatus_to_exitcode(status)} "
    "{time.perf_counter() - t} {usage.ru_maxrss}\\n')\n"
)


def measure(
    argv: Sequence[str | Path],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Measured:
    """Run ``argv`` (argv[0] a path to an executable) and measure it."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GITHUB_STEP_SUMMARY", None)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _LAUNCHER, *(str(a) for a in argv)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    stderr, _, tail = proc.stderr.rpartition("\n@@measured ")
    code, seconds, rss_kib = tail.split()
    return Measured(int(code), proc.stdout, stderr, float(seconds), int(rss_kib) / 1024)
