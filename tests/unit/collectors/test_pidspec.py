"""collectors/pidspec.py: attest's process specs, systemctl's MainPID output, PID files."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainguard.collectors.pidspec import (
    NotRunning,
    check_spec,
    parse_main_pid,
    read_pid_file,
    resolve_spec,
)
from chainguard.errors import InputError, ProcessError, UsageError


@pytest.mark.parametrize(("output", "pid"), [("1234\n", 1234), ("1\n", 1), (" 77 \n", 77)])
def test_main_pid_parsed(output: str, pid: int) -> None:
    assert parse_main_pid(output, "svc.service") == pid


def test_main_pid_zero_is_not_running() -> None:
    # systemd prints 0 for a stopped unit, and for a unit it does not know
    assert parse_main_pid("0\n", "svc.service") == NotRunning(
        "systemd unit svc.service has no running main process"
    )


@pytest.mark.parametrize(
    "output", ["", "\n", "MainPID=12\n", "-1\n", "12\n13\n", "1" * 11, "x\n", "1.5\n"]
)
def test_main_pid_malformed_is_one_line(output: str) -> None:
    with pytest.raises(InputError, match=r"^systemd:svc.service: systemctl printed .*MainPID$"):
        parse_main_pid(output, "svc.service")


@pytest.mark.parametrize("spec", ["systemd:", "systemd:-H", "systemd:a b", "systemd:x;y", "", "0"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(UsageError):
        check_spec(spec)


@pytest.mark.parametrize("spec", ["systemd:vllm.service", "systemd:a@1.service", "12", "x.pid"])
def test_good_specs(spec: str) -> None:
    assert check_spec(spec) == spec


def test_pid_file_read_strictly(tmp_path: Path) -> None:
    pid_file = tmp_path / "s.pid"
    pid_file.write_bytes(b"4242\n")
    assert read_pid_file(pid_file) == 4242
    assert resolve_spec(str(pid_file)) == 4242
    assert resolve_spec("4242") == 4242
    assert read_pid_file(tmp_path / "gone.pid") == NotRunning(f"no PID file {tmp_path}/gone.pid")


def test_systemd_without_systemctl_cannot_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ProcessError, match="no systemctl on this host"):
        resolve_spec("systemd:svc.service")


def test_config_processes(tmp_path: Path) -> None:
    from chainguard.config import load_config

    cfg = tmp_path / "chainguard.toml"
    cfg.write_text('[attest]\nprocesses = ["run/s.pid", "/abs.pid", "systemd:a.service", "9"]\n')
    assert load_config(cfg).attest.processes == (
        str(tmp_path / "run/s.pid"),
        "/abs.pid",
        "systemd:a.service",
        "9",
    )
