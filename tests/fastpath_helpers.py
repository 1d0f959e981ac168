"""Helpers for the tests of verify's fast path (hashing.RenderedRuns, sbom/packed.py runs,
the prestart in _launch.py): real datasets, real SBOMs and signatures, the signed statement
parsed with and without the runs of the directory as hashed.

Imported by name (tests/ is on sys.path through its conftest.py; no __init__.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainguard import api
from chainguard.collectors.tree import collect_tree
from chainguard.errors import ChainguardError
from chainguard.findings import Report
from chainguard.hashing import _LISTED_CHUNK, EveryPath, HashSettings, RenderedRuns
from chainguard.models import (
    DEFAULT_SHARD_SIZE,
    ExpectedState,
    FileDigest,
    ObservedTree,
    Subject,
)
from chainguard.models import tree_digest as reference_tree_digest
from chainguard.sbom.packed import Expect, PackedFiles
from chainguard.sbom.read import read_sbom_document
from chainguard.trust.bundle import read_bundle_file
from chainguard.trust.statement import parse_statement

MIB = 1024 * 1024
# Names per directory chunk the engine hashes (and renders) at once: the tests size their
# directories from it, so that they hold the chunks they mean to whatever it is tuned to.
CHUNK = _LISTED_CHUNK
TRAIN = CHUNK + 88  # files in dataset_files()'s train/: two chunks
# A signed bundle this large makes verify_tree take the fast path without any monkeypatching.
BIG_BUNDLE = api.OVERLAP_FROM_BYTES
DEPLOYMENT = "svc"  # the deployment name every release here is built (and signed) as


def write_files(directory: Path, files: dict[str, bytes]) -> Path:
    for rel, content in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return directory


@dataclass(frozen=True)
class DatasetRelease:
    """A dataset directory with its SBOM, signature and key pair, made by the library API."""

    data: Path
    sbom: Path
    sig: Path
    key: Path
    pub: Path

    def trust(self) -> api.TrustInputs:
        # the rollback state store beside the SBOM, never inside the dataset
        state = self.sbom.parent / "state"
        if state.is_relative_to(self.data):
            state = self.data.parent / "state"
        # the deployment the release was built as, pinned as a well-configured operator does
        return api.TrustInputs(
            sbom=self.sbom,
            signatures=(),
            keys=(self.pub,),
            state_dir=state,
            deployment=DEPLOYMENT,
        )

    def payload(self) -> bytes:
        """The signed in-toto statement, as the bundle carries it."""
        bundle, _ = read_bundle_file(self.sig, str(self.sig))
        assert bundle.envelope is not None
        return bundle.envelope.payload

    def sbom_sha256(self) -> str:
        return hashlib.sha256(self.sbom.read_bytes()).hexdigest()

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.sbom.read_text())
        return doc

    def variant(
        self,
        directory: Path,
        doc: dict[str, Any],
        *,
        raw: bool = False,
        respell: Callable[[bytes], bytes] | None = None,
    ) -> DatasetRelease:
        """The same dataset and key, with ``doc`` as its SBOM, signed, in ``directory``."""
        sbom = directory / self.sbom.name
        other = DatasetRelease(self.data, sbom, Path(f"{sbom}.sig"), self.key, self.pub)
        other.edit(doc, raw=raw, respell=respell)
        return other

    def edit(
        self,
        doc: dict[str, Any],
        *,
        raw: bool = False,
        respell: Callable[[bytes], bytes] | None = None,
    ) -> None:
        """Write ``doc`` as the SBOM (as `sbom build` lays it out) and sign it again. ``raw``:
        sign it as it stands, as an attacker holding the key would; `sign` reads the SBOM
        first and refuses a malformed one. ``respell`` (raw only): the statement's bytes as
        signed, from those `sign` would write (the same JSON, laid out otherwise)."""
        self.sbom.write_text(json.dumps(doc, indent=2) + "\n")
        assert raw or respell is None
        if not raw:
            api.sign_sbom(self.sbom, self.key, self.sig)
            return
        from chainguard.trust import dsse
        from chainguard.trust.bundle import key_bundle_json
        from chainguard.trust.keys import load_private_key
        from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, build_statement

        data = self.sbom.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        subjects = [Subject(f"deployment:{DEPLOYMENT}", (("sha256", digest),))]
        for c in doc["components"]:
            if c.get("bom-ref", "").startswith(("dataset:", "model:")):
                root = next(h["content"] for h in c["hashes"] if h["alg"] == "SHA-256")
                subjects.append(Subject(c["bom-ref"], (("sha256", root),)))
        key = load_private_key(self.key, None)
        payload = build_statement(subjects, "https://cyclonedx.org/bom", json.loads(data))
        if respell is not None:
            written, payload = payload, respell(payload)
            assert json.loads(payload) == json.loads(written)  # only the layout differs
        envelope = dsse.sign(payload, PAYLOAD_TYPE_IN_TOTO, key)
        self.sig.write_bytes(key_bundle_json(envelope, key.trusted_key))


def make_dataset_release(
    root: Path, files: dict[str, bytes], *, name: str = "ds", pad_to: int = 0
) -> DatasetRelease:
    """Write a dataset, build and sign its SBOM. ``pad_to``: grow the signed bundle to at least
    this many bytes with a long metadata description (a real, valid, large signed SBOM
    without 25,000 files to hash)."""
    data = write_files(root / name, files)
    key, pub = api.keygen(root / "release")
    sbom = root / f"{name}.cdx.json"
    api.build_sbom(name=DEPLOYMENT, version="1.0", datasets=[data], output=sbom)
    release = DatasetRelease(data, sbom, Path(f"{sbom}.sig"), key, pub)
    api.sign_sbom(sbom, key)
    if pad_to:
        doc = json.loads(sbom.read_text())
        # base64 makes the payload 4/3 larger in the bundle
        doc["metadata"]["component"]["description"] = "p" * (pad_to * 3 // 4)
        release.edit(doc)
        assert release.sig.stat().st_size >= pad_to
    return release


def dataset_component(doc: dict[str, Any], bom_ref: str = "dataset:ds") -> dict[str, Any]:
    found = [c for c in doc["components"] if c.get("bom-ref") == bom_ref]
    assert len(found) == 1, bom_ref
    component: dict[str, Any] = found[0]
    return component


def reseal(component: dict[str, Any]) -> None:
    """Recompute the component's root digest, file count and total size after its file list
    was edited, as a malicious (or buggy) signer would: the SBOM stays self-consistent."""
    files = []
    for node in component["components"]:
        size = next(p["value"] for p in node["properties"] if p["name"] == "chainguard:size")
        sha = next(h["content"] for h in node["hashes"] if h["alg"] == "SHA-256")
        files.append(FileDigest(node["name"], int(size), sha))
    for h in component["hashes"]:
        if h["alg"] == "SHA-256":
            h["content"] = reference_tree_digest(files)
    for p in component["properties"]:
        if p["name"] == "chainguard:file-count":
            p["value"] = str(len(files))
        elif p["name"] == "chainguard:total-size":
            p["value"] = str(sum(f.size for f in files))


def observe(
    data: Path, bom_ref: str = "dataset:ds", *, process_min_files: int = 1
) -> tuple[ObservedTree, RenderedRuns]:
    """Hash ``data`` as verify's observation does, publishing its chunks as runs."""
    runs = RenderedRuns(bom_ref)
    try:
        tree = collect_tree(
            data,
            HashSettings(process_min_files=process_min_files),
            mode="verify",
            shard_sizes=EveryPath(DEFAULT_SHARD_SIZE),
            runs=runs,
        )
    finally:
        runs.close()
    return tree, runs


