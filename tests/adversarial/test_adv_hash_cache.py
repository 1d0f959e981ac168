"""Attacks on attest --incremental's hash cache, through api.verify_deployment(hash_cache=...),
the call `chainguard attest --incremental` makes: weights swapped with mtime put back, and a
cache edited to vouch for swapped weights, are both caught."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from support.release import Release, make_release, write_model

from chainguard import api
from chainguard.attest.cache import CACHE_FILE, open_hash_cache
from chainguard.findings import Report

DAY = 24 * 3600.0


def _release(tmp_path: Path) -> tuple[Release, Path]:
    model = write_model(tmp_path / "model")
    release = make_release(tmp_path / "release", models=[model])
    host_key, _ = api.keygen(tmp_path / "host")
    return release, host_key


def _attest(release: Release, host_key: Path, state: Path) -> tuple[Report, int]:
    """One incremental run; (its report, files read)."""
    # racy_window=0: the model was written a moment ago; the change below moves ctime by 10 ms
    with open_hash_cache(state, host_key, DAY, racy_window=0) as cache:
        report = api.verify_deployment(
            trust=release.trust(), models=[("model", release.model)], hash_cache=cache
        )
    return report, sum(view.misses for view in cache.trees)


def _rules(report: Report) -> set[str]:
    return {f.rule for f in report.findings}


def _swap_keeping_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    time.sleep(0.01)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _largest(root: Path) -> Path:
    return max((p for p in root.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def test_weights_changed_with_mtime_put_back_are_caught(tmp_path: Path) -> None:
    release, host_key = _release(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    report, _ = _attest(release, host_key, state)
    assert report.ok, report.findings
    report, read = _attest(release, host_key, state)
    assert report.ok and read == 0  # incremental: nothing read
    _swap_keeping_mtime(_largest(release.model))
    report, read = _attest(release, host_key, state)
    assert read == 1
    assert "artifact-modified" in _rules(report)
    # and it stays reported: the cache holds measurements, not verdicts
    report, read = _attest(release, host_key, state)
    assert read == 0 and "artifact-modified" in _rules(report)


def test_a_cache_edited_to_vouch_for_swapped_weights_is_caught(tmp_path: Path) -> None:
    release, host_key = _release(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    _attest(release, host_key, state)
    weights = _largest(release.model)
    _swap_keeping_mtime(weights)
    # the attacker (no host key) points the good entry at the swapped file's new identity
    st = weights.stat()
    db = sqlite3.connect(state / CACHE_FILE)
    db.execute(
        "UPDATE files SET ctime_ns = ?, ino = ?, dev = ? WHERE path = ?",
        (st.st_ctime_ns, st.st_ino, st.st_dev, os.path.abspath(weights)),
    )
    assert db.total_changes == 1
    db.commit()
    db.close()
    report, read = _attest(release, host_key, state)
    assert read == 1
    assert {"artifact-modified", "cache-tampered"} <= _rules(report)


def test_a_cache_copied_from_another_host_is_not_trusted(tmp_path: Path) -> None:
    release, host_key = _release(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    other_key, _ = api.keygen(tmp_path / "other-host")
    _attest(release, other_key, state)  # another host's cache of the good weights
    _swap_keeping_mtime(_largest(release.model))
    report, read = _attest(release, host_key, state)
    assert read > 0
    assert {"artifact-modified", "cache-tampered"} <= _rules(report)
