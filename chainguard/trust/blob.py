"""Verify one file (a blob) against a signature bundle.

The bundle is always verified on its own first (a DSSE statement, or a message signature over
the digest the bundle records); only then is the file hashed and its digest compared with what
was signed. So a tampered bundle is reported as such, and an authentic bundle for other bytes is
a ``subject-mismatch`` that names the signed and the actual digest.

A message signature (cosign ``sign-blob``) over bytes that are a DSSE pre-authentication
encoding is refused (``signature-role-confusion``): DSSE signs exactly those bytes, so the same
signature is also a valid signature of a DSSE envelope, i.e. of a signed SBOM. And the other
way round: any published DSSE signature is a message signature over its PAE bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard._strictjson import shown
from chainguard.errors import InputError, VerificationFailure
from chainguard.hashing import CHUNK_SIZE
from chainguard.models import Signer, Subject
from chainguard.trust.keys import TrustedKey

if TYPE_CHECKING:
    from chainguard.trust.sigstore import SigstoreTrustedRoot

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)

# PAE = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body (trust/dsse.pae). Any run of digits
# is taken as a length, leading zeros too: refusing more than chainguard's own PAE costs nothing.
_PAE_MAGIC = b"DSSEv1 "
_PAE_LENGTH = re.compile(rb"([0-9]{1,20}) ")
_PAE_SHOWN_TYPE = 100  # bytes of the payload type quoted in the finding


def require_file(path: Path) -> int:
    """Fail early (before any bundle work) unless ``path`` is a regular file; its size."""
    try:
        info = path.stat()
    except FileNotFoundError as e:
        raise InputError(f"{path}: no such file") from e
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    if stat.S_ISDIR(info.st_mode):
        raise InputError(
            f"{path}: is a directory; verify blob checks one file (use verify model for a tree)"
        )
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file")
    return info.st_size


def file_digests(path: Path, algorithms: Sequence[str] = ("sha256",)) -> dict[str, bytes]:
    """Digest one file with every hashlib algorithm in ``algorithms``, in one streaming pass.

    Constant memory whatever the size. O_NONBLOCK keeps a fifo swapped in after require_file
    from hanging the open; fstat then refuses anything but a regular file.
    """
    hashers = {name: hashlib.new(name) for name in dict.fromkeys(algorithms)}
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError as e:
        raise InputError(f"{path}: no such file") from e
    except IsADirectoryError as e:
        raise InputError(f"{path}: is a directory; verify blob checks one file") from e
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "is a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise InputError(f"{path}: {what}")
    with os.fdopen(fd, "rb", buffering=0) as f:
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        try:
            while n := f.readinto(buffer):
                for h in hashers.values():
                    h.update(view[:n])
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    return {name: h.digest() for name, h in hashers.items()}


def pae_payload_type(path: Path) -> str | None:
    """If the file's bytes are exactly a DSSE PAE, its payload type (as text); else None.

    Reads the two length fields only (a few dozen bytes, wherever they are), never the body.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, len(_PAE_MAGIC) + 21, 0)
        if not head.startswith(_PAE_MAGIC):
            return None
        type_length = _PAE_LENGTH.match(head, len(_PAE_MAGIC))
        if type_length is None:
            return None
        type_start = type_length.end()
        type_end = type_start + int(type_length[1])
        if type_end >= size:
            return None
        after_type = os.pread(fd, 22, type_end)
        body_length = _PAE_LENGTH.match(after_type, 1)
        if not after_type.startswith(b" ") or body_length is None:
            return None
        if type_end + body_length.end() + int(body_length[1]) != size:
            return None
        shown = os.pread(fd, min(type_end - type_start, _PAE_SHOWN_TYPE), type_start)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    finally:
        os.close(fd)
    return shown.decode("utf-8", "backslashreplace")


