"""A Hugging Face hub cache folder: which snapshot to read, and where its links may lead.

The cache (``huggingface_hub``'s ``snapshot_download``/``hf_hub_download``) keeps one folder per
repository::

    models--ORG--NAME/
      blobs/<etag>            the bytes, named after what the server said they were
      refs/main               a commit id (also refs/<tag>, refs/pr/<n>)
      snapshots/<commit>/…    the files of that commit, as links into ../../blobs/

A snapshot is read like any directory (collectors/tree.py), except that links resolving into
its own repository's ``blobs/`` are followed; every other link is still an escape. Blob names
are never trusted: the walk hashes the bytes.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from chainguard.errors import InputError, UsageError
from chainguard.paths import HUB_REPO_FOLDER

_COMMIT = re.compile(r"[0-9a-f]{40}")
# A ref name as git allows it under refs/ (main, v1.0, pr/1): no "..", no empty component.
_REF = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
_MAX_REF_BYTES = 256  # a refs/ file holds one commit id


@dataclass(frozen=True, slots=True)
class CacheSnapshot:
    """One snapshot of a hub cache repository folder."""

    repo: Path  # models--ORG--NAME
    snapshot: Path  # repo/snapshots/COMMIT: the directory to walk
    blobs: Path | None  # repo/blobs: where the snapshot's links may resolve (None: no such folder)
    commit: str


def locate_snapshot(path: Path, revision: str | None) -> CacheSnapshot | None:
    """The snapshot ``path`` names: a repository folder's (by ``refs/main``, or ``revision``: a
    commit or a ref name under ``refs/``), or ``path`` itself when it is a snapshot folder.
    None when ``path`` is not in a hub cache (``revision`` is then a usage error)."""
    resolved = path.resolve()
    if resolved.parent.name == "snapshots" and HUB_REPO_FOLDER.fullmatch(
        resolved.parent.parent.name
    ):
        repo = resolved.parent.parent
        if revision is not None:
            wanted = _commit_of(repo, revision)
            if wanted != resolved.name:
                raise UsageError(
                    f"{path}: --revision {revision} names commit {wanted}, but this is the "
                    f"snapshot of {resolved.name}; pass the repository folder {repo} instead"
                )
        return _snapshot(repo, resolved.name)
    if HUB_REPO_FOLDER.fullmatch(resolved.name) and (resolved / "snapshots").is_dir():
        return _snapshot(resolved, _commit_of(resolved, revision or "main"))
    if revision is not None:
        raise UsageError(
            f"{path}: --revision applies to a Hugging Face cache folder (models--ORG--NAME or "
            "datasets--ORG--NAME), and this is not one"
        )
    return None


def local_root(path: Path, revision: str | None = None) -> tuple[Path, Path | None]:
    """The directory to walk for ``path`` and where its links may also lead: a hub cache
    folder's (or snapshot's) snapshot and its ``blobs/``, else ``path`` itself and None. What
    every command that reads a local model or dataset resolves it with."""
    snapshot = locate_snapshot(path, revision)
    if snapshot is None:
        return path, None
    return snapshot.snapshot, snapshot.blobs


def _commit_of(repo: Path, revision: str) -> str:
    """The commit a revision names: itself when it is a commit with a snapshot, else what
    ``refs/REVISION`` holds."""
    if _COMMIT.fullmatch(revision) and (repo / "snapshots" / revision).is_dir():
        return revision
    if not _REF.fullmatch(revision) or ".." in revision.split("/"):
        raise UsageError(f"--revision {revision!r}: not a commit id or a ref name")
    ref = repo / "refs" / revision
    try:
        with open(ref, "rb") as f:
            text = f.read(_MAX_REF_BYTES + 1)
    except FileNotFoundError:
        raise InputError(
            f"{repo}: no snapshot or ref named {revision!r} (see {repo / 'refs'} and "
            f"{repo / 'snapshots'})"
        ) from None
    except OSError as e:
        raise InputError(f"{ref}: cannot read: {e.strerror or e}") from e
    commit = text.decode("ascii", "replace").strip()
    if len(text) > _MAX_REF_BYTES or not _COMMIT.fullmatch(commit):
        raise InputError(f"{ref}: not a commit id (40 lowercase hex digits)")
    return commit


def _snapshot(repo: Path, commit: str) -> CacheSnapshot:
    snapshot = repo / "snapshots" / commit
    try:
        st = os.lstat(snapshot)
    except OSError as e:
        raise InputError(f"{snapshot}: no snapshot of commit {commit}: {e.strerror or e}") from e
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{snapshot}: not a directory (a snapshot is never a link)")
    blobs = repo / "blobs"
    try:
        # A blobs/ that is itself a link could lead anywhere (another repository's blobs):
        # then no link of the snapshot is followed.
        blobs_ok = stat.S_ISDIR(os.lstat(blobs).st_mode)
    except OSError:
        blobs_ok = False
    return CacheSnapshot(repo, snapshot, blobs if blobs_ok else None, commit)