def fresh(payload: bytes) -> bytes:
    """A copy that is another object: parse_statement caches its last parse by identity."""
    return bytes(bytearray(payload))


@dataclass(frozen=True)
class Reading:
    """What the signed statement was read as: a state, or the error (type and message)."""

    state: ExpectedState | None
    error: tuple[str, str] | None
    runs_taken: int  # pieces of file lists that were expected runs, taken whole

    def same_as(self, other: Reading, *, lines: bool = True) -> None:
        """Assert both readings mean exactly the same (state, root digests, file lines).
        ``lines``: and hold the same files as plain lines (not as FileDigest objects): true
        of a statement as `sign` writes it, where every plain element matches either way."""
        assert self.error == other.error
        if self.state is None or other.state is None:
            assert self.state is other.state is None
            return
        assert self.state == other.state
        mine, theirs = self.state.components, other.state.components
        assert [c.root_digest for c in mine] == [c.root_digest for c in theirs]
        assert [c.unsafe_paths for c in mine] == [c.unsafe_paths for c in theirs]
        for a, b in zip(mine, theirs, strict=True):
            assert list(a.files) == list(b.files)
            lines_a = getattr(a.files, "plain_lines", None)
            lines_b = getattr(b.files, "plain_lines", None)
            if lines and lines_a is not None and lines_b is not None:
                assert lines_a == lines_b


def read_statement(payload: bytes, sbom_sha256: str, expect: Expect | None = None) -> Reading:
    """parse_statement + read_sbom_document, as establish_trust does."""
    taken = 0
    try:
        parsed = parse_statement(fresh(payload), "bundle", expect)
        for component in _components(parsed.predicate):
            listed = component.get("components")
            if isinstance(listed, PackedFiles):
                taken += len(listed.pieces) - len(listed.names)
        state = read_sbom_document(parsed.predicate, sbom_sha256, "bundle (signed SBOM)")
    except ChainguardError as e:
        return Reading(None, (type(e).__name__, str(e)), taken)
    return Reading(state, None, taken)


