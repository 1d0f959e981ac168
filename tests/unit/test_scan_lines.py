"""chainguard scan's format lines: the worker processes return only the lines the policy may
have something to say about (api/_formats.line_filter), and format_lines picks them as the
regular expression over every line did. Same findings through worker processes and without."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.unsafe_artifacts import OS_SYSTEM

from chainguard._hashworker import _detect_listed
from chainguard.api._formats import _RELEVANT_LINE, format_lines
from chainguard.api.scan import scan_path
from chainguard.collectors.scanwalk import line_filter
from chainguard.formats.policy import FormatPolicy
from chainguard.hashing import PROCESS_MIN_FILES_ENV


def _tree(root: Path) -> Path:
    root.mkdir()
    for i in range(12):
        (root / f"rows-{i:02d}.jsonl").write_text(f'{{"id": {i}}}\n')
    (root / "Weights.SafeTensors").write_text("not a tensor file\n")  # named, mixed case
    (root / "notes.txt").write_bytes(OS_SYSTEM)  # a pickle under a harmless name
    (root / "sub").mkdir()
    (root / "sub" / "a.NPY").write_bytes(b"\x00" * 64)
    return root


def _rules(
    root: Path, policy: FormatPolicy | None, min_files: int, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, str]]:
    monkeypatch.setenv(PROCESS_MIN_FILES_ENV, str(min_files))  # read by HashSettings()
    report = scan_path(root, policy)
    assert report.stats.files == 15
    return [(f.rule, f.path) for f in report.findings]


@pytest.mark.parametrize("policy", [None, FormatPolicy(deny=("json",))], ids=["default", "deny"])
def test_same_findings_through_workers_and_in_thread(
    tmp_path: Path, policy: FormatPolicy | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path / "t")
    through_workers = _rules(root, policy, 1, monkeypatch)
    in_thread = _rules(root, policy, 10**9, monkeypatch)
    assert through_workers == in_thread
    assert ("malformed-artifact", "Weights.SafeTensors") in in_thread
    assert ("unsafe-pickle", "notes.txt") in in_thread
    assert ("malformed-artifact", "sub/a.NPY") in in_thread
    denied = [p for rule, p in in_thread if rule == "unsafe-format"]
    assert denied == ([f"rows-{i:02d}.jsonl" for i in range(12)] if policy else [])


def test_workers_return_only_the_lines_the_policy_may_select(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    names = sorted(p.name for p in root.iterdir() if p.is_file())
    st = os.stat(root)
    base = str(root) + "/"
    kept, problems, nbytes = _detect_listed(
        base, names, (st.st_ino, st.st_dev), False, line_filter(FormatPolicy())
    )
    every, _, _ = _detect_listed(base, names, (st.st_ino, st.st_dev), False, None)
    assert problems == []
    assert nbytes == sum(p.stat().st_size for p in root.iterdir() if p.is_file())
    assert kept == "Weights.SafeTensors\0text\nnotes.txt\0pickle\n"
    assert len(every.splitlines()) == len(names)
    assert list(format_lines(kept, FormatPolicy())) == list(format_lines(every, FormatPolicy()))


@pytest.mark.parametrize(
    "piece",
    [
        "a.txt\0text\nb.Safetensors\0json\nc/d.bin\0pickle\ne.npy\0numpy",  # no final newline
        "x.safetensors.txt\0text\n.npz\0zip\nİ.NPY\0unknown\nq\0pytorch-zip\n",  # İ: longer
        "K.npz\0numpy\nſ.gguf\0text\nx.ſafetensors\0text\nplain\0numpy-pickle\n",
        "",
    ],
)
def test_format_lines_selects_as_the_line_expression(piece: str) -> None:
    expected = [tuple(m.group(0).split("\0")) for m in _RELEVANT_LINE.finditer(piece)]
    got = list(format_lines(piece, FormatPolicy()))
    # A name ending in a suffix only under Unicode case folding (long s for s) needs no line:
    # evaluate finds nothing for it (its lowercase suffix is not one the policy knows).
    assert [line for line in expected if not line[0].endswith("ſafetensors")] == got


def test_many_chunks_in_flight_each_answered_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 200 directories, one chunk each: more requests than the queue to the workers holds, so
    # answers are taken while requests are still being sent (each must keep its own key).
    root = tmp_path / "t"
    for d in range(200):
        (root / f"d{d:03d}").mkdir(parents=True)
        (root / f"d{d:03d}" / "x.pkl").write_bytes(OS_SYSTEM)
        (root / f"d{d:03d}" / "y.txt").write_text("y\n")
    monkeypatch.setenv(PROCESS_MIN_FILES_ENV, "1")
    report = scan_path(root)
    assert report.stats.files == 400
    assert [(f.rule, f.path) for f in report.findings] == [
        ("unsafe-pickle", f"d{d:03d}/x.pkl") for d in range(200)
    ]


def test_sizes_without_fstat_and_what_is_no_longer_a_file(tmp_path: Path) -> None:
    # A file's size comes from its read (shorter than asked: the whole file) or a seek to its
    # end; only an empty read asks fstat whether the name is still a regular file.
    root = tmp_path / "t"
    root.mkdir()
    sizes = {"empty": 0, "short": 10, "page": 4096, "page1": 4097, "big": 100_000}
    for name, size in sizes.items():
        (root / name).write_bytes(b"\x00" * size)
    os.mkfifo(root / "fifo")  # listed as a file, swapped for a fifo before it was read
    (root / "dir").mkdir()
    names = sorted([*sizes, "fifo", "dir"])
    st = os.stat(root)
    every, problems, nbytes = _detect_listed(
        str(root) + "/", names, (st.st_ino, st.st_dev), False, None
    )
    assert nbytes == sum(sizes.values())
    assert {names[i]: why for i, why in problems} == {
        "fifo": "not a regular file",
        "dir": os.strerror(21),  # EISDIR: read refuses a directory
    }
    formats = dict(line.split("\0") for line in every.splitlines())
    assert formats == {name: "empty" if not size else "unknown" for name, size in sizes.items()}
