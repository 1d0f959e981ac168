"""A Hugging Face Hub repository at one commit, from the Hub's own metadata (``hf://``).

``sbom build --model hf://ORG/NAME@REVISION`` records a model without downloading its weights:
the Hub lists every file of a commit with its size and git blob id, and for files stored with
Git LFS (weights, in practice) also their SHA-256, which is what chainguard records. Files not
in LFS have only a git blob id (SHA-1 of git's framing), so they are downloaded (the Hub keeps
them under 10 MB) and hashed here; a download whose git blob id differs from the listing is
refused.

The Hub gives a whole-file SHA-256 only, never shard digests: large files are recorded without
shards, and verify then hashes them whole (hashing plans by the signed shard sizes).

``huggingface_hub`` is imported only when a ``hf://`` source is collected.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from chainguard.errors import InputError, UsageError
from chainguard.models import DEFAULT_SHARD_SIZE, FileDigest
from chainguard.paths import unsafe_reason

HUB_SCHEME = "hf://"
# The Hub refuses files over 10 MB that are not stored in LFS; a listing saying otherwise is not
# the Hub's, and nothing larger is downloaded.
MAX_SMALL_FILE = 10 * 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_OFFLINE_VALUES = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's reading of HF_HUB_OFFLINE

RepoType = Literal["model", "dataset"]


@dataclass(frozen=True, slots=True)
class HubReference:
    """``hf://ORG/NAME@REVISION`` (a model) or ``hf://datasets/ORG/NAME@REVISION``."""

    repo_type: RepoType
    repo_id: str  # ORG/NAME (or NAME)
    revision: str  # as given: a commit, a branch or a tag (default main)

    @property
    def name(self) -> str:
        """The component name: the repository's own name, as a cache or a download names it."""
        return self.repo_id.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class HubComponent:
    reference: HubReference
    commit: str
    purl: str  # pkg:huggingface/ORG/NAME@COMMIT
    files: tuple[FileDigest, ...]
    downloaded: int  # bytes of the small files fetched to hash them


def is_hub_url(text: str) -> bool:
    return text.startswith(HUB_SCHEME)


def parse_hub_url(text: str, kind: RepoType) -> HubReference:
    """Parse ``hf://[datasets/]ORG/NAME[@REVISION]``; ``kind`` is what the option asks for."""
    rest = text[len(HUB_SCHEME) :] if is_hub_url(text) else ""
    repo_type: RepoType = "model"
    if rest.startswith("datasets/"):
        repo_type, rest = "dataset", rest[len("datasets/") :]
    elif rest.startswith("models/"):
        rest = rest[len("models/") :]
    repo_id, at, revision = rest.partition("@")
    parts = repo_id.split("/")
    if not 1 <= len(parts) <= 2 or not all(
        _NAME.fullmatch(p) and "--" not in p and ".." not in p for p in parts
    ):
        raise UsageError(f"{text!r}: expected hf://ORG/NAME@REVISION or hf://datasets/ORG/NAME@REV")
    if at and not re.fullmatch(r"[A-Za-z0-9._/-]+", revision):
        raise UsageError(f"{text!r}: the revision after '@' is empty or not a ref name or commit")
    if repo_type != kind:
        option = "--dataset" if repo_type == "dataset" else "--model"
        raise UsageError(f"{text!r} names a {repo_type}: pass it with {option}")
    return HubReference(repo_type, repo_id, revision if at else "main")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in _OFFLINE_VALUES


def collect_hub(
    ref: HubReference,
    *,
    skip: Callable[[str], bool] = lambda _: False,
    max_small_file: int = MAX_SMALL_FILE,
) -> HubComponent:
    """Every file of the commit ``ref.revision`` names (minus those ``skip`` matches), from the
    Hub's metadata (HF_ENDPOINT, HF_TOKEN as huggingface_hub reads them). Raises InputError,
    one line, when the Hub cannot be reached, the repository is gated or missing, or its
    answer is not what the Hub answers."""
    where = f"{HUB_SCHEME}{'datasets/' if ref.repo_type == 'dataset' else ''}{ref.repo_id}"
    if offline():
        raise InputError(
            f"{where}: HF_HUB_OFFLINE is set, and building from hf:// reads the Hub; build from "
            "the cache folder instead (sbom build --model models--ORG--NAME)"
        )
    info = _hub_call(where, ref, lambda api: _repo_info(api, ref))
    commit, files, small = hub_listing(where, ref, info, skip, max_small_file)
    downloaded = 0
    with tempfile.TemporaryDirectory(prefix="chainguard-hf-") as cache:
        for path, size, blob_id in small:
            data = _download_small(where, ref, commit, path, size, cache)
            if len(data) != size or _git_blob_id(data) != blob_id:
                raise InputError(
                    f"{where}: {path}: the download does not match the Hub's listing "
                    f"(git blob {blob_id}, {size} bytes)"
                )
            files.append(FileDigest(path, size, hashlib.sha256(data).hexdigest()))
            downloaded += size
    return HubComponent(
        ref,
        commit,
        f"pkg:huggingface/{ref.repo_id}@{commit}",
        tuple(sorted(files, key=lambda f: f.path.encode())),
        downloaded,
    )


