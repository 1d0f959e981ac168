"""OpenSSF Model Signing (OMS, ``model-signing`` on PyPI): verify and write its signatures.

An OMS signature is a Sigstore bundle v0.3 whose DSSE envelope holds an in-toto Statement v1:

- ``predicateType`` ``https://model_signing/signature/v1.0``;
- ``predicate.serialization``: ``method`` (``files`` or ``shards``), ``hash_type``,
  ``allow_symlinks``, ``shard_size`` for shards (written by protobuf's Struct, hence often a
  float such as ``1000000000.0``) and, since v1.1, ``ignore_paths`` (relative paths left out);
- ``predicate.resources``: ``{name, algorithm, digest}`` per file (``files``) or per shard
  (``shards``: name ``path:start:end``, algorithm ``sha256-sharded-<size>``); a single-file model
  is one resource named ``.``;
- one subject: the model's name and the SHA-256 over the raw resource digests, concatenated in
  the order the predicate lists them (signers sort them by path components).

The format has no canonical JSON: the signature covers the exact payload bytes and nothing is
ever re-serialised. Trust comes from one of a public key, an X.509 CA (``--certificate-chain``),
or a Sigstore identity (delegated to trust/sigstore.py). Comparing the signed manifest with the
model on disk reuses the pure compare.py through an ExpectedComponent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from chainguard._strictjson import shown
from chainguard.errors import BundleError, InputError, KeyFileError, UsageError, VerificationFailure
from chainguard.findings import Finding, Severity
from chainguard.models import (
    ExpectedComponent,
    FileDigest,
    ObservedTree,
    Signer,
    VerifiedStatement,
)
from chainguard.paths import unsafe_reason
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, parse_statement

if TYPE_CHECKING:
    from cryptography import x509

    from chainguard.hashing import HashSettings
    from chainguard.trust.bundle import ParsedBundle
    from chainguard.trust.dsse import Envelope
    from chainguard.trust.keys import SigningKey

OMS_PREDICATE_TYPE = "https://model_signing/signature/v1.0"
# model-signing 0.2 wrote this; it has no serialization section and no model name. Refused.
OMS_PREDICATE_TYPE_V0_2 = "https://model_signing/Digests/v0.1"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
# model-signing leaves these out by default and records them in ignore_paths; we do the same
# when signing so that its default verification accepts our signatures.
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
SINGLE_FILE_NAME = "."
DEFAULT_SIGNATURE_NAME = "model.sig"

Method = Literal["files", "shards"]
_HASH_SIZES = {"sha256": 32}  # the hash types chainguard's engine reproduces
_HEX = frozenset(string.hexdigits)
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class OmsResource:
    """One signed resource: a whole file, or the shard ``[start, end)`` of a file."""

    path: str
    digest: str  # lower-case hex
    start: int | None = None  # shards only
    end: int | None = None


@dataclass(frozen=True, slots=True)
class OmsManifest:
    """The signed model manifest, read from verified payload bytes only."""

    model_name: str
    method: Method
    hash_type: str
    allow_symlinks: bool
    resources: tuple[OmsResource, ...]
    shard_size: int | None = None
    ignore_paths: tuple[str, ...] = ()

    def paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.path for r in self.resources))


# ------------------------------------------------------------------------------- parsing


def _field(obj: dict[str, object], key: str, where: str) -> object:
    if key not in obj:
        raise BundleError(f"{where}: {key} is missing")
    return obj[key]


def _shard_size(value: object, where: str) -> int:
    """protobuf's Struct stores numbers as doubles, so ``1000000000`` arrives as ``1e9``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BundleError(f"{where}: shard_size is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise BundleError(f"{where}: shard_size {value!r} is not a whole number of bytes")
        value = int(value)
    if value < 1:
        raise BundleError(f"{where}: shard_size {value} is not positive")
    return value


def _hex_digest(value: object, size: int, where: str) -> str:
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.issuperset(value):
        raise BundleError(f"{where}: digest is not {2 * size} hex characters")
    return value.lower()


def _resource(
    entry: object, index: int, method: Method, algorithm: str, size: int, source: str
) -> OmsResource:
    where = f"{source}: predicate.resources[{index}]"
    if not isinstance(entry, dict):
        raise BundleError(f"{where} is not an object")
    name = _field(entry, "name", where)
    if not isinstance(name, str) or not name:
        raise BundleError(f"{where}: name is not a non-empty string")
    where = f"{where} ({shown(name)})"
    if entry.get("algorithm") != algorithm:
        raise BundleError(
            f"{where}: algorithm {shown(entry.get('algorithm'))} disagrees with the "
            f"serialization ({algorithm})"
        )
    digest = _hex_digest(entry.get("digest"), size, where)
    if method == "files":
        return OmsResource(name, digest)
    # rsplit: a path may itself contain ':' (model-signing's own split would refuse it)
    parts = name.rsplit(":", 2)
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts[1:]):
        raise BundleError(f"{where}: a shard name must be path:start:end")
    path, start, end = parts[0], int(parts[1]), int(parts[2])
    if not path or end <= start:
        raise BundleError(f"{where}: empty path or empty shard")
    return OmsResource(path, digest, start, end)


