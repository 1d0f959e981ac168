"""A running process as the kernel shows it in /proc (Linux): the files it has mapped
(``/proc/PID/maps``, ``/proc/PID/map_files``) and open (``/proc/PID/fd``).

Read only: the process is never attached to, paused or written to, and nothing it says about
itself is read (not its command line, not its environment). Only what the process holds *now*
is visible: a file it read and closed (every pure-Python module, weights read into memory and
the file closed) leaves no trace here.

Permissions, as the kernel checks them: ``maps``, ``fd`` and the names in ``map_files`` need
ptrace read access to the process (the same user, or root / ``CAP_SYS_PTRACE``); opening or
stat'ing a ``map_files`` entry (a mapped file that is no longer open) needs ``CAP_SYS_ADMIN``
or ``CAP_CHECKPOINT_RESTORE``, which root has. Without the latter a mapping is identified by the
device and inode ``maps`` prints, and its content cannot be read.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from chainguard.errors import ProcessError
from chainguard.hashing import sha256_file

PROC = Path("/proc")
DELETED = " (deleted)"
PTRACE_NEEDED = "root or CAP_SYS_PTRACE to read another user's process"
MAP_FILES_NEEDED = "CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE (root) to open /proc/PID/map_files"

_MAPS_LINE = re.compile(
    rb"([0-9a-f]{1,16})-([0-9a-f]{1,16}) ([r-][w-][x-][ps]) ([0-9a-f]{1,16}) "
    rb"([0-9a-f]{1,8}):([0-9a-f]{1,8}) ([0-9]{1,20}) ?([^\x00]*)"
)
# The kernel writes a newline in a mapped path as \012 (seq_file_path); nothing else is escaped.
_ESCAPED_NEWLINE = b"\\012"


class ProcessExited(ProcessError):
    """The process exited (or its PID now names another process) while it was looked at."""


@dataclass(frozen=True, slots=True)
class MapsLine:
    """One line of /proc/PID/maps."""

    start: int
    end: int
    perms: str  # "r-xp"
    offset: int
    dev: int  # os.makedev(major, minor)
    inode: int
    path: str  # as the kernel names it, \\012 decoded; "" for an anonymous mapping


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """A regular file the process has mapped or open (one entry per file, however many
    mappings and descriptors it has)."""

    path: str  # as the kernel names it, " (deleted)" removed when the file is unlinked
    dev: int
    inode: int
    deleted: bool  # unlinked since the process mapped or opened it
    executable: bool  # mapped with execute permission (native code)
    handle: str  # /proc/PID/fd/N or /proc/PID/map_files/A-B: the process's object, to read


@dataclass(frozen=True, slots=True)
class ProcessSnapshot:
    pid: int
    start_time: int  # clock ticks after boot (/proc/PID/stat field 22): tells PID reuse apart
    executable: str | None  # /proc/PID/exe
    files: tuple[LoadedFile, ...]
    map_files_readable: bool  # False: mappings identified by maps' device and inode only


def parse_maps(data: bytes, source: str) -> list[MapsLine]:
    """/proc/PID/maps, strictly: a line that is not what the kernel writes is an error naming
    the line (a parser that skipped it could skip a mapping)."""
    lines = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw:
            continue
        m = _MAPS_LINE.fullmatch(raw)
        if m is None:
            raise ProcessError(f"{source}:{number}: not a maps line")
        start, end = int(m[1], 16), int(m[2], 16)
        if end < start:
            raise ProcessError(f"{source}:{number}: mapping ends before it starts")
        name = m[8].lstrip(b" ").replace(_ESCAPED_NEWLINE, b"\n")
        try:
            dev = os.makedev(int(m[5], 16), int(m[6], 16))
        except (OverflowError, ValueError):  # 8 hex digits can exceed what makedev takes
            raise ProcessError(f"{source}:{number}: device number out of range") from None
        lines.append(
            MapsLine(start, end, m[3].decode(), int(m[4], 16), dev, int(m[7]), os.fsdecode(name))
        )
    return lines


def _gone(e: OSError) -> bool:
    return isinstance(e, (FileNotFoundError, ProcessLookupError)) or e.errno == errno.ESRCH


def _stat_fields(pid: int, proc: Path) -> tuple[str, int]:
    """(state, start time) from /proc/PID/stat; the command name may hold spaces and ')'."""
    source = proc / str(pid) / "stat"
    data = source.read_bytes()
    _, sep, rest = data.rpartition(b")")
    fields = rest.split()
    if not sep or len(fields) < 20 or not fields[19].isdigit():
        raise ProcessError(f"{source}: not a stat line")
    return fields[0].decode("ascii", "replace"), int(fields[19])


def open_process(pid: int, proc: Path = PROC) -> int:
    """Check that ``pid`` is a running process this run may look at; its start time.

    Raises ProcessError (exit 3, one line): not Linux, no such process, or no permission."""
    if not sys.platform.startswith("linux") or not (proc / "self" / "maps").exists():
        raise ProcessError(
            f"verify process reads /proc/PID/maps, which only Linux has (this is {sys.platform})"
        )
    if pid <= 0:
        raise ProcessError(f"{pid}: not a process id")
    try:
        state, start_time = _stat_fields(pid, proc)
    except OSError as e:
        if _gone(e):
            raise ProcessError(f"process {pid} does not exist") from e
        raise ProcessError(f"{proc / str(pid) / 'stat'}: cannot read: {e.strerror or e}") from e
    if state in ("Z", "X"):
        raise ProcessError(f"process {pid} has exited (it is a zombie, not yet reaped)")
    try:
        with (proc / str(pid) / "maps").open("rb") as f:
            f.read(1)
        os.listdir(proc / str(pid) / "fd")
    except PermissionError as e:
        raise ProcessError(
            f"process {pid}: permission denied reading {e.filename}: needs {PTRACE_NEEDED}"
        ) from e
    except OSError as e:
        if _gone(e):
            raise ProcessError(f"process {pid} does not exist") from e
        raise ProcessError(f"process {pid}: cannot read {e.filename}: {e.strerror or e}") from e
    return start_time


def still_running(pid: int, start_time: int, proc: Path = PROC) -> bool:
    """Is ``pid`` still the process that was opened (not exited, not a reused PID)?"""
    try:
        state, started = _stat_fields(pid, proc)
    except (OSError, ProcessError):
        return False
    return started == start_time and state not in ("Z", "X")


def snapshot(pid: int, start_time: int, proc: Path = PROC) -> ProcessSnapshot:
    """Every regular file the process has mapped or open, now. Raises ProcessExited when it
    is gone (or is no longer the process that was opened)."""
    base = proc / str(pid)
    try:
        maps_data = (base / "maps").read_bytes()
        opened = _open_files(base)
        mapped, readable = _mapped_files(base, parse_maps(maps_data, str(base / "maps")))
        try:
            executable: str | None = os.readlink(base / "exe")
        except (FileNotFoundError, PermissionError):
            executable = None  # a kernel thread has none; the process may be gone (below)
    except PermissionError as e:
        raise ProcessError(
            f"process {pid}: permission denied reading {e.filename}: needs {PTRACE_NEEDED}"
        ) from e
    except OSError as e:
        if _gone(e):
            raise ProcessExited(f"process {pid} exited while it was read") from e
        raise ProcessError(f"process {pid}: cannot read {e.filename}: {e.strerror or e}") from e
    if not still_running(pid, start_time, proc):
        raise ProcessExited(f"process {pid} exited while it was read")
    files: dict[tuple[int, int], LoadedFile] = {}
    for f in (*opened, *mapped):
        seen = files.get((f.dev, f.inode))
        if seen is None:
            files[(f.dev, f.inode)] = f
        elif f.executable and not seen.executable:  # keep the descriptor to read through
            files[(f.dev, f.inode)] = LoadedFile(
                seen.path, seen.dev, seen.inode, seen.deleted, True, seen.handle
            )
    if executable is not None and executable.endswith(DELETED):
        executable = executable[: -len(DELETED)]
    return ProcessSnapshot(pid, start_time, executable, tuple(files.values()), readable)


def _kernel_name(link: str, st: os.stat_result) -> tuple[str, bool]:
    """(path, deleted) from a /proc link target: d_path appends " (deleted)" to an unlinked
    file's name; a file merely named so still has links."""
    deleted = st.st_nlink == 0
    if deleted and link.endswith(DELETED):
        link = link[: -len(DELETED)]
    return link, deleted


