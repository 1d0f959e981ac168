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


def _pickles(root: Path) -> Path:
    write_benign(root)
    return root


def _config(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_scan_applies_the_config_format_policy(tmp_path: Path) -> None:
    tree = _pickles(tmp_path / "m")
    deny = _config(tmp_path / "deny.toml", '[formats]\ndeny = ["pickle"]\n')
    outcome = cli("scan", tree, "--config", deny, "--format", "json")
    assert outcome.code == 1
    assert {r for r, _ in outcome.rules} == {"unsafe-format"}
    assert outcome.report["config"] == str(deny)
    # the same tree under the default policy: warnings only
    default = cli("scan", tree, "--no-config", "--format", "json")
    assert default.code == 0 and {r for r, _ in default.rules} == {"pickle-format"}
    text = cli("scan", tree, "--config", deny)
    assert text.stdout.startswith("✘ UNSAFE files") and "policy      deny pickle" in text.stdout
    assert "signed by" not in text.stdout and "hashed" not in text.stdout


def test_scan_reads_the_config_of_the_environment_and_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _pickles(tmp_path / "m")
    monkeypatch.chdir(tmp_path)
    _config(tmp_path / "chainguard.toml", '[formats]\ndeny = ["pickle"]\n')
    assert cli("scan", tree, "--format", "json").code == 1
    assert cli("scan", tree, "--no-config", "--format", "json").code == 0
    allow = _config(tmp_path / "allow.toml", "[formats]\n")
    monkeypatch.setenv("CHAINGUARD_CONFIG", str(allow))
    outcome = cli("scan", tree, "--format", "json")
    assert outcome.code == 0 and outcome.report["config"] == str(allow)


def test_a_scanned_tree_cannot_configure_its_own_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator's policy denies pickles; a config shipped inside the model would clear it.
    tree = tmp_path / "m"
    write_unsafe(tree)
    _config(tree / "chainguard.toml", '[formats]\nallow = ["pickle", "pytorch-zip"]\n')
    monkeypatch.chdir(tree)
    outcome = cli("scan", ".", "--format", "json")
    assert outcome.code == 1
    assert outcome.report["config"] is None
    assert "not read" in outcome.report["trust"]["config_note"]
    assert "unsafe-format" not in {r for r, _ in outcome.rules}


def test_a_config_others_may_write_is_refused(tmp_path: Path) -> None:
    tree = _pickles(tmp_path / "m")
    loose = _config(tmp_path / "loose.toml", "[formats]\n")
    loose.chmod(0o666)
    assert_one_line_error(cli("scan", tree, "--config", loose), 3, "chmod go-w")


def test_scan_of_nothing_unsafe_says_so(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.json").write_text("{}")
    outcome = cli("scan", tmp_path / "m", "--no-config")
    assert outcome.code == 0
    assert outcome.stdout.startswith("✔ nothing unsafe")
    assert "1 file, 2 B read" in outcome.stdout
    markdown = cli("scan", tmp_path / "m", "--no-config", "--format", "markdown")
    assert markdown.stdout.startswith("## ✅ chainguard scan: nothing unsafe in")
