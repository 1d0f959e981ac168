"""Rollback high-water marks: monotonic, atomic, safe under concurrent runs."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from chainguard.errors import StateError
from chainguard.trust.state import StateStore, default_state_dir


def test_first_sight_is_accepted_and_recorded(tmp_path: Path) -> None:
    with StateStore(tmp_path) as store:
        assert store.check_and_record("svc", 3, "a" * 64, "1.0").ok
        mark = store.get("svc")
    assert mark is not None and mark.serial == 3 and mark.version == "1.0"


@pytest.mark.parametrize("serial", [2**63, -1])
def test_a_serial_sqlite_cannot_hold_is_a_state_error(tmp_path: Path, serial: int) -> None:
    """Not an OverflowError in the middle of a transaction (an internal error)."""
    with StateStore(tmp_path) as store:
        with pytest.raises(StateError, match=r"outside 0\.\.9223372036854775807"):
            store.check_and_record("svc", serial, "a" * 64, "1.0")
        assert store.check_and_record("svc", 2**63 - 1, "a" * 64, "1.0").ok


def test_lower_serial_is_refused_and_mark_kept(tmp_path: Path) -> None:
    with StateStore(tmp_path) as store:
        store.check_and_record("svc", 5, "a" * 64, "2.0")
        check = store.check_and_record("svc", 4, "b" * 64, "1.9")
        assert not check.ok and "older than serial 5" in check.reason
        assert store.get("svc").serial == 5  # type: ignore[union-attr]


def test_same_serial_different_sbom_is_refused(tmp_path: Path) -> None:
    with StateStore(tmp_path) as store:
        store.check_and_record("svc", 5, "a" * 64, "2.0")
        assert store.check_and_record("svc", 5, "a" * 64, "2.0").ok
        check = store.check_and_record("svc", 5, "c" * 64, "2.0")
        assert not check.ok and "already accepted" in check.reason


def test_higher_serial_raises_mark_and_deployments_are_separate(tmp_path: Path) -> None:
    with StateStore(tmp_path) as store:
        store.check_and_record("a", 1, "a" * 64, "1")
        store.check_and_record("a", 2, "b" * 64, "2")
        store.check_and_record("b", 9, "c" * 64, "9")
        assert store.get("a").serial == 2  # type: ignore[union-attr]
        assert store.get("b").serial == 9  # type: ignore[union-attr]


def test_serial_zero_is_unversioned(tmp_path: Path) -> None:
    with StateStore(tmp_path) as store:
        assert store.check_and_record("svc", 0, "a" * 64, "dev").ok
        assert store.get("svc") is None
        store.check_and_record("svc", 1, "a" * 64, "1")
        assert not store.check_and_record("svc", 0, "b" * 64, "dev").ok


def test_state_persists_across_instances(tmp_path: Path) -> None:
    with StateStore(tmp_path) as store:
        store.check_and_record("svc", 7, "a" * 64, "7")
    with StateStore(tmp_path) as store:
        assert not store.check_and_record("svc", 6, "b" * 64, "6").ok


def test_concurrent_runs_never_lower_the_mark(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def run(serial: int) -> None:
        try:
            with StateStore(tmp_path) as store:
                store.check_and_record("svc", serial, f"{serial:064x}", str(serial))
        except BaseException as e:  # pragma: no cover - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in range(1, 21)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with StateStore(tmp_path) as store:
        assert store.get("svc").serial == 20  # type: ignore[union-attr]


def test_corrupt_database_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match=r"state\.db"):
        StateStore(tmp_path)


def test_unwritable_location_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError):
        StateStore(blocker / "sub")


def test_default_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAINGUARD_STATE_DIR", str(tmp_path / "s"))
    assert default_state_dir() == tmp_path / "s"
    monkeypatch.delenv("CHAINGUARD_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert default_state_dir() == tmp_path / "xdg" / "chainguard"
    monkeypatch.setattr("os.geteuid", lambda: 0)  # root: a host's cron job
    assert default_state_dir() == Path("/var/lib/chainguard")


def test_database_is_sqlite_wal(tmp_path: Path) -> None:
    with StateStore(tmp_path) as store:
        store.check_and_record("svc", 1, "a" * 64, "1")
    mode = sqlite3.connect(tmp_path / "state.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


@pytest.mark.parametrize("round_", range(5))
def test_runs_that_create_the_store_at_the_same_moment_all_succeed(
    tmp_path: Path, round_: int
) -> None:
    # A cron run and a CI job meeting on a fresh state directory: switching the new database to
    # WAL fails at once with "database is locked" for the loser unless it retries.
    barrier = threading.Barrier(12)
    errors: list[BaseException] = []

    def run(serial: int) -> None:
        try:
            barrier.wait()
            with StateStore(tmp_path / "fresh") as store:
                store.check_and_record("svc", serial, f"{serial:064x}", str(serial))
        except BaseException as e:  # pragma: no cover - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in range(1, 13)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with StateStore(tmp_path / "fresh") as store:
        mark = store.get("svc")
    assert mark is not None and mark.serial == 12