def _check_shard_tiling(resources: Sequence[OmsResource], shard_size: int, source: str) -> None:
    """Every file's shards must be the consecutive ``shard_size`` slices model-signing makes."""
    by_path: dict[str, list[OmsResource]] = {}
    for r in resources:
        by_path.setdefault(r.path, []).append(r)
    for path, shards in by_path.items():
        shards.sort(key=lambda r: r.start or 0)
        position = 0
        for i, shard in enumerate(shards):
            assert shard.start is not None and shard.end is not None
            last = i == len(shards) - 1
            length = shard.end - shard.start
            if (
                shard.start != position
                or length > shard_size
                or (not last and length != shard_size)
            ):
                raise BundleError(
                    f"{source}: the shards of {shown(path)} do not tile the file in "
                    f"{shard_size}-byte pieces (at {shard.start}:{shard.end})"
                )
            position = shard.end


def read_manifest(verified: VerifiedStatement, source: str) -> OmsManifest:
    """The OMS manifest in a verified statement.

    VerificationFailure ``subject-mismatch`` when the statement is not an OMS signature or its
    subject digest disagrees with its resources; BundleError when it is malformed; InputError
    when it uses a hash chainguard cannot reproduce.
    """
    if verified.predicate_type != OMS_PREDICATE_TYPE:
        note = (
            " (model-signing 0.2, not supported)"
            if (verified.predicate_type == OMS_PREDICATE_TYPE_V0_2)
            else ""
        )
        raise VerificationFailure(
            "subject-mismatch",
            f"{source}: the signature is not an OpenSSF model signature{note}",
            expected=OMS_PREDICATE_TYPE,
            actual=verified.predicate_type,
        )
    statement = parse_statement(verified.payload, source)
    if len(statement.subjects) != 1:
        raise BundleError(
            f"{source}: an OpenSSF model signature has one subject, not {len(statement.subjects)}"
        )
    subject = statement.subjects[0]
    subject_digest = subject.get("sha256")
    if subject_digest is None:
        raise BundleError(f"{source}: the statement subject has no sha256 digest")

    where = f"{source}: predicate.serialization"
    serialization = _field(statement.predicate, "serialization", f"{source}: predicate")
    if not isinstance(serialization, dict):
        raise BundleError(f"{where} is not an object")
    method = _field(serialization, "method", where)
    if method not in ("files", "shards"):
        raise BundleError(f"{where}: unknown method {shown(method)} (files or shards)")
    hash_type = _field(serialization, "hash_type", where)
    if not isinstance(hash_type, str) or not hash_type:
        raise BundleError(f"{where}: hash_type is not a string")
    if hash_type not in _HASH_SIZES:
        raise InputError(
            f"{source}: signed with hash {shown(hash_type)}; chainguard verifies OpenSSF model "
            f"signatures made with {', '.join(_HASH_SIZES)}"
        )
    allow_symlinks = serialization.get("allow_symlinks", False)
    if not isinstance(allow_symlinks, bool):
        raise BundleError(f"{where}: allow_symlinks is not true or false")
    shard_size: int | None = None
    algorithm = hash_type
    if method == "shards":
        shard_size = _shard_size(_field(serialization, "shard_size", where), where)
        algorithm = f"{hash_type}-sharded-{shard_size}"
    raw_ignore = serialization.get("ignore_paths", [])
    if not isinstance(raw_ignore, list) or not all(isinstance(p, str) for p in raw_ignore):
        raise BundleError(f"{where}: ignore_paths is not a list of strings")

    raw_resources = _field(statement.predicate, "resources", f"{source}: predicate")
    if not isinstance(raw_resources, list):
        raise BundleError(f"{source}: predicate.resources is not a list")
    size = _HASH_SIZES[hash_type]
    resources = tuple(
        _resource(entry, i, method, algorithm, size, source)
        for i, entry in enumerate(raw_resources)
    )
    keys = [(r.path, r.start) for r in resources]
    if len(set(keys)) != len(keys):
        raise BundleError(f"{source}: predicate.resources lists the same resource twice")
    if shard_size is not None:
        _check_shard_tiling(resources, shard_size, source)

    # The subject binds the resources in the order they are listed (model-signing's verifier
    # hashes them in that order too); a mismatch means the signer was broken or malicious.
    actual = hashlib.sha256(b"".join(bytes.fromhex(r.digest) for r in resources)).hexdigest()
    if actual != subject_digest:
        raise VerificationFailure(
            "subject-mismatch",
            f"{source}: the signed subject digest does not match the signed resources",
            expected=f"sha256:{subject_digest}",
            actual=f"sha256:{actual}",
        )
    return OmsManifest(
        model_name=subject.name,
        method=method,
        hash_type=hash_type,
        allow_symlinks=allow_symlinks,
        resources=resources,
        shard_size=shard_size,
        ignore_paths=tuple(p.rstrip("/") for p in raw_ignore),
    )


