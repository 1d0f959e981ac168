"""Helpers for the tests of verify's fast path (hashing_runs.RenderedRuns, sbom/packed.py runs,
the prestart in _launch.py): one dataset and the ways a tree may differ from it, the signed
statement parsed with and without the runs of the directory as hashed. Releases come from
support.release, SBOM edits from support.surgery."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chainguard import api
from chainguard.collectors.tree import collect_tree
from chainguard.errors import ChainguardError
from chainguard.findings import Report
from chainguard.hashing import EveryPath, HashSettings
from chainguard.hashing_runs import RenderedRuns
from chainguard.hashing_small import _LISTED_CHUNK
from chainguard.models import (
    DEFAULT_SHARD_SIZE,
    ExpectedState,
    ObservedTree,
)
from chainguard.sbom.packed import Expect, PackedFiles
from chainguard.sbom.read import read_sbom_document
from chainguard.trust.statement import parse_statement
from support.release import Release

MIB = 1024 * 1024
# Names per directory chunk the engine hashes (and renders) at once: the tests size their
# directories from it, so that they hold the chunks they mean to whatever it is tuned to.
CHUNK = _LISTED_CHUNK
TRAIN = CHUNK + 88  # files in dataset_files()'s train/: two chunks
# A signed bundle this large makes verify_tree take the fast path without any monkeypatching.
BIG_BUNDLE = api.OVERLAP_FROM_BYTES


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


def verify_outcome(
    release: Release, directory: Path | None = None, *, overlap_from_bytes: int
) -> tuple[object, ...]:
    """verify_tree's report (report_view), or the error it raised (type and message), with
    the overlap threshold given (0: always hash alongside; NEVER: the plain path)."""
    try:
        report = api.verify_tree(
            directory or release.data,
            kind="dataset",
            trust=release.trust(),
            overlap_from_bytes=overlap_from_bytes,
        )
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