def _open_files(base: Path) -> list[LoadedFile]:
    found = []
    for name in os.listdir(base / "fd"):
        handle = base / "fd" / name
        try:
            link = os.readlink(handle)
            if not link.startswith("/"):
                continue  # socket:[…], pipe:[…], anon_inode:…
            st = os.stat(handle)
        except FileNotFoundError:
            continue  # closed meanwhile
        if not stat.S_ISREG(st.st_mode):
            continue
        path, deleted = _kernel_name(link, st)
        found.append(LoadedFile(path, st.st_dev, st.st_ino, deleted, False, str(handle)))
    return found


def _mapped_files(base: Path, lines: list[MapsLine]) -> tuple[list[LoadedFile], bool]:
    """One entry per mapped file. Identified by a stat of its map_files entry where this run
    may (the same device numbers stat gives on disk, overlay and btrfs included), else by the
    device and inode maps prints."""
    by_file: dict[tuple[int, int, str], tuple[MapsLine, bool]] = {}
    for line in lines:
        if line.inode == 0 or not line.path.startswith("/"):
            continue  # anonymous, [heap], [stack], [vdso]…
        key = (line.dev, line.inode, line.path)
        first, executable = by_file.get(key, (line, False))
        by_file[key] = (first, executable or "x" in line.perms)
    readable = True
    found = []
    for line, executable in by_file.values():
        handle = base / "map_files" / f"{line.start:x}-{line.end:x}"
        st: os.stat_result | None = None
        if readable:
            try:
                st = os.stat(handle)
            except PermissionError:
                readable = False
            except FileNotFoundError:
                continue  # unmapped meanwhile
        if st is not None:
            if not stat.S_ISREG(st.st_mode):
                continue
            path, deleted = _kernel_name(line.path, st)
            found.append(LoadedFile(path, st.st_dev, st.st_ino, deleted, executable, str(handle)))
        else:
            path, deleted = _name_from_maps(line)
            found.append(LoadedFile(path, line.dev, line.inode, deleted, executable, str(handle)))
    return found, readable