def signed_ignore_paths(manifest: OmsManifest) -> frozenset[str]:
    """The signer's ignore paths that can name something inside the model (others never do)."""
    return frozenset(p for p in manifest.ignore_paths if unsafe_reason(p) is None)


# ----------------------------------------------------------------------- certificate trust


def load_certificates(paths: Sequence[Path]) -> tuple[x509.Certificate, ...]:
    """Every certificate in the PEM files: the trust anchors for ``--certificate-chain``."""
    from cryptography import x509

    certificates: list[x509.Certificate] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError as e:
            raise KeyFileError(f"{path}: no such certificate file") from e
        except OSError as e:
            raise KeyFileError(f"{path}: cannot read certificate file ({e.strerror})") from e
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise KeyFileError(f"{path}: no PEM certificate (BEGIN CERTIFICATE) found")
        try:
            certificates.extend(x509.load_pem_x509_certificates(data))
        except ValueError as e:
            raise KeyFileError(f"{path}: malformed PEM certificate: {e}") from e
    if not certificates:
        raise UsageError("no trusted CA certificate given (--certificate-chain PEM)")
    return tuple(certificates)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _dn(name: x509.Name) -> str:
    """A distinguished name for one-line messages: control characters masked, length capped."""
    text = _CONTROL.sub("?", name.rfc4514_string()) or "(empty name)"
    return text if len(text) <= 120 else text[:119] + "…"


def _name(cert: x509.Certificate) -> str:
    return _dn(cert.subject)


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
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.verification import (
        ExtensionPolicy,
        PolicyBuilder,
        Store,
        VerificationError,
    )

    from chainguard.trust import dsse
    from chainguard.trust.keys import public_key_from_pem

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
    _check_signing_usage(leaf, source)
    pem = leaf.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        key = public_key_from_pem(pem, f"{source}: certificate {_name(leaf)}")
    except KeyFileError as e:
        raise BundleError(str(e)) from e
    if not dsse.verify(envelope, (key,)):
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
    )


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


# ------------------------------------------------------------------------------ comparison


def _observed_path(path: str, single_file: str | None) -> str:
    """Where a signed resource lives in the ObservedTree (a single file is recorded by name)."""
    if single_file is not None and path in (SINGLE_FILE_NAME, single_file):
        return single_file
    return path


def hash_plan(
    manifest: OmsManifest, single_file: str | None
) -> tuple[HashSettings, dict[str, int]]:
    """How to hash the model so that its digests are comparable with the signed ones.

    Shards: the engine's shard digests at the signed shard size, for every signed path (a file
    no larger than one shard is hashed whole, which equals its single shard's digest).
    """
    from chainguard.hashing import HashSettings

    if manifest.shard_size is None:
        return HashSettings(), {}
    size = manifest.shard_size
    plan = {_observed_path(p, single_file): size for p in manifest.paths()}
    return HashSettings(shard_size=size, foreign_shard_size=True), plan


def _file_digests(
    manifest: OmsManifest, observed: ObservedTree, single_file: str | None
) -> tuple[list[FileDigest], dict[str, str]]:
    """The signed files as FileDigests, and the signed digest text per path for messages.

    ``files`` manifests record no sizes. A signed file is given the size of the observed file
    at its path (or of an observed file with its digest, so a rename is recognised): the size
    then never decides anything, the digest does. Shard manifests imply exact sizes.
    """
    files: list[FileDigest] = []
    described: dict[str, str] = {}
    if manifest.method == "files":
        sizes = {f.path: f.size for f in observed.files}
        by_digest = {f.sha256: f.size for f in observed.files if f.sha256 is not None}
        for r in manifest.resources:
            path = _observed_path(r.path, single_file)
            size = sizes.get(path, by_digest.get(r.digest, 0))
            files.append(FileDigest(path=path, size=size, sha256=r.digest))
            described[path] = f"{manifest.hash_type}:{r.digest}"
        return files, described
    assert manifest.shard_size is not None
    shards: dict[str, list[OmsResource]] = {}
    for r in manifest.resources:
        shards.setdefault(_observed_path(r.path, single_file), []).append(r)
    for path, pieces in shards.items():
        pieces.sort(key=lambda r: r.start or 0)
        size = pieces[-1].end or 0
        if len(pieces) == 1:
            files.append(
                FileDigest(path, size, sha256=pieces[0].digest, shard_size=manifest.shard_size)
            )
        else:
            digests = tuple(p.digest for p in pieces)
            files.append(FileDigest(path, size, shard_size=manifest.shard_size, shards=digests))
    return files, described


