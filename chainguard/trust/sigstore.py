"""Sigstore keyless: offline verification of Fulcio-certificate bundles, and signing.

Verification never touches the network. The ``sigstore`` Verifier is built from an explicit
trusted root: the production or staging ``trusted_root.json`` shipped inside the sigstore
package, or a file for a private instance (``--trusted-root``); never from a TUF refresh.
Certificates are checked at the signed time (Rekor integrated time or an RFC 3161 timestamp),
so a long-expired Fulcio certificate still verifies, as it should.

Identity policies are OR-ed: a certificate is trusted when it satisfies any one policy, and it
satisfies a policy when it matches every field of it (SAN and OIDC issuer, exactly; GitHub
repository and ref when given). An empty list of policies trusts nobody (UsageError).

Outcomes: a verified statement / signer, or VerificationFailure ``signature-untrusted`` (valid
Sigstore signature, but by an identity no policy names), ``signature-invalid`` (signature,
certificate chain, transparency log proof or timestamp does not verify against this trusted
root), ``subject-mismatch`` (authentic bundle for other bytes); BundleError when the bundle is
malformed. ``sigstore`` is imported inside the functions: ``chainguard --help`` stays fast.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from chainguard._extras import require_extra
from chainguard._strictjson import loads_strict, shown
from chainguard.errors import (
    BundleError,
    InputError,
    SigningError,
    UsageError,
    VerificationFailure,
    read_input,
)
from chainguard.models import IdentityRule, Signer, VerifiedStatement
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, parse_statement

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from chainguard.trust.bundle import ParsedBundle

Instance = Literal["production", "staging"]

# Directory names inside sigstore/_store/ (the URL-quoted TUF repository of each instance).
_STORE_DIRS: dict[Instance, str] = {
    "production": "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev",
    "staging": "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev",
}
_TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
_CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
# Fulcio certificate extensions, read only to explain a rejected identity.
_OIDC_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
_GITHUB_REPOSITORY_V1 = "1.3.6.1.4.1.57264.1.5"
_GITHUB_REF_V1 = "1.3.6.1.4.1.57264.1.6"
_SAN_OTHERNAME = "1.3.6.1.4.1.57264.1.7"
_OIDC_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
IDENTITY_TOKEN_ENV = "SIGSTORE_IDENTITY_TOKEN"  # noqa: S105 (a variable name, not a secret)

T = TypeVar("T")


# The trusted identities verify takes: one type with chainguard.toml's [trust] identities.
IdentityPolicy = IdentityRule


@dataclass(frozen=True, slots=True)
class SigstoreTrustedRoot:
    """A Sigstore root of trust (Fulcio CAs, Rekor, CT log and TSA keys), loaded offline."""

    name: str  # "production", "staging" or the file it came from: for messages
    root: Any  # sigstore.models.TrustedRoot (Any: sigstore is imported lazily)


def _one_line(error: BaseException, limit: int = 240) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: str, limit: int = 256) -> str:
    """A certificate value for a message: as is when printable, else escaped (one line)."""
    if not value.isprintable():
        return shown(value, limit)
    return value if len(value) <= limit else value[: limit - 1] + "…"


# ------------------------------------------------------------------------------ trusted roots


def load_trusted_root(instance: Instance | None, path: Path | None) -> SigstoreTrustedRoot:
    """The trusted root of a public instance (shipped with sigstore) or from ``path``.

    ``path`` may hold a trusted root (``trustedroot+json;version=0.1``) or a client trust
    config wrapping one (as ``model_signing --trust_config`` takes). Never refreshes via TUF.
    """
    require_extra("sigstore")
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import ClientTrustConfig, TrustedRoot

    if (instance is None) == (path is None):
        raise UsageError("choose one Sigstore trusted root: production, staging or a file")
    if path is None:
        assert instance is not None
        if instance not in _STORE_DIRS:
            raise UsageError(f"unknown Sigstore instance {instance!r}; use production or staging")
        name: str = instance
        resource = (
            importlib.resources.files("sigstore._store")
            / _STORE_DIRS[instance]
            / "trusted_root.json"
        )
        try:
            with importlib.resources.as_file(resource) as file:
                root = TrustedRoot.from_file(str(file))
        except (OSError, ValueError, SigstoreError) as e:
            raise InputError(
                f"the {instance} trusted root shipped with sigstore cannot be read "
                f"({_one_line(e)}); reinstall the sigstore package"
            ) from e
    else:
        name = str(path)
        data = read_input(path, "trusted root file")
        doc = loads_strict(data, str(path), InputError)
        media_type = doc.get("mediaType") if isinstance(doc, dict) else None
        try:
            if media_type == _CLIENT_TRUST_CONFIG_MEDIA_TYPE:
                root = ClientTrustConfig.from_json(data.decode("utf-8")).trusted_root
            elif media_type == _TRUSTED_ROOT_MEDIA_TYPE:
                root = TrustedRoot.from_file(str(path))
            else:
                raise InputError(
                    f"{path}: not a Sigstore trusted root (mediaType {shown(media_type)}; "
                    f"expected {_TRUSTED_ROOT_MEDIA_TYPE})"
                )
        except (ValueError, SigstoreError) as e:
            raise InputError(f"{path}: malformed Sigstore trusted root: {_one_line(e)}") from e
    _verifier(SigstoreTrustedRoot(name, root))  # a root without CAs or logs fails here
    return SigstoreTrustedRoot(name, root)


def _verifier(trusted_root: SigstoreTrustedRoot) -> Any:
    from sigstore.errors import Error as SigstoreError

    from chainguard.trust.sigstore_log import conformant_verifier

    try:
        return conformant_verifier(trusted_root.root)
    except (ValueError, SigstoreError) as e:
        raise InputError(
            f"{trusted_root.name}: unusable Sigstore trusted root: {_one_line(e)}"
        ) from e


# ------------------------------------------------------------------------- identity policies


class _IdentityMismatch(Exception):
    """Raised from inside sigstore's verification when no policy accepts the certificate.

    Not a sigstore VerificationError, so it cannot be mistaken for (or caught as) a broken
    signature: it surfaces as signature-untrusted.
    """

    def __init__(self, actual: str) -> None:
        super().__init__(actual)
        self.actual = actual


def _sigstore_policy(policy: IdentityPolicy) -> Any:
    from sigstore.verify import policy as sp

    checks: list[Any] = [
        _IdentityRegexp(policy)
        if policy.regexp
        else sp.Identity(identity=policy.identity, issuer=policy.issuer)
    ]
    # The v1 GitHub extensions are deprecated in Fulcio; accept their v2 successors too. Both
    # come from the same token claim, and the issuer above already pins github.com's.
    if policy.repository is not None:
        checks.append(
            sp.AnyOf(
                [
                    sp.GitHubWorkflowRepository(policy.repository),
                    sp.OIDCSourceRepositoryURI(f"https://github.com/{policy.repository}"),
                ]
            )
        )
    if policy.ref is not None:
        checks.append(
            sp.AnyOf([sp.GitHubWorkflowRef(policy.ref), sp.OIDCSourceRepositoryRef(policy.ref)])
        )
    return sp.AllOf(checks)


class _IdentityRegexp:
    """A sigstore VerificationPolicy: the OIDC issuer exactly, and some certificate SAN
    matching the rule's regular expression as a whole (re.fullmatch)."""

    def __init__(self, policy: IdentityPolicy) -> None:
        from sigstore.verify import policy as sp

        self.policy = policy
        self.issuer = sp.OIDCIssuer(policy.issuer)

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError

        self.issuer.verify(cert)
        if not any(self.policy.matches(san) for san in certificate_identities(cert)):
            raise VerificationError(f"no certificate SAN matches {self.policy.identity!r}")


