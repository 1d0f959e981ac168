"""The oldest released OpenSSF model-signing format, model-signing 0.2 (predicate type
``https://model_signing/Digests/v0.1``), read as model-signing 1.x still reads it.

Two things differ from the 1.x format:

- The manifest is the statement's subjects: one per file, named by its path and carrying the
  file's SHA-256 (annotation ``actual_hash_algorithm`` = ``file-sha256``). There is no model
  name, no serialization section and no ignore list.
- Key and certificate signatures were made over a malformed pre-authentication encoding:
  ``DSSEV1`` (capital V) and, in place of the payload bytes, the text of Python's ``repr`` of
  them (``b'...'`` with escapes), always hashed with SHA-256 whatever the curve.

That encoding is accepted only as a fallback, only for OMS signatures (never for chainguard's
own statements: verify_key_bundle and trust/dsse know nothing of it), and only when the signed
payload is itself a model-signing 0.2 statement: the signature then covers that predicate type,
so a 0.2 signature cannot be passed off as anything else, nor anything else as one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chainguard._strictjson import shown
from chainguard.errors import BundleError

if TYPE_CHECKING:
    from chainguard.models import Subject, VerifiedStatement
    from chainguard.trust.bundle import ParsedBundle
    from chainguard.trust.dsse import Envelope
    from chainguard.trust.keys import TrustedKey

OMS_PREDICATE_TYPE_V0_2 = "https://model_signing/Digests/v0.1"
# 0.2 records no model name; the report names the model this way (model-signing 1.x does too)
V0_2_MODEL_NAME = "compat-undefined-not-present"
_FILE_HASH = "file-sha256"


def v0_2_pae(payload_type: str, payload: bytes) -> bytes:
    """The bytes model-signing 0.2 signed for a DSSE envelope (see the module docstring)."""
    return f"DSSEV1 {len(payload_type)} {payload_type} {len(payload)} {payload!r}".encode()


def is_v0_2_payload(payload: bytes) -> bool:
    """Whether the (not yet verified) payload is a JSON statement of the 0.2 predicate type."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("predicateType") == OMS_PREDICATE_TYPE_V0_2


def verify_v0_2_envelope(envelope: Envelope, keys: Sequence[TrustedKey]) -> tuple[TrustedKey, ...]:
    """The ECDSA keys whose signature over the 0.2 encoding of ``envelope`` verifies; none
    unless the payload is a 0.2 statement."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not is_v0_2_payload(envelope.payload):
        return ()
    signed = v0_2_pae(envelope.payload_type, envelope.payload)
    verified: list[TrustedKey] = []
    for key in keys:
        public_key = key.public_key
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            continue  # 0.2 signed with EC keys only
        for _, signature in envelope.signatures:
            try:
                public_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            verified.append(key)
            break
    return tuple(verified)


def v0_2_resources(subjects: Sequence[Subject], source: str) -> tuple[tuple[str, str], ...]:
    """(path, sha256 hex) per file of a 0.2 statement, checked; BundleError when malformed."""
    if not subjects:
        raise BundleError(f"{source}: a model-signing 0.2 signature lists no files")
    files: list[tuple[str, str]] = []
    for subject in subjects:
        digest = subject.get("sha256")
        if not subject.name or digest is None:
            raise BundleError(
                f"{source}: model-signing 0.2 subject {shown(subject.name)} has no name or no "
                "sha256 digest"
            )
        files.append((subject.name, digest))
    if len({path for path, _ in files}) != len(files):
        raise BundleError(f"{source}: a model-signing 0.2 signature lists a file twice")
    return tuple(files)


def check_v0_2_annotations(subjects: Sequence[object], source: str) -> None:
    """Every subject's ``actual_hash_algorithm`` annotation, when given, is ``file-sha256``
    (the only kind model-signing 0.2 wrote under this predicate type)."""
    for raw in subjects:
        annotations = raw.get("annotations") if isinstance(raw, dict) else None
        if annotations is None:
            continue
        algorithm = (
            annotations.get("actual_hash_algorithm", _FILE_HASH)
            if isinstance(annotations, dict)
            else None
        )
        if algorithm != _FILE_HASH:
            raise BundleError(
                f"{source}: model-signing 0.2 subject hashed with {shown(algorithm)}; only "
                f"{_FILE_HASH} is known"
            )


def verify_v0_2_key_bundle(
    bundle: ParsedBundle, keys: Sequence[TrustedKey], source: str
) -> VerifiedStatement | None:
    """The statement of a key-signed model-signing 0.2 bundle if a trusted key signed its 0.2
    encoding; None otherwise (the caller then reports its own, 1.x, failure)."""
    from chainguard.models import Signer, VerifiedStatement
    from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, parse_statement

    envelope = bundle.envelope
    if bundle.material_kind != "publicKey" or envelope is None:
        return None
    if envelope.payload_type != PAYLOAD_TYPE_IN_TOTO:
        return None
    verified = verify_v0_2_envelope(envelope, keys)
    if not verified:
        return None
    statement = parse_statement(envelope.payload, source)
    return VerifiedStatement(
        predicate_type=statement.predicate_type,
        subjects=statement.subjects,
        payload=envelope.payload,
        signers=tuple(
            Signer(kind="key", identity=key.fingerprint, key_algorithm=key.algorithm)
            for key in verified
        ),
        parsed=statement,
    )