def expected_component(
    manifest: OmsManifest, observed: ObservedTree, *, single_file: str | None
) -> tuple[ExpectedComponent, list[Finding]]:
    """The signed manifest as the component compare.py checks, plus findings it cannot express.

    ``single_file`` is the name a single-file model was observed under (None for a directory).
    """
    from chainguard.models import tree_digest

    name = f"model:{manifest.model_name}"
    findings: list[Finding] = []
    files, _ = _file_digests(manifest, observed, single_file)
    safe: list[FileDigest] = []
    unsafe: list[str] = []
    for f in files:
        if f.path == SINGLE_FILE_NAME:
            findings.append(
                Finding(
                    "subject-mismatch",
                    f.path,
                    "the signature is for a single-file model, but a directory was given",
                    expected="a single file",
                    actual="a directory",
                    component=name,
                )
            )
        elif unsafe_reason(f.path) is not None:
            unsafe.append(f.path)
        else:
            safe.append(f)
    whole = [f for f in safe if f.sha256 is not None]
    component = ExpectedComponent(
        kind="model",
        name=manifest.model_name,
        bom_ref=name,
        root_digest=tree_digest(whole) if len(whole) == len(safe) else "",
        files=tuple(safe),
        unsafe_paths=tuple(unsafe),
    )
    return component, findings


def compare_model(
    manifest: OmsManifest, observed: ObservedTree, *, single_file: str | None
) -> list[Finding]:
    """Every way the observed model differs from the signed manifest (pure)."""
    from chainguard.compare import compare_tree

    component, findings = expected_component(manifest, observed, single_file=single_file)
    _, described = _file_digests(manifest, observed, single_file)
    sizes = {f.path: f.size for f in observed.files}
    for finding in compare_tree(component, observed):
        if finding.rule in ("artifact-modified", "artifact-missing", "artifact-swapped"):
            # a files manifest has no sizes: show the signed digest alone
            signed = described.get(finding.path)
            if signed is not None:
                finding = replace(finding, expected=signed)
        elif (
            finding.rule == "artifact-unexpected"
            and manifest.method == "shards"
            and sizes.get(finding.path) == 0
        ):
            # model-signing's shard serialization has no resource for an empty file, so the
            # signature cannot say whether it was there: reported, not failed.
            finding = replace(
                finding,
                severity=Severity.WARNING,
                message="empty file; an OpenSSF shard signature cannot list empty files",
            )
        findings.append(replace(finding, message=finding.message.replace("SBOM", "manifest")))
    return sorted(findings, key=lambda f: (f.path, f.rule))


# ----------------------------------------------------------------------------------- signing


def _path_order(path: str) -> tuple[str, ...]:
    """model-signing sorts resources as PurePosixPath objects: by path components."""
    return tuple(path.split("/"))


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


def model_name(path: Path) -> str:
    """The subject name model-signing gives a model: its last path component."""
    name = path.name
    if not name or name == "..":
        name = os.path.basename(path.resolve())
    return name


def sign_oms(model_dir: Path, key: SigningKey, ignore: Sequence[str]) -> bytes:
    """Hash a model (directory or single file) and sign it as an OpenSSF model signature.

    ``ignore`` holds literal paths relative to the model (the bundle's own path when it lives
    inside); they are left out and recorded in the predicate together with the git paths
    model-signing leaves out by default, so that both verifiers skip exactly the same files.
    """
    from chainguard.collectors.tree import IgnoreRules, collect_tree
    from chainguard.hashing import HashSettings

    if key.algorithm != "ecdsa-p256":
        oms_bundle(b"", key)  # raises the explanatory UsageError before any hashing
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
    payload = oms_payload(
        model_name(model_dir),
        files,
        ignore_paths=ignored,
        # model-signing refuses links unless the signature allows them; chainguard hashes an
        # in-tree link as the file it points to, which is what model-signing then does too.
        allow_symlinks=links,
    )
    return oms_bundle(payload, key)


__all__ = [
    "OMS_PREDICATE_TYPE",
    "OmsManifest",
    "OmsResource",
    "compare_model",
    "expected_component",
    "hash_plan",
    "load_certificates",
    "oms_bundle",
    "oms_payload",
    "read_manifest",
    "sign_oms",
    "signed_ignore_paths",
    "verify_certificate_bundle",
]
