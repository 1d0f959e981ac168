"""The trust gate: from signature bundles and a trust policy to a verified expected state.

Order matters and is fail-closed:
1. every bundle is verified (keys by chainguard, certificates by Sigstore with an explicit
   offline trusted root); a bundle that does not verify never contributes anything;
2. the distinct trusted signers that signed *the same SBOM* are counted against the threshold;
3. the expected state is parsed from the signed payload only; a separately given SBOM file must
   be byte-identical to what was signed;
4. subjects must match components, the deployment must be the one expected, the SBOM must not
   be expired, and its serial must not be below the highest one already accepted (rollback).
Only then does anything downstream see the expected state.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.errors import BundleError, SbomError, UsageError, VerificationFailure
from chainguard.findings import (
    Finding,
    Severity,
    TrustedIdentityAnchor,
    TrustedKeyAnchor,
    TrustSummary,
)
from chainguard.models import ExpectedState, IdentityRule, Signer, VerifiedStatement

if TYPE_CHECKING:
    from chainguard.config import EffectiveTrust
    from chainguard.sbom.packed import Expect
    from chainguard.trust.keys import TrustedKey

CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"


@dataclass(frozen=True, slots=True)
class TrustInputs:
    """Where the signed SBOM comes from and whom to trust."""

    sbom: Path | None
    signatures: tuple[Path, ...]
    keys: tuple[Path, ...]
    identities: tuple[IdentityRule, ...] = ()
    threshold: int = 1
    trusted_root: Path | None = None
    staging: bool = False
    allow_expired: bool = False
    deployment: str | None = None  # the deployment name the caller expects, if known
    state_dir: Path | None = None  # None: the default state directory
    use_state: bool = True
    now: datetime | None = None  # for tests; default: the current time
    min_serial: int | None = None  # refuse a signed serial below this (rollback without state)
    # Where the trust settings came from; shown in the report, never consulted by the gate.
    source: str = "command line"
    config: Path | None = None
    config_note: str | None = None

    @classmethod
    def from_effective(
        cls, effective: EffectiveTrust, *, sbom: Path | None, signatures: tuple[Path, ...]
    ) -> TrustInputs:
        return cls(
            sbom=sbom,
            signatures=signatures,
            keys=effective.keys,
            identities=effective.identities,
            threshold=effective.threshold,
            trusted_root=effective.trusted_root,
            staging=effective.staging,
            allow_expired=effective.allow_expired,
            deployment=effective.deployment,
            state_dir=effective.state,
            min_serial=effective.min_serial,
            source=effective.source,
            config=effective.config,
            config_note=effective.config_note,
        )


@dataclass(frozen=True, slots=True)
class TrustOutcome:
    """Either a verified expected state or the findings that stopped verification."""

    state: ExpectedState | None
    findings: tuple[Finding, ...]
    signers: tuple[str, ...] = ()
    signature: str | None = None
    warnings: tuple[Finding, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class _Verified:
    source: str
    statement: VerifiedStatement


def describe_signer(s: Signer) -> str:
    if s.kind == "key":
        return f"key {s.identity[:16]} ({s.key_algorithm})"
    issuer = f" via {s.issuer}" if s.issuer else ""
    return f"{s.kind} {s.identity}{issuer}"


def _signer_id(s: Signer) -> str:
    return f"{s.kind}\0{s.identity}\0{s.issuer or ''}"


def _default_signatures(inputs: TrustInputs) -> tuple[Path, ...]:
    if inputs.signatures:
        return inputs.signatures
    if inputs.sbom is not None:
        return (Path(str(inputs.sbom) + ".sig"),)
    raise UsageError("no SBOM or signature: pass --sbom / --signature or use chainguard.toml")


def _verify_one(
    path: Path,
    keys: list[TrustedKey],
    inputs: TrustInputs,
    roots: dict[str, object],
    expect: Expect | None = None,
) -> VerifiedStatement:
    """Verify one bundle file; raises VerificationFailure or BundleError."""
    from chainguard.trust.bundle import read_bundle_file, verify_key_bundle
    from chainguard.trust.stream import large, verify_key_bundle_streamed

    label = str(path)
    if keys and large(path):  # never held whole (trust/stream.py), if it is a plain key bundle
        streamed = verify_key_bundle_streamed(path, keys, source=label, expect=expect)
        if streamed is not None:
            return streamed
    bundle, data = read_bundle_file(path, label)
    if bundle.material_kind == "publicKey":
        # Key verification reads only the decoded envelope: let go of the file and its JSON
        # (tens of MB for a dataset's SBOM) before the statement is parsed.
        del data
        bundle = replace(bundle, raw={})
        if not keys:
            raise VerificationFailure(
                "signature-untrusted",
                f"{label}: signed with a key, but no trusted keys are configured",
                expected="a trusted key (--key)",
                actual=f"key {bundle.public_key_hint or '(no hint)'}",
            )
        return verify_key_bundle(bundle, keys, source=label, expect=expect)
    if not inputs.identities:
        raise VerificationFailure(
            "signature-untrusted",
            f"{label}: signed with a certificate, but no trusted identities are configured",
            expected="a trusted identity (--identity/--issuer or [trust] identities)",
            actual="a Sigstore certificate",
        )
    from chainguard.trust import sigstore as sg

    if "root" not in roots:
        instance: sg.Instance = "staging" if inputs.staging else "production"
        roots["root"] = sg.load_trusted_root(
            None if inputs.trusted_root is not None else instance, inputs.trusted_root
        )
    root = roots["root"]
    assert isinstance(root, sg.SigstoreTrustedRoot)
    if data is None:  # streamed (a large key bundle's way): Sigstore verifies the file whole
        try:
            data = path.read_bytes()
        except OSError as e:
            raise BundleError(f"{path}: cannot read: {e.strerror or e}") from e
    verified: VerifiedStatement = sg.verify_sigstore_dsse(data, label, inputs.identities, root)
    return verified


def establish_trust(inputs: TrustInputs, *, expect: Expect | None = None) -> TrustOutcome:
    """Verify the signature(s) and return the expected state parsed from signed bytes only.

    ``expect``: what the caller expects file lists to hold (sbom/packed.py); it may make
    reading the SBOM faster and never changes what is read.
    """
    from chainguard.sbom.read import read_sbom, read_sbom_document
    from chainguard.trust.keys import load_public_key
    from chainguard.trust.statement import ParsedStatement, parse_statement

    if not inputs.keys and not inputs.identities:
        if inputs.source == "command line" and (inputs.trusted_root or inputs.staging):
            raise UsageError(
                "no trusted keys or identities: the command line names trust (so the config's "
                "is not used) but no --key PUB or --identity ID --issuer URL"
            )
        raise UsageError(
            "no trusted keys or identities: pass --key PUB (or [trust] in chainguard.toml)"
        )
    if inputs.threshold < 1:
        raise UsageError("trust threshold must be at least 1")
    signatures = _default_signatures(inputs)
    sig_label = ", ".join(str(s) for s in signatures)
    # Only the SBOM file's digest is kept (a dataset's SBOM is tens of MB): the expected state
    # comes from the signed payload, and the file is read again only if it does not match.
    sbom_digest: str | None = None
    if inputs.sbom is not None:
        try:
            sbom_digest = _file_sha256(inputs.sbom)
        except FileNotFoundError as e:
            raise SbomError(f"{inputs.sbom}: SBOM not found") from e
        except OSError as e:
            raise SbomError(f"{inputs.sbom}: cannot read SBOM: {e.strerror or e}") from e

    present = [p for p in signatures if p.is_file()]
    missing = [p for p in signatures if not p.is_file()]
    if not present:
        return TrustOutcome(
            None,
            tuple(
                Finding(
                    "signature-missing",
                    str(p),
                    "no signature bundle found; an unsigned SBOM proves nothing",
                    expected="a signature bundle",
                    actual=None,
                )
                for p in missing
            ),
            signature=sig_label,
        )

    keys = [load_public_key(p) for p in inputs.keys]
    roots: dict[str, object] = {}
    verified: list[_Verified] = []
    failures: list[Finding] = []
    for path in present:
        try:
            verified.append(_Verified(str(path), _verify_one(path, keys, inputs, roots, expect)))
        except VerificationFailure as f:
            failures.append(Finding(f.rule, str(path), str(f), f.expected, f.actual))
    failures += [
        Finding("signature-missing", str(p), "signature bundle not found", "a bundle", None)
        for p in missing
    ]

    # Group by the SBOM each statement signs (its deployment subject digest): signers only
    # count together when they signed the very same SBOM bytes.
    groups: dict[str, list[_Verified]] = {}
    for v in verified:
        groups.setdefault(_sbom_digest_of(v.statement), []).append(v)
    wanted = sbom_digest
    chosen_key = wanted if wanted in groups else _largest_group(groups)
    chosen = groups.get(chosen_key or "", [])
    distinct: dict[str, Signer] = {}
    for v in chosen:
        for s in v.statement.signers:
            distinct.setdefault(_signer_id(s), s)
    signers = tuple(describe_signer(s) for s in distinct.values())

    if len(distinct) < inputs.threshold or not chosen:
        if inputs.threshold > 1 or not failures:
            failures.append(
                Finding(
                    "threshold-not-met",
                    sig_label,
                    f"{len(distinct)} distinct trusted signer(s) signed this SBOM; "
                    f"{inputs.threshold} required (unknown keys and duplicates do not count)",
                    expected=str(inputs.threshold),
                    actual=str(len(distinct)),
                )
            )
        return TrustOutcome(None, tuple(failures), signers, sig_label)
    # Threshold met: bundles that failed are reported, but do not block (k-of-n tolerates them).
    warnings = tuple(
        Finding(f.rule, f.path, f.message, f.expected, f.actual, severity=Severity.WARNING)
        for f in failures
    )
    others = [v for k, group in groups.items() if k != chosen_key for v in group]
    warnings += tuple(
        Finding(
            "subject-mismatch",
            v.source,
            "this signature is for a different SBOM and was not counted",
            severity=Severity.WARNING,
        )
        for v in others
    )

    parsed = chosen[0].statement.parsed
    statement = (
        parsed
        if isinstance(parsed, ParsedStatement)
        else parse_statement(chosen[0].statement.payload, chosen[0].source)
    )
    if statement.predicate_type != CYCLONEDX_PREDICATE:
        return TrustOutcome(
            None,
            (
                Finding(
                    "subject-mismatch",
                    chosen[0].source,
                    "the signature is not over a CycloneDX SBOM",
                    expected=CYCLONEDX_PREDICATE,
                    actual=statement.predicate_type,
                ),
            ),
            signers,
            sig_label,
        )
    # The expected state always comes from the signed payload, as parsed (strictly) above.
    signed_digest = chosen_key
    state = read_sbom_document(
        statement.predicate, signed_digest or "", f"{chosen[0].source} (signed SBOM)"
    )
    findings: list[Finding] = []
    if inputs.sbom is not None and sbom_digest is not None:
        actual = sbom_digest
        if actual != signed_digest:
            # A malformed SBOM file is bad input (exit 3), not a mismatch: parse it to tell,
            # but use nothing from it — the expected state comes from the signed payload only.
            read_sbom(_read_sbom_bytes(inputs.sbom), str(inputs.sbom))
            findings.append(
                Finding(
                    "sbom-mismatch",
                    str(inputs.sbom),
                    "the SBOM file is not the one that was signed (edited after signing, or "
                    "the signature belongs to another SBOM)",
                    expected=f"sha256:{signed_digest}" if signed_digest else "a signed digest",
                    actual=f"sha256:{actual}",
                )
            )
    findings.extend(subject_findings(state, chosen[0].statement, chosen[0].source))
    if inputs.deployment is not None and state.deployment.name != inputs.deployment:
        findings.append(
            Finding(
                "subject-mismatch",
                chosen[0].source,
                f"the signed SBOM is for deployment {state.deployment.name!r}, "
                f"not {inputs.deployment!r}",
                expected=inputs.deployment,
                actual=state.deployment.name,
            )
        )
    # Only a release that is otherwise acceptable may move the rollback mark.
    findings.extend(
        _freshness_findings(
            state, inputs, signed_digest or "", chosen[0].source, record=not findings
        )
    )
    warnings += _acceptance_warnings(state, inputs, chosen[0].source)
    if any(f.effective_severity is Severity.ERROR for f in findings):
        return TrustOutcome(None, tuple(findings) + warnings, signers, sig_label)
    return TrustOutcome(state, (), signers, sig_label, tuple(findings) + warnings)


def _acceptance_warnings(
    state: ExpectedState, inputs: TrustInputs, source: str
) -> tuple[Finding, ...]:
    """What was accepted without being pinned: said in every report, never silent."""
    if inputs.deployment is not None:
        return ()
    return (
        Finding(
            "deployment-unpinned",
            source,
            "no deployment is pinned: a release of any deployment the trusted signers signed "
            f"would be taken for this one (this SBOM is for {state.deployment.name!r})",
            expected="--deployment NAME (or deployment = in chainguard.toml)",
            actual=state.deployment.name,
        ),
    )


def summarize(inputs: TrustInputs, ignore: tuple[str, ...] | list[str] = ()) -> TrustSummary:
    """The trust a run used, for the report (key files are read for their fingerprints)."""
    from chainguard.errors import ChainguardError
    from chainguard.trust.keys import load_public_key

    keys = []
    for path in inputs.keys:
        try:
            fingerprint: str | None = load_public_key(path).fingerprint
        except ChainguardError:
            fingerprint = None
        keys.append(TrustedKeyAnchor(str(path), fingerprint))
    root = None
    if inputs.identities:
        if inputs.trusted_root is not None:
            root = str(inputs.trusted_root)
        else:
            root = f"sigstore {'staging' if inputs.staging else 'production'} (shipped)"
    return TrustSummary(
        source=inputs.source,
        config=str(inputs.config) if inputs.config else None,
        config_note=inputs.config_note,
        keys=tuple(keys),
        identities=tuple(
            TrustedIdentityAnchor(r.identity, r.issuer, r.repository, r.ref)
            for r in inputs.identities
        ),
        trusted_root=root,
        threshold=inputs.threshold,
        ignore=tuple(ignore),
        deployment=inputs.deployment,
        allow_expired=inputs.allow_expired,
        min_serial=inputs.min_serial,
        state=str(inputs.state_dir) if inputs.state_dir else None,
    )


def _file_sha256(path: Path) -> str:
    early = _early_digests.pop(os.path.abspath(path), None)
    if early is not None:
        digest = early.result()
        if digest is not None:
            return digest
    return _hash_file(path)


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    buf = bytearray(1024 * 1024)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


class _EarlyDigest:
    """An SBOM file hashed on a thread while the CLI starts (``hash_sbom_early``): a dataset's
    SBOM is tens of MB, and a core idles during start-up. Its digest is used only if the file
    still has the identity it had when read (inode, size, modification time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digest: str | None = None
        self.thread = threading.Thread(target=self._run, name="chainguard-sbom", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            before = _identity(self.path)
            digest = _hash_file(self.path)
            if _identity(self.path) == before:
                self.identity, self.digest = before, digest
        except OSError:
            pass

    def result(self) -> str | None:
        self.thread.join()
        try:
            unchanged = self.digest is not None and _identity(self.path) == self.identity
        except OSError:
            return None
        return self.digest if unchanged else None


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


_early_digests: dict[str, _EarlyDigest] = {}


def hash_sbom_early(path: Path) -> None:
    """Start hashing an SBOM file that establish_trust is about to need (see _EarlyDigest)."""
    key = os.path.abspath(path)
    if key not in _early_digests:
        _early_digests[key] = _EarlyDigest(path)


def _read_sbom_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise SbomError(f"{path}: cannot read SBOM: {e.strerror or e}") from e


def _largest_group(groups: dict[str, list[_Verified]]) -> str | None:
    if not groups:
        return None
    return max(groups, key=lambda k: len(groups[k]))


def _sbom_digest_of(statement: VerifiedStatement) -> str:
    for s in statement.subjects:
        if s.name.startswith("deployment:"):
            return s.get("sha256") or ""
    return ""


def subject_findings(
    state: ExpectedState, verified: VerifiedStatement, source: str
) -> list[Finding]:
    """Every component must be a signed subject with its root digest, and vice versa."""
    findings = []
    subjects = {s.name: s for s in verified.subjects}
    if f"deployment:{state.deployment.name}" not in subjects:
        findings.append(
            Finding(
                "subject-mismatch",
                source,
                f"the signature does not name deployment {state.deployment.name!r}",
                expected=f"deployment:{state.deployment.name}",
                actual=", ".join(n for n in subjects if n.startswith("deployment:")) or "none",
            )
        )
    for c in state.components:
        s = subjects.get(c.bom_ref)
        if s is None or s.get("sha256") != c.root_digest:
            findings.append(
                Finding(
                    "subject-mismatch",
                    source,
                    f"component {c.bom_ref} is not signed with this root digest",
                    expected=f"sha256:{c.root_digest}",
                    actual=f"sha256:{s.get('sha256')}" if s else "not a signed subject",
                    component=c.bom_ref,
                )
            )
    refs = {c.bom_ref for c in state.components}
    for name in subjects:
        if name.startswith(("model:", "dataset:")) and name not in refs:
            findings.append(
                Finding(
                    "subject-mismatch",
                    source,
                    f"signed subject {name} is not a component of this SBOM",
                    expected="a component of the signed SBOM",
                    actual=name,
                )
            )
    return findings


def _freshness_findings(
    state: ExpectedState, inputs: TrustInputs, sbom_digest: str, source: str, *, record: bool
) -> list[Finding]:
    """Expiry (freeze attacks) and the rollback high-water mark."""
    from chainguard.sbom.vocabulary import parse_rfc3339

    findings: list[Finding] = []
    now = inputs.now or datetime.now(timezone.utc)
    expires = state.deployment.expires
    if expires is not None:
        when = parse_rfc3339(expires)
        if when is not None and now >= when:
            allowed = " (accepted: --allow-expired)" if inputs.allow_expired else ""
            findings.append(
                Finding(
                    "sbom-expired",
                    source,
                    f"the signed SBOM expired at {expires}; a stale SBOM may hide a revoked "
                    f"release (freeze attack){allowed}",
                    expected=f"before {expires}",
                    actual=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    severity=Severity.WARNING if inputs.allow_expired else None,
                )
            )
    serial = state.deployment.serial
    if inputs.min_serial is not None and serial < inputs.min_serial:
        findings.append(
            Finding(
                "sbom-rollback",
                source,
                f"rollback refused: serial {serial} is below the minimum {inputs.min_serial} "
                "(--min-serial)",
                expected=f"serial >= {inputs.min_serial}",
                actual=f"serial {serial}",
            )
        )
    refused = any(f.effective_severity is Severity.ERROR for f in findings)
    if refused or not record or not inputs.use_state:
        return findings
    from chainguard.trust.state import StateStore, default_state_dir

    with StateStore(inputs.state_dir or default_state_dir()) as store:
        check = store.check_and_record(
            state.deployment.name, state.deployment.serial, sbom_digest, state.deployment.version
        )
    if not check.ok:
        prev = check.previous
        findings.append(
            Finding(
                "sbom-rollback",
                source,
                f"rollback refused: {check.reason}",
                expected=f"serial >= {prev.serial}" if prev else None,
                actual=f"serial {state.deployment.serial}",
            )
        )
    return findings
