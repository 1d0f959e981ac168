"""Transparency-log entries and RFC 3161 timestamps where sigstore-python 4 stops short of the
Sigstore specification (as the public sigstore-conformance suite pins it down).

- A trusted root's ``validFor`` is a closed interval (protobuf-specs ``TimeRange``): a
  timestamp made at the last instant of a TSA's validity is valid. sigstore-python treats the
  end as exclusive; ``timestamp_time`` below does not.
- Rekor v1 ``intoto/0.0.2`` entries (DSSE envelopes logged before the ``dsse`` type existed)
  are refused by sigstore-python. They bind the envelope's payload hash, payload type,
  signatures and verifying certificate, so they are checked as strictly as ``dsse/0.0.1``
  entries are, and their integrated time (bound by the entry's signed promise, whose check does
  not depend on the kind) counts as a signed time.
- A bundle signed with a managed key (``publicKey`` material) verified together with a trusted
  root: the key verifies the signature, and the root's transparency logs and TSAs verify every
  log entry and timestamp the bundle carries; each entry must record this signature by this key
  over this digest or envelope. sigstore-python cannot load such bundles at all.

``sigstore`` is imported inside the functions; nothing here runs on ``chainguard --help``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from chainguard._strictjson import shown
from chainguard.errors import VerificationFailure

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from chainguard.trust.dsse import Envelope
    from chainguard.trust.keys import TrustedKey
    from chainguard.trust.sigstore import SigstoreTrustedRoot

_MAX_TIMESTAMPS = 32  # as sigstore-python and sigstore-go: a bound on work per bundle


class EntryMismatch(Exception):
    """A log entry that does not record what the bundle holds (its reason, one line)."""


# ------------------------------------------------------------------------------ timestamps


def timestamp_time(trusted_root: Any, response: Any, message: bytes) -> datetime | None:
    """The time an RFC 3161 response vouches for, if some TSA of ``trusted_root`` signed it
    over ``message`` within that TSA's validity (both ends inclusive); else None."""
    from rfc3161_client import VerificationError as Rfc3161Error
    from rfc3161_client import VerifierBuilder

    when: datetime = response.tst_info.gen_time
    for authority in trusted_root.get_timestamp_authorities():
        chain = authority.certificates(allow_expired=True)
        if len(chain) < 2:  # a TSA needs its signing certificate and a root
            continue
        builder = VerifierBuilder().tsa_certificate(chain[0]).add_root_certificate(chain[-1])
        for intermediate in chain[1:-1]:
            builder = builder.add_intermediate_certificate(intermediate)
        try:
            builder.build().verify_message(response, message)
        except Rfc3161Error:
            continue
        end = authority.validity_period_end
        if authority.validity_period_start <= when and (end is None or when <= end):
            return when
    return None


# ----------------------------------------------------------------------- log entry contents


