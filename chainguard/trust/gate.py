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

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.errors import (
    BundleError,
    SbomError,
    UsageError,
    VerificationFailure,
    read_input,
    refuse_oversized,
)
from chainguard.findings import (
    Finding,
    Severity,
    TrustedIdentityAnchor,
    TrustedKeyAnchor,
    TrustSummary,
)
from chainguard.models import ExpectedState, IdentityRule, Signer, VerifiedStatement
from chainguard.trust.policy import TrustPolicy

if TYPE_CHECKING:
    from chainguard.config import EffectiveTrust
    from chainguard.formats.policy import FormatPolicy
    from chainguard.observe import EarlyStart
    from chainguard.sbom.packed import Expect

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
    # [formats] of the config when it provides trust (config.effective_trust); None: defaults
    formats: FormatPolicy | None = None

    @property
    def policy(self) -> TrustPolicy:
        """The anchors, validated (one policy per call: its keys and root load once)."""
        return TrustPolicy(
            keys=self.keys,
            identities=self.identities,
            trusted_root=self.trusted_root,
            staging=self.staging,
        )

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
            formats=effective.formats,
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
        from chainguard.models import default_signature

        return (default_signature(inputs.sbom),)
    raise UsageError("no SBOM or signature: pass --sbom / --signature or use chainguard.toml")


def _verify_one(path: Path, policy: TrustPolicy, expect: Expect | None = None) -> VerifiedStatement:
    """Verify one bundle file with the backend its material calls for; raises
    VerificationFailure or BundleError."""
    from chainguard.trust.bundle import read_bundle_file, verify_key_bundle
    from chainguard.trust.stream import large, verify_key_bundle_streamed

    label = str(path)
    refuse_oversized(path, "signature bundle", BundleError)  # before any of it is read
    keys = policy.trusted_keys()
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
    if not policy.identities:
        raise VerificationFailure(
            "signature-untrusted",
            f"{label}: signed with a certificate, but no trusted identities are configured",
            expected="a trusted identity (--identity/--issuer or [trust] identities)",
            actual="a Sigstore certificate",
        )
    from chainguard.trust.sigstore import verify_sigstore_dsse

    if data is None:  # streamed (a large key bundle's way): Sigstore verifies the file whole
        try:
            data = path.read_bytes()
        except OSError as e:
            raise BundleError(f"{path}: cannot read: {e.strerror or e}") from e
    return verify_sigstore_dsse(data, label, policy.identities, policy.sigstore_root())


# The largest SBOM file parsed when it is not the signed one (only to tell malformed from
# mismatched; its digest was already compared).
MAX_UNSIGNED_SBOM_PARSED = 64 * 1024 * 1024


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # read_input words the error


def establish_trust(
    inputs: TrustInputs, *, expect: Expect | None = None, early: EarlyStart | None = None
) -> TrustOutcome:
    """Verify the signature(s) and return the expected state parsed from signed bytes only.

    Stages, each fail-closed: signatures -> threshold -> statement -> freshness.
    ``expect``: what the caller expects file lists to hold (sbom/packed.py); it may make
    reading the SBOM faster and never changes what is read. ``early``: work started before the
    CLI (observe.py), whose SBOM digest is used if the file is unchanged since.
    """
    _require_anchors(inputs)
    signatures = _default_signatures(inputs)
    sig_label = ", ".join(str(s) for s in signatures)
    # Only the SBOM file's digest is kept (a dataset's SBOM is tens of MB): the expected state
    # comes from the signed payload, and the file is read again only if it does not match.
    sbom_digest = _sbom_file_digest(inputs.sbom, early) if inputs.sbom is not None else None
    present = [p for p in signatures if p.is_file()]
    if not present:
        return TrustOutcome(None, _missing(signatures), signature=sig_label)
    verified, failures = _verify_signatures(present, inputs.policy, expect)
    failures += [
        Finding("signature-missing", str(p), "signature bundle not found", "a bundle", None)
        for p in signatures
        if not p.is_file()
    ]
    chosen_key, chosen, others, signers = _signers_of_one_sbom(verified, sbom_digest)
    if _count(chosen) < inputs.threshold or not chosen:
        if inputs.threshold > 1 or not failures:
            failures.append(_threshold_not_met(sig_label, _count(chosen), inputs.threshold))
        return TrustOutcome(None, tuple(failures), signers, sig_label)
    # Threshold met: bundles that failed are reported, but do not block (k-of-n tolerates them).
    warnings = tuple(
        Finding(f.rule, f.path, f.message, f.expected, f.actual, severity=Severity.WARNING)
        for f in failures
    ) + tuple(
        Finding(
            "subject-mismatch",
            v.source,
            "this signature is for a different SBOM and was not counted",
            severity=Severity.WARNING,
        )
        for v in others
    )
    return _accept(inputs, chosen[0], chosen_key, sbom_digest, signers, sig_label, warnings)


def _require_anchors(inputs: TrustInputs) -> None:
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


def _sbom_file_digest(sbom: Path, early: EarlyStart | None) -> str:
    from chainguard.observe import file_sha256

    digest = early.sbom_digest(sbom) if early is not None else None
    if digest is not None:
        return digest
    try:
        return file_sha256(sbom)
    except FileNotFoundError as e:
        raise SbomError(f"{sbom}: no such SBOM") from e
    except OSError as e:
        raise SbomError(f"{sbom}: cannot read SBOM: {e.strerror or e}") from e


