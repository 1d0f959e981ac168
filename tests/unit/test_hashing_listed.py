"""Files handed to the engine by directory (ListedFiles): the worker loop opens them relative to
the directory, with the same checks as one file at a time, and refuses a directory that is not
the one listed."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from chainguard import hashing_pool
from chainguard._hashworker import (
    ANOMALY,
    CHUNK_SIZE,
    HASHED,
    LARGE,
    _hash_listed,
    _hash_small_file,
)
from chainguard.collectors.tree import collect_tree
from chainguard.errors import HashingError
from chainguard.hashing import HashSettings, ListedFiles, hash_files

PROCESSES = HashSettings(workers=2, process_min_files=1)
SERIAL = HashSettings(workers=1)
BUF = memoryview(bytearray(CHUNK_SIZE + 1))


def identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_dev


@pytest.fixture
def odd(tmp_path: Path) -> Path:
    """A directory of every kind of entry a listing may have typed as a regular file."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "small").write_bytes(b"small file")
    (d / "empty").write_bytes(b"")
    (d / "limit").write_bytes(os.urandom(CHUNK_SIZE))
    (d / "large").write_bytes(os.urandom(CHUNK_SIZE + 1))
    (d / "link").symlink_to("small")
    (d / "sub").mkdir()
    os.mkfifo(d / "fifo")
    return d


NAMES = ("small", "empty", "limit", "large", "link", "sub", "fifo", "gone")


def test_same_results_as_one_file_at_a_time(odd: Path) -> None:
    text, blake3, others, nbytes, _, _ = _hash_listed(
        f"{odd}/", "d/", NAMES, identity(odd), CHUNK_SIZE, False, BUF
    )
    single = {
        name: _hash_small_file((str(odd / name), -1, 0, 0, 0, CHUNK_SIZE), BUF, False)
        for name in NAMES
    }
    lines = {line.split("\0")[0]: line for line in text.splitlines()}
    for name, result in single.items():
        if result[0] == HASHED:
            assert lines[f"d/{name}"] == f"d/{name}\0{result[3]}\0{result[1]}"
    got = {NAMES[i]: r for i, r in others}
    assert got == {n: r for n, r in single.items() if r[0] != HASHED}
    assert got["large"][0] == LARGE and got["fifo"][0] == ANOMALY
    assert got["link"][1:] == ("changed-during-hash", "became a symbolic link after it was listed")
    assert nbytes == 10 + CHUNK_SIZE and blake3 is None


def test_a_directory_other_than_the_listed_one_is_refused(odd: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    for listed_as in (identity(other), (1, 1)):
        text, _, others, _, _, _ = _hash_listed(
            f"{odd}/", "d/", ("small",), listed_as, CHUNK_SIZE, False, BUF
        )
        assert text == "" and others == [
            (0, (ANOMALY, "changed-during-hash", "its directory was replaced"))
        ]


def test_a_directory_swapped_for_a_symlink_is_refused(odd: Path, tmp_path: Path) -> None:
    listed_as = identity(odd)
    odd.rename(tmp_path / "moved")
    odd.symlink_to(tmp_path / "moved")
    _, _, others, _, _, _ = _hash_listed(
        f"{odd}/", "d/", ("small",), listed_as, CHUNK_SIZE, False, BUF
    )
    assert others[0][1][1] == "changed-during-hash"
    # the root of a tree may be a symbolic link: it was stat'ed, not lstat'ed
    text, _, others, _, _, _ = _hash_listed(
        f"{odd}/", "", ("small",), listed_as, CHUNK_SIZE, False, BUF
    )
    assert text.startswith("small\0") and others == []


def test_processes_and_serial_agree_and_keep_plain_lines(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    for d in range(3):
        (root / f"p{d}").mkdir(parents=True)
        for i in range(50):
            (root / f"p{d}" / f"{i:02d}.bin").write_bytes(os.urandom(i * 13))
    before = hashing_pool.worker_processes_started
    parallel = collect_tree(root, PROCESSES, mode="verify")
    assert hashing_pool.worker_processes_started > before
    serial = collect_tree(root, SERIAL, mode="verify")
    assert parallel == serial and len(parallel.files) == 150
    assert parallel.files.extra == ()  # type: ignore[attr-defined]
    data = (root / "p2" / "07.bin").read_bytes()
    assert {f.path: f for f in parallel.files}["p2/07.bin"].sha256 == hashlib.sha256(
        data
    ).hexdigest()
    assert parallel.bytes_hashed == sum(f.size for f in serial.files)


def test_blake3_files_come_back_as_digests(tmp_path: Path) -> None:
    blake3 = pytest.importorskip("blake3")
    (tmp_path / "a").write_bytes(b"abc")
    files, _ = hash_files(
        [ListedFiles(f"{tmp_path}/", "", ("a",))],
        HashSettings(workers=2, process_min_files=1, blake3=True),
    )
    [a] = files
    assert a.blake3 == blake3.blake3(b"abc").hexdigest()


def test_cancelled_hashing_stops_with_an_error(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"abc")
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(HashingError, match="cancelled"):
        hash_files([ListedFiles(f"{tmp_path}/", "", ("a",))], PROCESSES, cancelled=cancelled)


def many_files(root: Path, count: int = 600) -> Path:
    for i in range(count):
        d = root / f"d{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i}.bin").write_bytes(b"x" * (i % 50))
    return root


@pytest.mark.parametrize("dying", ["both", "one"])
def test_a_worker_process_that_dies_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dying: str
) -> None:
    mark = tmp_path / "died"
    die = (
        "os._exit(0)"
        if dying == "both"
        else f"os.close(os.open({str(mark)!r}, os.O_CREAT | os.O_EXCL)); os._exit(0)"
    )
    boot = f"import os\ntry:\n {die}\nexcept FileExistsError:\n pass\n{hashing_pool._WORKER_BOOT}"
    monkeypatch.setattr(hashing_pool, "_WORKER_BOOT", boot)
    root = many_files(tmp_path / "tree")
    if dying == "both":
        with pytest.raises(HashingError, match="worker process"):
            collect_tree(root, PROCESSES, mode="verify")
        return
    # One dead worker: an error if it was handed work, else the other did it all. Never a
    # hang, never a file left out.
    try:
        tree = collect_tree(root, PROCESSES, mode="verify")
    except HashingError as e:
        assert "worker process" in str(e)
    else:
        assert len(tree.files) == 600 and tree.anomalies == ()
