"""hashing_runs.RenderedRuns: the directory chunks hash_files publishes as signed JSON, and
``starting_at``, which a reader in another thread calls for every element of a signed file list.
It must wait only while a run may still come, never forever, and what it hands out must be
exactly the hashed files."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest
from support.fastpath import CHUNK, observe
from support.release import write_tree

from chainguard._hashworker import render_element
from chainguard.hashing_runs import RenderedRuns
from chainguard.models import FileList, RenderedFiles

REF = "dataset:ds"


def run(first: str, last: str | None = None) -> RenderedFiles:
    lines = f"{first}\x000\x00{'0' * 64}\n"
    return RenderedFiles(REF, first, last or first, 1, 0, lines, "", b"", 0)


class Asker:
    """``starting_at`` on a real thread: its answer, or still waiting."""

    def __init__(self, runs: RenderedRuns, path: str, ref: str = REF) -> None:
        self.answer: RenderedFiles | str | None = "waiting"
        self.thread = threading.Thread(target=self._ask, args=(runs, ref, path), daemon=True)
        self.thread.start()

    def _ask(self, runs: RenderedRuns, ref: str, path: str) -> None:
        self.answer = runs.starting_at(ref, path)

    def waits(self) -> bool:
        self.thread.join(timeout=0.1)
        return self.thread.is_alive()

    def result(self) -> RenderedFiles | str | None:
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "starting_at still blocked"
        return self.answer


def test_a_chunk_in_flight_is_waited_for_and_handed_over() -> None:
    runs = RenderedRuns(REF)
    runs.dispatched("b/000")
    asker = Asker(runs, "b/000")
    assert asker.waits()
    published = run("b/000", "b/511")
    runs.finished("b/000", published)
    assert asker.result() is published


def test_a_chunk_that_could_not_be_rendered_gives_none() -> None:
    runs = RenderedRuns(REF)
    runs.dispatched("b/000")
    asker = Asker(runs, "b/000")
    assert asker.waits()
    runs.finished("b/000", None)  # a file changed while hashed, a name JSON escapes...
    assert asker.result() is None


def test_a_path_beyond_the_listing_waits_until_the_walk_lists_past_it() -> None:
    runs = RenderedRuns(REF)
    runs.dispatched("a/000")
    asker = Asker(runs, "c/x")  # not listed yet: may still begin a chunk
    assert asker.waits()
    in_flight = Asker(runs, "a/000")
    # The walk is past c/ (it hands out chunks in path order): c/x begins no chunk, known at
    # once, though a/000 is still being hashed.
    runs.dispatched("d/000")
    assert asker.result() is None
    assert in_flight.waits()
    published = run("a/000")
    runs.finished("a/000", published)
    assert in_flight.result() is published


def test_a_path_inside_a_chunk_is_not_waited_for() -> None:
    runs = RenderedRuns(REF)
    runs.dispatched("a/000")
    runs.dispatched("a/512")
    # a/100 is inside the in-flight chunk a/000..a/511, not the start of one
    assert Asker(runs, "a/100").result() is None


def test_once_everything_is_listed_unknown_paths_give_none() -> None:
    runs = RenderedRuns(REF)
    runs.dispatched("a/000")
    asker = Asker(runs, "z/unknown")
    assert asker.waits()
    runs.listed()
    assert asker.result() is None
    assert Asker(runs, "zz/later").result() is None


def test_close_releases_every_waiter() -> None:
    runs = RenderedRuns(REF)
    runs.dispatched("a/000")
    pending, beyond = Asker(runs, "a/000"), Asker(runs, "q/x")
    assert pending.waits() and beyond.waits()
    runs.close()  # the hashing stopped (cancelled, failed): nothing more will come
    assert pending.result() is None
    assert beyond.result() is None
    assert Asker(runs, "never/seen").result() is None


def test_runs_of_another_component_are_never_handed_out() -> None:
    runs = RenderedRuns(REF)
    runs.dispatched("a/000")
    published = run("a/000")
    runs.finished("a/000", published)
    assert Asker(runs, "a/000", ref="dataset:other").result() is None
    assert Asker(runs, "a/000", ref="model:ds").result() is None
    # not even while the walk has not listed the path yet
    assert Asker(runs, "z/later", ref="dataset:other").result() is None
    assert Asker(runs, "a/000").result() is published


def rendered(line: str, formats: dict[str, str]) -> str:
    path, size, sha256 = line.rstrip("\n").split("\0")
    return render_element(REF, path, int(size), sha256, formats[path])


def many_chunks(tmp_path: Path) -> Path:
    """Chunks in several directories, interleaving names, non-ASCII names, an unrenderable
    name and a large file (not hashed whole by the workers: its chunk is no run)."""
    files = {f"big/{i:04d}.txt": f"{i}".encode() for i in range(CHUNK + 76)}  # two chunks
    files |= {"a.txt": b"a", "a/x": b"x", "a0": b"0", "é/ça.txt": b"c", "数据/文件 1.bin": b"z"}
    files |= {'quote/it\'s "q"': b"q", "large/blob.bin": b"L" * (1024 * 1024 + 1)}
    files |= {"large/small.txt": b"s", "sp ace/f i le": b""}
    return write_tree(tmp_path / "ds", files)


@pytest.mark.parametrize("process_min_files", [1, 10**9], ids=["processes", "serial"])
def test_published_runs_are_exactly_the_hashed_chunks(
    tmp_path: Path, process_min_files: int
) -> None:
    data = many_chunks(tmp_path)
    tree, runs = observe(data, process_min_files=process_min_files)
    assert isinstance(tree.files, FileList)
    observed = set(tree.files.plain_lines.splitlines(keepends=True))
    # The root's files are split around its subdirectories, in path order: a.txt < a/x < a0,
    # so [a.txt], a/, [a0] are three chunks (a0 < big/...: nothing else joins it).
    firsts = [
        "a.txt",
        "a/x",
        "a0",
        "big/0000.txt",
        f"big/{CHUNK:04d}.txt",
        "sp ace/f i le",
        "é/ça.txt",
        "数据/文件 1.bin",
    ]
    found = {}
    for first in firsts:
        got = Asker(runs, first).result()
        assert isinstance(got, RenderedFiles), first
        found[first] = got
    for first, got in found.items():
        assert got.bom_ref == REF and got.first == first
        lines = got.lines.splitlines(keepends=True)
        assert len(lines) == got.count
        assert lines[0].startswith(f"{first}\0") and lines[-1].startswith(f"{got.last}\0")
        assert lines == sorted(lines)
        assert observed.issuperset(lines)
        assert got.size == sum(int(line.split("\0")[1]) for line in lines)
        formats = dict(line.split("\0") for line in got.formats.splitlines())
        assert formats.keys() == {line.split("\0")[0] for line in lines}
        joined = ",".join(rendered(line, formats) for line in lines)
        assert got.json_length == len(joined)
        assert got.json_sha256 == hashlib.sha256(joined.encode()).digest()
    assert found["big/0000.txt"].count == CHUNK and found[f"big/{CHUNK:04d}.txt"].count == 76
    assert found["a.txt"].count == found["a0"].count == 1
    # no run: a chunk with a name JSON escapes, a chunk with a file too large to hash whole,
    # and paths that begin no chunk
    for path in ['quote/it\'s "q"', "large/blob.bin", "big/0001.txt", "large/small.txt", "nothing"]:
        assert Asker(runs, path).result() is None, path


def test_a_reader_started_before_the_walk_gets_every_run(tmp_path: Path) -> None:
    files = {f"d0/{i:04d}": b"%d" % i for i in range(CHUNK + 10)}
    files |= {f"d1/{i:04d}": b"%d" % i for i in range(10)}
    data = write_tree(tmp_path / "ds", files)
    expected = ["d0/0000", f"d0/{CHUNK:04d}", "d1/0000"]
    runs = RenderedRuns(REF)
    # In the order a signed file list asks, all waiting before anything is listed.
    answers: dict[str, RenderedFiles | None] = {}

    def read_in_order() -> None:
        for path in expected:
            answers[path] = runs.starting_at(REF, path)

    reader = threading.Thread(target=read_in_order, daemon=True)
    reader.start()
    time.sleep(0.05)
    from chainguard.collectors.tree import collect_tree
    from chainguard.hashing import EveryPath, HashSettings
    from chainguard.models import DEFAULT_SHARD_SIZE

    try:
        collect_tree(
            data,
            HashSettings(process_min_files=1),
            mode="verify",
            shard_sizes=EveryPath(DEFAULT_SHARD_SIZE),
            runs=runs,
        )
    finally:
        runs.close()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert list(answers) == expected
    assert all(isinstance(answers[p], RenderedFiles) for p in expected), answers
