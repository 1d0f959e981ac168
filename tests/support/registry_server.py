"""A real OCI registry on 127.0.0.1: Debian's ``docker-registry`` (the CNCF distribution
registry), started per test with its storage in the test's tmp directory and stopped at
teardown. Skipped, with the reason, where the binary is not installed (.ci/run installs it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"
_START_TIMEOUT = 15.0


@dataclass(frozen=True)
class RegistryServer:
    port: int
    storage: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, repository: str = "fleet/attestations") -> str:
        """The oci:// address of ``repository`` in this registry."""
        return f"oci://{self.address}/{repository}"

    @property
    def base(self) -> str:
        return f"http://{self.address}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/v2/", timeout=1) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as e:
        return e.code == 401  # up, and asking for credentials
    except (urllib.error.URLError, OSError):
        return False


def _htpasswd(path: Path, users: dict[str, str]) -> None:
    """bcrypt entries (the only hash the registry accepts), cost 4: tests need no strength."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # glibc's libxcrypt does bcrypt; removed in Python 3.13

    lines = [
        f"{u}:{crypt.crypt(p, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}"
        for u, p in users.items()
    ]
    path.write_text("\n".join(lines) + "\n")


def start_registry(
    root: Path, users: dict[str, str] | None = None, auth: str = ""
) -> RegistryServer:
    """``users``: require basic auth (htpasswd) for these name: password pairs. ``auth``:
    another ``auth:`` section (support/token_server.token_auth: bearer tokens)."""
    binary = shutil.which(REGISTRY_BINARY) or shutil.which("docker-registry")
    if binary is None:
        pytest.skip(f"{REGISTRY_BINARY} is not installed (apt-get install docker-registry)")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "config.yml"
    if users:
        _htpasswd(root / "htpasswd", users)
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {root / 'htpasswd'}\n"
    config.write_text(
        auth + "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        [binary, "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(root / "registry.log").open("wb"),
    )
    server = RegistryServer(port, root / "storage", process)
    deadline = time.monotonic() + _START_TIMEOUT
    while not _answers(server.base):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_registry(server)
            log = (root / "registry.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"docker-registry did not start on {server.address}: {log}")
        time.sleep(0.05)
    return server


def stop_registry(server: RegistryServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    server = start_registry(tmp_path / "registry")
    try:
        yield server
    finally:
        stop_registry(server)


# ------------------------------------------------ the attacker's view: raw registry requests

REPOSITORY = "fleet/attestations"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _call(
    server: RegistryServer,
    method: str,
    path: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    url = path if path.startswith("http") else f"{server.base}{path}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def tags(server: RegistryServer, repository: str = REPOSITORY) -> list[str]:
    import json

    status, _, body = _call(server, "GET", f"/v2/{repository}/tags/list")
    assert status == 200, body
    return list(json.loads(body)["tags"] or [])


def manifest(server: RegistryServer, tag: str, repository: str = REPOSITORY) -> dict[str, object]:
    import json

    status, _, body = _call(
        server, "GET", f"/v2/{repository}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}
    )
    assert status == 200, body
    doc: dict[str, object] = json.loads(body)
    return doc


def blob(server: RegistryServer, digest: str, repository: str = REPOSITORY) -> bytes:
    status, _, body = _call(server, "GET", f"/v2/{repository}/blobs/{digest}")
    assert status == 200, body
    return body


def put_blob(server: RegistryServer, data: bytes, repository: str = REPOSITORY) -> str:
    import hashlib

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers, body = _call(server, "POST", f"/v2/{repository}/blobs/uploads/", b"")
    assert status == 202, body
    location = headers["Location"]
    location += ("&" if "?" in location else "?") + f"digest={digest}"
    status, _, body = _call(
        server, "PUT", location, data, {"Content-Type": "application/octet-stream"}
    )
    assert status == 201, body
    return digest


def put_manifest(
    server: RegistryServer,
    tag: str,
    document: dict[str, object] | bytes,
    repository: str = REPOSITORY,
) -> None:
    import json

    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    status, _, body = _call(
        server,
        "PUT",
        f"/v2/{repository}/manifests/{tag}",
        data,
        {"Content-Type": OCI_MANIFEST},
    )
    assert status == 201, body


def replace_layer(
    server: RegistryServer, tag: str, layer: bytes, new_tag: str | None = None
) -> None:
    """Push ``layer`` as the artifact's one layer, under ``new_tag`` (default: the same tag)."""
    doc = manifest(server, tag)
    layers = doc["layers"]
    assert isinstance(layers, list)
    layers[0] = {**layers[0], "digest": put_blob(server, layer), "size": len(layer)}
    put_manifest(server, new_tag or tag, doc)
