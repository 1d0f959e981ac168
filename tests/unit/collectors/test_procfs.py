"""collectors/procfs.py: /proc/PID/maps parsed strictly, /proc/PID/stat, and a real process's
own view (this test process) read back."""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

import pytest

from chainguard.collectors.procfs import (
    DELETED,
    ProcessError,
    _stat_fields,
    open_process,
    parse_maps,
    snapshot,
    still_running,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_maps_lines_as_the_kernel_writes_them() -> None:
    data = (
        b"55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 260386                     /usr/bin/x\n"
        b"7f00aa000000-7f00aa001000 r-xp 00001000 08:1f 42                /srv/m y/w (deleted)\n"
        b"7f00ab000000-7f00ab001000 rw-s 00000000 00:05 7   /srv/new\\012line.bin\n"
        b"7ffd5c5f4000-7ffd5c615000 rw-p 00000000 00:00 0                          [stack]\n"
        b"7f00ac000000-7f00ac021000 rw-p 00000000 00:00 0 \n"
    )
    binary, deleted, newline, stack, anonymous = parse_maps(data, "maps")
    assert (binary.start, binary.end, binary.perms) == (0x55D0C0A00000, 0x55D0C0A02000, "r--p")
    assert (binary.dev, binary.inode, binary.path) == (os.makedev(0xFE, 0), 260386, "/usr/bin/x")
    assert deleted.path == "/srv/m y/w (deleted)"  # spaces kept; the suffix is judged later
    assert (deleted.offset, deleted.dev) == (0x1000, os.makedev(8, 0x1F))
    assert newline.path == "/srv/new\nline.bin"
    assert newline.perms == "rw-s"
    assert stack.path == "[stack]" and stack.inode == 0
    assert anonymous.path == ""


def test_maps_path_bytes_that_are_not_utf8_survive() -> None:
    (line,) = parse_maps(b"1000-2000 r--p 00000000 00:01 5 /srv/\xff.bin\n", "maps")
    assert os.fsencode(line.path) == b"/srv/\xff.bin"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"garbage", "not a maps line"),
        (b"1000-2000 r--x 00000000 00:01 5 /a", "not a maps line"),  # 4th perm: p or s
        (b"1000 r--p 00000000 00:01 5 /a", "not a maps line"),
        (b"1000-2000 r--p 00000000 0001 5 /a", "not a maps line"),
        (b"1000-2000 r--p 00000000 00:01 x /a", "not a maps line"),
        (b"1000-2000 r--p 00000000 00:01", "not a maps line"),
        (b"1000-2000\tr--p 00000000 00:01 5 /a", "not a maps line"),
        (b"1000-2000 r--p 00000000 00:01 5 /a\0b", "not a maps line"),  # no path has a NUL
        (b"10000000000000000-2000 r--p 00000000 00:01 5 /a", "not a maps line"),
        (b"2000-1000 r--p 00000000 00:01 5 /a", "ends before it starts"),
    ],
)
def test_malformed_maps_line_is_one_line_naming_it(line: bytes, why: str) -> None:
    data = b"1000-2000 r--p 00000000 00:01 5 /ok\n" + line + b"\n"
    with pytest.raises(ProcessError) as exc:
        parse_maps(data, "/proc/7/maps")
    message = str(exc.value)
    assert message.startswith("/proc/7/maps:2: ") and why in message
    assert "\n" not in message


def test_stat_line_with_a_hostile_command_name(tmp_path: Path) -> None:
    (tmp_path / "9").mkdir()
    fields = " ".join(["S", *(["0"] * 18), "123456", *(["0"] * 10)])
    (tmp_path / "9" / "stat").write_text(f"9 (a) b ) S 1 2) {fields}\n")
    assert _stat_fields(9, tmp_path) == ("S", 123456)
    (tmp_path / "9" / "stat").write_text("9 (truncated\n")
    with pytest.raises(ProcessError, match="not a stat line"):
        _stat_fields(9, tmp_path)


@linux_only
def test_this_process_mapped_and_open_files(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w" * 8192)
    gone = tmp_path / "gone.bin"
    gone.write_bytes(b"g" * 4096)
    named = tmp_path / f"odd{DELETED}"  # a live file merely named like a deleted one
    named.write_bytes(b"n" * 4096)
    with (
        weights.open("rb") as f,
        gone.open("rb") as g,
        named.open("rb") as n,
        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ),
        mmap.mmap(g.fileno(), 0, access=mmap.ACCESS_READ),
    ):
        gone.unlink()
        pid = os.getpid()
        start = open_process(pid)
        assert still_running(pid, start)
        snap = snapshot(pid, start)
        files = {f.path: f for f in snap.files}
        assert not files[str(weights)].deleted
        assert files[str(weights)].inode == os.fstat(f.fileno()).st_ino
        assert files[str(gone)].deleted
        assert files[str(named)].deleted is False
        assert snap.executable == os.path.realpath(sys.executable)
        del n


@linux_only
def test_no_such_process_and_not_a_pid() -> None:
    with pytest.raises(ProcessError, match="does not exist"):
        open_process(2**22 + 1)  # above any pid_max
    with pytest.raises(ProcessError, match="not a process id"):
        open_process(0)
    assert not still_running(2**22 + 1, 0)


def test_without_proc_it_is_not_linux(tmp_path: Path) -> None:
    with pytest.raises(ProcessError, match="only Linux has"):
        open_process(1, proc=tmp_path)