def _name_from_maps(line: MapsLine) -> tuple[str, bool]:
    """Without a stat of the mapping: " (deleted)" means unlinked unless a file of that very
    name is the mapped one."""
    if not line.path.endswith(DELETED):
        return line.path, False
    try:
        st = os.stat(line.path)
        if (st.st_dev, st.st_ino) == (line.dev, line.inode):
            return line.path, False
    except OSError:
        pass
    return line.path[: -len(DELETED)], True


def hash_loaded(pid: int, loaded: LoadedFile) -> str:
    """The SHA-256 of the object the process has (streamed, bounded memory), read through its
    /proc handle: the content it runs, whatever the path holds now."""
    try:
        fd = os.open(loaded.handle, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != (loaded.dev, loaded.inode):
                # The descriptor or the address range now holds another file.
                raise ProcessError(
                    f"process {pid}: {loaded.handle} changed while it was read; check again"
                )
            return sha256_file(Path(f"/proc/self/fd/{fd}"))
        finally:
            os.close(fd)
    except PermissionError as e:
        needed = MAP_FILES_NEEDED if "/map_files/" in loaded.handle else PTRACE_NEEDED
        raise ProcessError(
            f"process {pid}: cannot read {loaded.path} through {loaded.handle}: needs {needed}"
        ) from e
    except OSError as e:
        if _gone(e):
            raise ProcessExited(f"process {pid} exited while {loaded.path} was read") from e
        raise ProcessError(
            f"process {pid}: cannot read {loaded.path} through {loaded.handle}: {e.strerror or e}"
        ) from e