def _components(predicate: dict[str, object]) -> list[dict[str, object]]:
    components = predicate.get("components")
    if not isinstance(components, list):
        return []
    return [c for c in components if isinstance(c, dict)]


def read_both(
    payload: bytes, sbom_sha256: str, runs: RenderedRuns, *, lines: bool = True
) -> tuple[Reading, Reading]:
    """(plain reading, reading with the runs); asserts they mean the same (``lines``: see
    Reading.same_as)."""
    plain = read_statement(payload, sbom_sha256)
    fast = read_statement(payload, sbom_sha256, runs.starting_at)
    assert plain.runs_taken == 0
    fast.same_as(plain, lines=lines)
    return plain, fast


def verify_outcome(release: DatasetRelease, directory: Path | None = None) -> tuple[object, ...]:
    """verify_tree's report (report_view), or the error it raised (type and message)."""
    try:
        report = api.verify_tree(directory or release.data, kind="dataset", trust=release.trust())
    except ChainguardError as e:
        return ("error", type(e).__name__, str(e))
    finally:
        assert observing_threads() == []
    return report_view(report)


def report_view(report: Report) -> tuple[object, ...]:
    """Everything a verify report says, in a comparable form (time left out)."""
    findings = sorted(report.findings, key=lambda f: (f.rule, f.path, f.message))
    return (
        report.ok,
        tuple(findings),
        report.stats.files,
        report.stats.bytes,
        report.deployment,
        report.components,
        report.signature,
        report.signers,
    )


def rules(report: Report) -> list[tuple[str, str]]:
    return sorted((f.rule, f.path) for f in report.findings)


def observing_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name == "chainguard-observe"]


# --- one dataset, signed, and the ways a tree may differ from it ---------------------------------


def dataset_files() -> dict[str, bytes]:
    """Several directories; one of two chunks (train/); top-level files and a directory
    whose paths interleave in sort order (a.txt < a/x < a0); non-ASCII names and names with
    spaces; a file larger than the workers hash whole; safetensors and Parquet files (format
    facts make their elements no plain ones)."""
    files = {f"train/{i:05d}.jsonl": b'{"i": %d}\n' % i for i in range(TRAIN)}
    files |= {f"val/{i:03d}.jsonl": b'{"v": %d}\n' % i for i in range(40)}
    files |= {"a.txt": b"top", "a/x": b"inside a", "a/y": b"", "a0": b"zero", "b": b"b"}
    files |= {"é/ça.txt": "café".encode(), "数据/文件 1.bin": b"cjk", "数据/文件 2.bin": b"2"}
    files |= {"with space/file name.txt": b"spaces", "README.md": b"# readme\n"}
    files |= {"blobs/large.bin": b"L" * (MIB + 17), "blobs/tiny.bin": b"t"}
    files["model.safetensors"] = _safetensors()
    files |= {"tables/part-0.parquet": _parquet(), "tables/schema.txt": b"id: int64\n"}
    return files


def _parquet() -> bytes:
    import pyarrow as pa  # a test dependency (pyproject.toml)
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": list(range(10)), "text": ["x"] * 10}), sink)
    return bytes(sink.getvalue().to_pybytes())


def _safetensors() -> bytes:
    import numpy as np
    from safetensors.numpy import save

    return save({"w": np.arange(16, dtype=np.float32)})


Undo = Callable[[], object]


def modify_middle(data: Path) -> Undo:
    path = data / "train" / "00300.jsonl"
    before = path.read_bytes()
    path.write_bytes(b'{"i": "poisoned"}\n')
    return lambda: path.write_bytes(before)


def remove_one(data: Path) -> Undo:
    path = data / "train" / "00100.jsonl"
    before = path.read_bytes()
    path.unlink()
    return lambda: path.write_bytes(before)


def add_one(data: Path) -> Undo:
    path = data / "train" / "00512b.jsonl"
    path.write_bytes(b"new\n")
    return path.unlink


def rename_one(data: Path) -> Undo:
    (data / "a" / "x").rename(data / "a" / "x2")
    return lambda: (data / "a" / "x2").rename(data / "a" / "x")


def same_size_change(data: Path) -> Undo:
    path = data / "val" / "020.jsonl"
    before = path.read_bytes()
    path.write_bytes(before.replace(b"20", b"21"))
    return lambda: path.write_bytes(before)


def rename_directory(data: Path) -> Undo:
    (data / "数据").rename(data / "数据2")
    return lambda: (data / "数据2").rename(data / "数据")


CHANGES = [modify_middle, remove_one, add_one, rename_one, same_size_change, rename_directory]
