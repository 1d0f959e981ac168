"""chainguard scan, as a user runs it, on malicious and benign artifacts; nothing unpickled."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, cli
from support.unsafe_artifacts import write_benign, write_unsafe


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("something tried to unpickle")

    for name in ("load", "loads", "Unpickler", "_Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)


def test_scan_reports_every_unsafe_file(tmp_path: Path) -> None:
    expected = write_unsafe(tmp_path / "m")
    outcome = cli("scan", tmp_path / "m", "--format", "json")
    assert outcome.code == 1, outcome.stderr
    for name, exp in expected.items():
        found = {f["rule"] for f in outcome.report["findings"] if f["path"] == name}
        assert found == set(exp.rules), name


def test_scan_of_benign_files_exits_zero_in_every_format(tmp_path: Path) -> None:
    write_benign(tmp_path / "m")
    for fmt in ("text", "json", "sarif", "markdown"):
        outcome = cli("scan", tmp_path / "m", "--format", fmt, "--output", tmp_path / f"r.{fmt}")
        assert outcome.code == 0, (fmt, outcome.stderr)
        assert (tmp_path / f"r.{fmt}").stat().st_size > 0


def test_hub_cache_snapshot_links_stay_in_their_repo(tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "models--org--name"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / "abc").mkdir(parents=True)
    write_unsafe(tmp_path / "elsewhere")
    (repo / "blobs" / "1234").write_bytes(b'{"a": 1}')
    os.symlink("../../blobs/1234", repo / "snapshots" / "abc" / "config.json")
    os.symlink(tmp_path / "elsewhere" / "os_system.pkl", repo / "snapshots" / "abc" / "m.pkl")
    outcome = cli("scan", tmp_path / "hub", "--format", "json")
    assert outcome.rules == [("symlink-escape", "models--org--name/snapshots/abc/m.pkl")]


def test_unreadable_input_exits_3(tmp_path: Path) -> None:
    assert_one_line_error(cli("scan", tmp_path / "missing"), 3, "missing")
