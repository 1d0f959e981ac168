"""verify blob: one file against a signature bundle (key or Sigstore), offline."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from chainguard.findings import Finding, Report, Stats
from chainguard.models import IdentityRule


def verify_blob(
    artifact: Path,
    bundle: Path,
    *,
    keys: Sequence[Path] = (),
    identities: Sequence[IdentityRule] = (),
    trusted_root: Path | None = None,
    staging: bool = False,
) -> Report:
    """Verify one file against a signature bundle: with trusted keys, or Sigstore identities.

    Key bundles: DSSE statements (``chainguard sign``) or message signatures (cosign
    ``sign-blob --key``); with ``trusted_root`` too, the bundle's transparency-log entries and
    timestamps must verify against that root (the key verifies the signature). Sigstore
    bundles are verified offline against the production root (default), the staging root
    (``staging``) or ``trusted_root``. ``identities`` are OR-ed.
    A signature or digest mismatch is a finding (exit 1); unreadable input raises.
    """
    from chainguard.errors import BundleError, VerificationFailure, read_input
    from chainguard.trust.blob import require_file, verify_key_artifact
    from chainguard.trust.gate import describe_signer
    from chainguard.trust.policy import TrustPolicy

    started = time.perf_counter()
    policy = TrustPolicy(
        keys=tuple(keys), identities=tuple(identities), trusted_root=trusted_root, staging=staging
    )
    kind = policy.require_one_kind("a blob", ("keys", "identities"), keys_with_root=True)
    size = require_file(artifact)
    bundle_bytes = read_input(bundle, "signature bundle", BundleError)
    findings: tuple[Finding, ...] = ()
    signers: tuple[str, ...] = ()
    label = str(bundle)
    try:
        if kind == "keys":
            root = policy.sigstore_root() if trusted_root is not None else None
            signer = verify_key_artifact(artifact, bundle_bytes, label, policy.trusted_keys(), root)
        else:
            from chainguard.trust.sigstore import verify_sigstore_artifact

            signer = verify_sigstore_artifact(
                artifact, bundle_bytes, label, policy.identities, policy.sigstore_root()
            )
        signers = (describe_signer(signer),)
    except VerificationFailure as failure:
        where = str(artifact) if failure.rule == "subject-mismatch" else label
        findings = (Finding.of_failure(failure, where),)
    return Report(
        "verify blob",
        str(artifact),
        findings,
        Stats(1, size, time.perf_counter() - started),
        signature=label,
        signers=signers,
    )