class _AnyTrustedIdentity:
    """A sigstore VerificationPolicy: accept the certificate if any IdentityPolicy matches.

    sigstore calls ``verify`` only after the certificate chained to the trusted root at the
    signed time, so the claims read here are Fulcio's, not the signer's.
    """

    def __init__(self, policies: Sequence[IdentityPolicy]) -> None:
        self.policies = [(p, _sigstore_policy(p)) for p in policies]
        self.matched: IdentityPolicy | None = None
        self.identity: str | None = None  # the SAN the matched policy accepted

    def verify(self, cert: Certificate) -> None:
        from cryptography.x509 import ExtensionNotFound
        from sigstore.errors import VerificationError

        for policy, check in self.policies:
            try:
                check.verify(cert)
            except (VerificationError, ExtensionNotFound, ValueError):
                continue
            self.matched = policy
            self.identity = next(
                (san for san in certificate_identities(cert) if policy.matches(san)),
                policy.identity,
            )
            return
        raise _IdentityMismatch(_describe_certificate(cert, self.policies))


def _der_utf8(value: bytes) -> str | None:
    """Decode a DER UTF8String (tag 0x0C), as Fulcio's v2 extensions are encoded."""
    if len(value) < 2 or value[0] != 0x0C:
        return None
    length, offset = value[1], 2
    if length & 0x80:
        width = length & 0x7F
        length, offset = int.from_bytes(value[2 : 2 + width], "big"), 2 + width
    return value[offset : offset + length].decode("utf-8", "replace")


