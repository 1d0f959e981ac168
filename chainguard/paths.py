"""Is a path read from an SBOM (or a signed manifest) safe to join under a root directory?

The SBOM is signed, but a signature says who wrote it, not that every path in it is benign:
a path such as ``../../etc/shadow`` must be reported, never opened. Only plain relative POSIX
paths pass; anything a Windows or POSIX filesystem could read as leaving the root is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

# PATH_MAX on Linux; a longer path cannot be opened anyway and only costs memory in reports.
MAX_PATH_BYTES = 4096

# C0 controls, DEL and C1 controls (Unicode category Cc). C1 is included because reports print
# paths to terminals, where U+009B starts an escape sequence just like ESC [.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile("[A-Za-z]:")


def unsafe_reason(path: str) -> str | None:
    """Why ``path`` must not be joined under a root; None for a safe relative POSIX path."""
    if path == "":
        return "empty path"
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode (lone surrogate)"
    if len(encoded) > MAX_PATH_BYTES:
        return f"longer than {MAX_PATH_BYTES} bytes"
    if "\x00" in path:
        return "contains a NUL character"
    if _CONTROL.search(path):
        return "contains a control character"
    # UNC first: "\\server\share" also has a backslash and "//server/share" also starts with "/",
    # but naming the real shape of the path makes the finding easier to act on.
    if path.startswith(("\\\\", "//")):
        return "UNC path"
    if "\\" in path:
        return "contains a backslash"
    if path.startswith("/"):
        return "absolute path"
    if _DRIVE.match(path):
        return "Windows drive prefix"
    for part in path.split("/"):
        if part == "":
            return "empty path component"
        if part == ".":
            return "'.' path component"
        if part == "..":
            return "'..' path component"
    return None


# Plain ASCII names, "/" between components, one path per line: what every_path_safe takes in
# bulk. No control character, backslash or colon (drive prefixes) can pass it.
_PLAIN_PATH_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+=@,~ /\n-"
_BAD_PIECES: tuple[str, ...] = ("\n\n", "\n/", "/\n", "//", "\n./", "/./", "/.\n", "\n.\n")
_BAD_PIECES += ("\n../", "/../", "/..\n", "\n..\n")


def every_path_safe(paths: Sequence[str]) -> bool:
    """True only if ``unsafe_reason`` is None for every path; checked in bulk (one regular
    expression and a few substring searches over all paths at once), for SBOMs that list
    100,000s of them. False means "look at each one", not that one is unsafe."""
    if not paths or max(map(len, paths)) > MAX_PATH_BYTES:
        return not paths
    joined = "\n" + "\n".join(paths) + "\n"
    if joined.count("\n") != len(paths) + 1:  # a newline in a path
        return False
    # bytes.translate deleting the allowed bytes leaves nothing: a C loop, ~1 ns a character
    if not joined.isascii() or joined.encode("ascii").translate(None, _PLAIN_PATH_BYTES):
        return False
    return not any(piece in joined for piece in _BAD_PIECES)


def safe_join(root: Path, rel: str) -> Path:
    """Join a relative POSIX path under ``root``, refusing anything unsafe.

    This is a lexical check only: symlinks inside ``root`` are the tree walker's concern.
    """
    reason = unsafe_reason(rel)
    if reason is not None:
        raise ValueError(f"{rel!r}: unsafe path: {reason}")
    return root.joinpath(*rel.split("/"))


# A Hugging Face hub cache repository folder: models--ORG--NAME (or models--NAME); the Hub
# refuses "--" inside an organisation or repository name, so the split is unambiguous.
HUB_REPO_FOLDER = re.compile(r"(models|datasets)--((?:[^/]+--)?([^/]+))")


def component_name(root: Path) -> str:
    """The name a component gets from its directory (or single file) when none is given.

    A hub cache repository folder (``models--ORG--NAME``) or one of its snapshots
    (``…/snapshots/COMMIT``) is named ``NAME``: what the same files are named when downloaded
    into a directory of their own, so either layout verifies against the other's SBOM."""
    resolved = root.resolve()
    repo = resolved if (resolved / "snapshots").is_dir() else None
    if resolved.parent.name == "snapshots":
        repo = resolved.parent.parent
    hub = HUB_REPO_FOLDER.fullmatch(repo.name) if repo is not None else None
    if hub:
        return hub.group(3)
    return resolved.name or "root"