def refuse_dsse_pae(artifact: Path) -> None:
    """Raise ``signature-role-confusion`` when a message-signed file is a DSSE PAE."""
    payload_type = pae_payload_type(artifact)
    if payload_type is not None:
        raise VerificationFailure(
            "signature-role-confusion",
            f"{artifact}: the signed bytes are a DSSE pre-authentication encoding (payload type "
            f"{shown(payload_type, _PAE_SHOWN_TYPE)}): this signature is also a valid DSSE "
            "signature, e.g. of an SBOM statement; refusing it. A key that signs SBOMs must not "
            "sign anything else",
            expected="a message signature over content that is not a DSSE PAE",
            actual=f"DSSE PAE, payload type {shown(payload_type, _PAE_SHOWN_TYPE)}",
        )


def match_subject(subjects: Sequence[Subject], sha256_hex: str, artifact: str) -> Subject:
    """The signed subject whose SHA-256 is the artifact's, else ``subject-mismatch``.

    Subject names are not compared: a file may be verified under any local name (in-toto
    semantics); the digest is what was signed.
    """
    for subject in subjects:
        if subject.get("sha256") == sha256_hex:
            return subject
    signed = [f"{shown(s.name, 40)} sha256:{s.get('sha256')}" for s in subjects if s.get("sha256")]
    more = f" (+{len(signed) - 3} more)" if len(signed) > 3 else ""
    raise VerificationFailure(
        "subject-mismatch",
        f"{artifact}: no signed subject has this file's SHA-256 — the file was modified after "
        "signing, or the bundle is for another file",
        expected=", ".join(signed[:3]) + more if signed else "a subject with a sha256 digest",
        actual=f"sha256:{sha256_hex}",
    )


def verify_key_artifact(
    artifact: Path,
    bundle_bytes: bytes,
    source: str,
    keys: Sequence[TrustedKey],
    trusted_root: SigstoreTrustedRoot | None = None,
) -> Signer:
    """Verify ``artifact`` against a key-signed bundle (DSSE statement or message signature).

    With ``trusted_root``, every transparency-log entry and RFC 3161 timestamp in the bundle
    must also verify against it and record this signature by the verifying key
    (trust/sigstore_log.verify_key_transparency); without, the key alone decides.
    Raises VerificationFailure (signature-invalid, signature-untrusted, subject-mismatch),
    BundleError for a malformed bundle, InputError for an unreadable artifact.
    """
    from chainguard.trust.bundle import (
        read_bundle,
        verify_key_bundle,
        verify_key_message_signature,
    )
    from chainguard.trust.sigstore_log import Signed, verify_key_transparency

    require_file(artifact)
    bundle = read_bundle(bundle_bytes, source)

    def by_fingerprint(signer: Signer) -> TrustedKey:
        return next(k for k in keys if k.fingerprint == signer.identity)

    if bundle.message_signature is None:
        verified = verify_key_bundle(bundle, keys, source=source)
        if trusted_root is not None:
            assert bundle.envelope is not None  # verify_key_bundle refuses a bundle without
            signatures = tuple(sig for _, sig in bundle.envelope.signatures)
            verify_key_transparency(
                bundle.raw,
                Signed(signatures, envelope=bundle.envelope),
                by_fingerprint(verified.signers[0]),
                trusted_root,
                source,
            )
        actual = file_digests(artifact)["sha256"].hex()
        match_subject(verified.subjects, actual, str(artifact))
        return verified.signers[0]
    signed = verify_key_message_signature(bundle, keys, source=source)
    if trusted_root is not None:
        _, _, signature = bundle.message_signature
        verify_key_transparency(
            bundle.raw,
            Signed((signature,), digest=(signed.algorithm, signed.digest)),
            by_fingerprint(signed.signer),
            trusted_root,
            source,
        )
    digest = file_digests(artifact, (signed.algorithm,))[signed.algorithm]
    if digest != signed.digest:
        raise VerificationFailure(
            "subject-mismatch",
            f"{artifact}: its {signed.algorithm.upper()} is not the signed digest — the file "
            "was modified after signing, or the bundle is for another file",
            expected=f"{signed.algorithm}:{signed.digest.hex()}",
            actual=f"{signed.algorithm}:{digest.hex()}",
        )
    refuse_dsse_pae(artifact)
    return signed.signer
