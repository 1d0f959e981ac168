"""Which process a configured server is: ``attest``'s ``processes`` (and ``--process SPEC``).

A SPEC is one of:

- ``systemd:UNIT``: the unit's main PID, from ``systemctl show --property=MainPID --value UNIT``
  (run without a shell, with a timeout);
- a bare decimal PID;
- a PID file path: read strictly (at most ``MAX_PID_FILE_BYTES``, one decimal PID, an optional
  trailing newline).

A server that is not running (no PID file, a PID that does not exist, a unit whose MainPID is
0) is an answer, not an error: ``resolve_spec`` returns it as ``NotRunning``, and attest turns it
into a finding. What cannot be read or asked (a malformed PID file, no systemctl, systemctl
failing) raises: the check cannot be made at all.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from chainguard.errors import InputError, ProcessError, UsageError

SYSTEMD_PREFIX = "systemd:"
MAX_PID_FILE_BYTES = 64  # a PID file holds one number
SYSTEMCTL_TIMEOUT = 10.0  # seconds
_PID = re.compile(r"[0-9]{1,10}")
_PID_LINE = re.compile(rb"[ \t]*([0-9]{1,10})[ \t]*\n?")
# systemd unit names: letters, digits and :-_.\@ (systemd.unit(5)); never an option
_UNIT = re.compile(r"[A-Za-z0-9:_.\\@-]{1,255}")


@dataclass(frozen=True, slots=True)
class NotRunning:
    """The server a SPEC names is not running: why, in words."""

    reason: str


def check_spec(spec: str) -> str:
    """``spec`` when it is well formed, else UsageError naming what is wrong."""
    if spec.startswith(SYSTEMD_PREFIX):
        unit = spec[len(SYSTEMD_PREFIX) :]
        if not _UNIT.fullmatch(unit) or unit.startswith("-"):
            raise UsageError(f"{spec!r}: not a systemd unit name (systemd:UNIT)")
    elif not spec.strip():
        raise UsageError("an empty process spec: give a PID file, systemd:UNIT or a PID")
    elif _PID.fullmatch(spec) and int(spec) == 0:
        raise UsageError(f"{spec!r}: not a process id")
    return spec


def resolve_spec(spec: str, *, timeout: float = SYSTEMCTL_TIMEOUT) -> int | NotRunning:
    """The PID ``spec`` names now, or why there is none (the PID itself is checked later, by
    procfs.open_process). Raises InputError (exit 3) when it cannot be told."""
    check_spec(spec)
    if spec.startswith(SYSTEMD_PREFIX):
        return _unit_pid(spec[len(SYSTEMD_PREFIX) :], timeout)
    if _PID.fullmatch(spec):
        return int(spec)
    return read_pid_file(Path(spec))


def read_pid_file(path: Path) -> int | NotRunning:
    """One decimal PID from ``path``; a missing file is a server that is not running."""
    try:
        # O_NONBLOCK: a FIFO put where the PID file should be must not hang the run
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return NotRunning(f"no PID file {path}")
    except OSError as e:
        raise InputError(f"{path}: cannot read the PID file: {e.strerror or e}") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{path}: not a PID file (not a regular file)")
        data = os.read(fd, MAX_PID_FILE_BYTES + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read the PID file: {e.strerror or e}") from e
    finally:
        os.close(fd)
    if len(data) > MAX_PID_FILE_BYTES:
        raise InputError(f"{path}: not a PID file (more than {MAX_PID_FILE_BYTES} bytes)")
    match = _PID_LINE.fullmatch(data)
    if match is None or int(match[1]) == 0:
        raise InputError(f"{path}: not a PID file (expected one decimal process id)")
    return int(match[1])


def parse_main_pid(output: str, unit: str) -> int | NotRunning:
    """What ``systemctl show --property=MainPID --value UNIT`` printed: the PID, or 0 when the
    unit has no running main process (also what systemd says of a unit it does not know)."""
    text = output.strip()
    if not _PID.fullmatch(text):
        raise InputError(f"systemd:{unit}: systemctl printed {text[:40]!r}, not a MainPID")
    pid = int(text)
    return pid if pid else NotRunning(f"systemd unit {unit} has no running main process")


def _unit_pid(unit: str, timeout: float) -> int | NotRunning:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        raise ProcessError(f"systemd:{unit}: no systemctl on this host to resolve the unit")
    argv = [systemctl, "show", "--property=MainPID", "--value", "--", unit]
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise ProcessError(
            f"systemd:{unit}: systemctl did not answer within {timeout:g}s"
        ) from None
    except OSError as e:
        raise ProcessError(f"systemd:{unit}: cannot run systemctl: {e.strerror or e}") from e
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ProcessError(
            f"systemd:{unit}: systemctl failed (exit {done.returncode})"
            + (f": {said[0][:200]}" if said else "")
        )
    return parse_main_pid(done.stdout.decode("ascii", "replace"), unit)
