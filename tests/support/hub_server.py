"""A Hugging Face Hub on 127.0.0.1 for the hf:// and cache tests: a real HTTP server in a thread,
started by the test and stopped when its ``with`` block ends (or after LIFETIME_S by itself).

It answers what ``huggingface_hub`` asks (HF_ENDPOINT=server.endpoint), in the Hub's shapes
(the recorded documents in hub_responses/, their file entries filled from the repository
served):

    GET  /api/{models,datasets}/ORG/NAME[/revision/REV][?blobs=true]   repository info
    GET  /api/{models,datasets}/ORG/NAME/tree/REV[?recursive=true]     file listing
    HEAD/GET /[datasets/]ORG/NAME/resolve/REV/PATH                      a file, with ETag,
         X-Repo-Commit, Content-Length, and X-Linked-Etag/X-Linked-Size for LFS files

Errors as the Hub answers them: 404 + ``X-Error-Code: RepoNotFound`` / ``RevisionNotFound`` /
``EntryNotFound``; a gated repository 401 + ``X-Error-Code: GatedRepo``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

RESPONSES = Path(__file__).parent / "hub_responses"
LIFETIME_S = 120.0
MAX_REQUESTS = 500
LFS_SUFFIXES = (".safetensors", ".bin", ".parquet", ".gguf")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    sha = hashlib.sha256(data).hexdigest()
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n".encode()
    )


def is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


def commit_of(files: dict[str, bytes], salt: str = "") -> str:
    h = hashlib.sha1(salt.encode())
    for path in sorted(files):
        h.update(f"{path}\0{hashlib.sha256(files[path]).hexdigest()}\n".encode())
    return h.hexdigest()


@dataclass
class HubRepo:
    repo_type: str  # "model" or "dataset"
    repo_id: str  # ORG/NAME
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit
    gated: bool = False
    # What a hostile or broken server answers instead: download bytes by path (the listing
    # still describes the committed ones), and a raw body for the repository info.
    served: dict[str, bytes] = field(default_factory=dict)
    info_body: bytes | None = None

    def push(self, files: dict[str, bytes], ref: str = "main", salt: str = "") -> str:
        """A new commit holding ``files``; ``ref`` then names it."""
        commit = commit_of(files, salt)
        self.commits[commit] = dict(files)
        self.refs[ref] = commit
        return commit

    def resolve(self, revision: str) -> str | None:
        if revision in self.commits:
            return revision
        return self.refs.get(revision)


@dataclass
class HubServer:
    port: int
    repos: dict[tuple[str, str], HubRepo]
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, repo: HubRepo) -> HubRepo:
        self.repos[(repo.repo_type, repo.repo_id)] = repo
        return repo

    def env(self, hf_home: Path) -> dict[str, str]:
        """What a process talking to this Hub runs with (no token, its own cache)."""
        return {
            "HF_ENDPOINT": self.endpoint,
            "HF_HOME": str(hf_home),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_OFFLINE": "0",
            "HF_TOKEN": "",
        }


def _sibling(path: str, data: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = {"rfilename": path, "size": len(data)}
    if is_lfs(path):
        pointer = lfs_pointer(data)
        entry["blobId"] = git_blob_id(pointer)
        entry["lfs"] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "pointerSize": len(pointer),
        }
    else:
        entry["blobId"] = git_blob_id(data)
    return entry


def _tree_entry(path: str, data: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "size": len(data), "path": path}
    if is_lfs(path):
        pointer = lfs_pointer(data)
        entry["oid"] = git_blob_id(pointer)
        entry["lfs"] = {
            "oid": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "pointerSize": len(pointer),
        }
    else:
        entry["oid"] = git_blob_id(data)
    return entry


def info_document(repo: HubRepo, commit: str, blobs: bool) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(json.loads((RESPONSES / "model_info.json").read_text()))
    files = repo.commits[commit]
    doc.update(id=repo.repo_id, modelId=repo.repo_id, sha=commit, author=repo.repo_id.split("/")[0])
    doc["gated"] = "manual" if repo.gated else False
    doc["usedStorage"] = sum(len(d) for d in files.values())
    if blobs:
        doc["siblings"] = [_sibling(p, files[p]) for p in sorted(files)]
    else:  # without ?blobs=true the Hub lists names only
        doc["siblings"] = [{"rfilename": p} for p in sorted(files)]
    if repo.repo_type == "dataset":
        for key in ("pipeline_tag", "library_name", "modelId", "config", "transformersInfo"):
            doc.pop(key, None)
    return doc


def tree_document(
    files: dict[str, bytes], recursive: bool, expand: bool = False, commit: str = ""
) -> list[dict[str, Any]]:
    shape = json.loads((RESPONSES / "tree.json").read_text())
    assert {e["type"] for e in shape} == {"file", "directory"}
    entries: list[dict[str, Any]] = []
    folders = sorted({p.rsplit("/", 1)[0] for p in files if "/" in p})
    for folder in folders:
        if recursive or "/" not in folder:
            oid = hashlib.sha1(folder.encode()).hexdigest()
            entries.append({"type": "directory", "oid": oid, "size": 0, "path": folder})
    for path in sorted(files):
        if recursive or "/" not in path:
            entries.append(_tree_entry(path, files[path]))
    if expand:  # what ?expand=true adds to each entry
        for entry in entries:
            entry["lastCommit"] = {
                "id": commit,
                "title": "Upload folder using huggingface_hub",
                "date": "2025-06-02T09:14:51.000Z",
            }
            if entry["type"] == "file":
                entry["securityFileStatus"] = {
                    "status": "safe",
                    "avScan": {"virusFound": False, "virusNames": None},
                    "pickleImportScan": None,
                }
    return entries


def _handler(server: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, head: bool) -> None:
            server.requests.append((self.command, self.path))
            try:
                if len(server.requests) > MAX_REQUESTS:
                    self._error(503, "TooManyRequests", "too many requests", head)
                else:
                    self._route(head)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _route(self, head: bool) -> None:
            split = urlsplit(self.path)
            parts = [unquote(p) for p in split.path.split("/") if p]
            query = split.query.lower()
            if parts[:1] == ["api"] and len(parts) >= 4 and parts[1] in ("models", "datasets"):
                repo = self._repo(parts[1][:-1], f"{parts[2]}/{parts[3]}", head)
                if repo is None:
                    return
                rest = parts[4:]
                if rest[:1] == ["tree"] and len(rest) >= 2:
                    commit = self._commit(repo, rest[1], head)
                    if commit is not None:
                        files = repo.commits[commit]
                        recursive, expand = "recursive=true" in query, "expand=true" in query
                        doc = tree_document(files, recursive, expand, commit)
                        self._json(doc, head)
                    return
                revision = rest[1] if rest[:1] == ["revision"] and len(rest) == 2 else "main"
                if rest and rest[:1] != ["revision"]:
                    self._error(404, None, "not found", head)
                    return
                commit = self._commit(repo, revision, head)
                if commit is not None and repo.info_body is not None:
                    self._raw(repo.info_body, head)
                elif commit is not None:
                    self._json(info_document(repo, commit, "blobs=true" in query), head)
                return
            repo_type = "model"
            if parts[:1] == ["datasets"]:
                repo_type, parts = "dataset", parts[1:]
            if len(parts) >= 5 and parts[2] == "resolve":
                repo = self._repo(repo_type, f"{parts[0]}/{parts[1]}", head)
                if repo is None:
                    return
                commit = self._commit(repo, parts[3], head)
                if commit is None:
                    return
                path = "/".join(parts[4:])
                files = repo.commits[commit]
                if path not in files:
                    self._error(404, "EntryNotFound", "Entry not found", head, commit)
                    return
                self._file(path, repo.served.get(path, files[path]), commit, head)
                return
            self._error(404, None, "not found", head)

        def _repo(self, repo_type: str, repo_id: str, head: bool) -> HubRepo | None:
            repo = server.repos.get((repo_type, repo_id))
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found", head)
                return None
            if repo.gated:
                message = f"Access to model {repo_id} is restricted. You must have access to it."
                self._error(401, "GatedRepo", message, head)
                return None
            return repo

        def _commit(self, repo: HubRepo, revision: str, head: bool) -> str | None:
            commit = repo.resolve(revision)
            if commit is None:
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
            return commit

        def _file(self, path: str, data: bytes, commit: str, head: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Repo-Commit", commit)
            self.send_header("Accept-Ranges", "bytes")
            if is_lfs(path):
                sha = hashlib.sha256(data).hexdigest()
                self.send_header("ETag", f'"{git_blob_id(lfs_pointer(data))}"')
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(data)))
            else:
                self.send_header("ETag", f'"{git_blob_id(data)}"')
            self.end_headers()
            if not head:
                self.wfile.write(data)

        def _json(self, doc: Any, head: bool) -> None:
            self._raw(json.dumps(doc).encode(), head)

        def _raw(self, body: bytes, head: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _error(
            self, status: int, code: str | None, message: str, head: bool, commit: str = ""
        ) -> None:
            body = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if code is not None:
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler


@contextmanager
def serve_hub(*repos: HubRepo) -> Iterator[HubServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    hub = HubServer(httpd.server_address[1], {(r.repo_type, r.repo_id): r for r in repos})
    httpd.RequestHandlerClass = _handler(hub)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    stop = threading.Timer(LIFETIME_S, httpd.shutdown)  # stops by itself if the test hangs
    stop.daemon = True
    stop.start()
    try:
        yield hub
    finally:
        stop.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def download_snapshot(
    hub: HubServer, repo: HubRepo, cache_dir: Path, revision: str = "main"
) -> Path:
    """The repository downloaded by huggingface_hub's own snapshot_download into a hub cache."""
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(
            repo.repo_id,
            repo_type=repo.repo_type,
            revision=revision,
            cache_dir=str(cache_dir),
            endpoint=hub.endpoint,
            token=False,
        )
    )
