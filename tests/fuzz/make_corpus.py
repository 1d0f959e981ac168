"""Regenerate the seed corpora in tests/fuzz/corpus/<target>/ from the repository's fixtures.

    python tests/fuzz/make_corpus.py

Seeds are small valid inputs (and a few near misses) built from the same fixtures the tests
use; the fuzzer mutates from there. Files named ``regression-*`` are inputs the fuzzer found
(they crashed a parser once): this script never touches them.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]

from fuzz.targets import CORPUS, FIXTURES  # noqa: E402

Seeds = Iterator[tuple[str, bytes]]


def _statement(sbom: bytes, *, predicate_type: str = "https://cyclonedx.org/bom") -> bytes:
    from chainguard.models import Subject
    from chainguard.trust.statement import build_statement

    subject = Subject("sbom.cdx.json", (("sha256", "ab" * 32),))
    return build_statement([subject], predicate_type, json.loads(sbom))


def sbom_read() -> Seeds:
    from support import sbom_inputs

    yield "tiny-bert.cdx.json", (FIXTURES / "release" / "tiny-bert.cdx.json").read_bytes()
    yield "full.cdx.json", sbom_inputs.build()
    yield "model-only.cdx.json", sbom_inputs.build(components=(sbom_inputs.MODEL,))


def sbom_differential() -> Seeds:
    from support import sbom_inputs

    tiny = (FIXTURES / "release" / "tiny-bert.cdx.json").read_bytes()
    yield "tiny-bert.statement.json", _statement(tiny)
    yield "full.statement.json", _statement(sbom_inputs.build())
    yield (
        "dataset.statement.json",
        _statement(sbom_inputs.build(components=(sbom_inputs.DATASET,), dependencies=())),
    )
    yield "other-predicate.statement.json", _statement(tiny, predicate_type="https://x.example/p")


def bundle() -> Seeds:
    from chainguard.api.attestation import sign_bundle
    from chainguard.trust.keys import load_private_key

    yield "tiny-bert.sig", (FIXTURES / "release" / "tiny-bert.cdx.json.sig").read_bytes()
    key = load_private_key(FIXTURES / "keys" / "release.key", None)
    yield (
        "small.sigstore.json",
        sign_bundle(
            _statement((FIXTURES / "release" / "tiny-bert.cdx.json").read_bytes()),
            "application/vnd.in-toto+json",
            key,
        ),
    )


def bundle_stream() -> Seeds:
    from support import sbom_inputs

    from chainguard.api.attestation import sign_bundle
    from chainguard.trust.keys import load_private_key

    key = load_private_key(FIXTURES / "keys" / "release.key", None)
    tiny = (FIXTURES / "release" / "tiny-bert.cdx.json").read_bytes()
    for name, sbom in (("tiny-bert", tiny), ("full", sbom_inputs.build())):
        signed = sign_bundle(_statement(sbom), "application/vnd.in-toto+json", key)
        yield f"{name}.sigstore.json", signed
    # the same bundle laid out otherwise (pretty-printed): still streamed
    yield "full-indented.sigstore.json", json.dumps(json.loads(signed), indent=2).encode()


def config() -> Seeds:
    yield "chainguard.toml", (FIXTURES.parent / "chainguard.toml").read_bytes()
    yield (
        "attest.toml",
        (
            b'deployment = "svc"\n[trust]\nkeys = ["k.pub"]\nthreshold = 1\n'
            b'[attest]\nfull_rehash_every = "24h"\ndataset_sample = 0.1\n'
        ),
    )


def requirements() -> Seeds:
    for name in ("requirements.txt", "requirements-dev.txt", "constraints.txt"):
        yield name, (FIXTURES / "deps" / name).read_bytes()
    yield (
        "options.txt",
        (
            b"--index-url https://pypi.org/simple\n-e ./pkg\nfoo[bar]==1.0 ; python_version>'3'"
            b" \\\n  --hash=sha256:" + b"a" * 64 + b"\n-r requirements.txt\n"
        ),
    )


def pylock() -> Seeds:
    yield "pylock.toml", (FIXTURES / "deps" / "pylock.toml").read_bytes()


def uvlock() -> Seeds:
    yield "uv.lock", (FIXTURES / "deps" / "uv.lock").read_bytes()


def poetrylock() -> Seeds:
    yield "poetry.lock", (FIXTURES / "deps" / "poetry.lock").read_bytes()
    yield "poetry-1.8.lock", (FIXTURES / "deps" / "poetry-1.8" / "poetry.lock").read_bytes()
    yield "poetry-legacy.lock", (FIXTURES / "deps" / "poetry-legacy" / "poetry.lock").read_bytes()


def record() -> Seeds:
    yield (
        "RECORD",
        (
            b"pkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n"
            b'"pkg/odd, name.py",sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n'
            b"pkg-1.0.dist-info/RECORD,,\n../../bin/tool,sha256=AAAA,12\n"
        ),
    )


def metadata() -> Seeds:
    yield (
        "METADATA",
        (
            b"Metadata-Version: 2.1\nName: Some_Package\nVersion: 1.0.post1\n"
            b"Summary: x\n\nlong description\n"
        ),
    )


def _safetensors(header: dict[str, object], data: bytes) -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def safetensors() -> Seeds:
    yield (
        "two-tensors.safetensors",
        _safetensors(
            {
                "__metadata__": {"format": "pt"},
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [8, 12]},
            },
            bytes(12),
        ),
    )
    head = (FIXTURES / "models" / "tiny-bert" / "model.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", head[:8])
    yield "tiny-bert-header.safetensors", head[: 8 + length]


def gguf() -> Seeds:
    import tempfile

    import numpy as np
    from gguf import GGUFWriter

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiny.gguf"
        writer = GGUFWriter(str(path), "llama")
        writer.add_string("tokenizer.chat_template", "{{ messages[0]['content'] }}")
        writer.add_uint32("general.file_type", 15)
        writer.add_tensor("t", np.zeros((2, 2), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        yield "tiny.gguf", path.read_bytes()


class _Reduce:
    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (print, ("x",))


def _pickles() -> Seeds:
    from collections import OrderedDict

    yield "protocol0.pkl", pickle.dumps({"a": [1, 2.0, "x"]}, protocol=0)
    yield "protocol2-global.pkl", pickle.dumps(OrderedDict(a=1), protocol=2)
    yield "protocol5-reduce.pkl", pickle.dumps(_Reduce(), protocol=5)
    yield "two-pickles.pkl", pickle.dumps(1) + pickle.dumps([None])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(OrderedDict(w=1), protocol=2))
        z.writestr("archive/version", "3\n")
    yield "pytorch.zip", buffer.getvalue()
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    yield (
        "object.npy",
        (b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + pickle.dumps([1])),
    )


def pickle_seeds() -> Seeds:
    yield from _pickles()


def detect() -> Seeds:
    yield from _pickles()
    yield "safetensors", next(iter(safetensors()))[1]
    yield "7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24)


def claim() -> Seeds:
    yield (
        "claim.json",
        json.dumps(
            {
                "schema": "chainguard.claim/v1",
                "deployment": "tiny-bert-service",
                "version": "1.0.0",
                "patches": ["CVE-2025-0001-backport"],
                "packages": {"torch": "2.5.1"},
                "components": {"tiny-bert": {"version": "1", "files": 3}},
            }
        ).encode(),
    )


def vex() -> Seeds:
    from support import advisories as a

    yield (
        "openvex.json",
        json.dumps(
            a.openvex(
                a.openvex_statement(
                    a.TORCH_GHSA,
                    "pkg:pypi/torch@2.5.1",
                    "not_affected",
                    justification="vulnerable_code_not_in_execute_path",
                ),
                a.openvex_statement(a.TORCH_CVE, "pkg:pypi/torch", "fixed", product="pkg:oci/svc"),
            )
        ).encode(),
    )
    yield (
        "cyclonedx-vex.json",
        json.dumps(
            a.cyclonedx_vex(a.TORCH_GHSA, {"torch": "pkg:pypi/torch@2.5.1"}, "not_affected")
        ).encode(),
    )


def osv() -> Seeds:
    from support import advisories as a

    yield "ghsa.json", json.dumps(a.torch_ghsa()).encode()
    yield "pysec.json", json.dumps(a.torch_pysec()).encode()


def osv_zip() -> Seeds:
    from support import advisories as a

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("GHSA-53q9-r3pm-6pq6.json", json.dumps(a.torch_ghsa()))
        z.writestr("PYSEC-2025-41.json", json.dumps(a.torch_pysec()))
        z.writestr("notes/", b"")
    yield "pypi-export.zip", buffer.getvalue()


def attest_log() -> Seeds:
    entry = {
        "attestation": "00" * 32,
        "findings": [["rule", "path", "x"]],
        "previous": None,
        "result": "PASSED",
        "seq": 1,
    }
    yield "entry.json", json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


def hash_cache() -> Seeds:
    yield "ints-valid-mac", bytes([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    yield "blob-in-dev", bytes([0, 4, 3, 1, 2, 3]) + b"\x03\x05hello" * 9
    yield "text-shards-mac", bytes([1]) + b"\x01\x01\x00" * 7 + b"\x03\x02[]" + b"\x00\x00" * 3


def procfs_maps() -> Seeds:
    yield (
        "maps",
        (
            b"55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1234567      /usr/bin/python3.11\n"
            b"7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 \n"
            b"7f1c2b000000-7f1c2b200000 r--s 00000000 103:02 42   /models/m.safetensors (deleted)\n"
            b"7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0                          [stack]\n"
        ),
    )


def fleet_artifact() -> Seeds:
    """A manifest as attest --publish pushes it, a NUL, and a VSA bundle signed for "alpha"."""
    import hashlib

    from chainguard.api.attestation import sign_bundle
    from chainguard.attest.vsa import VERIFIER_ID, VSA_PREDICATE_TYPE
    from chainguard.fleet.publish import artifact_manifest
    from chainguard.trust.keys import load_private_key

    key = load_private_key(FIXTURES / "keys" / "release.key", None)
    for result, findings in (("PASSED", []), ("FAILED", [{"rule": "artifact-modified"}])):
        statement = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "svc", "digest": {"sha256": "00" * 32}}],
            "predicateType": VSA_PREDICATE_TYPE,
            "predicate": {
                "verifier": {"id": VERIFIER_ID},
                "timeVerified": "2026-12-01T10:00:00Z",
                "verificationResult": result,
                "chainguard": {
                    "deployment": "svc@1",
                    "host": {"hostname": "alpha"},
                    "findings": findings,
                    "drift": {"new": [], "resolved": [], "unchanged": 3},
                    "log": {"entry": 7},
                },
            },
        }
        signed = sign_bundle(json.dumps(statement).encode(), "application/vnd.in-toto+json", key)
        digest = "sha256:" + hashlib.sha256(signed).hexdigest()
        manifest = artifact_manifest(digest, len(signed), {"host": "alpha"})
        yield f"{result.lower()}.bin", manifest + b"\0" + signed


def hub() -> Seeds:
    responses = HERE.parent / "support" / "hub_responses"
    yield "model_info.json", (responses / "model_info.json").read_bytes()


SEEDS = {
    "sbom_read": sbom_read,
    "sbom_differential": sbom_differential,
    "bundle": bundle,
    "bundle_stream": bundle_stream,
    "config": config,
    "requirements": requirements,
    "pylock": pylock,
    "uvlock": uvlock,
    "poetrylock": poetrylock,
    "record": record,
    "metadata": metadata,
    "safetensors": safetensors,
    "gguf": gguf,
    "pickle": pickle_seeds,
    "detect": detect,
    "claim": claim,
    "vex": vex,
    "osv": osv,
    "osv_zip": osv_zip,
    "attest_log": attest_log,
    "hash_cache": hash_cache,
    "procfs_maps": procfs_maps,
    "hub": hub,
    "fleet_artifact": fleet_artifact,
}


def main() -> None:
    from fuzz.targets import TARGETS

    assert set(SEEDS) == set(TARGETS), set(SEEDS) ^ set(TARGETS)
    total = 0
    for name, seeds in SEEDS.items():
        directory = CORPUS / name
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("seed-*"):
            old.unlink()
        for file_name, data in seeds():
            (directory / f"seed-{file_name}").write_bytes(data)
            total += len(data)
    print(f"wrote seeds for {len(SEEDS)} targets ({total} bytes)")


if __name__ == "__main__":
    main()