def _missing(signatures: tuple[Path, ...]) -> tuple[Finding, ...]:
    return tuple(
        Finding(
            "signature-missing",
            str(p),
            "no signature bundle found; an unsigned SBOM proves nothing",
            expected="a signature bundle",
            actual=None,
        )
        for p in signatures
    )


def _verify_signatures(
    paths: list[Path], policy: TrustPolicy, expect: Expect | None
) -> tuple[list[_Verified], list[Finding]]:
    """Stage 1: every bundle on its own; one that does not verify contributes nothing."""
    verified: list[_Verified] = []
    failures: list[Finding] = []
    for path in paths:
        try:
            verified.append(_Verified(str(path), _verify_one(path, policy, expect)))
        except VerificationFailure as f:
            failures.append(Finding.of_failure(f, str(path)))
    return verified, failures


def _signers_of_one_sbom(
    verified: list[_Verified], sbom_digest: str | None
) -> tuple[str | None, list[_Verified], list[_Verified], tuple[str, ...]]:
    """Stage 2: signers only count together when they signed the very same SBOM bytes (its
    deployment subject digest): the group of the given SBOM, else the largest one."""
    groups: dict[str, list[_Verified]] = {}
    for v in verified:
        groups.setdefault(_sbom_digest_of(v.statement), []).append(v)
    chosen_key = sbom_digest if sbom_digest in groups else _largest_group(groups)
    chosen = groups.get(chosen_key or "", [])
    others = [v for k, group in groups.items() if k != chosen_key for v in group]
    signers = tuple(describe_signer(s) for s in _distinct(chosen).values())
    return chosen_key, chosen, others, signers


def _distinct(chosen: list[_Verified]) -> dict[str, Signer]:
    distinct: dict[str, Signer] = {}
    for v in chosen:
        for s in v.statement.signers:
            distinct.setdefault(_signer_id(s), s)
    return distinct


def _count(chosen: list[_Verified]) -> int:
    return len(_distinct(chosen))


def _threshold_not_met(where: str, count: int, threshold: int) -> Finding:
    return Finding(
        "threshold-not-met",
        where,
        f"{count} distinct trusted signer(s) signed this SBOM; "
        f"{threshold} required (unknown keys and duplicates do not count)",
        expected=str(threshold),
        actual=str(count),
    )


def _accept(
    inputs: TrustInputs,
    chosen: _Verified,
    signed_digest: str | None,
    sbom_digest: str | None,
    signers: tuple[str, ...],
    sig_label: str,
    warnings: tuple[Finding, ...],
) -> TrustOutcome:
    """Stages 3 and 4: the statement (a CycloneDX SBOM, matching the given file, its subjects
    and the pinned deployment), then freshness (expiry, rollback)."""
    from chainguard.sbom.read import read_sbom, read_sbom_document
    from chainguard.trust.statement import statement_of

    statement = statement_of(chosen.statement, chosen.source)
    if statement.predicate_type != CYCLONEDX_PREDICATE:
        wrong = Finding(
            "subject-mismatch",
            chosen.source,
            "the signature is not over a CycloneDX SBOM",
            expected=CYCLONEDX_PREDICATE,
            actual=statement.predicate_type,
        )
        return TrustOutcome(None, (wrong,), signers, sig_label)
    # The expected state always comes from the signed payload, as parsed (strictly) above.
    state = read_sbom_document(
        statement.predicate, signed_digest or "", f"{chosen.source} (signed SBOM)"
    )
    findings: list[Finding] = []
    if inputs.sbom is not None and sbom_digest is not None and sbom_digest != signed_digest:
        # A malformed SBOM file is bad input (exit 3), not a mismatch: parse it to tell,
        # but use nothing from it — the expected state comes from the signed payload only.
        # Parsed whole, JSON takes ~8 times its size: a larger file is a mismatch unparsed.
        if _file_size(inputs.sbom) <= MAX_UNSIGNED_SBOM_PARSED:
            read_sbom(read_input(inputs.sbom, "SBOM", SbomError), str(inputs.sbom))
        findings.append(
            Finding(
                "sbom-mismatch",
                str(inputs.sbom),
                "the SBOM file is not the one that was signed (edited after signing, or "
                "the signature belongs to another SBOM)",
                expected=f"sha256:{signed_digest}" if signed_digest else "a signed digest",
                actual=f"sha256:{sbom_digest}",
            )
        )
    findings.extend(subject_findings(state, chosen.statement, chosen.source))
    if inputs.deployment is not None and state.deployment.name != inputs.deployment:
        findings.append(
            Finding(
                "subject-mismatch",
                chosen.source,
                f"the signed SBOM is for deployment {state.deployment.name!r}, "
                f"not {inputs.deployment!r}",
                expected=inputs.deployment,
                actual=state.deployment.name,
            )
        )
    # Only a release that is otherwise acceptable may move the rollback mark.
    findings.extend(
        _freshness_findings(state, inputs, signed_digest or "", chosen.source, record=not findings)
    )
    warnings += _acceptance_warnings(state, inputs, chosen.source)
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
    return TrustSummary(
        source=inputs.source,
        config=str(inputs.config) if inputs.config else None,
        config_note=inputs.config_note,
        keys=tuple(keys),
        identities=tuple(
            TrustedIdentityAnchor(r.identity, r.issuer, r.repository, r.ref, r.regexp)
            for r in inputs.identities
        ),
        trusted_root=inputs.policy.root_label(),
        threshold=inputs.threshold,
        ignore=tuple(ignore),
        deployment=inputs.deployment,
        allow_expired=inputs.allow_expired,
        min_serial=inputs.min_serial,
        state=str(inputs.state_dir) if inputs.state_dir else None,
    )


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
