"""keygen and sign: keys, and the signed in-toto statement over an SBOM (key or Sigstore)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.api._common import CYCLONEDX_PREDICATE, IN_TOTO_PAYLOAD_TYPE, password, write_atomic
from chainguard.errors import OutputError, SbomError, UsageError
from chainguard.models import ExpectedState, Subject, new_signature_path

if TYPE_CHECKING:
    from chainguard.trust.keys import SigningKey


def keygen(prefix: Path, algorithm: str = "ecdsa-p256") -> tuple[Path, Path]:
    from chainguard.trust.keys import generate_keypair

    if algorithm not in ("ecdsa-p256", "ecdsa-p384", "ed25519"):
        raise UsageError(
            f"unknown key algorithm {algorithm!r}; use ecdsa-p256, ecdsa-p384 or ed25519"
        )
    return generate_keypair(prefix, algorithm, password())  # type: ignore[arg-type]


def sign_sbom(sbom: Path, key: Path, output: Path | None = None) -> Path:
    """Sign an SBOM with a key: Sigstore bundle v0.3 / DSSE / in-toto Statement v1.

    An ECDSA key signs the statement streamed (_sign_streamed: a 1,000,000-file SBOM in bounded
    memory); an Ed25519 key, or an SBOM the stream does not take, signs it whole."""
    from chainguard.trust.bundle import key_bundle_json
    from chainguard.trust.dsse import sign
    from chainguard.trust.keys import load_private_key
    from chainguard.trust.stream_sign import streams

    signing_key = load_private_key(key, password())
    out = output or new_signature_path(sbom)
    if streams(signing_key) and _sign_streamed(sbom, signing_key, out):
        return out
    statement = sbom_statement(sbom)
    envelope = sign(statement, IN_TOTO_PAYLOAD_TYPE, signing_key)
    write_atomic(out, key_bundle_json(envelope, signing_key.trusted_key), overwrite=True)
    return out


def _sign_streamed(sbom: Path, key: SigningKey, out: Path) -> bool:
    """Sign ``sbom``'s statement with the ECDSA ``key`` into ``out``, never holding the
    statement: the SBOM is re-serialised element by element into a spool file (beside ``out``,
    unnamed), read back as verify reads it for the subjects, then hashed and written out as
    base64 in pieces (trust/stream_sign.py). The bundle is the one the whole-statement path
    writes, up to ECDSA's random signature. False when the SBOM is not one this streams
    (sbom/compact.py): nothing was written, and the caller signs it whole."""
    import tempfile

    from chainguard.sbom.compact import compact_sbom, spooled
    from chainguard.trust.statement import statement_frame
    from chainguard.trust.stream_sign import key_bundle_streamed

    try:
        spool = tempfile.TemporaryFile(dir=out.parent)  # noqa: SIM115 (closed below)
    except OSError as e:
        raise OutputError(f"{out}: cannot write: {e.strerror or e}") from e
    with spool:
        try:
            compact = compact_sbom(sbom, spool)
        except OSError as e:  # the spool, not the SBOM (compact_sbom words those)
            raise OutputError(f"{out}: cannot write: {e.strerror or e}") from e
        if compact is None:
            return False
        subjects = _subjects(compact.state, compact.sbom_sha256)
        head, tail = statement_frame(subjects, CYCLONEDX_PREDICATE)

        def payload() -> Iterator[bytes]:
            yield head
            yield from spooled(spool, compact.length, _SIGN_PIECE)
            yield tail

        length = len(head) + compact.length + len(tail)
        bundle = key_bundle_streamed(payload(), length, IN_TOTO_PAYLOAD_TYPE, key)
        write_atomic(out, bundle, overwrite=True)
    return True


# Payload bytes hashed and encoded at a time when signing streamed: a multiple of 3, so each
# piece's base64 needs no padding and none is carried to the next.
_SIGN_PIECE = 3 * 1024 * 1024


def sbom_statement(sbom: Path) -> bytes:
    """The in-toto Statement v1 every signing path signs for an SBOM (key and Sigstore alike)."""
    from chainguard.sbom.read import read_sbom_file
    from chainguard.trust.statement import build_statement

    data, state = read_sbom_file(sbom)
    try:
        return build_statement(
            statement_subjects(state, data), CYCLONEDX_PREDICATE, _json_object(data, sbom)
        )
    except UnicodeEncodeError as e:  # json accepts a lone surrogate escape such as \ud800
        raise SbomError(
            f"{sbom}: holds a lone surrogate escape ({e.object[e.start]!a}), which is not "
            "UTF-8 text: fix the value or rebuild the SBOM with chainguard sbom build"
        ) from None


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
    return _subjects(state, _sha256(sbom_bytes))


def _subjects(state: ExpectedState, sbom_sha256: str) -> list[Subject]:
    subjects = [Subject(f"deployment:{state.deployment.name}", (("sha256", sbom_sha256),))]
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