def _extension_text(cert: Certificate, oid: str, der: bool) -> str | None:
    from cryptography.x509 import ExtensionNotFound, ObjectIdentifier, UnrecognizedExtension

    try:
        ext = cert.extensions.get_extension_for_oid(ObjectIdentifier(oid)).value
    except ExtensionNotFound:
        return None
    if not isinstance(ext, UnrecognizedExtension):
        return None
    return _der_utf8(ext.value) if der else ext.value.decode("utf-8", "replace")


def certificate_identities(cert: Certificate) -> tuple[str, ...]:
    """The SANs a Fulcio certificate binds: e-mail, URI or Sigstore's otherName."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    values: list[str] = list(san.get_values_for_type(x509.RFC822Name))
    values += san.get_values_for_type(x509.UniformResourceIdentifier)
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id.dotted_string == _SAN_OTHERNAME:
            values.append(_der_utf8(other.value) or other.value.decode("utf-8", "replace"))
    return tuple(values)


def certificate_issuer(cert: Certificate) -> str | None:
    """The OIDC issuer Fulcio recorded (v1 extension, else its v2 successor)."""
    return _extension_text(cert, _OIDC_ISSUER_V1, der=False) or _extension_text(
        cert, _OIDC_ISSUER_V2, der=True
    )


def _describe_certificate(cert: Certificate, policies: Sequence[tuple[IdentityPolicy, Any]]) -> str:
    sans = ", ".join(_plain(s) for s in certificate_identities(cert)) or "(no identity)"
    issuer = certificate_issuer(cert)
    text = f"{sans} via {_plain(issuer) if issuer else '(no issuer)'}"
    if any(p.repository is not None for p, _ in policies):
        repository = _extension_text(cert, _GITHUB_REPOSITORY_V1, der=False)
        text += f" repository {_plain(repository) if repository else '(none)'}"
    if any(p.ref is not None for p, _ in policies):
        ref = _extension_text(cert, _GITHUB_REF_V1, der=False)
        text += f" ref {_plain(ref) if ref else '(none)'}"
    return text


# ------------------------------------------------------------------------------ verification


def _load_bundle(
    bundle_bytes: bytes, source: str, policies: Sequence[IdentityPolicy]
) -> tuple[ParsedBundle, Any]:
    """Strict chainguard parse (duplicate keys, shape) first, then sigstore's own model."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    from chainguard.trust.bundle import read_bundle

    if not policies:
        raise UsageError(f"{source}: no trusted Sigstore identity given to verify with")
    parsed = read_bundle(bundle_bytes, source)
    if parsed.material_kind == "publicKey":
        hint = parsed.public_key_hint
        raise VerificationFailure(
            "signature-untrusted",
            f"{source}: signed with a public key{f' ({shown(hint, 24)})' if hint else ''}, not "
            "a Sigstore certificate; no trusted identity can vouch for it (verify it with --key)",
            expected="; ".join(p.describe() for p in policies),
            actual=f"public key {hint}" if hint else "a public key",
        )
    _refuse_root_in_chain(parsed, source)
    try:
        bundle = Bundle.from_json(bundle_bytes)
    except (ValueError, SigstoreError) as e:
        raise BundleError(f"{source}: not a verifiable Sigstore bundle: {_one_line(e)}") from e
    return parsed, bundle


def _refuse_root_in_chain(parsed: ParsedBundle, source: str) -> None:
    """A bundle's x509CertificateChain must not carry a root CA (protobuf-specs client
    policy): trust comes from the trusted root alone. sigstore-python only logs a warning."""
    from cryptography import x509

    for der in parsed.certificates[1:]:
        try:
            cert = x509.load_der_x509_certificate(der)
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except (ValueError, x509.ExtensionNotFound):
            continue  # sigstore's own parse below judges a malformed certificate
        if constraints.ca and cert.issuer == cert.subject:
            raise BundleError(
                f"{source}: verificationMaterial.x509CertificateChain includes a root CA "
                f"({_plain(cert.subject.rfc4514_string(), 80)}); a bundle must not carry its own "
                "root, trust comes from the trusted root"
            )


