"""keygen and sign: keys, and the signed in-toto statement over an SBOM (key or Sigstore)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from chainguard.api._common import CYCLONEDX_PREDICATE, IN_TOTO_PAYLOAD_TYPE, password, write_atomic
from chainguard.errors import SbomError, UsageError
from chainguard.models import ExpectedState, Subject, new_signature_path


def keygen(prefix: Path, algorithm: str = "ecdsa-p256") -> tuple[Path, Path]:
    from chainguard.trust.keys import generate_keypair

    if algorithm not in ("ecdsa-p256", "ed25519"):
        raise UsageError(f"unknown key algorithm {algorithm!r}; use ecdsa-p256 or ed25519")
    return generate_keypair(prefix, algorithm, password())  # type: ignore[arg-type]


def sign_sbom(sbom: Path, key: Path, output: Path | None = None) -> Path:
    """Sign an SBOM with a key: Sigstore bundle v0.3 / DSSE / in-toto Statement v1."""
    from chainguard.trust.bundle import key_bundle_json
    from chainguard.trust.dsse import sign
    from chainguard.trust.keys import load_private_key, public_key_from_pem

    statement = sbom_statement(sbom)
    signing_key = load_private_key(key, password())
    envelope = sign(statement, IN_TOTO_PAYLOAD_TYPE, signing_key)
    from cryptography.hazmat.primitives import serialization

    pem = signing_key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = output or new_signature_path(sbom)
    write_atomic(out, key_bundle_json(envelope, public_key_from_pem(pem, str(key))), overwrite=True)
    return out


def sbom_statement(sbom: Path) -> bytes:
    """The in-toto Statement v1 every signing path signs for an SBOM (key and Sigstore alike)."""
    from chainguard.sbom.read import read_sbom_file
    from chainguard.trust.statement import build_statement

    data, state = read_sbom_file(sbom)
    return build_statement(
        statement_subjects(state, data), CYCLONEDX_PREDICATE, _json_object(data, sbom)
    )


def sign_sbom_sigstore(
    sbom: Path,
    *,
    staging: bool = False,
    identity_token: str | None = None,
    output: Path | None = None,
) -> Path:
    """Sign an SBOM keylessly with Sigstore (needs the network and an OIDC identity)."""
    from chainguard.trust.sigstore import sign_sigstore

    statement = sbom_statement(sbom)
    bundle = sign_sigstore(statement, staging=staging, identity_token=identity_token)
    out = output or new_signature_path(sbom)
    write_atomic(out, bundle, overwrite=True)
    return out


def statement_subjects(state: ExpectedState, sbom_bytes: bytes) -> list[Subject]:
    """One subject per top-level component (root digest) plus the exact SBOM bytes."""
    subjects = [Subject(f"deployment:{state.deployment.name}", (("sha256", _sha256(sbom_bytes)),))]
    subjects += [Subject(c.bom_ref, (("sha256", c.root_digest),)) for c in state.components]
    return subjects


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_object(data: bytes, source: Path | str) -> dict[str, object]:
    try:
        value = json.loads(data)
    except ValueError as e:
        raise SbomError(f"{source}: not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise SbomError(f"{source}: not a JSON object")
    return value
