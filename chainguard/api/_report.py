"""Reports of the SBOM workflows, built in one place each: trusted, untrusted, a failure."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from chainguard.findings import Finding, Report, Stats
from chainguard.models import ExpectedState
from chainguard.trust.gate import TrustInputs, TrustOutcome, summarize


def untrusted_report(
    command: str,
    target: str,
    trust: TrustInputs,
    outcome: TrustOutcome,
    started: float,
    ignore: Sequence[str] = (),
) -> Report:
    return Report(
        command,
        target,
        outcome.findings,
        Stats(seconds=time.perf_counter() - started),
        sbom=str(trust.sbom) if trust.sbom else None,
        signature=outcome.signature,
        signers=outcome.signers,
        trust=summarize(trust, tuple(ignore)),
    )


def trusted_report(
    command: str,
    target: str,
    *,
    trust: TrustInputs,
    outcome: TrustOutcome,
    state: ExpectedState,
    findings: Sequence[Finding],
    stats: Stats,
    components: Sequence[str],
    ignore: Sequence[str] = (),
    roots: Sequence[tuple[str, Path]] = (),
) -> Report:
    """A report on a release whose signature was verified: what was signed, by whom, under
    which trust, and what differs. ``roots``: each compared component's local directory."""
    return Report(
        command,
        target,
        (*outcome.warnings, *findings),
        stats,
        sbom=str(trust.sbom) if trust.sbom else None,
        signature=outcome.signature,
        signers=outcome.signers,
        deployment=f"{state.deployment.name}@{state.deployment.version}",
        components=tuple(components),
        trust=summarize(trust, tuple(ignore)),
        sbom_digest=f"sha256:{state.sbom_sha256}" if state.sbom_sha256 else None,
        serial=state.deployment.serial,
        roots=tuple((ref, str(directory.absolute())) for ref, directory in roots),
    )
