#!/usr/bin/env python3
"""Hostile inputs at full size, each through the CLI in a fresh process: wall time and peak RSS.

Every input claims, or expands to, far more than it is (a 4 GiB safetensors header, a bundle
of ten million entries, a 1 GiB JSON string, JSON nested 100,000 deep, a zip bomb, a pickle of
a hundred million opcodes, a claim endpoint that never finishes ...). Each must be refused
quickly with bounded memory, as README.md's "Bounds" section states; this prints what it took.
The same inputs, smaller, are the tests of tests/adversarial/test_adv_resource_bounds.py (they
share tests/support/hostile.py).

Peak RSS is the chainguard process's own ``ru_maxrss``, from ``os.wait4`` in a tiny launcher
that forks it (so it does not start at the benchmark's RSS); worker processes are not counted.
Data goes to a temporary directory (sparse files where the input is mostly a hole; about 2 GB
of real files for the 10,000,000-component SBOM unless --quick).

    python benchmarks/bench_hostile.py            # full size
    python benchmarks/bench_hostile.py --quick    # smaller inputs, same bounds hit
    python benchmarks/bench_hostile.py --only zip # cases whose name contains "zip"
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from support import hostile as h  # noqa: E402 (the tests' own writers, one owner)

CHAINGUARD = str(Path(sys.executable).parent / "chainguard")


@dataclass
class Case:
    name: str
    what: str
    expect: str  # the documented outcome
    run: Callable[[Path], h.Measured]


def cg(*args: str | Path, cwd: Path) -> h.Measured:
    return h.measure([CHAINGUARD, *args], cwd, env={"CHAINGUARD_STATE_DIR": str(cwd / "state")})


def scan(path: Path) -> h.Measured:
    return cg("scan", path, "--format", "json", cwd=path.parent)


def in_dir(root: Path, name: str) -> Path:
    directory = root / name
    directory.mkdir()
    return directory


def release(root: Path) -> tuple[Path, Path, Path, Path]:
    """(model dir, sbom, bundle, public key): a small real release, built once."""
    model = root / "release" / "model"
    if not model.exists():
        model.mkdir(parents=True)
        (model / "config.json").write_text('{"hidden": 16}\n')
        (model / "weights.bin").write_bytes(bytes(range(256)) * 16)
        rel = model.parent
        for argv in (
            ["keygen", rel / "k"],
            ["sbom", "build", "--name", "svc", "--version", "1", "-o", rel / "sbom.json",
             "--model", model],
            ["sign", rel / "sbom.json", "--key", rel / "k.key"],
        ):  # fmt: skip
            subprocess.run([CHAINGUARD, *map(str, argv)], check=True, capture_output=True)
    rel = model.parent
    return model, rel / "sbom.json", rel / "sbom.json.sigstore.json", rel / "k.pub"


def verify(root: Path, *extra: str | Path, sbom: Path | None = None) -> h.Measured:
    model, signed_sbom, bundle, pub = release(root)
    args: list[str | Path] = ["verify", "model", model, "--key", pub, "--deployment", "svc"]
    args += ["--sbom", sbom or signed_sbom, "--format", "json"]
    if not any(str(e) == "--signature" for e in extra):
        args += ["--signature", bundle]
    return cg(*args, *extra, cwd=root)


def cases(quick: bool) -> list[Case]:
    scale = 10 if quick else 1
    deep = 100_000

    def safetensors_4gib(root: Path) -> h.Measured:
        return scan(h.safetensors_claiming(in_dir(root, "st") / "model.safetensors"))

    def safetensors_objects(root: Path) -> h.Measured:
        body = b'{"a": [' + b"{}," * (33_000_000 // scale) + b"{}]}"
        path = in_dir(root, "sto") / "model.safetensors"
        path.write_bytes(struct.pack("<Q", len(body)) + body)
        return scan(path)

    def gguf_counts(root: Path) -> h.Measured:
        return scan(h.gguf_claiming_counts(in_dir(root, "gc") / "model.gguf"))

    def gguf_array(root: Path) -> h.Measured:
        return scan(h.gguf_claiming_array(in_dir(root, "ga") / "model.gguf"))

    def gguf_strings(root: Path) -> h.Measured:
        key, n = b"tokenizer.ggml.tokens", 1_000_000 // scale
        path = in_dir(root, "gs") / "model.gguf"
        with path.open("wb") as f:
            f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key)
            f.write(struct.pack("<IIQ", 9, 8, n) + struct.pack("<Q", 0) * n)
        return scan(path)

    def pickle_ops(root: Path) -> h.Measured:
        return scan(h.pickle_ops(in_dir(root, "po") / "model.pkl", 100_000_000 // scale))

    def pickle_no_stop(root: Path) -> h.Measured:
        path = in_dir(root, "pn") / "model.pkl"
        return scan(h.pickle_ops(path, 100_000_000 // scale, stop=False))

    def zip_bomb(root: Path) -> h.Measured:
        return scan(h.torch_zip_bomb(in_dir(root, "zb") / "model.pt", h.GIB // scale))

    def zip_opcodes(root: Path) -> h.Measured:
        data = h.PICKLE_HEAD + b"N0" * (50_000_000 // scale) + b"N."
        return scan(h.torch_zip_of(in_dir(root, "zo") / "model.pt", data))

    def zip_members(root: Path) -> h.Measured:
        return scan(h.zip_members(in_dir(root, "zm") / "model.zip", 99_000 // scale))

    def bundle_10m(root: Path) -> h.Measured:
        bundle = h.sparse(
            root / "huge.sigstore.json",
            b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "dsseEnvelope": '
            b'{"payloadType": "application/vnd.in-toto+json", "payload": "',
            3_400_000_000,
            b'"}}',
        )
        return verify(root, "--signature", bundle)

    def sbom_10m(root: Path) -> h.Measured:
        sbom = h.sbom_components(root / "many.cdx.json", 10_000_000 // scale)
        try:
            return verify(root, sbom=sbom)
        finally:
            sbom.unlink()

    def sbom_string(root: Path) -> h.Measured:
        model, _, _, _ = release(root)
        key = model.parent / "k.key"
        return cg("sign", h.json_string_file(root / "s.cdx.json", h.GIB + 1), "--key", key,
                  cwd=root)  # fmt: skip

    def bundle_deep(root: Path) -> h.Measured:
        path = root / "deep.sigstore.json"
        path.write_bytes(h.deep_json(deep))
        return verify(root, "--signature", path)

    def claim_string(root: Path) -> h.Measured:
        return verify(root, "--claim", h.json_string_file(root / "claim.json", h.GIB))

    def claim_deep(root: Path) -> h.Measured:
        path = root / "claim-deep.json"
        path.write_bytes(h.deep_json(deep, key="deployment"))
        return verify(root, "--claim", path)

    def config_deep(root: Path) -> h.Measured:
        path = root / "deep.toml"
        path.write_bytes(h.deep_toml(deep, "sbom"))
        path.chmod(0o600)
        return cg("verify", "deployment", "--config", path, cwd=root)

    def config_huge(root: Path) -> h.Measured:
        path = h.sparse(root / "huge.toml", b"# ", h.GIB)
        path.chmod(0o600)
        return cg("verify", "deployment", "--config", path, cwd=root)

    def lock_deep(root: Path) -> h.Measured:
        _, sbom, _, pub = release(root)
        path = root / "uv.lock"
        path.write_bytes(b"version = 1\n" + h.deep_toml(deep, "extra"))
        return cg("verify", "deps", path, "--sbom", sbom, "--key", pub, cwd=root)

    def requirements_huge(root: Path) -> h.Measured:
        _, sbom, _, pub = release(root)
        path = h.sparse(root / "requirements.txt", b"numpy==2.1.3\n", h.GIB)
        return cg("verify", "deps", path, "--sbom", sbom, "--key", pub, cwd=root)

    def claim_endpoint(path: str) -> Callable[[Path], h.Measured]:
        def run(root: Path) -> h.Measured:
            from support.claim_server import claim_server

            with claim_server() as server:
                return verify(root, "--claim", server.url(path), "--claim-timeout", "1")

        return run

    return [
        Case("safetensors-4gib-header", "header length claims 4 GiB", "malformed-artifact",
             safetensors_4gib),
        Case("safetensors-empty-objects", f"{33 // scale}M empty objects in a "
             f"{99 // scale} MB header", "malformed-artifact", safetensors_objects),
        Case("gguf-counts", "2^62 tensors and keys claimed", "malformed-artifact", gguf_counts),
        Case("gguf-array", "2^40 strings claimed", "malformed-artifact", gguf_array),
        Case("gguf-strings", f"{1000 // scale}k metadata strings (valid)", "read (exit 0)",
             gguf_strings),
        Case("pickle-opcodes", f"{100 // scale}M opcodes", "unsafe-pickle", pickle_ops),
        Case("pickle-no-stop", f"{100 // scale}M opcodes, no STOP", "unsafe-pickle",
             pickle_no_stop),
        Case("zip-bomb", f"data.pkl inflating to {1024 // scale} MiB", "unsafe-pickle",
             zip_bomb),
        Case("zip-opcodes", f"data.pkl of {50 // scale}M opcodes, deflated", "unsafe-pickle",
             zip_opcodes),
        Case("zip-members", f"{99_000 // scale} pickle members", "unsafe-pickle", zip_members),
        Case("bundle-10m-entries", "3.4 GB bundle (sparse)", "exit 3", bundle_10m),
        Case("sbom-10m-components", f"{10 // scale}M components beside a valid signature",
             "sbom-mismatch, unparsed", sbom_10m),
        Case("sbom-1gib-string", "1 GiB + 1 JSON string (sparse), sign", "exit 3", sbom_string),
        Case("bundle-deep", "[ nested 100,000 deep", "exit 3", bundle_deep),
        Case("claim-1gib-string", "claim file of 1 GiB (sparse)", "claim-unavailable",
             claim_string),
        Case("claim-deep", "claim nested 100,000 deep", "claim-unavailable", claim_deep),
        Case("claim-endless", "endless body", "claim-unavailable", claim_endpoint("/endless")),
        Case("claim-drip-headers", "a header byte every 50 ms, timeout 1 s",
             "claim-unavailable at 3 s", claim_endpoint("/drip-headers")),
        Case("claim-drip-body", "a body byte every 50 ms, timeout 1 s",
             "claim-unavailable at 3 s", claim_endpoint("/drip-body")),
        Case("config-deep", "chainguard.toml nested 100,000 deep", "exit 3", config_deep),
        Case("config-1gib", "chainguard.toml of 1 GiB (sparse)", "exit 3", config_huge),
        Case("lock-deep", "uv.lock nested 100,000 deep", "exit 3", lock_deep),
        Case("requirements-1gib", "requirements.txt of 1 GiB (sparse)", "exit 3",
             requirements_huge),
    ]  # fmt: skip


def outcome(measured: h.Measured) -> str:
    """What the run ended with: the exit code and the first finding's rule or the error line."""
    detail = ""
    try:
        findings = json.loads(measured.stdout).get("findings", [])
        detail = ", ".join(sorted({f["rule"] for f in findings}))
    except ValueError:
        lines = measured.stderr.strip().splitlines()
        # "chainguard: error: PATH: what is wrong": the path is the benchmark's own
        detail = lines[-1].split(": ", 3)[-1][:60] if lines else ""
    if "Traceback" in measured.stderr:
        detail = "TRACEBACK " + detail
    return f"exit {measured.code}: {detail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a tenth)")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    root = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    try:
        print(f"{'case':<28}{'input':<46}{'s':>7}{'RSS MiB':>9}  outcome")
        for case in cases(args.quick):
            if args.only not in case.name:
                continue
            work = root / case.name
            work.mkdir()
            (work / "release").symlink_to(root / "release", target_is_directory=True)
            (root / "release").mkdir(exist_ok=True)
            measured = case.run(work)
            shutil.rmtree(work, ignore_errors=True)
            row = {
                "case": case.name,
                "input": case.what,
                "expect": case.expect,
                "seconds": round(measured.seconds, 2),
                "rss_mib": round(measured.rss_mib, 1),
                "outcome": outcome(measured),
            }
            rows.append(row)
            print(
                f"{case.name:<28}{case.what[:45]:<46}{measured.seconds:>7.2f}"
                f"{measured.rss_mib:>9.1f}  {row['outcome']}",
                flush=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
