"""Collect a model or dataset directory: walk it safely, then hash it with the one engine.

What counts as part of the tree:
- regular files, recorded under their relative POSIX path;
- symbolic links whose target stays inside the tree and is a regular file, recorded under the
  link's own path with the target's content (Hugging Face style layouts use such links), when
  every link on the way stays inside too;
- everything else is an anomaly, never silently skipped: links leaving the tree
  (``symlink-escape``), links to directories, fifos, sockets and devices (``special-file``), and
  entries that cannot be read (``unreadable``).
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard._hashworker import plain_names
from chainguard.errors import HashingError
from chainguard.hashing import (
    CHUNK_SIZE,
    FileEntry,
    HashSettings,
    ListedFiles,
    Mode,
    ProgressCallback,
    hash_files,
    plan_jobs,
)
from chainguard.hashing_runs import RenderedRuns
from chainguard.models import DEFAULT_SHARD_SIZE, Anomaly, FileDigest, FileList, ObservedTree
from chainguard.paths import MAX_PATH_BYTES, unsafe_reason
from chainguard.sbom.fileshape import recorded_mode

if TYPE_CHECKING:
    from chainguard.attest.cache import CachedDigest, TreeHashCache
    from chainguard.hashing_throttle import ReadThrottle


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
# backslash or colon); anything else goes through unsafe_reason. (The same bytes as
# _hashworker.PLAIN_NAME_BYTES, which checks a whole listing at once.)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.+=@,~ -]+")


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def walk(
    root: Path, ignore: IgnoreRules, link_root: Path | None = None
) -> Iterator[FileEntry | ListedFiles | Anomaly]:
    """Yield every file and every anomaly under root; regular files in path order.

    ``link_root``: a second directory symbolic links may resolve into (a hub cache snapshot's
    own ``blobs/``, collectors/hfcache.py); links leading anywhere else still escape.

    Regular files (by the directory's d_type) come as ListedFiles, a directory's files between
    two of its subdirectories (in path order) in one: no lstat
    and no object per file here, the engine takes each file's identity when it opens it
    (O_NOFOLLOW). Symbolic links to files and entries the listing did not type come as
    FileEntry objects.
    """
    real_root = os.path.realpath(root)
    real_links = os.path.realpath(link_root) if link_root is not None else None
    filtered = bool(ignore.patterns or ignore.exact)
    try:
        top = os.stat(root)
    except OSError as e:
        raise HashingError(f"{root}: cannot list directory: {e.strerror or e}") from e
    # Directories to list, as (path, relative path + "/", the directory's identity as its
    # parent listed it), and chunks of files to hand out, in the order they are to be popped.
    stack: list[tuple[str, str, int, int] | ListedFiles] = [(str(root), "", top.st_ino, top.st_dev)]
    while stack:
        item = stack.pop()
        if isinstance(item, ListedFiles):
            yield item
            continue
        directory, prefix, ino, dev = item
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as e:
            if prefix == "":
                raise HashingError(f"{root}: cannot list directory: {e.strerror or e}") from e
            yield Anomaly(prefix.rstrip("/"), "unreadable", f"cannot list: {e.strerror or e}")
            continue
        # Most directories hold only plain names: check them all at once, and then regular
        # files need nothing but their names taken (the common case, kept to one pass in C).
        names_plain = bool(entries) and plain_names([e.name for e in entries], prefix)
        listed: list[str] = []
        subdirs: list[tuple[str, str, int, int]] = []
        if names_plain and not filtered:
            listed = [e.name for e in entries if e.is_file(follow_symlinks=False)]
            if len(listed) < len(entries):
                entries = [e for e in entries if not e.is_file(follow_symlinks=False)]
            else:
                entries = []
        for entry in entries:
            name = entry.name
            rel = prefix + name
            if filtered and ignore.matches(rel):
                continue
            if not names_plain and not (
                _PLAIN_NAME.fullmatch(name) and len(rel.encode()) <= MAX_PATH_BYTES
            ):
                reason = unsafe_reason(rel)
                if reason is not None:
                    # a name we could never record safely (control characters, backslash)
                    yield Anomaly(rel, "special-file", f"unsafe file name: {reason}")
                    continue
            if entry.is_file(follow_symlinks=False):
                listed.append(name)
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                yield Anomaly(rel, "unreadable", e.strerror or str(e))
                continue
            kind = _classified(entry.path, rel, st, real_root, real_links)
            if isinstance(kind, os.stat_result):
                subdirs.append((entry.path, rel + "/", st.st_ino, st.st_dev))
            else:
                yield kind
        # Files and subdirectories in path order: the files that sort before a subdirectory's
        # paths come before it. Chunks of files then come (and finish hashing) in the order a
        # signed file list has them, which verify reads while the hashing goes on
        # (hashing_runs.RenderedRuns). A name sorts against "sub/" as against every path below it.
        listed.sort()
        subdirs.sort(key=lambda d: d[1])
        base = os.path.join(directory, "")
        ordered: list[tuple[str, str, int, int] | ListedFiles] = []
        done = 0
        for sub in subdirs:
            before = bisect.bisect_left(listed, sub[1][len(prefix) :], done)
            if before > done:
                ordered.append(ListedFiles(base, prefix, tuple(listed[done:before]), ino, dev))
                done = before
            ordered.append(sub)
        if done < len(listed):
            ordered.append(ListedFiles(base, prefix, tuple(listed[done:]), ino, dev))
        stack += reversed(ordered)


def classify(
    path: str, rel: str, real_root: str, real_links: str | None = None
) -> FileEntry | Anomaly | os.stat_result:
    """What walk makes of one entry, by its path: a regular file, an anomaly, or (a directory)
    its lstat, for the caller to list. chainguard scan's worker processes list directories and
    leave it every entry they cannot type plainly (_hashworker._scan_directory)."""
    name = rel.rsplit("/", 1)[-1]
    if not (_PLAIN_NAME.fullmatch(name) and len(rel.encode()) <= MAX_PATH_BYTES):
        reason = unsafe_reason(rel)
        if reason is not None:
            return Anomaly(rel, "special-file", f"unsafe file name: {reason}")
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError as e:
        return Anomaly(rel, "unreadable", e.strerror or str(e))
    return _classified(path, rel, st, real_root, real_links)


def _classified(
    path: str, rel: str, st: os.stat_result, real_root: str, real_links: str | None
) -> FileEntry | Anomaly | os.stat_result:
    if stat.S_ISDIR(st.st_mode):
        return st
    if stat.S_ISREG(st.st_mode):
        return FileEntry.from_stat(rel, path, st)
    if stat.S_ISLNK(st.st_mode):
        return _symlink(path, rel, real_root, real_links)
    return Anomaly(rel, "special-file", _kind_of(st.st_mode))


def _symlink(
    path: str, rel: str, real_root: str, real_links: str | None = None
) -> FileEntry | Anomaly:
    target = os.path.realpath(path)
    if not _within(target, real_root) and not (real_links and _within(target, real_links)):
        return Anomaly(rel, "symlink-escape", f"points to {os.readlink(path)} ({target})")
    # The walk descends through directories, never links to them: the link's directory is
    # the real root joined with the directories of its relative path.
    above = os.path.dirname(rel)
    real_dir = os.path.join(real_root, above) if above else real_root  # (no trailing "/")
    hop = _hop_outside(path, real_dir, real_root, real_links)
    if hop is not None:
        detail = f"points to {os.readlink(path)} ({target}) through {hop}"
        return Anomaly(rel, "symlink-escape", detail)
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


def _hop_outside(path: str, real_dir: str, real_root: str, real_links: str | None) -> str | None:
    """The first link on the way from the link ``path`` (in the resolved directory
    ``real_dir``) to its target that lies outside the tree (and ``real_links``), or leads
    outside it (a directory link the way passes through), described; None when there is none.
    A target inside the tree reached through such a link is still an escape: whoever controls
    what lies outside redirects this link after verification."""

    def inside(where: str) -> bool:
        return _within(where, real_root) or bool(real_links and _within(where, real_links))

    current, directory = path, real_dir
    for _ in range(40):  # a longer chain is a loop: the caller's stat says so
        try:
            text = os.readlink(current)
        except OSError:
            return None  # the end of the chain (or gone: the caller's stat says so)
        through, directory = _directory_link_out(directory, text, inside)
        if through is not None:
            return through
        name = text.rsplit("/", 1)[-1]
        if name in ("", ".", ".."):
            return None  # a directory: the caller refuses it
        where = os.path.join(directory, name)  # the hop's directory, resolved
        if not inside(where):
            return f"{where}, a link outside"
        current = where  # (its directory is ``directory``, resolved)
    return None


def _directory_link_out(
    start: str, text: str, inside: Callable[[str], bool]
) -> tuple[str | None, str]:
    """The directories of the link text ``text``, read from the resolved directory ``start``,
    resolved one at a time: (the first directory link on the way that leads outside,
    described, or None; the directory they resolve to). With ``hop -> /elsewhere``,
    ``hop/../model/blob`` ends inside, by way of /elsewhere's parent. One lstat a name,
    realpath only for links: a hub cache walks tens of thousands of links."""
    current = "/" if text.startswith("/") else start
    for part in text.split("/")[:-1]:
        if part in ("", "."):
            continue
        if part == "..":
            current = os.path.dirname(current)  # the parent of a resolved path is resolved
            continue
        step = os.path.join(current, part)
        if not os.path.islink(step):
            current = step
            continue
        current = os.path.realpath(step)
        if not inside(current):
            return f"{step}, a directory link leading outside ({current})", current
    return None, current


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
    shard_sizes: Mapping[str, int] | None = None,
    progress: ProgressCallback | None = None,
    on_listed: Callable[[int, int], None] | None = None,
    cancelled: threading.Event | None = None,
    runs: RenderedRuns | None = None,
    link_root: Path | None = None,
    hash_cache: TreeHashCache | None = None,
    throttle: ReadThrottle | None = None,
) -> ObservedTree:
    """Walk and hash a directory (or a single file, recorded under its own name).

    ``files`` of the result is a FileList. Setting ``cancelled`` stops the walk and the hashing
    (HashingError) soon after. ``runs``: see hashing.hash_files. ``link_root``: see walk.
    ``throttle``: a read-rate limit, see hashing.hash_files.

    ``hash_cache`` (attest --incremental, chainguard/attest/cache.py): each file is stat'ed
    first; one the cache knows with the same identity is not read, its cached digests are used;
    the others are hashed as usual and stored afterwards. The result is the same either way.
    """
    try:
        st = os.stat(root)
    except OSError as e:
        raise HashingError(f"{root}: {e.strerror or e}") from e
    anomalies: list[Anomaly] = []
    files: Iterable[FileEntry | ListedFiles]
    if stat.S_ISREG(st.st_mode):
        files = [FileEntry.from_stat(root.name, os.path.realpath(root), st)]
    elif stat.S_ISDIR(st.st_mode):
        files = _files_only(walk(root, ignore, link_root), anomalies)
    else:
        raise HashingError(f"{root}: not a directory or regular file")
    hits: list[FileDigest] = []
    misses: dict[str, tuple[str, os.stat_result]] = {}
    if hash_cache is not None:
        files = _through_cache(files, hash_cache, settings, mode, shard_sizes, hits, misses)
    # The walk is a stream: the engine starts hashing small files while it is still listing.
    digests, hash_anomalies = hash_files(
        files,
        settings,
        mode=mode,
        shard_sizes=shard_sizes,
        progress=progress,
        on_listed=on_listed,
        cancelled=cancelled,
        runs=runs,
        throttle=throttle,
    )
    if hash_cache is not None:
        digests = _remember(digests, hash_cache, settings, hits, misses)
    all_anomalies = sorted([*anomalies, *hash_anomalies], key=lambda a: a.path)
    return ObservedTree(
        root=str(root),
        files=digests,
        anomalies=tuple(all_anomalies),
        bytes_hashed=digests.total_size(),
    )


def _files_only(
    items: Iterable[FileEntry | ListedFiles | Anomaly], anomalies: list[Anomaly]
) -> Iterator[FileEntry | ListedFiles]:
    for item in items:
        if isinstance(item, Anomaly):
            anomalies.append(item)
        else:
            yield item


def _cache_settings(settings: HashSettings) -> str:
    return f"sha256;shard={settings.shard_size};blake3={int(settings.blake3)}"


def _through_cache(
    items: Iterable[FileEntry | ListedFiles],
    cache: TreeHashCache,
    settings: HashSettings,
    mode: Mode,
    shard_sizes: Mapping[str, int] | None,
    hits: list[FileDigest],
    misses: dict[str, tuple[str, os.stat_result]],
) -> Iterator[FileEntry]:
    """The files to read: each one stat'ed, those the cache answers for left out (their
    digests in ``hits``), the others handed on with the identity they had (in ``misses``)."""
    key = _cache_settings(settings)
    sizes = {} if shard_sizes is None else shard_sizes
    for item in items:
        if type(item) is ListedFiles:
            listed = [(item.prefix + n, item.base + n) for n in item.names]
        else:
            assert isinstance(item, FileEntry)
            listed = [(item.rel, item.abs_path)]
        for rel, path in listed:
            try:
                st = os.stat(path, follow_symlinks=False)
            except OSError:
                st = None
            if st is None or not stat.S_ISREG(st.st_mode):
                yield FileEntry.listed_by_type(rel, path)  # the engine reports what it is
                continue
            entry = FileEntry.from_stat(rel, path, st)
            job = plan_jobs([entry], settings, mode, sizes)[0]
            found = cache.lookup(path, key, st)
            if found is not None and _answers(found, job.whole, job.shard_count, settings):
                whole = job.whole
                hits.append(
                    FileDigest(
                        rel,
                        st.st_size,
                        found.sha256 if whole else None,
                        found.blake3 if whole and settings.blake3 else None,
                        settings.shard_size,
                        found.shards if job.shard_count else (),
                        format=found.format,
                        # the mode as stat'ed now, never cached (a chmod changes the ctime of
                        # the cache's identity anyway)
                        mode=recorded_mode(st.st_mode),
                    )
                )
                continue
            misses[rel] = (path, st)
            yield entry


def _answers(found: CachedDigest, whole: bool, shard_count: int, settings: HashSettings) -> bool:
    """Whether a cached measurement holds what this run would compute."""
    if whole and (found.sha256 is None or (settings.blake3 and found.blake3 is None)):
        return False
    return not shard_count or len(found.shards) == shard_count


def _remember(
    digests: FileList,
    cache: TreeHashCache,
    settings: HashSettings,
    hits: list[FileDigest],
    misses: Mapping[str, tuple[str, os.stat_result]],
) -> FileList:
    """Store what was read, and the files read and the cached ones as one FileList."""
    key = _cache_settings(settings)
    read = list(digests)
    for d in read:
        seen = misses.get(d.path)
        if seen is not None:
            cache.store(seen[0], key, seen[1], d.sha256, d.blake3, d.shards, d.format)
    cache.commit()
    return FileList((), [*read, *hits], shard_size=settings.shard_size)


def total_size(entries: Sequence[FileEntry]) -> int:
    return sum(e.size for e in entries)


def rehash(
    tree: ObservedTree,
    root: Path,
    plans: Mapping[str, int | None],
    link_root: Path | None = None,
) -> ObservedTree:
    """``tree`` with the files at ``plans``' paths hashed again: by shards of the given size,
    or whole (None, or a size the engine cannot shard by).

    For a verify that hashed before it read the signed SBOM (large files by shards of the
    default size): the few files the SBOM records otherwise are measured again, under the
    same rules as the walk. A file that is no longer what the walk saw is an anomaly.
    """
    if not plans:
        return tree
    real_root = os.path.realpath(root)
    real_links = os.path.realpath(link_root) if link_root is not None else None
    single_file = not os.path.isdir(root)
    groups: dict[int | None, list[FileEntry]] = {}
    anomalies = list(tree.anomalies)
    for rel, shard_size in plans.items():
        item = _relisted(root, rel, real_root, single_file, real_links)
        if isinstance(item, Anomaly):
            anomalies.append(item)
            continue
        if shard_size is not None and (shard_size < CHUNK_SIZE or shard_size % CHUNK_SIZE):
            shard_size = None
        groups.setdefault(shard_size, []).append(item)
    digests: list[FileDigest] = []
    for shard_size, entries in groups.items():
        settings = HashSettings(shard_size=shard_size or DEFAULT_SHARD_SIZE)
        sizes = {e.rel: shard_size for e in entries} if shard_size else {}
        files, more = hash_files(entries, settings, mode="verify", shard_sizes=sizes)
        digests += files
        anomalies += more
    old = tree.files
    kept = old.extra if isinstance(old, FileList) else tuple(old)
    lines = old.plain_pieces if isinstance(old, FileList) else ()
    formats = old.format_pieces if isinstance(old, FileList) else ()
    extra = [*(f for f in kept if f.path not in plans), *digests]
    files = FileList(lines, extra, format_pieces=formats)
    return ObservedTree(
        root=tree.root,
        files=files,
        anomalies=tuple(sorted(anomalies, key=lambda a: a.path)),
        bytes_hashed=files.total_size(),
        modes_observed=tree.modes_observed,
    )


def _relisted(
    root: Path, rel: str, real_root: str, single_file: bool, real_links: str | None
) -> FileEntry | Anomaly:
    path = str(root) if single_file else os.path.join(root, *rel.split("/"))
    try:
        st = os.stat(path, follow_symlinks=single_file)  # as collect_tree and walk look
    except OSError:
        return Anomaly(rel, "changed-during-hash", "disappeared while being read")
    if stat.S_ISREG(st.st_mode):
        return FileEntry.from_stat(rel, os.path.realpath(path) if single_file else path, st)
    if stat.S_ISLNK(st.st_mode) and not single_file:
        item = _symlink(path, rel, real_root, real_links)
        if isinstance(item, FileEntry):
            return item
    return Anomaly(rel, "changed-during-hash", "replaced after it was listed")


def ignore_rules(root: Path, patterns: Sequence[str], own_files: Sequence[Path]) -> IgnoreRules:
    """Ignore globs plus chainguard's own SBOM/signature files when they sit inside the tree."""
    exact = set()
    real_root = root.resolve()
    for p in own_files:
        try:
            exact.add(p.resolve().relative_to(real_root).as_posix())
        except ValueError:
            continue
    return IgnoreRules(tuple(patterns), frozenset(exact))
