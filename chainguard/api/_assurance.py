"""Checks beyond the signed SBOM, run on what a verify measured: the patches the SBOM declares
(and the ones policy requires), the host's own claims, VEX statements and offline advisories.

Each kind has one module (chainguard/patches.py, claims.py, advisories/); this only says which
run when. The measurement is never replaced by a claim: a claim is compared with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chainguard.findings import Finding
from chainguard.models import Measured

CLAIM_TIMEOUT_S = 5.0
CLAIM_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Assurance:
    """What the operator asks a verify to check beyond the signed SBOM."""

    require_patches: tuple[str, ...] = ()  # patch ids the signed SBOM must declare
    claim: str | None = None  # the host's claim: a JSON file, or an http(s):// status URL
    claim_timeout: float = CLAIM_TIMEOUT_S  # seconds, to connect and to read each
    claim_max_bytes: int = CLAIM_MAX_BYTES
    claim_env_proxy: bool = False  # reach the claim URL through the environment's proxy
    vex: tuple[Path, ...] = ()  # OpenVEX / CycloneDX VEX documents
    advisories: Path | None = None  # a directory or zip of OSV records


NO_ASSURANCE = Assurance()


def assurance_findings(assurance: Assurance, measured: Measured) -> list[Finding]:
    """Every finding of the checks beyond the SBOM, in a stable order: patches, the claim,
    then VEX and advisories."""
    from chainguard.patches import patch_findings

    findings = patch_findings(measured, assurance.require_patches)
    if assurance.claim is not None:
        from chainguard.claims import check_claim

        findings += check_claim(
            assurance.claim,
            measured,
            timeout=assurance.claim_timeout,
            max_bytes=assurance.claim_max_bytes,
            env_proxy=assurance.claim_env_proxy,
        )
    if assurance.vex or assurance.advisories is not None:
        from chainguard.advisories import advisory_findings

        findings += advisory_findings(measured, vex=assurance.vex, advisories=assurance.advisories)
    return findings
