"""`chainguard scan DIR` starts its walk before the command line is imported (_launch.py,
collectors/scanwalk.EarlyScan) and adopts it only when it is the walk the command would make:
a real process must report exactly what the in-process command reports, whatever the options,
the config's policy or the layout."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from support.cli import chainguard_script, cli, run_process
from support.unsafe_artifacts import OS_SYSTEM, write_unsafe

from chainguard._launch import _prestart_scan
from chainguard.collectors.scanwalk import EarlyScan, line_filter
from chainguard.formats.policy import FormatPolicy


def _findings(report: dict[str, object]) -> list[tuple[str, str, str]]:
    found = report["findings"]
    assert isinstance(found, list)
    return [(f["rule"], f["path"], f["message"]) for f in found]


def _tree(root: Path) -> Path:
    write_unsafe(root / "unsafe")
    for d in range(3):
        sub = root / f"data-{d}"
        sub.mkdir(parents=True)
        for i in range(300):
            (sub / f"{i:04d}.jsonl").write_text('{"a": 1}\n')
    (root / "data-1" / "0007.jsonl").write_bytes(OS_SYSTEM)
    os.symlink("../unsafe/os_system.pkl", root / "data-2" / "link.pkl")
    (root / "données").mkdir()  # an unusual name: left to the main process
    (root / "données" / "x.pkl").write_bytes(OS_SYSTEM)
    return root


@pytest.mark.parametrize(
    "options",
    [
        ["--format", "json"],
        ["-f", "json", "--no-config"],  # the path after the options
    ],
)
def test_a_real_process_reports_what_the_command_reports(
    tmp_path: Path, options: list[str]
) -> None:
    root = _tree(tmp_path / "t")
    argv = ["scan", *options, str(root)] if "-f" in options else ["scan", str(root), *options]
    real = run_process([chainguard_script(), *argv], cwd=tmp_path)
    inproc = cli(*argv)
    assert real.code == inproc.code == 1, real.stderr
    assert _findings(real.report) == _findings(inproc.report)
    rules = {(r, p) for r, p, _ in _findings(real.report)}
    assert {("unsafe-pickle", "data-1/0007.jsonl"), ("unsafe-pickle", "données/x.pkl")} <= rules
    assert ("unsafe-pickle", "data-2/link.pkl") in rules
    assert real.report["ok"] is False


def test_a_policy_with_lists_is_not_given_the_early_walk(tmp_path: Path) -> None:
    # deny = ["json"] needs every file's line: the early walk (default filter) is not adopted
    root = _tree(tmp_path / "t")
    config = tmp_path / "c.toml"
    config.write_text('[formats]\ndeny = ["json"]\n')
    config.chmod(0o600)
    argv = ["scan", str(root), "--config", str(config), "--format", "json"]
    real = run_process([chainguard_script(), *argv], cwd=tmp_path)
    assert _findings(real.report) == _findings(cli(*argv).report)
    assert sum(r == "unsafe-format" for r, _, _ in _findings(real.report)) == 900 - 1


def test_a_hub_cache_walked_early_keeps_its_links_in_their_repo(tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "models--org--name"
    (repo / "blobs").mkdir(parents=True)
    snap = repo / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (repo / "blobs" / "1").write_text("{}")
    os.symlink("../../blobs/1", snap / "config.json")
    write_unsafe(tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere" / "os_system.pkl", snap / "m.pkl")
    for i in range(300):  # enough entries for the early walk
        (snap / f"{i:03d}.txt").write_text("x")
    argv = ["scan", str(tmp_path / "hub"), "--format", "json"]
    real = run_process([chainguard_script(), *argv], cwd=tmp_path)
    assert real.code == 1
    assert [(r, p) for r, p, _ in _findings(real.report)] == [
        ("symlink-escape", "models--org--name/snapshots/abc/m.pkl")
    ]
    assert _findings(real.report) == _findings(cli(*argv).report)


def test_a_usage_error_stops_the_early_walk(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    started = time.monotonic()
    outcome = run_process([chainguard_script(), "scan", str(root), "--bogus"], cwd=tmp_path)
    assert outcome.code == 2 and "No such option" in outcome.stderr
    assert time.monotonic() - started < 10  # the workers and the thread were stopped


def test_which_command_lines_start_a_walk(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    small = tmp_path / "small"
    small.mkdir()
    (small / "a.txt").write_text("x")
    assert _prestart_scan(["scan", "--help", str(root)]) is None
    assert _prestart_scan(["scan", str(root / "unsafe" / "os_system.pkl")]) is None
    assert _prestart_scan(["scan", str(small)]) is None  # not worth the worker processes
    assert _prestart_scan(["verify", "dataset", str(root)]) is None
    for argv in (["scan", str(root)], ["scan", "-o", "r.json", "--format=json", str(root)]):
        early = _prestart_scan(argv)
        assert isinstance(early, EarlyScan)
        # another path or another line filter: not adopted, and stopped
        assert early.adopt(small, line_filter(FormatPolicy())) is None
        assert early.walk.workers == []


def test_an_adopted_walk_raises_what_it_met(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    early = EarlyScan(root)
    walk = early.adopt(root, line_filter(FormatPolicy()))
    assert walk is not None and walk.files > 900
    walk.close()
    gone = EarlyScan(tmp_path / "missing")  # the root vanished before the walk began
    with pytest.raises(Exception, match="cannot list directory"):
        gone.adopt(tmp_path / "missing", line_filter(FormatPolicy()))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_on_one_core_the_early_walk_lists_in_its_thread(tmp_path: Path) -> None:
    # no worker process to hand the walk to: it must not wait for one
    root = _tree(tmp_path / "t")
    one_core = (
        "import os, sys; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "sys.argv[0] = 'chainguard'; from chainguard._launch import main; main()"
    )
    argv = ["scan", str(root), "--format", "json"]
    real = run_process([sys.executable, "-c", one_core, *argv], cwd=tmp_path)
    assert real.code == 1, real.stderr
    assert _findings(real.report) == _findings(cli(*argv).report)


def test_many_cores_start_two_workers_until_the_tree_is_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chainguard.hashing_pool.default_workers", lambda: 6)
    small = _tree(tmp_path / "small")  # some 900 files: below the threshold
    early = EarlyScan(small)
    walk = early.adopt(small, line_filter(FormatPolicy()))
    assert walk is not None and len(walk.workers) == 2
    walk.close()
    monkeypatch.setenv("CHAINGUARD_PROCESS_MIN_FILES", "400")  # scan's threshold: 100 files
    early = EarlyScan(small)
    walk = early.adopt(small, line_filter(FormatPolicy()))
    assert walk is not None and len(walk.workers) == 6
    walk.close()
