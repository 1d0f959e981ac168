"""Collect a model or dataset directory: walk it safely, then hash it with the one engine.

What counts as part of the tree:
- regular files, recorded under their relative POSIX path;
- symbolic links whose target stays inside the tree and is a regular file, recorded under the
  link's own path with the target's content (Hugging Face style layouts use such links);
- everything else is an anomaly, never silently skipped: links leaving the tree
  (``symlink-escape``), links to directories, fifos, sockets and devices (``special-file``), and
  entries that cannot be read (``unreadable``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from chainguard.errors import HashingError
from chainguard.hashing import FileEntry, HashSettings, Mode, ProgressCallback, hash_entries
from chainguard.models import Anomaly, ObservedTree
from chainguard.sbom.paths import MAX_PATH_BYTES, unsafe_reason


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """Glob patterns of relative paths to leave out (``chainguard.toml`` ``ignore``, ``--ignore``).

    A pattern without ``/`` matches a name at any depth (``*.lock``, ``.git``); a pattern with
    ``/`` matches the relative path from the root (``cache/*.bin``). A pattern that matches a
    directory leaves out everything below it. ``*`` does not cross ``/``; ``**`` does.
    Exact paths (the SBOM and signature when they live inside the tree) are listed separately.
    """

    patterns: tuple[str, ...] = ()
    exact: frozenset[str] = frozenset()

    def matches(self, rel: str) -> bool:
        if rel in self.exact:
            return True
        name = rel.rsplit("/", 1)[-1]
        for pattern in self.patterns:
            p = pattern.rstrip("/")
            if "/" not in p:
                if _glob_match(p, name):
                    return True
            elif _glob_match(p.lstrip("/"), rel):
                return True
        return False


def _glob_match(pattern: str, text: str) -> bool:
    import fnmatch
    import re

    # fnmatch's '*' crosses '/', which would make 'a/*' match 'a/b/c'; translate it ourselves.
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            # fnmatch.translate handles [...] classes; escape the rest
            j = i
            if pattern[i] == "[" and "]" in pattern[i + 1 :]:
                j = pattern.index("]", i + 1)
                regex += fnmatch.translate(pattern[i : j + 1])[4:-3]
                i = j + 1
                continue
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, text) is not None


# Names that are safe in any position without further checks (ASCII, no control characters, no
# backslash or colon); anything else goes through unsafe_reason.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.+=@,~ -]+")


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def walk(root: Path, ignore: IgnoreRules) -> Iterator[FileEntry | Anomaly]:
    """Yield every file (as a FileEntry) and every anomaly under root, in no particular order."""
    real_root = os.path.realpath(root)
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as e:
            if prefix == "":
                raise HashingError(f"{root}: cannot list directory: {e.strerror or e}") from e
            yield Anomaly(prefix.rstrip("/"), "unreadable", f"cannot list: {e.strerror or e}")
            continue
        for entry in entries:
            rel = prefix + entry.name
            if (ignore.patterns or ignore.exact) and ignore.matches(rel):
                continue
            if not (_PLAIN_NAME.fullmatch(entry.name) and len(rel) <= MAX_PATH_BYTES):
                reason = unsafe_reason(rel)
                if reason is not None:
                    # a name we could never record safely (control characters, backslash)
                    yield Anomaly(rel, "special-file", f"unsafe file name: {reason}")
                    continue
            # A regular file per the directory's d_type needs no lstat here: the engine takes
            # its identity when it opens it (O_NOFOLLOW), one syscall less per file.
            if entry.is_file(follow_symlinks=False):
                yield FileEntry.listed_by_type(rel, entry.path)
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                yield Anomaly(rel, "unreadable", e.strerror or str(e))
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append((entry.path, rel + "/"))
            elif stat.S_ISREG(st.st_mode):
                yield FileEntry.from_stat(rel, entry.path, st)
            elif stat.S_ISLNK(st.st_mode):
                yield _symlink(entry.path, rel, real_root)
            else:
                yield Anomaly(rel, "special-file", _kind_of(st.st_mode))


def _symlink(path: str, rel: str, real_root: str) -> FileEntry | Anomaly:
    target = os.path.realpath(path)
    if not _within(target, real_root):
        return Anomaly(rel, "symlink-escape", f"points to {os.readlink(path)} ({target})")
    try:
        st = os.stat(target, follow_symlinks=False)
    except OSError:
        return Anomaly(rel, "unreadable", f"dangling symbolic link to {os.readlink(path)}")
    if stat.S_ISREG(st.st_mode):
        return FileEntry.from_stat(rel, target, st)
    if stat.S_ISLNK(st.st_mode):  # realpath gives up on a loop and returns a link
        return Anomaly(rel, "special-file", f"symbolic link loop via {os.readlink(path)}")
    what = "directory" if stat.S_ISDIR(st.st_mode) else _kind_of(st.st_mode)
    return Anomaly(rel, "special-file", f"symbolic link to a {what} is not followed")


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "special file"


def collect_tree(
    root: Path,
    settings: HashSettings,
    *,
    ignore: IgnoreRules = IgnoreRules(),
    mode: Mode = "build",
    shard_sizes: dict[str, int] | None = None,
    progress: ProgressCallback | None = None,
    on_listed: Callable[[int, int], None] | None = None,
) -> ObservedTree:
    """Walk and hash a directory (or a single file, recorded under its own name)."""
    try:
        st = os.stat(root)
    except OSError as e:
        raise HashingError(f"{root}: {e.strerror or e}") from e
    anomalies: list[Anomaly] = []
    files: Iterable[FileEntry]
    if stat.S_ISREG(st.st_mode):
        files = [FileEntry.from_stat(root.name, os.path.realpath(root), st)]
    elif stat.S_ISDIR(st.st_mode):
        files = _files_only(walk(root, ignore), anomalies)
    else:
        raise HashingError(f"{root}: not a directory or regular file")
    # The walk is a stream: the engine starts hashing small files while it is still listing.
    digests, hash_anomalies = hash_entries(
        files,
        settings,
        mode=mode,
        shard_sizes=shard_sizes,
        progress=progress,
        on_listed=on_listed,
    )
    digests.sort(key=lambda d: d.path.encode())
    all_anomalies = sorted([*anomalies, *hash_anomalies], key=lambda a: a.path)
    return ObservedTree(
        root=str(root),
        files=tuple(digests),
        anomalies=tuple(all_anomalies),
        bytes_hashed=sum(f.size for f in digests),
    )


def _files_only(
    items: Iterable[FileEntry | Anomaly], anomalies: list[Anomaly]
) -> Iterator[FileEntry]:
    for item in items:
        if isinstance(item, FileEntry):
            yield item
        else:
            anomalies.append(item)


def total_size(entries: Sequence[FileEntry]) -> int:
    return sum(e.size for e in entries)
