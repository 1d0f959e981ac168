"""The SLSA Verification Summary Attestation of one attest run (an in-toto Statement v1).

https://slsa.dev/spec/v1.0/verification_summary: who verified (``verifier.id``), when, which
resource, against which policy (the config, by digest), from which inputs (the signed SBOM and
its bundle, by digest), and the result. What SLSA leaves open chainguard puts under
``predicate.chainguard``: the findings, the host, the drift and the log's chain head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chainguard.attest.drift import Drift
from chainguard.findings import Report, Severity
from chainguard.models import Subject
from chainguard.trust.statement import build_statement

VSA_PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "urn:chainguard:verifier:attest"  # with the version in verifier.version
# Not a SLSA build level: what a PASSED run verified (SLSA allows levels of other frameworks).
VERIFIED_LEVEL = "CHAINGUARD_DEPLOYMENT_MATCHES_SIGNED_SBOM"


@dataclass(frozen=True, slots=True)
class Input:
    """A file the verdict depends on, by digest."""

    path: Path
    sha256: str

    def as_json(self) -> dict[str, object]:
        return {"uri": self.path.resolve().as_uri(), "digest": {"sha256": self.sha256}}


@dataclass(frozen=True, slots=True)
class HostIdentity:
    hostname: str
    machine_id: str | None  # /etc/machine-id, when there is one
    key_fingerprint: str  # the host key's (sha256 of its DER public key)

    def as_json(self) -> dict[str, object]:
        return {
            "hostname": self.hostname,
            "machineId": self.machine_id,
            "keyFingerprint": self.key_fingerprint,
        }


def host_identity(key_fingerprint: str) -> HostIdentity:
    import socket

    machine_id = None
    for candidate in (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")):
        try:
            machine_id = candidate.read_text(encoding="ascii").strip() or None
        except (OSError, UnicodeDecodeError):
            continue
        if machine_id:
            break
    return HostIdentity(socket.gethostname(), machine_id, key_fingerprint)


def verification_result(report: Report) -> str:
    return "PASSED" if report.ok else "FAILED"


def build_vsa(
    report: Report,
    *,
    time_verified: str,
    policy: Input,
    inputs: Sequence[Input],
    subject_sha256: str,
    host: HostIdentity,
    drift: Drift,
    log_seq: int,
    log_previous: str | None,
    version: str,
) -> bytes:
    """The statement bytes to sign. The subject is the deployment, by its signed SBOM's digest."""
    deployment = report.deployment or report.target
    name = deployment.partition("@")[0]
    passed = report.ok
    predicate: dict[str, object] = {
        "verifier": {"id": VERIFIER_ID, "version": {"chainguard": version}},
        "timeVerified": time_verified,
        "resourceUri": f"urn:chainguard:host:{host.hostname}:deployment:{name}",
        "policy": policy.as_json(),
        "inputAttestations": [i.as_json() for i in inputs],
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [VERIFIED_LEVEL] if passed else [],
        "chainguard": {
            "deployment": deployment,
            "sbomSerial": report.serial,
            "host": host.as_json(),
            "findings": [
                {
                    "rule": f.rule,
                    "severity": f.effective_severity.value,
                    "path": f.path,
                    "component": f.component,
                    "message": f.message,
                }
                for f in report.findings
            ],
            "counts": severity_counts(report),
            "drift": drift.as_json(),
            # The chain head before this run's entry; this run's entry is number logEntry.
            "log": {"entry": log_seq, "previousHead": log_previous},
        },
    }
    subjects = [Subject(f"deployment:{name}", (("sha256", subject_sha256),))]
    return build_statement(subjects, VSA_PREDICATE_TYPE, predicate)


def severity_counts(report: Report) -> dict[str, int]:
    counts = {s.value: 0 for s in Severity}
    for f in report.findings:
        counts[f.effective_severity.value] += 1
    return counts
