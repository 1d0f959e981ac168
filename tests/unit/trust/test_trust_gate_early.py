"""An SBOM hashed early, while the CLI starts (gate.hash_sbom_early), counts only if the file
is still the one that was hashed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from chainguard.trust import gate


def test_the_early_digest_is_used_for_an_unchanged_file(tmp_path: Path) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_bytes(b"x" * 3_000_000)
    gate.hash_sbom_early(sbom)
    early = gate._early_digests[os.path.abspath(sbom)]
    assert gate._file_sha256(sbom) == hashlib.sha256(sbom.read_bytes()).hexdigest()
    assert early.digest is not None  # it was the early one
    assert os.path.abspath(sbom) not in gate._early_digests  # used once


def test_a_file_changed_after_it_was_hashed_early_is_hashed_again(tmp_path: Path) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_bytes(b"signed content")
    gate.hash_sbom_early(sbom)
    gate._early_digests[os.path.abspath(sbom)].thread.join()
    sbom.write_bytes(b"edited content")  # same size, new mtime
    st = sbom.stat()
    os.utime(sbom, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert gate._file_sha256(sbom) == hashlib.sha256(b"edited content").hexdigest()


def test_a_missing_file_leaves_the_error_to_the_gate(tmp_path: Path) -> None:
    gone = tmp_path / "gone.cdx.json"
    gate.hash_sbom_early(gone)
    early = gate._early_digests.pop(os.path.abspath(gone))
    assert early.result() is None