def _run(
    call: Callable[[], T],
    gate: _AnyTrustedIdentity,
    policies: Sequence[IdentityPolicy],
    source: str,
    trusted_root: SigstoreTrustedRoot,
) -> tuple[T, Signer]:
    """Run one sigstore verification and translate its outcome into chainguard's terms."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509 import ExtensionNotFound
    from sigstore.errors import Error as SigstoreError
    from sigstore.errors import MetadataError

    try:
        result = call()
    except _IdentityMismatch as e:
        noun = "identity" if len(policies) == 1 else f"{len(policies)} identities"
        raise VerificationFailure(
            "signature-untrusted",
            f"{source}: signed by {e.actual}, which is not the trusted {noun}",
            expected="; ".join(p.describe() for p in policies),
            actual=e.actual,
        ) from e
    except MetadataError as e:
        raise InputError(
            f"{trusted_root.name}: Sigstore trusted root is incomplete: {_one_line(e)}"
        ) from e
    except (SigstoreError, ValueError, ExtensionNotFound, InvalidSignature) as e:
        raise VerificationFailure(
            "signature-invalid",
            f"{source}: does not verify against the {trusted_root.name} Sigstore trusted root: "
            f"{_one_line(e)}",
            expected=f"a signature chaining to the {trusted_root.name} trusted root and "
            "recorded in its transparency log",
            actual=_one_line(e, 160),
        ) from e
    matched = gate.matched
    if matched is None:  # sigstore returned without consulting the policy: never trust that
        raise VerificationFailure(
            "signature-untrusted", f"{source}: the signer's identity was never checked"
        )
    identity = gate.identity or matched.identity
    return result, Signer(kind="sigstore", identity=identity, issuer=matched.issuer)


def _verify_dsse(
    parsed: ParsedBundle,
    bundle: Any,
    source: str,
    policies: Sequence[IdentityPolicy],
    trusted_root: SigstoreTrustedRoot,
) -> VerifiedStatement:
    envelope = parsed.envelope
    if envelope is None:
        raise BundleError(
            f"{source}: bundle holds a message signature, not a DSSE envelope with an in-toto "
            "statement; verify it against its file with `chainguard verify blob`"
        )
    if envelope.payload_type != PAYLOAD_TYPE_IN_TOTO:
        raise BundleError(
            f"{source}: DSSE payloadType is {shown(envelope.payload_type)}; expected "
            f"{PAYLOAD_TYPE_IN_TOTO}"
        )
    verifier = _verifier(trusted_root)
    gate = _AnyTrustedIdentity(policies)
    (payload_type, payload), signer = _run(
        lambda: verifier.verify_dsse(bundle, gate), gate, policies, source, trusted_root
    )
    if payload_type != PAYLOAD_TYPE_IN_TOTO or not isinstance(payload, bytes):
        raise BundleError(f"{source}: DSSE payloadType is not {PAYLOAD_TYPE_IN_TOTO}")
    statement = parse_statement(payload, source)
    return VerifiedStatement(
        predicate_type=statement.predicate_type,
        subjects=statement.subjects,
        payload=payload,
        signers=(signer,),
        parsed=statement,
    )


def verify_sigstore_dsse(
    bundle_bytes: bytes,
    source: str,
    policies: Sequence[IdentityPolicy],
    trusted_root: SigstoreTrustedRoot,
) -> VerifiedStatement:
    """Verify a Sigstore DSSE bundle offline; return the exact signed in-toto statement.

    ``policies`` are OR-ed (any one trusted identity suffices). The statement's subjects are
    returned as signed: matching them to an artifact or SBOM is the caller's job.
    """
    require_extra("sigstore")
    parsed, bundle = _load_bundle(bundle_bytes, source, policies)
    return _verify_dsse(parsed, bundle, source, policies, trusted_root)


def verify_sigstore_artifact(
    artifact: Path,
    bundle_bytes: bytes,
    source: str,
    policies: Sequence[IdentityPolicy],
    trusted_root: SigstoreTrustedRoot,
) -> Signer:
    """Verify ``artifact`` against a Sigstore bundle offline; return who signed it.

    Message-signature bundles: the signature, certificate and log entry are verified over the
    SHA-256 the bundle records (sigstore's ``Hashed`` input), then the file's streamed SHA-256
    must equal it. DSSE bundles: the envelope is verified, then some in-toto subject's sha256
    must be the file's. Either way a mismatch is ``subject-mismatch``, and the file is hashed
    only after the bundle verified, in constant memory.
    """
    require_extra("sigstore")
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    from chainguard.trust.blob import file_digests, match_subject, refuse_dsse_pae, require_file

    require_file(artifact)
    parsed, bundle = _load_bundle(bundle_bytes, source, policies)
    if parsed.message_signature is None:
        verified = _verify_dsse(parsed, bundle, source, policies, trusted_root)
        match_subject(verified.subjects, file_digests(artifact)["sha256"].hex(), str(artifact))
        return verified.signers[0]

    algorithm, signed_digest, _ = parsed.message_signature
    if algorithm != "SHA2_256" or len(signed_digest) != 32:
        raise BundleError(
            f"{source}: messageSignature digest is {shown(algorithm)} of {len(signed_digest)} "
            "bytes; Sigstore message signatures use SHA2_256"
        )
    hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=signed_digest)
    verifier = _verifier(trusted_root)
    gate = _AnyTrustedIdentity(policies)
    _, signer = _run(
        lambda: verifier.verify_artifact(hashed, bundle, gate), gate, policies, source, trusted_root
    )
    actual = file_digests(artifact)["sha256"]
    if actual != signed_digest:
        raise VerificationFailure(
            "subject-mismatch",
            f"{artifact}: its SHA-256 is not the signed digest — the file was modified after "
            "signing, or the bundle is for another file",
            expected=f"sha256:{signed_digest.hex()}",
            actual=f"sha256:{actual.hex()}",
        )
    refuse_dsse_pae(artifact)
    return signer


# ----------------------------------------------------------------------------------- signing


def sign_sigstore(
    sbom_statement_payload: bytes, *, staging: bool, identity_token: str | None
) -> bytes:
    """Sign an in-toto statement keylessly: a v0.3 Sigstore bundle with a DSSE envelope.

    The OIDC token is ``identity_token`` if given, else an ambient CI credential (GitHub
    Actions with ``permissions: id-token: write``, GitLab, Buildkite, CircleCI, GCP). Signing
    needs the network (Fulcio, Rekor, the TUF repository); verification never does.
    """
    require_extra("sigstore")
    from sigstore.dsse import Statement
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import ExpiredIdentity, IdentityError, IdentityToken, detect_credential
    from sigstore.sign import SigningContext

    token = identity_token
    if not token:
        try:
            token = detect_credential()
        except IdentityError as e:
            raise UsageError(
                f"ambient OIDC credential found but unusable ({_one_line(e)}); on GitHub "
                "Actions grant `permissions: id-token: write`"
            ) from e
    if not token:
        raise UsageError(
            "no OIDC identity token for Sigstore signing: run in CI with ambient credentials "
            "(GitHub Actions: `permissions: id-token: write`) or pass --identity-token "
            f"(or set {IDENTITY_TOKEN_ENV})"
        )
    try:
        identity = IdentityToken(token)
    except IdentityError as e:
        raise UsageError(f"the OIDC identity token is not usable: {_one_line(e)}") from e
    try:
        statement = Statement(sbom_statement_payload)
    except SigstoreError as e:
        raise SigningError(
            f"the statement to sign is not an in-toto statement: {_one_line(e)}"
        ) from e

    instance = "staging" if staging else "production"
    try:
        config = ClientTrustConfig.staging() if staging else ClientTrustConfig.production()
        context = SigningContext.from_trust_config(config)
        with context.signer(identity, cache=False) as signer:
            bundle = signer.sign_dsse(statement)
        return (bundle.to_json() + "\n").encode("utf-8")
    except ExpiredIdentity as e:
        raise SigningError(
            "the OIDC identity token expired before signing finished; sign again with a fresh token"
        ) from e
    except (SigstoreError, OSError, ValueError) as e:
        raise SigningError(f"Sigstore {instance} signing failed: {_one_line(e)}") from e
