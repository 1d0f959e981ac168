"""Sigstore bundles: write key-signed v0.3 bundles, read v0.1-v0.3, verify with trusted keys.

Reading is strict and independent of how the bundle will be verified: ``read_bundle`` only
checks shape and decodes base64. Key verification lives here; certificate and Sigstore
verification work from the same ``ParsedBundle`` (``raw`` keeps the JSON for them).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from chainguard._strictjson import loads_strict, shown
from chainguard.errors import BundleError, KeyFileError, UsageError, VerificationFailure
from chainguard.models import Signer, VerifiedStatement
from chainguard.trust import dsse
from chainguard.trust.dsse import Envelope
from chainguard.trust.keys import TrustedKey, public_key_from_pem
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, parse_statement

if TYPE_CHECKING:
    from chainguard.sbom.packed import Expect

MEDIA_TYPE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
MEDIA_TYPE_V03_ALT = "application/vnd.dev.sigstore.bundle+json;version=0.3"
MEDIA_TYPE_V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
MEDIA_TYPE_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
ACCEPTED_MEDIA_TYPES = frozenset(
    {MEDIA_TYPE_V03, MEDIA_TYPE_V03_ALT, MEDIA_TYPE_V02, MEDIA_TYPE_V01}
)

# One bundle carries one signer; a generous cap keeps a hostile bundle from making us try
# millions of signatures against every trusted key.
MAX_SIGNATURES = 64

MaterialKind = Literal["publicKey", "x509CertificateChain", "certificate"]
_MATERIAL_KINDS: tuple[MaterialKind, ...] = ("publicKey", "x509CertificateChain", "certificate")


@dataclass(frozen=True, slots=True)
class ParsedBundle:
    """A structurally valid Sigstore bundle. Nothing in it has been verified."""

    media_type: str
    material_kind: MaterialKind
    public_key_hint: str | None
    public_key_raw: bytes | None  # OpenSSF model-signing v1.0: a PEM public key, untrusted
    certificates: tuple[bytes, ...]  # DER, leaf first
    envelope: Envelope | None
    message_signature: tuple[str, bytes, bytes] | None  # (digest algorithm, digest, signature)
    raw: dict[str, object]  # the JSON; a large DSSE payload's value is None here (_cut_payload)


def key_bundle_json(envelope: Envelope, key: TrustedKey) -> bytes:
    """A v0.3 bundle for an envelope signed by ``key`` (as made by ``dsse.sign``)."""
    doc = {
        "mediaType": MEDIA_TYPE_V03,
        "verificationMaterial": {"publicKey": {"hint": key.fingerprint}},
        "dsseEnvelope": {
            "payload": base64.b64encode(envelope.payload).decode("ascii"),
            "payloadType": envelope.payload_type,
            "signatures": [
                {"sig": base64.b64encode(sig).decode("ascii"), "keyid": key.fingerprint}
                for _, sig in envelope.signatures
            ],
        },
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _decode_b64(value: object, what: str, source: str) -> bytes:
    """Decode a protobuf-JSON bytes field: standard or URL-safe alphabet, padding optional."""
    if not isinstance(value, str):
        raise BundleError(f"{source}: {what} is not a base64 string")
    text = value
    if "-" in text or "_" in text:
        if "+" in text or "/" in text:
            raise BundleError(f"{source}: {what} mixes standard and URL-safe base64")
        text = text.translate(str.maketrans("-_", "+/"))
    if "=" not in text:
        text += "=" * (-len(text) % 4)
    try:
        return _a2b(text)
    except (binascii.Error, ValueError) as e:
        raise BundleError(f"{source}: {what} is not valid base64") from e


# Streamed in pieces of this many base64 characters (a multiple of 4).
_STREAM_PIECE = 8 * 1024 * 1024
_HEAD = 1024 * 1024  # where the payload key of a bundle must start to be streamed


def _stream_payload(path: Path, source: str) -> tuple[object, bytes] | None:
    """_cut_payload for a bundle file, without ever holding the file: its base64 payload is
    decoded piece by piece as it is read (a 1,000,000-file dataset's bundle is ~340 MB).

    The same conditions as _cut_payload; "=" may only end the text (each piece is decoded on
    its own). Anything else returns None, and the file is then read whole as usual.
    """
    with path.open("rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size < _CUT_FROM:
            return None
        head = f.read(_HEAD)
        key = _PAYLOAD_KEY.search(head)
        if key is None:
            return None
        start = key.end()
        out = io.BytesIO()
        out.seek(max(size - start, 4) // 4 * 3 - 1)  # room for the payload, sized up front
        out.write(b"\0")
        out.seek(0)
        text = head[start:]
        try:
            while (end := text.find(b'"')) < 0:
                if b"=" in text:
                    return None
                whole = len(text) // 4 * 4
                out.write(_a2b(text[:whole]))
                more = f.read(_STREAM_PIECE)
                if not more:
                    return None  # no closing quote
                text = text[whole:] + more
            last, rest = text[:end], text[end:] + f.read()
            out.write(_a2b(last + b"=" * (-len(last) % 4)))
        except (binascii.Error, ValueError):
            return None  # escapes, or not base64: the whole-file path tells which
    if _HOLE in head[:start] or _HOLE in rest:
        return None
    try:
        doc = loads_strict(head[:start] + _HOLE + rest, source, BundleError)
    except BundleError:
        return None
    env = doc.get("dsseEnvelope") if isinstance(doc, dict) else None
    if not isinstance(env, dict) or env.get("payload") != "\x00":
        return None
    env["payload"] = None
    out.truncate()  # sized for the longest payload the file could hold
    return doc, out.getvalue()


def _a2b(text: str | bytes | memoryview) -> bytes:
    """base64.b64decode(text, validate=True), by pybase64's SIMD decoder: a dataset's SBOM
    payload is tens of MB of base64, which binascii decodes at ~0.3 GB/s and pybase64 at
    ~2 GB/s. Like binascii's strict mode it also refuses padding the length does not call for
    ("QUI==", a lone "="); tests/unit/trust/test_trust_base64.py holds them to the same answers."""
    import pybase64

    return pybase64.b64decode(text, validate=True)


# A bundle for a dataset's SBOM holds tens of MB of base64 in dsseEnvelope.payload. json would
# scan it character by character only to hand over a copy, which base64 then scans again; so
# large bundles take _cut_payload first.
_CUT_FROM = 1024 * 1024
_PAYLOAD_KEY = re.compile(rb'"payload"[ \t\n\r]*:[ \t\n\r]*"')
_HOLE = b"\\u0000"  # JSON for NUL: no base64 text holds one, and the bundle is checked not to


def _cut_payload(data: bytes, source: str) -> tuple[object, bytes] | None:
    """(the bundle's JSON, its decoded DSSE payload), reading the payload's text in place.

    The text from the first ``"payload": "`` to the next quote is replaced by the escape
    ``\\u0000`` and the rest is parsed strictly. That text is the DSSE payload if, and only if,
    the parsed dsseEnvelope.payload is that NUL (the one NUL in the document: none was there
    before) and the text is a string of base64 characters (no quote, backslash or control
    character: strict JSON then reads it as it stands). Anything else, an error included,
    returns None: the whole bundle is then parsed as usual, and errors read the same.
    """
    if len(data) < _CUT_FROM:
        return None
    key = _PAYLOAD_KEY.search(data)
    if key is None:
        return None
    start, end = key.end(), data.find(b'"', key.end())
    # (the text itself holds no NUL escape: it would not decode as base64 below)
    if end < 0 or data.find(_HOLE, 0, start) >= 0 or data.find(_HOLE, end) >= 0:
        return None
    try:
        doc = loads_strict(data[:start] + _HOLE + data[end:], source, BundleError)
    except BundleError:
        return None
    env = doc.get("dsseEnvelope") if isinstance(doc, dict) else None
    if not isinstance(env, dict) or env.get("payload") != "\x00":
        return None
    text = memoryview(data)[start:end]
    # Unpadded protobuf-JSON is padded; a misplaced "=" or the URL-safe alphabet (rare, left
    # to _decode_b64) fails to decode.
    padding = b"=" * (-len(text) % 4)
    try:
        payload = _a2b(bytes(text) + padding if padding else text)
    except (binascii.Error, ValueError):
        return None  # escapes, or not base64: _decode_b64 tells which
    env["payload"] = None
    return doc, payload


def _object(value: object, what: str, source: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise BundleError(f"{source}: {what} is not a JSON object")
    return value


def _parse_envelope(value: object, source: str, payload: bytes | None = None) -> Envelope:
    """``payload``: already decoded (_cut_payload), else read from the JSON."""
    env = _object(value, "dsseEnvelope", source)
    if payload is None:
        payload = _decode_b64(env.get("payload"), "dsseEnvelope.payload", source)
    payload_type = env.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise BundleError(f"{source}: dsseEnvelope.payloadType is missing or not a string")
    raw_signatures = env.get("signatures")
    if not isinstance(raw_signatures, list):
        raise BundleError(f"{source}: dsseEnvelope.signatures is missing or not a list")
    if not raw_signatures:
        raise BundleError(f"{source}: dsseEnvelope has no signatures")
    if len(raw_signatures) > MAX_SIGNATURES:
        raise BundleError(
            f"{source}: dsseEnvelope has {len(raw_signatures)} signatures (at most "
            f"{MAX_SIGNATURES} accepted)"
        )
    signatures: list[tuple[str, bytes]] = []
    for i, entry in enumerate(raw_signatures):
        what = f"dsseEnvelope.signatures[{i}]"
        item = _object(entry, what, source)
        sig = _decode_b64(item.get("sig"), f"{what}.sig", source)
        if not sig:
            raise BundleError(f"{source}: {what}.sig is empty")
        keyid = item.get("keyid")
        if keyid is not None and not isinstance(keyid, str):
            raise BundleError(f"{source}: {what}.keyid is not a string")
        signatures.append((keyid or "", sig))
    return Envelope(payload_type, payload, tuple(signatures))


def _parse_message_signature(value: object, source: str) -> tuple[str, bytes, bytes]:
    msg = _object(value, "messageSignature", source)
    digest_obj = _object(msg.get("messageDigest"), "messageSignature.messageDigest", source)
    algorithm = digest_obj.get("algorithm")
    if not isinstance(algorithm, str) or not algorithm:
        raise BundleError(
            f"{source}: messageSignature.messageDigest.algorithm is missing or not a string"
        )
    digest = _decode_b64(digest_obj.get("digest"), "messageSignature.messageDigest.digest", source)
    signature = _decode_b64(msg.get("signature"), "messageSignature.signature", source)
    if not signature:
        raise BundleError(f"{source}: messageSignature.signature is empty")
    return algorithm, digest, signature


def _certificate(value: object, what: str, source: str) -> bytes:
    der = _decode_b64(_object(value, what, source).get("rawBytes"), f"{what}.rawBytes", source)
    if not der:
        raise BundleError(f"{source}: {what}.rawBytes is empty")
    return der


def read_bundle_file(path: Path, source: str) -> tuple[ParsedBundle, bytes | None]:
    """read_bundle of a file, and the file's bytes if they were read whole (None when the DSSE
    payload of a large bundle was streamed out of it: _stream_payload)."""
    try:
        cut = _stream_payload(path, source)
        if cut is not None:
            return read_bundle(b"", source, cut), None
        data = path.read_bytes()
    except OSError as e:
        raise BundleError(f"{path}: cannot read: {e.strerror or e}") from e
    return read_bundle(data, source), data


def read_bundle(data: bytes, source: str, cut: tuple[object, bytes] | None = None) -> ParsedBundle:
    """Parse a Sigstore bundle (v0.1-v0.3) strictly; raise BundleError on one line.

    ``cut``: the bundle already read as (its JSON with the payload cut out, the payload)."""
    if cut is None:
        cut = _cut_payload(data, source)
    loaded = cut[0] if cut is not None else loads_strict(data, source, BundleError)
    doc = _object(loaded, "bundle", source)
    media_type = doc.get("mediaType")
    if not isinstance(media_type, str):
        raise BundleError(
            f"{source}: bundle mediaType is missing or not a string; not a Sigstore bundle"
        )
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise BundleError(
            f"{source}: unknown bundle mediaType {shown(media_type)}; expected {MEDIA_TYPE_V03}"
        )

    if "verificationMaterial" not in doc:
        raise BundleError(f"{source}: bundle has no verificationMaterial")
    material = _object(doc["verificationMaterial"], "verificationMaterial", source)
    kinds = [kind for kind in _MATERIAL_KINDS if kind in material]
    if len(kinds) != 1:
        found = " and ".join(kinds) if kinds else "none"
        raise BundleError(
            f"{source}: verificationMaterial needs exactly one of publicKey, "
            f"x509CertificateChain, certificate (found {found})"
        )
    kind = kinds[0]
    hint: str | None = None
    raw_key: bytes | None = None
    certificates: tuple[bytes, ...] = ()
    match kind:
        case "publicKey":
            public_key = _object(material["publicKey"], "verificationMaterial.publicKey", source)
            raw_hint = public_key.get("hint")
            if raw_hint is not None and not isinstance(raw_hint, str):
                raise BundleError(f"{source}: verificationMaterial.publicKey.hint is not a string")
            hint = raw_hint or None
            if "rawBytes" in public_key:
                raw_key = _decode_b64(
                    public_key["rawBytes"], "verificationMaterial.publicKey.rawBytes", source
                )
        case "x509CertificateChain":
            chain = _object(material[kind], f"verificationMaterial.{kind}", source)
            entries = chain.get("certificates")
            if not isinstance(entries, list) or not entries:
                raise BundleError(
                    f"{source}: verificationMaterial.{kind}.certificates is not a non-empty list"
                )
            certificates = tuple(
                _certificate(entry, f"verificationMaterial.{kind}.certificates[{i}]", source)
                for i, entry in enumerate(entries)
            )
        case "certificate":
            certificates = (_certificate(material[kind], f"verificationMaterial.{kind}", source),)

    has_envelope = "dsseEnvelope" in doc
    has_message = "messageSignature" in doc
    if has_envelope == has_message:
        which = "both" if has_envelope else "neither"
        raise BundleError(
            f"{source}: bundle must hold one of dsseEnvelope or messageSignature (found {which})"
        )
    envelope = None
    if has_envelope:
        envelope = _parse_envelope(doc["dsseEnvelope"], source, cut[1] if cut else None)
    message = _parse_message_signature(doc["messageSignature"], source) if has_message else None
    return ParsedBundle(media_type, kind, hint, raw_key, certificates, envelope, message, doc)


def _claimed_signer(bundle: ParsedBundle) -> str | None:
    """What the bundle says about its signer: a hint for messages, never a basis for trust."""
    if bundle.public_key_hint:
        return bundle.public_key_hint
    if bundle.public_key_raw is not None:
        try:
            return public_key_from_pem(bundle.public_key_raw, "bundle").fingerprint
        except KeyFileError:
            pass
    if bundle.envelope is not None:
        for keyid, _ in bundle.envelope.signatures:
            if keyid:
                return keyid
    return None


def _short(hint: str) -> str:
    """A hint shortened to 16 characters and made safe for a one-line message."""
    head = hint[:16]
    shortened = head if head.isascii() and head.isalnum() else shown(head, 24)
    return shortened + "…" if len(hint) > 16 else shortened


def _no_trusted_signature(
    bundle: ParsedBundle, distinct: dict[str, TrustedKey], source: str
) -> VerificationFailure:
    """Why no trusted key verified: altered content (invalid) or another signer (untrusted)."""
    trusted_list = ", ".join(distinct)
    claimed = _claimed_signer(bundle)
    named = [k for k in distinct.values() if claimed is not None and k.matches_hint(claimed)]
    if claimed is None or named:
        if not named and len(distinct) == 1:
            named = list(distinct.values())
        target = (
            f"key {named[0].fingerprint[:16]}"
            if named
            else f"any of the {len(distinct)} trusted keys"
        )
        return VerificationFailure(
            "signature-invalid",
            f"{source}: signature does not verify with {target} — the signed content was altered",
            expected=named[0].fingerprint if named else trusted_list,
        )
    return VerificationFailure(
        "signature-untrusted",
        f"{source}: signed by key {_short(claimed)}, which is not among the "
        f"{len(distinct)} trusted key(s)",
        expected=trusted_list,
        actual=claimed,
    )


def verify_key_bundle(
    bundle: ParsedBundle,
    keys: Sequence[TrustedKey],
    *,
    source: str,
    expect: Expect | None = None,
) -> VerifiedStatement:
    """Verify a DSSE bundle against trusted public keys; return the signed statement.

    Every signature is tried against every trusted key; the bundle's hint only chooses the
    error message. Raises VerificationFailure (signature-invalid / signature-untrusted) when
    no trusted key verifies, BundleError when the bundle or its statement is malformed.
    """
    distinct = {key.fingerprint: key for key in keys}
    if not distinct:
        raise UsageError(f"{source}: no trusted public key given to verify with")
    trusted_list = ", ".join(distinct)
    if bundle.material_kind != "publicKey":
        raise VerificationFailure(
            "signature-untrusted",
            f"{source}: signed with an X.509 certificate, not a public key; the "
            f"{len(distinct)} trusted key(s) cannot vouch for it",
            expected=trusted_list,
        )
    envelope = bundle.envelope
    if envelope is None:
        raise BundleError(
            f"{source}: bundle holds a message signature, not a DSSE envelope with an in-toto "
            "statement"
        )
    if envelope.payload_type != PAYLOAD_TYPE_IN_TOTO:
        raise BundleError(
            f"{source}: DSSE payloadType is {shown(envelope.payload_type)}; expected "
            f"{PAYLOAD_TYPE_IN_TOTO}"
        )

    verified = dsse.verify(envelope, tuple(distinct.values()))
    if not verified:
        raise _no_trusted_signature(bundle, distinct, source)

    statement = parse_statement(envelope.payload, source, expect)  # only once verified
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


# --- key-signed message signatures (cosign sign-blob --key, new bundle format) ----------------

# A message signature is ECDSA over the artifact's digest. The bundle names the digest; only
# SHA-2 digests of 256 bits or more are accepted, so a bundle cannot pick a weak one.
_MESSAGE_DIGESTS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "SHA2_256": ("sha256", hashes.SHA256),
    "SHA2_384": ("sha384", hashes.SHA384),
    "SHA2_512": ("sha512", hashes.SHA512),
}


@dataclass(frozen=True, slots=True)
class SignedDigest:
    """A digest a trusted key verifiably signed; the artifact must still be compared to it."""

    signer: Signer
    algorithm: str  # hashlib name: sha256, sha384 or sha512
    digest: bytes


def verify_key_message_signature(
    bundle: ParsedBundle, keys: Sequence[TrustedKey], *, source: str
) -> SignedDigest:
    """Verify a key-signed ``messageSignature`` over the digest the bundle records.

    The signature is checked against ``messageDigest`` (never against the artifact) so the
    caller can tell a tampered bundle (signature-invalid) from an authentic bundle for other
    bytes (the artifact's digest differs: subject-mismatch). Ed25519 message signatures sign
    the whole artifact rather than a digest and are not accepted: sign a DSSE statement.
    """
    distinct = {key.fingerprint: key for key in keys}
    if not distinct:
        raise UsageError(f"{source}: no trusted public key given to verify with")
    if bundle.material_kind != "publicKey":
        raise VerificationFailure(
            "signature-untrusted",
            f"{source}: signed with an X.509 certificate, not a public key; the "
            f"{len(distinct)} trusted key(s) cannot vouch for it",
            expected=", ".join(distinct),
        )
    if bundle.message_signature is None:
        raise BundleError(f"{source}: bundle holds a DSSE envelope, not a message signature")
    algorithm, digest, signature = bundle.message_signature
    known = _MESSAGE_DIGESTS.get(algorithm)
    if known is None:
        raise BundleError(
            f"{source}: messageSignature digest algorithm {shown(algorithm)} is not supported "
            f"(expected one of {', '.join(_MESSAGE_DIGESTS)})"
        )
    name, hash_type = known
    if len(digest) != hash_type().digest_size:
        raise BundleError(
            f"{source}: messageSignature digest is {len(digest)} bytes; {algorithm} has "
            f"{hash_type().digest_size}"
        )
    ecdsa_keys = [
        k for k in distinct.values() if isinstance(k.public_key, ec.EllipticCurvePublicKey)
    ]
    if not ecdsa_keys:
        raise BundleError(
            f"{source}: a message signature can only be verified with an ECDSA key; Ed25519 "
            "keys sign a DSSE statement (chainguard sign)"
        )
    for key in ecdsa_keys:
        public_key = key.public_key
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        try:
            public_key.verify(signature, digest, ec.ECDSA(Prehashed(hash_type())))
        except InvalidSignature:
            continue
        signer = Signer(kind="key", identity=key.fingerprint, key_algorithm=key.algorithm)
        return SignedDigest(signer, name, digest)
    raise _no_trusted_signature(bundle, {k.fingerprint: k for k in ecdsa_keys}, source)