@dataclass(frozen=True, slots=True)
class Signed:
    """What a bundle holds, for comparing with what a log entry recorded.

    A message signature: ``digest`` (algorithm, bytes) and one signature. A DSSE envelope:
    ``envelope`` (its payload type, payload and signatures).
    """

    signatures: tuple[bytes, ...]
    digest: tuple[str, bytes] | None = None
    envelope: Envelope | None = None


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise EntryMismatch(f"log entry {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise EntryMismatch(f"log entry {what} is not base64") from e


def _unwrap(decoded: bytes) -> bytes:
    """Rekor's intoto/0.0.2 keeps the envelope's own base64 text, base64-encoded once more;
    entries made otherwise hold the bytes themselves. Either reading denotes the same bytes, so
    accepting both never lets a different signature or payload through."""
    try:
        return base64.b64decode(decoded, validate=True)
    except (binascii.Error, ValueError):
        return decoded


def _field(doc: object, *path: str) -> object:
    node = doc
    for step in path:
        if not isinstance(node, dict) or step not in node:
            raise EntryMismatch(f"log entry has no {'.'.join(path)}")
        node = node[step]
    return node


def _pae_sha256(envelope: Envelope) -> bytes:
    from chainguard.trust.dsse import pae

    return hashlib.sha256(pae(envelope.payload_type, envelope.payload)).digest()


def _same_digest(recorded: tuple[str, bytes], signed: Signed) -> None:
    if signed.envelope is not None:  # Rekor v2 logs a DSSE envelope as the digest of its PAE
        expected = ("sha256", _pae_sha256(signed.envelope))
    else:
        assert signed.digest is not None
        expected = signed.digest
    if recorded != expected:
        raise EntryMismatch(
            f"log entry records digest {recorded[0]}:{recorded[1].hex()[:16]}…, the bundle "
            f"signs {expected[0]}:{expected[1].hex()[:16]}…"
        )


def _same_signatures(recorded: Sequence[bytes], signed: Signed) -> None:
    if sorted(recorded) != sorted(signed.signatures):
        raise EntryMismatch("log entry signatures do not match the bundle's")


def _same_payload(signed: Signed, payload_hash: object, payload_type: object | None) -> None:
    envelope = signed.envelope
    if envelope is None:
        raise EntryMismatch("log entry records a DSSE envelope; the bundle holds none")
    algorithm = _field(payload_hash, "algorithm")
    value = _field(payload_hash, "value")
    if algorithm != "sha256" or value != hashlib.sha256(envelope.payload).hexdigest():
        raise EntryMismatch("log entry payload hash does not match the bundle's DSSE payload")
    if payload_type is not None and payload_type != envelope.payload_type:
        raise EntryMismatch(
            f"log entry payload type {shown(payload_type)} is not the bundle's "
            f"{shown(envelope.payload_type)}"
        )


# digest algorithm names as log entries spell them (v0.0.1: hashlib's; v0.0.2: protobuf's)
_HASH_NAMES = {
    **{name: name for name in ("sha256", "sha384", "sha512")},
    **{f"SHA2_{bits}": f"sha{bits}" for bits in (256, 384, 512)},
}


def check_entry_body(
    canonicalized_body: bytes, signed: Signed, verifier_matches: Callable[[bytes], bool]
) -> None:
    """Raise EntryMismatch unless the canonicalized log entry body records exactly ``signed``,
    verified by what ``verifier_matches`` accepts (it is given the recorded PEM or DER)."""
    try:
        body = json.loads(canonicalized_body)
    except ValueError as e:
        raise EntryMismatch("log entry body is not JSON") from e
    kind = (_field(body, "kind"), _field(body, "apiVersion"))
    spec = _field(body, "spec")
    verifiers: list[bytes] = []
    match kind:
        case ("hashedrekord", "0.0.1"):
            if signed.envelope is not None:
                raise EntryMismatch("a hashedrekord/0.0.1 entry cannot record a DSSE envelope")
            name = _HASH_NAMES.get(str(_field(spec, "data", "hash", "algorithm")))
            value = _field(spec, "data", "hash", "value")
            try:
                digest = bytes.fromhex(str(value))
            except ValueError as e:
                raise EntryMismatch("log entry digest is not hex") from e
            _same_digest((name or "?", digest), signed)
            _same_signatures([_b64(_field(spec, "signature", "content"), "signature")], signed)
            verifiers.append(_b64(_field(spec, "signature", "publicKey", "content"), "key"))
        case ("hashedrekord", "0.0.2"):
            record = _field(spec, "hashedRekordV002")
            name = _HASH_NAMES.get(str(_field(record, "data", "algorithm")))
            digest = _b64(_field(record, "data", "digest"), "digest")
            _same_digest((name or "?", digest), signed)
            _same_signatures([_b64(_field(record, "signature", "content"), "signature")], signed)
            verifier = _field(record, "signature", "verifier")
            held = (
                verifier.get("publicKey") or verifier.get("x509Certificate")
                if isinstance(verifier, dict)
                else None
            )
            verifiers.append(_b64(_field(held, "rawBytes"), "verifier"))
        case ("dsse", "0.0.1"):
            _same_payload(signed, _field(spec, "payloadHash"), None)
            signatures = _field(spec, "signatures")
            if not isinstance(signatures, list):
                raise EntryMismatch("log entry signatures are not a list")
            _same_signatures(
                [_b64(_field(s, "signature"), "signature") for s in signatures], signed
            )
            verifiers += [_b64(_field(s, "verifier"), "verifier") for s in signatures]
        case ("intoto", "0.0.2"):
            content = _field(spec, "content")
            envelope = _field(content, "envelope")
            _same_payload(signed, _field(content, "payloadHash"), _field(envelope, "payloadType"))
            if isinstance(envelope, dict) and "payload" in envelope:
                logged = _unwrap(_b64(envelope["payload"], "payload"))
                assert signed.envelope is not None
                if logged != signed.envelope.payload:
                    raise EntryMismatch("log entry payload does not match the bundle's")
            signatures = _field(envelope, "signatures")
            if not isinstance(signatures, list):
                raise EntryMismatch("log entry signatures are not a list")
            recorded = [_unwrap(_b64(_field(s, "sig"), "signature")) for s in signatures]
            _same_signatures(recorded, signed)
            verifiers += [_b64(_field(s, "publicKey"), "verifier") for s in signatures]
        case _:
            raise EntryMismatch(
                f"log entry kind {shown('/'.join(map(str, kind)))} is not supported"
            )
    if not verifiers or not all(verifier_matches(v) for v in verifiers):
        raise EntryMismatch("log entry was made for another key or certificate")


def certificate_matcher(cert: Certificate) -> Callable[[bytes], bool]:
    """Accepts the PEM or DER of ``cert`` itself."""
    from cryptography import x509

    def matches(recorded: bytes) -> bool:
        try:
            if recorded.lstrip().startswith(b"-----BEGIN"):
                return x509.load_pem_x509_certificate(recorded) == cert
            return x509.load_der_x509_certificate(recorded) == cert
        except ValueError:
            return False

    return matches


def key_matcher(key: TrustedKey) -> Callable[[bytes], bool]:
    """Accepts the PEM or DER SubjectPublicKeyInfo of ``key`` itself."""
    from cryptography.hazmat.primitives import serialization

    def spki(public_key: Any) -> bytes:
        der: bytes = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return der

    expected = spki(key.public_key)

    def matches(recorded: bytes) -> bool:
        try:
            if recorded.lstrip().startswith(b"-----BEGIN"):
                return spki(serialization.load_pem_public_key(recorded)) == expected
            return spki(serialization.load_der_public_key(recorded)) == expected
        except (ValueError, TypeError):
            return False

    return matches


# ---------------------------------------------------------------- sigstore-python, extended


def conformant_verifier(trusted_root: Any) -> Any:
    """A sigstore ``Verifier`` for ``trusted_root`` with the three gaps above closed.

    It overrides sigstore-python's internal steps (pinned to sigstore 4 in pyproject.toml);
    tests/integration/test_interop_conformance.py runs the whole conformance suite through it.
    """
    from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult
    from sigstore.errors import VerificationError
    from sigstore.verify import Verifier

    class ConformantVerifier(Verifier):
        def _verify_signed_timestamp(
            self, timestamp_response: Any, message: bytes
        ) -> TimestampVerificationResult | None:
            when = timestamp_time(self._trusted_root, timestamp_response, message)
            if when is None:
                return None
            return TimestampVerificationResult(
                source=TimestampSource.TIMESTAMP_AUTHORITY, time=when
            )

        def _establish_time(self, bundle: Any) -> list[TimestampVerificationResult]:
            if not _is_intoto(bundle):
                return super()._establish_time(bundle)
            times: list[TimestampVerificationResult] = []
            if bundle.verification_material.timestamp_verification_data:
                if not self._trusted_root.get_timestamp_authorities():
                    raise VerificationError(
                        "the bundle has a signed timestamp but the trusted root has no TSA"
                    )
                times += self._verify_timestamp_authority(bundle)
            entry = bundle.log_entry._inner
            if entry.integrated_time and entry.inclusion_promise:
                times.append(
                    TimestampVerificationResult(
                        source=TimestampSource.TRANSPARENCY_SERVICE,
                        time=datetime.fromtimestamp(entry.integrated_time, tz=timezone.utc),
                    )
                )
            return times

        def verify_dsse(self, bundle: Any, policy: Any) -> tuple[str, bytes]:
            if not _is_intoto(bundle):
                return super().verify_dsse(bundle, policy)
            from sigstore import dsse

            from chainguard.trust.dsse import Envelope

            # certificate, time, SCT, identity policy, inclusion proof and promise
            self._verify_common_signing_cert(bundle, policy)
            envelope = bundle._dsse_envelope
            if envelope is None:
                raise VerificationError("an intoto log entry but no DSSE envelope")
            dsse._verify(bundle.signing_certificate.public_key(), envelope)
            inner = envelope._inner
            signed = Signed(
                signatures=tuple(bytes(s.sig) for s in inner.signatures),
                envelope=Envelope(
                    inner.payload_type,
                    bytes(inner.payload),
                    tuple((s.keyid or "", bytes(s.sig)) for s in inner.signatures),
                ),
            )
            try:
                check_entry_body(
                    bytes(bundle.log_entry._inner.canonicalized_body),
                    signed,
                    certificate_matcher(bundle.signing_certificate),
                )
            except EntryMismatch as e:
                raise VerificationError(f"transparency log entry is inconsistent: {e}") from e
            return inner.payload_type, bytes(inner.payload)

    return ConformantVerifier(trusted_root=trusted_root)


def _is_intoto(bundle: Any) -> bool:
    kind = bundle.log_entry._inner.kind_version
    return (kind.kind, kind.version) == ("intoto", "0.0.2")


# -------------------------------------------------------------- managed key with a root


def verify_key_transparency(
    raw: dict[str, object],
    signed: Signed,
    key: TrustedKey,
    trusted_root: SigstoreTrustedRoot,
    source: str,
) -> None:
    """Verify every log entry and RFC 3161 timestamp of a key-signed bundle against
    ``trusted_root``: inclusion proof, checkpoint and promise by one of its logs, and an entry
    that records ``signed`` by ``key``; a timestamp over the signature by one of its TSAs.

    A bundle with neither verifies on the key alone (the key is the trust; a log adds only
    what it holds). Raises VerificationFailure ``signature-invalid``.
    """
    from rfc3161_client import decode_timestamp_response
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import TransparencyLogEntry
    from sigstore_models.rekor.v1 import TransparencyLogEntry as EntryModel

    def refuse(reason: str) -> VerificationFailure:
        return VerificationFailure(
            "signature-invalid",
            f"{source}: does not verify against the {trusted_root.name} Sigstore trusted root: "
            f"{reason}",
            expected=f"log entries and timestamps of the {trusted_root.name} trusted root that "
            "record this signature",
            actual=reason[:160],
        )

    material = raw.get("verificationMaterial")
    material = material if isinstance(material, dict) else {}
    entries = material.get("tlogEntries") or []
    stamps_doc = material.get("timestampVerificationData")
    stamps = (stamps_doc.get("rfc3161Timestamps") or []) if isinstance(stamps_doc, dict) else []
    if not isinstance(entries, list) or not isinstance(stamps, list):
        raise refuse("tlogEntries or rfc3161Timestamps is not a list")
    if len(stamps) > _MAX_TIMESTAMPS:
        raise refuse(f"{len(stamps)} timestamps (at most {_MAX_TIMESTAMPS})")
    root = trusted_root.root
    keyring = root.rekor_keyring(KeyringPurpose.VERIFY)
    for number, entry_doc in enumerate(entries, 1):
        try:
            entry = TransparencyLogEntry(EntryModel.from_json(json.dumps(entry_doc)))
            entry._verify(keyring)
        except (SigstoreError, ValueError) as e:
            raise refuse(f"log entry {number}: {' '.join(str(e).split())[:200]}") from e
        try:
            check_entry_body(bytes(entry._inner.canonicalized_body), signed, key_matcher(key))
        except EntryMismatch as e:
            raise refuse(f"log entry {number}: {e}") from e
    for number, stamp in enumerate(stamps, 1):
        try:
            response = decode_timestamp_response(
                _b64(_field(stamp, "signedTimestamp"), "timestamp")
            )
        except (EntryMismatch, ValueError) as e:
            raise refuse(f"timestamp {number} is not an RFC 3161 response") from e
        if timestamp_time(root, response, signed.signatures[0]) is None:
            raise refuse(
                f"timestamp {number} is not signed over this signature by a TSA of the root "
                "within its validity"
            )
