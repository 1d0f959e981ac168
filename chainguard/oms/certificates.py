"""Certificate-chain trust for OMS bundles (``--certificate-chain``): an X.509 CA vouches for
the leaf certificate the bundle carries, and the leaf's key must verify the DSSE envelope.

The other ways to trust an OMS signature live in trust/: a public key (trust/bundle.py) and a
Sigstore identity (trust/sigstore.py). cryptography is imported inside the functions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard._strictjson import shown
from chainguard.errors import BundleError, KeyFileError, UsageError, VerificationFailure, read_input
from chainguard.models import Signer, VerifiedStatement
from chainguard.oms.legacy import verify_v0_2_envelope
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, parse_statement

if TYPE_CHECKING:
    from cryptography import x509

    from chainguard.trust.bundle import ParsedBundle
    from chainguard.trust.dsse import Envelope
    from chainguard.trust.keys import TrustedKey

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def load_certificates(paths: Sequence[Path]) -> tuple[x509.Certificate, ...]:
    """Every certificate in the PEM files: the trust anchors for ``--certificate-chain``."""
    from cryptography import x509

    certificates: list[x509.Certificate] = []
    for path in paths:
        data = read_input(path, "certificate file", KeyFileError)
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise KeyFileError(f"{path}: no PEM certificate (BEGIN CERTIFICATE) found")
        try:
            certificates.extend(x509.load_pem_x509_certificates(data))
        except ValueError as e:
            raise KeyFileError(f"{path}: malformed PEM certificate: {e}") from e
    if not certificates:
        raise UsageError("no trusted CA certificate given (--certificate-chain PEM)")
    return tuple(certificates)


def verify_certificate_bundle(
    bundle: ParsedBundle,
    anchors: Sequence[x509.Certificate],
    *,
    source: str,
    at: datetime | None = None,
) -> VerifiedStatement:
    """Verify an OMS bundle signed with an X.509 certificate issued under ``anchors``.

    The leaf is the bundle's first certificate; the rest of the bundle's chain serves as
    untrusted intermediates; every certificate in ``anchors`` is trusted as is. Validity is
    checked at ``at`` (default: now): these bundles carry no transparency-log or timestamp
    proof of when they were signed, and a certificate's own notBefore (what model-signing
    uses) would accept a signature made with a long-expired, possibly compromised key.
    """
    from chainguard.trust import dsse

    if not anchors:
        raise UsageError(f"{source}: no trusted CA certificate given to verify with")
    if bundle.material_kind == "publicKey":
        raise VerificationFailure(
            "signature-untrusted",
            f"{source}: signed with a bare public key, not a certificate; a CA cannot vouch "
            "for it (verify it with --key)",
            expected="a certificate issued by the trusted CA",
            actual="a public key",
        )
    envelope = _in_toto_envelope(bundle, source)
    leaf = _trusted_leaf(bundle, anchors, at, source)
    _check_signing_usage(leaf, source)
    key = _leaf_key(leaf, source)
    # model-signing 0.2 signed a malformed encoding; accepted for 0.2 statements only
    if not dsse.verify(envelope, (key,)) and not verify_v0_2_envelope(envelope, (key,)):
        raise VerificationFailure(
            "signature-invalid",
            f"{source}: signature does not verify with the key of certificate {_name(leaf)} — "
            "the signed content was altered",
            expected=key.fingerprint,
        )
    statement = parse_statement(envelope.payload, source)
    return VerifiedStatement(
        predicate_type=statement.predicate_type,
        subjects=statement.subjects,
        payload=envelope.payload,
        signers=(
            Signer(
                kind="certificate",
                identity=_name(leaf),
                issuer=_dn(leaf.issuer),
                key_algorithm=key.algorithm,
            ),
        ),
        parsed=statement,
    )


# ------------------------------------------------------------------ verification, by step


def _in_toto_envelope(bundle: ParsedBundle, source: str) -> Envelope:
    envelope = bundle.envelope
    if envelope is None:
        raise BundleError(
            f"{source}: bundle holds a message signature; an OpenSSF model signature is a DSSE "
            "envelope"
        )
    if envelope.payload_type != PAYLOAD_TYPE_IN_TOTO:
        raise BundleError(
            f"{source}: DSSE payloadType is {shown(envelope.payload_type)}; expected "
            f"{PAYLOAD_TYPE_IN_TOTO}"
        )
    return envelope


def _trusted_leaf(
    bundle: ParsedBundle,
    anchors: Sequence[x509.Certificate],
    at: datetime | None,
    source: str,
) -> x509.Certificate:
    """The bundle's leaf certificate, once it chains to one of ``anchors`` at ``at``."""
    from cryptography import x509
    from cryptography.x509.verification import (
        ExtensionPolicy,
        PolicyBuilder,
        Store,
        VerificationError,
    )

    try:
        chain = [x509.load_der_x509_certificate(der) for der in bundle.certificates]
    except ValueError as e:
        raise BundleError(f"{source}: malformed certificate in the bundle: {e}") from e
    leaf, intermediates = chain[0], chain[1:]
    when = at or datetime.now(timezone.utc)
    verifier = (
        PolicyBuilder()
        .store(Store(list(anchors)))
        .time(when)
        # Private signing CAs rarely issue WebPKI-shaped leaves (no SAN; the OMS test CA even
        # marks its leaf CA:TRUE); the CA certificates still get the full WebPKI checks.
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as e:
        raise VerificationFailure(
            "signature-untrusted",
            f"{source}: certificate {_name(leaf)} does not chain to a trusted CA at "
            f"{when.isoformat(timespec='seconds')}: {' '.join(str(e).split())}",
            expected=", ".join(_name(a) for a in anchors),
            actual=f"issued by {_dn(leaf.issuer)}",
        ) from e
    return leaf


def _check_signing_usage(leaf: x509.Certificate, source: str) -> None:
    """The leaf must be meant for signing: KeyUsage digitalSignature and/or EKU codeSigning.

    Stricter than model-signing (which accepts either): every usage the certificate states
    must allow code signing, and it must state at least one.
    """
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    stated = False
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        stated = True
        if not usage.digital_signature:
            raise VerificationFailure(
                "signature-untrusted",
                f"{source}: certificate {_name(leaf)} is not for signing (KeyUsage lacks "
                "digitalSignature)",
                expected="KeyUsage digitalSignature",
            )
    except x509.ExtensionNotFound:
        pass
    try:
        extended = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        stated = True
        allowed = {ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
        if not allowed.intersection(extended):
            raise VerificationFailure(
                "signature-untrusted",
                f"{source}: certificate {_name(leaf)} is not for code signing (ExtendedKeyUsage)",
                expected="ExtendedKeyUsage codeSigning",
            )
    except x509.ExtensionNotFound:
        pass
    if not stated:
        raise VerificationFailure(
            "signature-untrusted",
            f"{source}: certificate {_name(leaf)} states no key usage; it cannot be trusted "
            "for signing",
            expected="KeyUsage digitalSignature or ExtendedKeyUsage codeSigning",
        )


def _leaf_key(leaf: x509.Certificate, source: str) -> TrustedKey:
    """The leaf's public key, as the key the DSSE signature must verify with."""
    from cryptography.hazmat.primitives import serialization

    from chainguard.trust.keys import public_key_from_pem

    pem = leaf.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        return public_key_from_pem(pem, f"{source}: certificate {_name(leaf)}")
    except KeyFileError as e:
        raise BundleError(str(e)) from e


def _dn(name: x509.Name) -> str:
    """A distinguished name for one-line messages: control characters masked, length capped."""
    text = _CONTROL.sub("?", name.rfc4514_string()) or "(empty name)"
    return text if len(text) <= 120 else text[:119] + "…"


def _name(cert: x509.Certificate) -> str:
    return _dn(cert.subject)


__all__ = ["load_certificates", "verify_certificate_bundle"]
