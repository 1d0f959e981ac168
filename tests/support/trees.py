"""Generated model/dataset trees and single mutations of them, for the property tests
(tests/property): Hypothesis strategies, a writer, and a reference model of what verify must
report after one mutation.

A tree is regular files (small ones, and large ones crossing the shard size, written from a
short seed; a few executable) plus symbolic links inside the tree to those files, which
chainguard records under the link's path with the target's content and mode
(collectors/tree.py). Contents use an alphabet whose
every prefix is detected as ``text`` (formats/detect.py: no pickle, JSON, magic or control
bytes), so a content change never changes the detected format, except to or from ``empty``;
the expected findings are then exactly those of the comparison.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

MIB = 1024 * 1024

# --- how many examples: the suite default, or HYPOTHESIS_PROFILE=long -----------------------------

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")


def examples(default: int) -> settings:
    """Settings for one property: ``default`` examples (the suite stays fast), 20 times as many
    under HYPOTHESIS_PROFILE=long. No deadline (timings vary with the machine's load); the
    autouse fixtures of tests/conftest.py are function-scoped, which is fine here because every
    example builds in its own temporary directory."""
    factor = 20 if PROFILE == "long" else 1
    return settings(
        max_examples=default * factor,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- names and contents -------------------------------------------------------------------------

# File names: ASCII, spaces, dots, dashes, what JSON escapes (quote) or globs and URLs treat
# specially, and 2-, 3- and 4-byte UTF-8 characters (a combining accent, a line separator, a
# byte order mark, an emoji).
_NAME_CHARS = "abAB09 ._-\"'#%&*?[]{}~@$!=+,;é数ｚ\u0301\u2028\ufeff😀"
NAMES = st.text(_NAME_CHARS, min_size=1, max_size=6).filter(lambda n: n not in (".", ".."))
# Every prefix of a text over this alphabet is detected as "text" (no c, u, braces, dots).
CONTENT_CHARS = b"abdefghijkmnopqrstvwxyz0123456789 \n"


def _contents(min_size: int) -> st.SearchStrategy[bytes]:
    encode = CONTENT_CHARS.__getitem__
    return st.binary(min_size=min_size, max_size=300).map(
        lambda b: bytes(encode(x % len(CONTENT_CHARS)) for x in b)
    )


SMALL, NONEMPTY = _contents(0), _contents(1)


@dataclass(frozen=True)
class Large:
    """A file of ``size`` bytes: ``seed`` repeated (cheap to generate at a few MiB)."""

    seed: bytes
    size: int

    def content(self) -> bytes:
        return (self.seed * (self.size // len(self.seed) + 1))[: self.size]


def large(shard_size: int) -> st.SearchStrategy[Large]:
    """Sizes at and across one or two shards of ``shard_size``."""
    sizes = st.one_of(
        st.sampled_from([shard_size - 1, shard_size, shard_size + 1, 2 * shard_size + 1]),
        st.integers(shard_size - 4096, 2 * shard_size + 4096),
    )
    seeds = NONEMPTY
    return st.builds(Large, seeds, sizes)


# --- a tree ---------------------------------------------------------------------------------------


# The bits of a mode verify compares (sbom/fileshape.py MODE_BITS): setuid, setgid, sticky,
# execute. Read and write bits follow the umask and are not recorded.
MODE_BITS = 0o7111


@dataclass(frozen=True)
class Tree:
    """Relative POSIX path → content for regular files; link path → the file it points to;
    file path → the mode it was given (chmod), for files not left as the umask makes them."""

    files: Mapping[str, bytes]
    links: Mapping[str, str] = field(default_factory=dict)
    modes: Mapping[str, int] = field(default_factory=dict)

    def paths(self) -> set[str]:
        return {*self.files, *self.links}

    def directories(self) -> set[str]:
        return {
            "/".join(parts[:i])
            for parts in (p.split("/") for p in self.paths())
            for i in range(1, len(parts))
        }

    def fits(self, path: str) -> bool:
        """``path`` can be created: not taken, not a directory, no file on its way."""
        taken = self.paths()
        parts = path.split("/")
        prefixes = {"/".join(parts[:i]) for i in range(1, len(parts))}
        return path not in taken and path not in self.directories() and not (prefixes & taken)


def _without_conflicts(paths: list[tuple[str, ...]]) -> list[str]:
    """Drop every path that is a directory of another (a/b and a/b/c: keep a/b/c)."""
    unique = sorted(set(paths))
    kept = [p for p in unique if not any(q[: len(p)] == p and q != p for q in unique)]
    return ["/".join(p) for p in kept]


PATHS = st.lists(st.lists(NAMES, min_size=1, max_size=3).map(tuple), min_size=1, max_size=7)


@st.composite
def trees(draw: st.DrawFn, shard_size: int = MIB, links: bool = True) -> Tree:
    """A small tree: nested directories, odd names, empty files, at most two large files and
    at most two links (each to a regular file of the tree)."""
    paths = _without_conflicts(draw(PATHS))
    large_count = draw(st.integers(0, min(2, len(paths))))
    files: dict[str, bytes] = {}
    for i, path in enumerate(paths):
        files[path] = draw(large(shard_size)).content() if i < large_count else draw(SMALL)
    executable = draw(st.sets(st.sampled_from(sorted(files)), max_size=2))
    tree = Tree(files, modes={path: 0o755 for path in executable})
    if links:
        for _ in range(draw(st.integers(0, 2))):
            link = draw(st.lists(NAMES, min_size=1, max_size=2).map("/".join))
            if tree.fits(link):
                target = draw(st.sampled_from(sorted(files)))
                tree = replace(tree, links={**tree.links, link: target})
    return tree


def write_tree(root: Path, tree: Tree, order: random.Random | None = None) -> Path:
    """Write ``tree`` under ``root`` (relative links); ``order``: create the entries in a
    shuffled order (a directory lists its entries in an order that depends on it)."""
    entries: list[tuple[str, bytes | None]] = [*tree.files.items()]
    entries += [(link, None) for link in tree.links]
    if order is not None:
        order.shuffle(entries)
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in entries:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.symlink_to(os.path.relpath(root / tree.links[rel], path.parent))
        else:
            path.write_bytes(content)
            if rel in tree.modes:
                path.chmod(tree.modes[rel])
    return root


# --- one mutation, applied to a directory and to the reference model ----------------------------


@dataclass(frozen=True)
class Mutation:
    """One change to a written tree. ``kind``: flip (one byte at ``offset`` replaced by
    ``value``), truncate (to ``size``), append (``data``), rename (to ``to``), delete, add (``to``
    with ``data``), symlink (the file replaced by a link: ``target`` is a path of the tree, a
    directory of it, ``<outside>``, ``<outside-hop>`` (a link outside leading back to a file of
    the tree) or ``<dangling>``), chmod (``mode``), rename-dir (the directory ``path`` moved to
    ``to``), to-directory (the file replaced by a directory holding ``path/to`` with ``data``),
    dir-to-file (the directory replaced by a file of ``data``)."""

    kind: str
    path: str
    offset: int = 0
    value: int = 0
    size: int = 0
    data: bytes = b""
    to: str = ""
    target: str = ""
    mode: int = 0o644


@st.composite
def mutations(draw: st.DrawFn, tree: Tree) -> Mutation:
    files = sorted(tree.files)
    # (Hypothesis draws the first ones more often: the richer mutations first)
    kinds = ["symlink", "rename", "delete", "add", "truncate", "flip", "append", "chmod"]
    kinds.append("to-directory")
    if tree.directories():
        kinds.append("dir-to-file")
    if not tree.links and tree.directories():
        kinds.append("rename-dir")  # (links would follow their targets' directory)
    kind = draw(st.sampled_from(kinds))
    if kind == "delete":
        return Mutation(kind, draw(st.sampled_from(sorted(tree.paths()))))
    if kind == "rename-dir":
        directory = draw(st.sampled_from(sorted(tree.directories())))
        outside = _new(tree).filter(lambda to: not to.startswith(directory + "/"))
        return Mutation(kind, directory, to=draw(outside))
    copy = st.sampled_from(files).map(lambda p: tree.files[p])
    if kind == "dir-to-file":
        directory = draw(st.sampled_from(sorted(tree.directories())))
        return Mutation(kind, directory, data=draw(st.one_of(SMALL, copy)))
    if kind == "add":
        return Mutation(kind, "", to=draw(_new(tree)), data=draw(st.one_of(SMALL, copy)))
    nonempty = [p for p in files if tree.files[p]]
    if kind in ("flip", "truncate") and nonempty:
        path = draw(st.sampled_from(nonempty))
        size = len(tree.files[path])
        if kind == "truncate":
            return Mutation(kind, path, size=draw(st.integers(0, size - 1)))
        offset = draw(st.integers(0, size - 1))
        old = tree.files[path][offset]
        value = draw(st.sampled_from([c for c in CONTENT_CHARS if c != old]))
        return Mutation(kind, path, offset=offset, value=value)
    path = draw(st.sampled_from(files))
    if kind == "rename":
        return Mutation(kind, path, to=draw(_new(tree)))
    if kind == "to-directory":
        data = draw(st.one_of(st.just(tree.files[path]), SMALL))
        return Mutation(kind, path, to=draw(NAMES), data=data)
    if kind == "symlink":
        specials = ["", "<outside>", "<outside-hop>", "<dangling>"]
        targets = sorted({*tree.paths(), *tree.directories(), *specials})
        target = draw(st.sampled_from([t for t in targets if t != path]))
        return Mutation(kind, path, target=target)
    if kind == "chmod":
        return draw(chmods(tree))
    return Mutation("append", path, data=draw(NONEMPTY))


@st.composite
def chmods(draw: st.DrawFn, tree: Tree) -> Mutation:
    """A file's mode changed: execute bits added or removed, setuid, or read/write bits only
    (not compared); without the owner's read bit only as root, who reads it anyway."""
    path = draw(st.sampled_from(sorted(tree.files)))
    modes = [0o755, 0o600, 0o444, 0o4700, 0o644, *([0o200] if os.geteuid() == 0 else [])]
    return Mutation("chmod", path, mode=draw(st.sampled_from(modes)))


def _new(tree: Tree) -> st.SearchStrategy[str]:
    return st.lists(NAMES, min_size=1, max_size=3).map("/".join).filter(tree.fits)


def apply(root: Path, m: Mutation) -> None:
    """Make the change ``m`` describes in the tree written at ``root``."""
    path = root / m.path
    match m.kind:
        case "flip":
            with path.open("r+b") as f:
                f.seek(m.offset)
                f.write(bytes([m.value]))
        case "truncate":
            os.truncate(path, m.size)
        case "append":
            with path.open("ab") as f:
                f.write(m.data)
        case "rename" | "rename-dir":
            (root / m.to).parent.mkdir(parents=True, exist_ok=True)
            path.rename(root / m.to)
        case "delete":
            path.unlink()
        case "add":
            (root / m.to).parent.mkdir(parents=True, exist_ok=True)
            (root / m.to).write_bytes(m.data)
        case "symlink":
            path.unlink()
            if m.target == "<outside>":
                outside = root.parent / "outside.bin"
                outside.write_bytes(b"not part of the tree")
                path.symlink_to(outside)
            elif m.target == "<outside-hop>":  # out of the tree and back to one of its files
                back = sorted(p for p in os.listdir(root) if (root / p).is_file())
                hop = root.parent / "hop"
                hop.symlink_to(root / back[0] if back else root.parent / "nothing")
                path.symlink_to(hop)
            elif m.target == "<dangling>":
                path.symlink_to("no such file")
            else:
                path.symlink_to(os.path.relpath(root / m.target, path.parent))
        case "chmod":
            path.chmod(m.mode)
        case "to-directory":
            path.unlink()
            path.mkdir()
            (path / m.to).write_bytes(m.data)
        case "dir-to-file":
            shutil.rmtree(path)
            path.write_bytes(m.data)
        case _:
            raise AssertionError(m.kind)


# What the reference model says each path holds after a mutation: content, or an anomaly's rule.
Content = bytes


@dataclass(frozen=True)
class Anomalous:
    rule: str


def _resolve(tree: Tree, path: str) -> Content | Anomalous:
    seen = {path}
    while path in tree.links:
        path = tree.links[path]
        if path in ("<outside>", "<outside-hop>"):
            return Anomalous("symlink-escape")
        if path in seen:
            return Anomalous("special-file")  # a loop of links
        seen.add(path)
    if path in tree.files:
        return tree.files[path]
    if path == "" or path in tree.directories():
        return Anomalous("special-file")  # a link to a directory is not followed
    return Anomalous("artifact-unreadable")  # dangling


def view(tree: Tree) -> dict[str, Content | Anomalous]:
    return {p: _resolve(tree, p) for p in tree.paths()}


def mode_bits(tree: Tree, path: str) -> int:
    """The compared mode bits of what ``path`` holds (a link: its target file's)."""
    seen = {path}
    while path in tree.links:
        path = tree.links[path]
        if path in seen:
            return 0  # a loop: never compared (an anomaly)
        seen.add(path)
    return tree.modes.get(path, 0) & MODE_BITS


def mutated(tree: Tree, m: Mutation) -> Tree:
    """The reference model of the tree after ``m``."""
    files, links, modes = dict(tree.files), dict(tree.links), dict(tree.modes)
    match m.kind:
        case "flip":
            old = files[m.path]
            files[m.path] = old[: m.offset] + bytes([m.value]) + old[m.offset + 1 :]
        case "truncate":
            files[m.path] = files[m.path][: m.size]
        case "append":
            files[m.path] += m.data
        case "rename":
            files[m.to] = files.pop(m.path)
            if m.path in modes:
                modes[m.to] = modes.pop(m.path)
        case "rename-dir":
            moved = {p for p in files if p.startswith(m.path + "/")}
            for p in moved:
                files[m.to + p[len(m.path) :]] = files.pop(p)
                if p in modes:
                    modes[m.to + p[len(m.path) :]] = modes.pop(p)
        case "delete":
            files.pop(m.path, None)
            links.pop(m.path, None)
            modes.pop(m.path, None)
        case "add":
            files[m.to] = m.data
        case "symlink":
            files.pop(m.path)
            modes.pop(m.path, None)
            links[m.path] = "<dangling>" if m.target == "<dangling>" else m.target
        case "chmod":
            modes[m.path] = m.mode
        case "to-directory":
            files[f"{m.path}/{m.to}"] = m.data
            del files[m.path]
            modes.pop(m.path, None)
        case "dir-to-file":
            for p in [*files, *links]:
                if p.startswith(m.path + "/"):
                    files.pop(p, None)
                    links.pop(p, None)
                    modes.pop(p, None)
            files[m.path] = m.data
        case _:
            raise AssertionError(m.kind)
    return replace(tree, files=files, links=links, modes=modes)


def expected_findings(before: Tree, after: Tree) -> set[tuple[str, str]]:
    """(rule, path) of what verify must report for ``after`` against ``before`` signed: the
    comparison's contract (compare.py) restated over whole contents."""
    signed = view(before)
    assert not any(isinstance(v, Anomalous) for v in signed.values())
    seen = view(after)
    found = {(v.rule, p) for p, v in seen.items() if isinstance(v, Anomalous)}
    observed = {p: v for p, v in seen.items() if isinstance(v, bytes)}
    for p in signed.keys() & observed.keys():
        if signed[p] != observed[p]:
            found.add(("artifact-modified", p))
            if (signed[p] == b"") != (observed[p] == b""):
                found.add(("format-changed", p))  # empty <-> text
        if mode_bits(before, p) != mode_bits(after, p):  # whatever the content
            found.add(("mode-changed", p))
    missing = set(signed) - set(seen)
    for p in sorted(set(observed) - set(signed)):
        origins = sorted(q for q in missing if signed[q] == observed[p])
        if origins:
            missing.discard(origins[0])
            found.add(("artifact-renamed", p))
        else:
            found.add(("artifact-unexpected", p))
    found |= {("artifact-missing", p) for p in missing}
    return found
