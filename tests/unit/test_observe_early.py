"""An SBOM hashed early, while the CLI starts (observe.EarlyStart.hash_sbom), counts only if the
file is still the one that was hashed; the gate takes it through the handle it is given."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from chainguard.observe import EarlyStart
from chainguard.trust import gate


def test_the_early_digest_is_used_for_an_unchanged_file(tmp_path: Path) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_bytes(b"x" * 3_000_000)
    early = EarlyStart()
    early.hash_sbom(sbom)
    digest = early.sbom_digests[os.path.abspath(sbom)]
    assert gate._sbom_file_digest(sbom, early) == hashlib.sha256(sbom.read_bytes()).hexdigest()
    assert digest.digest is not None  # it was the early one
    assert os.path.abspath(sbom) not in early.sbom_digests  # used once


def test_a_file_changed_after_it_was_hashed_early_is_hashed_again(tmp_path: Path) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_bytes(b"signed content")
    early = EarlyStart()
    early.hash_sbom(sbom)
    early.sbom_digests[os.path.abspath(sbom)].thread.join()
    sbom.write_bytes(b"edited content")  # same size, new mtime
    st = sbom.stat()
    os.utime(sbom, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert gate._sbom_file_digest(sbom, early) == hashlib.sha256(b"edited content").hexdigest()


def test_a_missing_file_leaves_the_error_to_the_gate(tmp_path: Path) -> None:
    gone = tmp_path / "gone.cdx.json"
    early = EarlyStart()
    early.hash_sbom(gone)
    assert early.sbom_digest(gone) is None