def hub_listing(
    where: str,
    ref: HubReference,
    info: Any,
    skip: Callable[[str], bool],
    max_small_file: int,
) -> tuple[str, list[FileDigest], list[tuple[str, int, str]]]:
    """The Hub's answer checked: (its commit, the LFS files as recorded, the small files to
    download as (path, size, git blob id)). Raises InputError, one line, for anything the Hub
    does not answer (tests/fuzz feeds it hostile answers)."""
    commit = getattr(info, "sha", None)
    siblings = getattr(info, "siblings", None)
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit) or siblings is None:
        raise InputError(f"{where}: the Hub's answer has no commit id or no file list")
    if _COMMIT.fullmatch(ref.revision) and commit != ref.revision:
        raise InputError(f"{where}: asked for commit {ref.revision}, the Hub answered {commit}")
    files: list[FileDigest] = []
    small: list[tuple[str, int, str]] = []
    for sibling in siblings:
        path = sibling.rfilename
        reason = unsafe_reason(path) if isinstance(path, str) else "not a string"
        if reason is not None:
            raise InputError(f"{where}: the Hub lists an unsafe path {path!r}: {reason}")
        if skip(path):
            continue
        lfs = sibling.lfs
        if lfs is not None:
            size, sha256 = lfs.size, lfs.sha256
            if not isinstance(size, int) or size < 0 or not _SHA256.fullmatch(str(sha256)):
                raise InputError(f"{where}: {path}: malformed LFS metadata")
            # Recorded whole: no shard digests without the bytes (see the module docstring).
            files.append(FileDigest(path, size, sha256, shard_size=max(size, DEFAULT_SHARD_SIZE)))
        else:
            size, blob_id = sibling.size, sibling.blob_id
            if (
                not isinstance(size, int)
                or size < 0
                or not isinstance(blob_id, str)
                or not re.fullmatch(r"[0-9a-f]{40}", blob_id)
            ):
                raise InputError(f"{where}: {path}: no size or git blob id in the Hub's listing")
            if size > max_small_file:
                raise InputError(
                    f"{where}: {path}: {size} bytes outside LFS (more than {max_small_file}); "
                    "refusing to download it"
                )
            small.append((path, size, str(blob_id)))
    return commit, files, small


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _repo_info(api: Any, ref: HubReference) -> Any:
    info = api.model_info if ref.repo_type == "model" else api.dataset_info
    return info(ref.repo_id, revision=ref.revision, files_metadata=True)


def _download_small(
    where: str, ref: HubReference, commit: str, path: str, size: int, cache: str
) -> bytes:
    def download(_api: Any) -> str:
        from huggingface_hub import hf_hub_download

        return str(
            hf_hub_download(
                ref.repo_id, path, repo_type=ref.repo_type, revision=commit, cache_dir=cache
            )
        )

    local = Path(_hub_call(f"{where}/{path}", ref, download))
    with open(local, "rb") as f:
        return f.read(size + 1)


def _hub_call(where: str, ref: HubReference, call: Callable[[Any], Any]) -> Any:
    """One call to the Hub through huggingface_hub; every failure to get an answer is one line."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        return call(HfApi())
    except GatedRepoError:
        raise InputError(
            f"{where}: the repository is gated: accept its terms on the Hub and set HF_TOKEN"
        ) from None
    except RevisionNotFoundError:
        raise InputError(f"{where}: the Hub has no revision {ref.revision!r}") from None
    except RepositoryNotFoundError:
        raise InputError(
            f"{where}: no such repository on the Hub (or it is private: set HF_TOKEN)"
        ) from None
    except OfflineModeIsEnabled:
        raise InputError(f"{where}: HF_HUB_OFFLINE is set, and this needs the Hub") from None
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", "?")
        raise InputError(f"{where}: the Hub answered HTTP {status}") from None
    except Exception as e:
        # huggingface_hub's transport (requests, httpx or httpx2, by version) raises its own
        # connection and protocol errors: whatever it is, the Hub gave no usable answer.
        detail = " ".join(str(e).split())[:200] or type(e).__name__
        raise InputError(
            f"{where}: no usable answer from the Hub at {endpoint}: {detail}"
        ) from None
