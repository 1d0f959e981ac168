"""Writing OpenSSF model signatures that model-signing's ``verify`` accepts.

Signing is two steps: ``model_payload`` hashes the model into the in-toto statement
model-signing 1.1 writes (``files`` serialization), and a backend signs those bytes into a
Sigstore bundle v0.3. ``oms_bundle`` is the one backend so far (a private ECDSA key, what
``model_signing sign key`` makes); another (a certificate, Sigstore keyless) is one more
function beside it taking the same payload, and a ``sign_*`` entry point like ``sign_oms``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard._strictjson import shown
from chainguard.errors import InputError, UsageError
from chainguard.oms.manifest import OMS_PREDICATE_TYPE, SINGLE_FILE_NAME, model_name
from chainguard.paths import unsafe_reason
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO

if TYPE_CHECKING:
    from chainguard.trust.keys import SigningKey

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
# model-signing leaves these out by default and records them in ignore_paths; we do the same
# when signing so that its default verification accepts our signatures.
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
DEFAULT_SIGNATURE_NAME = "model.sig"

_GLOB_CHARS = frozenset("*?[")


def sign_oms(model_dir: Path, key: SigningKey, ignore: Sequence[str]) -> bytes:
    """Hash a model (directory or single file) and sign it as an OpenSSF model signature.

    ``ignore`` holds literal paths relative to the model (the bundle's own path when it lives
    inside); they are left out and recorded in the predicate together with the git paths
    model-signing leaves out by default, so that both verifiers skip exactly the same files.
    """
    if key.algorithm != "ecdsa-p256":
        oms_bundle(b"", key)  # raises the explanatory UsageError before any hashing
    return oms_bundle(model_payload(model_dir, ignore), key)


def model_payload(model_dir: Path, ignore: Sequence[str]) -> bytes:
    """Hash a model (directory or single file) into the statement to sign (see ``sign_oms``)."""
    from chainguard.collectors.tree import IgnoreRules, collect_tree
    from chainguard.hashing import HashSettings

    ignored = tuple(dict.fromkeys((*GIT_PATHS, *literal_ignore_paths(ignore))))
    single = model_dir.is_file()
    tree = collect_tree(
        model_dir,
        HashSettings(),
        ignore=IgnoreRules(exact=frozenset(() if single else ignored)),
        mode="verify",  # whole-file digests only: OMS "files" needs nothing else
    )
    if tree.anomalies:
        a = tree.anomalies[0]
        more = f" (and {len(tree.anomalies) - 1} more)" if len(tree.anomalies) > 1 else ""
        raise InputError(f"{model_dir}/{a.path}: {a.kind}: {a.detail}{more}; refusing to sign it")
    files: list[tuple[str, str]] = []
    links = False
    for f in tree.files:
        assert f.sha256 is not None
        files.append((SINGLE_FILE_NAME if single else f.path, f.sha256))
        links = links or (model_dir if single else model_dir / f.path).is_symlink()
    return oms_payload(
        model_name(model_dir),
        files,
        ignore_paths=ignored,
        # model-signing refuses links unless the signature allows them; chainguard hashes an
        # in-tree link as the file it points to, which is what model-signing then does too.
        allow_symlinks=links,
    )


def literal_ignore_paths(ignore: Sequence[str]) -> tuple[str, ...]:
    """Validate ``--ignore`` for signing: OMS records literal relative paths, never globs."""
    paths: list[str] = []
    for entry in ignore:
        path = entry.rstrip("/")
        if _GLOB_CHARS.intersection(path):
            raise UsageError(
                f"--ignore {shown(entry)}: an OpenSSF model signature records literal paths, "
                "not glob patterns; list each path"
            )
        reason = unsafe_reason(path)
        if reason is not None:
            raise UsageError(
                f"--ignore {shown(entry)}: not a relative path inside the model ({reason})"
            )
        paths.append(path)
    return tuple(dict.fromkeys(paths))


def oms_payload(
    model_name: str,
    files: Sequence[tuple[str, str]],
    *,
    ignore_paths: Sequence[str],
    allow_symlinks: bool,
) -> bytes:
    """The in-toto statement model-signing 1.1 writes for a ``files`` serialization (pure).

    ``files`` are ``(resource name, sha256 hex)`` pairs; a single-file model is named ``.``.
    """
    ordered = sorted(files, key=lambda f: _path_order(f[0]))
    subject = hashlib.sha256(b"".join(bytes.fromhex(d) for _, d in ordered)).hexdigest()
    serialization: dict[str, object] = {
        "method": "files",
        "hash_type": "sha256",
        "allow_symlinks": allow_symlinks,
    }
    if ignore_paths:
        serialization["ignore_paths"] = list(ignore_paths)
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": model_name, "digest": {"sha256": subject}}],
        "predicateType": OMS_PREDICATE_TYPE,
        "predicate": {
            "serialization": serialization,
            "resources": [
                {"name": name, "algorithm": "sha256", "digest": digest} for name, digest in ordered
            ],
        },
    }
    return json.dumps(statement, indent=2, ensure_ascii=False).encode("utf-8")


def oms_bundle(payload: bytes, key: SigningKey) -> bytes:
    """Sign ``payload`` into the bundle model-signing 1.1 writes for ``sign key``.

    Its verifier checks ``publicKey.hint`` against the SHA-256 of the PEM public key (not the
    DER fingerprint chainguard's own bundles carry) and accepts only ECDSA keys.
    """
    from chainguard.trust import dsse
    from chainguard.trust.keys import pem_hint

    if key.algorithm != "ecdsa-p256":
        raise UsageError(
            f"{key.source}: OpenSSF model signing verifies ECDSA keys only; create one with "
            "`chainguard keygen PREFIX --algorithm ecdsa-p256`"
        )
    envelope = dsse.sign(payload, PAYLOAD_TYPE_IN_TOTO, key)
    doc = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": pem_hint(key.public_key)},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": base64.b64encode(envelope.payload).decode("ascii"),
            "payloadType": envelope.payload_type,
            "signatures": [
                {"sig": base64.b64encode(sig).decode("ascii"), "keyid": ""}
                for _, sig in envelope.signatures
            ],
        },
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _path_order(path: str) -> tuple[str, ...]:
    """model-signing sorts resources as PurePosixPath objects: by path components."""
    return tuple(path.split("/"))


__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "DEFAULT_SIGNATURE_NAME",
    "GIT_PATHS",
    "literal_ignore_paths",
    "model_payload",
    "oms_bundle",
    "oms_payload",
    "sign_oms",
]
