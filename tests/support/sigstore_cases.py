"""The Sigstore interop vectors (see ../shared/vectors/README.md) and bundle-making helpers.

Shared by the unit, integration and adversarial Sigstore tests. Vectors are read in place;
derived (tampered) copies go to tmp_path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_OAUTH = "https://github.com/login/oauth"


@dataclass(frozen=True)
class SigstoreCase:
    id: str
    artifact: str  # relative to vectors/sigstore
    bundle: str
    instance: Literal["production", "staging"]
    identity: str
    issuer: str
    dsse: bool

    def artifact_path(self, vectors: Path) -> Path:
        return vectors / "sigstore" / self.artifact

    def bundle_path(self, vectors: Path) -> Path:
        return vectors / "sigstore" / self.bundle

    @property
    def other_instance(self) -> Literal["production", "staging"]:
        return "staging" if self.instance == "production" else "production"


CASES = (
    SigstoreCase(
        "prod-github-message",
        "bundle_v3_github.whl",
        "bundle_v3_github.whl.sigstore",
        "production",
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
        GITHUB_ISSUER,
        dsse=False,
    ),
    SigstoreCase(
        "staging-message",
        "bundle_v3.txt",
        "bundle_v3.txt.sigstore",
        "staging",
        "william@yossarian.net",
        GITHUB_OAUTH,
        dsse=False,
    ),
    SigstoreCase(
        "staging-rekor-v2-tsa",
        "staging-rekor-v2.txt",
        "staging-rekor-v2.txt.sigstore.json",
        "staging",
        "jku@goto.fi",
        GITHUB_OAUTH,
        dsse=False,
    ),
    SigstoreCase(
        "prod-dsse",
        "prod-dsse/a.txt",
        "prod-dsse/bundle.sigstore.json",
        "production",
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
        ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
        GITHUB_ISSUER,
        dsse=True,
    ),
)
CASE_IDS = [c.id for c in CASES]
GITHUB_CASE = CASES[0]  # carries GitHub workflow claims (repository, ref)
DSSE_CASE = CASES[3]


def refuse_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to open a connection fail loudly: verification must be offline."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args[1:] if args else kwargs}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every CI variable the OIDC ambient-credential detectors look at."""
    for name in (
        "GITHUB_ACTIONS",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "GOOGLE_SERVICE_ACCOUNT_NAME",
        "BUILDKITE",
        "GITLAB_CI",
        "SIGSTORE_ID_TOKEN",
        "CIRCLECI",
        "SIGSTORE_IDENTITY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


# --- JSON surgery -------------------------------------------------------------------------


def edit_json(data: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    doc = json.loads(data)
    edit(doc)
    return json.dumps(doc).encode()


def flip_b64(value: str, index: int = 12) -> str:
    """The base64 string of the same bytes with one bit of byte ``index`` flipped."""
    raw = bytearray(base64.b64decode(value))
    raw[index % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def walk(doc: dict[str, Any], *path: str | int) -> Any:
    node: Any = doc
    for step in path:
        node = node[step]
    return node


# --- key-signed message-signature bundles (cosign sign-blob --key, new bundle format) -------

_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA2_256": hashes.SHA256,
    "SHA2_384": hashes.SHA384,
    "SHA2_512": hashes.SHA512,
}


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_message_bundle(
    key: ec.EllipticCurvePrivateKey,
    data: bytes,
    algorithm: str = "SHA2_256",
    *,
    hint: bool = True,
) -> bytes:
    """A v0.3 bundle with an ECDSA message signature over ``data``'s digest (real crypto)."""
    hash_type = _DIGESTS[algorithm]
    digest = hashlib.new(hash_type.name, data).digest()
    signature = key.sign(digest, ec.ECDSA(Prehashed(hash_type())))
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    material: dict[str, Any] = {"publicKey": {}}
    if hint:
        material["publicKey"]["hint"] = hashlib.sha256(der).hexdigest()
    doc = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": material,
        "messageSignature": {
            "messageDigest": {"algorithm": algorithm, "digest": base64.b64encode(digest).decode()},
            "signature": base64.b64encode(signature).decode(),
        },
    }
    return json.dumps(doc, indent=2).encode()
