"""The hash cache of attest --incremental (chainguard/attest/cache.py) through collect_tree: a
cached run reads nothing and measures the same; a change that keeps mtime is caught by ctime;
an edited entry, a foreign host key's cache and a stale schedule are all read again."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from chainguard import api
from chainguard.attest.cache import (
    CACHE_FILE,
    HashCache,
    open_hash_cache,
    parse_duration,
)
from chainguard.collectors.tree import IgnoreRules, collect_tree
from chainguard.errors import UsageError
from chainguard.hashing import CHUNK_SIZE, HashSettings
from chainguard.models import tree_digest

DAY = 24 * 3600.0


@pytest.fixture
def host_key(tmp_path: Path) -> Path:
    key, _ = api.keygen(tmp_path / "host")
    return key


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "model",
        {
            "config.json": b'{"a": 1}',
            "weights.bin": os.urandom(3 * CHUNK_SIZE + 17),  # large: the thread pool
            "sub/tokenizer.json": b"tok" * 100,
        },
    )


def _collect(root: Path, cache: HashCache, *, dataset: bool = False) -> tuple[str, int, int]:
    """(tree digest, files read, files from the cache)"""
    view = cache.tree(root, dataset=dataset)
    tree = collect_tree(
        root,
        HashSettings(shard_size=CHUNK_SIZE),
        ignore=IgnoreRules(),
        mode="verify",
        hash_cache=view,
    )
    assert not tree.anomalies
    return tree_digest(tree.files), view.misses, view.hits


def _run(state: Path, key: Path, root: Path, **kw: float) -> tuple[str, int, int, HashCache]:
    now = kw.pop("now", None)
    # racy_window=0: the files were written just now (a test of the window is below)
    with open_hash_cache(state, key, DAY, now=now, racy_window=0, **kw) as cache:
        result = _collect(root, cache, dataset=bool(kw.get("dataset_sample")))
    return (*result, cache)


def test_unchanged_files_are_not_read_and_measure_the_same(
    tmp_path: Path, host_key: Path, model: Path
) -> None:
    plain = tree_digest(collect_tree(model, HashSettings(shard_size=CHUNK_SIZE)).files)
    first, read, cached, _ = _run(tmp_path, host_key, model)
    assert (read, cached) == (3, 0)  # the first run is a full one
    second, read, cached, cache = _run(tmp_path, host_key, model)
    assert (read, cached) == (0, 3)
    assert first == second
    assert not cache.findings()
    # verify mode by shards of CHUNK_SIZE: the same digest as hashing without the cache
    assert second == tree_digest(
        collect_tree(
            model, HashSettings(shard_size=CHUNK_SIZE), mode="verify", shard_sizes={}
        ).files
    )
    assert plain  # (a build-mode digest exists too; it records whole digests)


@pytest.mark.parametrize("rel", ["weights.bin", "config.json"])
def test_a_change_with_mtime_put_back_is_read_again(
    tmp_path: Path, host_key: Path, model: Path, rel: str
) -> None:
    before, _, _, _ = _run(tmp_path, host_key, model)
    path = model / rel
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF  # same size
    time.sleep(0.01)  # ctime moves on even on coarse clocks
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after_st = path.stat()
    assert (after_st.st_mtime_ns, after_st.st_size) == (st.st_mtime_ns, st.st_size)
    assert after_st.st_ctime_ns != st.st_ctime_ns
    after, read, cached, _ = _run(tmp_path, host_key, model)
    assert (read, cached) == (1, 2)
    assert after != before


def _edit(state: Path, sql: str) -> None:
    db = sqlite3.connect(state / CACHE_FILE)
    db.execute(sql)
    db.commit()
    db.close()


def test_an_edited_entry_is_ignored_and_reported(
    tmp_path: Path, host_key: Path, model: Path
) -> None:
    before, _, _, _ = _run(tmp_path, host_key, model)
    # someone without the key makes the cache vouch for other content
    _edit(tmp_path, "UPDATE files SET sha256 = '" + "0" * 64 + "' WHERE path LIKE '%config.json'")
    after, read, cached, cache = _run(tmp_path, host_key, model)
    assert (read, cached) == (1, 2)
    assert after == before  # the real content, read again
    (finding,) = cache.findings()
    assert finding.rule == "cache-tampered"
    assert finding.path.endswith("config.json")
    # re-stored under the key: the next run trusts it again
    _, read, cached, cache = _run(tmp_path, host_key, model)
    assert (read, cached, cache.findings()) == (0, 3, [])


def test_an_edited_schedule_is_ignored_and_reported(
    tmp_path: Path, host_key: Path, model: Path
) -> None:
    _run(tmp_path, host_key, model)
    _edit(tmp_path, "UPDATE meta SET value = '99999999999' WHERE name = 'last_full'")
    _, read, _, cache = _run(tmp_path, host_key, model)
    assert cache.full and read == 3  # an unauthenticated schedule means: read everything
    assert [f.rule for f in cache.findings()] == ["cache-tampered"]


def test_a_cache_from_another_host_key_is_ignored(
    tmp_path: Path, host_key: Path, model: Path
) -> None:
    _run(tmp_path, host_key, model)
    _run(tmp_path, host_key, model)
    other, _ = api.keygen(tmp_path / "other-host")
    _, read, cached, cache = _run(tmp_path, other, model)
    assert (read, cached) == (3, 0)
    assert cache.foreign_key
    assert [f.rule for f in cache.findings()] == ["cache-tampered"]
    # rebuilt under the new key
    _, read, cached, cache = _run(tmp_path, other, model)
    assert (read, cached, cache.findings()) == (0, 3, [])


def test_a_full_reread_is_forced_on_schedule(tmp_path: Path, host_key: Path, model: Path) -> None:
    start = time.time()
    _run(tmp_path, host_key, model, now=start)
    _, read, _, cache = _run(tmp_path, host_key, model, now=start + DAY - 60)
    assert (read, cache.full) == (0, False)
    _, read, _, cache = _run(tmp_path, host_key, model, now=start + DAY + 1)
    assert (read, cache.full) == (3, True)
    _, read, _, _ = _run(tmp_path, host_key, model, now=start + DAY + 60)
    assert read == 0


def test_a_failed_run_does_not_move_the_schedule(
    tmp_path: Path, host_key: Path, model: Path
) -> None:
    with pytest.raises(RuntimeError), open_hash_cache(tmp_path, host_key, DAY) as cache:
        _collect(model, cache)
        raise RuntimeError("the run failed")
    with open_hash_cache(tmp_path, host_key, DAY) as cache:
        assert cache.full and cache.run == 0


def test_sample_rotation_reads_every_file_within_n_runs(tmp_path: Path, host_key: Path) -> None:
    data = _write(tmp_path / "data", {f"part-{i:03}.txt": b"row %d\n" % i for i in range(60)})
    start = time.time()
    _run(tmp_path, host_key, data, now=start, dataset_sample=0.1)  # the first, full run
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:
        first_read = dict(db.execute("SELECT path, read_at FROM files").fetchall())
    for n in range(1, 11):
        _, read, cached, cache = _run(tmp_path, host_key, data, now=start + n, dataset_sample=0.1)
        assert read + cached == 60
        assert 0 < read < 30  # a slice, not everything
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:
        last_read = dict(db.execute("SELECT path, read_at FROM files").fetchall())
    assert len(last_read) == 60
    assert all(last_read[p] > first_read[p] for p in last_read)  # each re-read in 10 runs
    (coverage,) = cache.coverage()
    assert coverage.files == 60 and coverage.read_this_run == read
    assert coverage.oldest_read is not None and coverage.oldest_read >= start + 1
    assert "from the hash cache" in coverage.note(start + 11)


def test_a_model_is_not_sampled(tmp_path: Path, host_key: Path, model: Path) -> None:
    _run(tmp_path, host_key, model, dataset_sample=1.0)
    with open_hash_cache(tmp_path, host_key, DAY, dataset_sample=1.0, racy_window=0) as cache:
        _, read, cached = _collect(model, cache, dataset=False)
    assert (read, cached) == (0, 3)


def test_a_file_changed_within_the_racy_window_is_not_stored(
    tmp_path: Path, host_key: Path, model: Path
) -> None:
    """Its ctime could not tell a second write in the same clock tick from the first."""
    for _ in range(2):
        with open_hash_cache(tmp_path, host_key, DAY, racy_window=3600) as cache:
            _, read, cached = _collect(model, cache)
        assert (read, cached) == (3, 0)


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", DAY), ("30m", 1800.0), ("7d", 7 * DAY), ("90s", 90.0)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "0h", "-1h", "1.5h", "24 hours", "1w", "1h30m"])
def test_parse_duration_refuses_malformed(text: str) -> None:
    with pytest.raises(UsageError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("sample", [-0.1, 1.5, float("nan")])
def test_bad_sample_is_a_usage_error(tmp_path: Path, host_key: Path, sample: float) -> None:
    with pytest.raises(UsageError, match="dataset_sample"):
        open_hash_cache(tmp_path, host_key, DAY, dataset_sample=sample)


def test_a_corrupt_cache_file_is_a_state_error(tmp_path: Path, host_key: Path) -> None:
    from chainguard.errors import StateError

    (tmp_path / CACHE_FILE).write_bytes(b"not a database" * 100)
    with pytest.raises(StateError, match="hash cache"):
        open_hash_cache(tmp_path, host_key, DAY)
