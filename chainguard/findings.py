"""Findings: what verify reports. Rule ids are stable strings used by every reporter and doc."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainguard.errors import VerificationFailure


class Severity(str, Enum):
    ERROR = "error"  # fails verification
    WARNING = "warning"  # reported, does not fail verification
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    remediation: str
    severity: Severity = Severity.ERROR


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


# Every rule chainguard can raise. Reporters (SARIF rules, docs) are generated from this table;
# tests check that every rule used anywhere is listed here.
RULES: dict[str, Rule] = _rules(
    # --- signature and SBOM trust -------------------------------------------------------------
    Rule(
        "signature-missing",
        "No signature for the SBOM",
        "Sign the SBOM with `chainguard sign` and pass the bundle with --signature.",
    ),
    Rule(
        "signature-invalid",
        "Signature does not verify",
        "The SBOM or its signature was altered after signing; re-obtain both from the release.",
    ),
    Rule(
        "signature-untrusted",
        "Signed by a key or identity that is not trusted",
        "Pass the release public key with --key (or [trust] in chainguard.toml), or reject.",
    ),
    Rule(
        "signature-role-confusion",
        "A blob signature over bytes that are a DSSE pre-authentication encoding",
        "The same signature would pass as a signed SBOM statement: do not accept the blob, and "
        "give the key one role (a key that signs SBOMs signs nothing else). Rotate it if it "
        "signed such bytes.",
    ),
    Rule(
        "sbom-mismatch",
        "SBOM differs from the signed SBOM",
        "The SBOM file was edited after signing or belongs to another signature; "
        "use the SBOM that was signed.",
    ),
    Rule(
        "subject-mismatch",
        "Signed subjects do not match the SBOM components",
        "The signature covers a different deployment; use the matching SBOM and signature.",
    ),
    Rule(
        "threshold-not-met",
        "Too few distinct trusted signers",
        "Collect signatures from enough distinct trusted signers, or lower [trust].threshold.",
    ),
    Rule(
        "sbom-expired",
        "The signed SBOM has expired",
        "Build and sign a fresh SBOM, or pass --allow-expired for forensic runs.",
    ),
    Rule(
        "sbom-rollback",
        "The SBOM is older than one already accepted",
        "An older signed SBOM was presented (rollback); deploy the current release.",
    ),
    Rule(
        "deployment-unpinned",
        "No deployment is pinned: any release the trusted signers signed is accepted",
        "Pin the deployment with --deployment NAME (or `deployment =` in chainguard.toml) so a "
        "release signed for another deployment is refused.",
        Severity.WARNING,
    ),
    Rule(
        "component-inferred",
        "The component was chosen only because it is the only one of its kind",
        "Pass --component NAME to say which signed component this directory must be.",
        Severity.NOTE,
    ),
    Rule(
        "sbom-path-unsafe",
        "The SBOM names a path outside the artifact directory",
        "The signed SBOM is malicious or corrupt; do not deploy it.",
    ),
    # --- artifacts (models, datasets) --------------------------------------------------------
    Rule(
        "artifact-modified",
        "File content differs from the signed digest",
        "Restore the file from the signed release; investigate who changed it.",
    ),
    Rule(
        "artifact-missing",
        "File listed in the SBOM is missing",
        "Restore the missing file from the signed release.",
    ),
    Rule(
        "artifact-unexpected",
        "File present that the SBOM does not list",
        "Remove the file, or rebuild and re-sign the SBOM if it belongs to the release.",
    ),
    Rule(
        "artifact-renamed",
        "File content found under a different name",
        "Move the file back to its signed name; a rename can change which weights load.",
    ),
    Rule(
        "artifact-swapped",
        "Files hold each other's signed content",
        "Restore both files from the signed release; swapped weights change model behaviour.",
    ),
    Rule(
        "symlink-escape",
        "Symbolic link points outside the artifact directory",
        "Replace the link with the real file; links out of the tree bypass verification.",
    ),
    Rule(
        "special-file",
        "Special file (fifo, device, socket) in the artifact directory",
        "Remove it: only regular files can be verified.",
    ),
    Rule(
        "artifact-changed-during-verify",
        "File changed while it was being hashed",
        "Something is writing to the deployment; stop it and verify again.",
    ),
    Rule(
        "artifact-unreadable",
        "File cannot be read",
        "Fix permissions so the verifier can read every file.",
    ),
    Rule(
        "component-missing",
        "SBOM component not found",
        "Pass --component with a name from the SBOM, or check the deployment paths.",
    ),
    # --- dependencies --------------------------------------------------------------------------
    Rule(
        "dependency-missing",
        "Signed dependency is not present",
        "Install the pinned version from the signed lockfile.",
    ),
    Rule(
        "dependency-unexpected",
        "Dependency present that the SBOM does not list",
        "Remove it, or add it to the lockfile and re-sign the SBOM.",
    ),
    Rule(
        "dependency-version",
        "Dependency version differs from the signed pin",
        "Install the signed version; a claimed upgrade or patch must be re-signed.",
    ),
    Rule(
        "dependency-hash",
        "Dependency distribution hashes differ from the signed lock",
        "The lock now points at different artifacts; regenerate it from the signed release.",
    ),
    Rule(
        "installed-file-modified",
        "Installed file no longer matches its RECORD",
        "Reinstall the distribution (pip install --force-reinstall --no-deps).",
    ),
    Rule(
        "record-modified",
        "RECORD differs from the signed RECORD digest",
        "Files and RECORD were rewritten together; reinstall from a trusted index.",
    ),
    Rule(
        "installed-file-unexpected",
        "File in site-packages that no installed distribution's RECORD lists",
        "Remove it unless you put it there: a dropped-in .pth or module runs at every start.",
    ),
    # --- artifact safety -----------------------------------------------------------------------
    Rule(
        "unsafe-format",
        "A file's format is denied by policy",
        "Convert it to an allowed format (safetensors for weights) or change [formats] after "
        "review.",
    ),
    Rule(
        "unsafe-pickle",
        "A pickle imports something beyond what rebuilding tensors needs, or cannot be analysed",
        "Do not load it: pickles run code on load. Use safetensors; investigate where it came "
        "from.",
    ),
    Rule(
        "pickle-format",
        "A pickle-bearing file (imports only tensor-rebuilding globals)",
        "Prefer safetensors: a pickle still runs code on load.",
        Severity.WARNING,
    ),
    Rule(
        "malformed-artifact",
        "A model or data file breaks its format's rules",
        "Do not load it; re-obtain the file from the signed release.",
    ),
    Rule(
        "format-changed",
        "A file's format differs from the signed one",
        "Restore the signed file; a changed format can change what loading it does.",
    ),
    Rule(
        "mode-changed",
        "A file's setuid, setgid, sticky or execute bits differ from the signed ones",
        "Restore the signed mode (chmod) and find out who changed it: an execute or setuid bit "
        "appearing changes what the file can do.",
    ),
    Rule(
        "template-review",
        "A chat template uses constructs seen in template-injection exploits",
        "Review the template (CVE-2024-34359) before serving the model.",
        Severity.WARNING,
    ),
    # --- live processes --------------------------------------------------------------------------
    Rule(
        "loaded-artifact-replaced",
        "A running process has content that is not the signed content",
        "Restart the process on the verified files; it serves something other than what was "
        "signed.",
    ),
    Rule(
        "loaded-artifact-unexpected",
        "A running process has a file from a model root that the SBOM does not list",
        "Restart the process on the verified files; find what loaded the unsigned file.",
    ),
    Rule(
        "loaded-from-unverified-path",
        "A running process has native code no verified RECORD vouches for",
        "Restart the process from the verified environment; investigate the native module.",
    ),
    Rule(
        "process-exited",
        "The process exited while it was being checked",
        "Check the process again; a verdict needs it to be running.",
    ),
    Rule(
        "process-verified",
        "Whether a running process runs the signed weights, as far as /proc shows",
        "Nothing to do when it runs them; as a warning, the process has no weights file "
        "mapped or open, so /proc cannot tell which it loaded.",
        Severity.NOTE,
    ),
    # --- attestation ------------------------------------------------------------------------------
    Rule(
        "attestation-undelivered",
        "The signed attestation could not be delivered to the webhook",
        "It is kept and sent with the next run; check the receiver.",
        Severity.WARNING,
    ),
    Rule(
        "attestation-unpublished",
        "The signed attestation could not be pushed to the OCI registry (attest --publish)",
        "It is kept and pushed with the next run; check the registry and its credentials.",
        Severity.WARNING,
    ),
    # --- fleet status: a host's attestations in the OCI registry ---------------------------------
    Rule(
        "attestation-untrusted",
        "An attestation in the registry does not verify under the host's enrolled key",
        "It is never counted as the host's state. Someone altered the registry, or the host "
        "signs with another key than the one enrolled: find out which before re-enrolling.",
    ),
    Rule(
        "host-silent",
        "No trusted attestation from the host within --stale (or since --since)",
        "Check that the host's attest timer runs and can push to the registry; a host that "
        "stops attesting may be down or compromised.",
    ),
    Rule(
        "host-failed",
        "The host's newest trusted attestation is FAILED",
        "Its findings say what does not match the signed release; fix the host and attest again.",
    ),
    Rule(
        "registry-listing-truncated",
        "The repository holds more tags than fleet status reads: a host's newest attestation "
        "may be beyond the cut",
        "Prune old attestation tags (keep a retention window longer than --stale), or publish "
        "to one repository per part of the fleet.",
    ),
    Rule(
        "host-unenrolled",
        "Attestations in the registry from a host with no enrolled key",
        "Enroll the host (its host.pub as NAME.pub in the --host-keys directory) if it is "
        "yours; otherwise find out who pushes under that name.",
        Severity.NOTE,
    ),
    Rule(
        "cache-tampered",
        "Hash cache entries that the host key did not authenticate were ignored",
        "Someone without the host key edited the state store; the files were hashed again. "
        "Investigate.",
        Severity.WARNING,
    ),
    Rule(
        "drift",
        "What changed since the previous attest run: new, resolved and unchanged findings",
        "Nothing to do; new findings are reported on their own, resolved ones as finding-resolved.",
        Severity.NOTE,
    ),
    Rule(
        "finding-resolved",
        "A finding of the previous attest run is gone",
        "Nothing to do if the fix was intended; otherwise find out who changed the host.",
        Severity.NOTE,
    ),
    Rule(
        "coverage",
        "How much of a model or dataset was read this run (attest --incremental), and when "
        "the least recently read file was last read",
        "Nothing to do; full_rehash_every and dataset_sample bound how stale a measurement may be.",
        Severity.NOTE,
    ),
    # --- patch state, claims and advisories ----------------------------------------------------
    Rule(
        "patch-not-applied",
        "A patch the signed SBOM declares is not applied to what is deployed",
        "Deploy the patched artifact or version the requirement names; a host claiming the "
        "patch without it is lying or broken.",
    ),
    Rule(
        "patch-missing",
        "A required patch is not declared in the signed SBOM",
        "Deploy a release whose signed SBOM declares the patch (an older release cannot be used "
        "to dodge it).",
    ),
    Rule(
        "claim-mismatch",
        "A fact the host claims is not what was measured",
        "Treat the host's self-report as false: investigate the host and redeploy the signed "
        "release.",
    ),
    Rule(
        "claim-unverified",
        "A claimed fact this command cannot measure",
        "Check it with the command named in the message (e.g. verify deps --env or verify "
        "deployment).",
        Severity.WARNING,
    ),
    Rule(
        "claim-unavailable",
        "The host's claim could not be read",
        "Fix the claim source (file or status endpoint); a host that cannot state its claims "
        "does not pass.",
    ),
    Rule(
        "claim-consistent",
        "The host's claim is consistent with what was measured",
        "Nothing to do.",
        Severity.NOTE,
    ),
    Rule(
        "vex-contradicted",
        "A VEX statement says fixed, but the measured version is affected",
        "Upgrade to a fixed version, or withdraw the VEX statement.",
    ),
    Rule(
        "vex-not-affected",
        "A VEX statement says not affected for a version in an affected range",
        "Review the statement's justification; upgrade when it no longer holds.",
        Severity.WARNING,
    ),
    Rule(
        "known-vulnerability",
        "An installed dependency version is inside a known advisory's affected range",
        "Upgrade to the first fixed version the advisory names, and re-sign the release.",
    ),
    Rule(
        "bytecode-mismatch",
        "Bytecode Python would load is not a compilation of the verified source",
        "Delete the __pycache__ entry (or the .pyc) and reinstall the distribution; "
        "investigate who wrote it.",
    ),
    Rule(
        "bytecode-unchecked",
        "Unchecked hash-based .pyc: Python loads it without looking at the source",
        "Delete it, or recompile with --invalidation-mode checked-hash or timestamp.",
    ),
    Rule(
        "bytecode-orphan",
        "Bytecode without a source: Python imports it as a module",
        "Remove it unless the distribution's RECORD lists it; sourceless bytecode cannot be "
        "reviewed.",
    ),
    Rule(
        "dependency-unhashed",
        "Requirement is not pinned by hash",
        "Pin with --hash (pip-compile --generate-hashes / uv pip compile --generate-hashes).",
    ),
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One discrepancy: what, where, expected vs actual, and (via the rule) what to do."""

    rule: str
    path: str
    message: str
    expected: str | None = None
    actual: str | None = None
    component: str | None = None
    severity: Severity | None = None  # None: the rule's default

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule id {self.rule!r}")

    @classmethod
    def of_failure(cls, failure: VerificationFailure, where: str) -> Finding:
        """A signature that did not verify, as the finding that says so."""
        return cls(failure.rule, where, str(failure), failure.expected, failure.actual)

    @property
    def effective_severity(self) -> Severity:
        return self.severity or RULES[self.rule].severity

    @property
    def remediation(self) -> str:
        return RULES[self.rule].remediation


@dataclass(frozen=True, slots=True)
class Stats:
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class TrustedKeyAnchor:
    path: str
    fingerprint: str | None  # sha256 of the DER public key; None if it could not be read


@dataclass(frozen=True, slots=True)
class TrustedIdentityAnchor:
    identity: str
    issuer: str
    repository: str | None = None
    ref: str | None = None
    regexp: bool = False  # identity is a regular expression the whole SAN must match


@dataclass(frozen=True, slots=True)
class TrustSummary:
    """Everything that decided trust in one run, so a change of trust shows in every report."""

    source: str  # "command line", "config" or "none"
    config: str | None  # the config file that was read
    config_note: str | None = None  # why a config file was passed over
    keys: tuple[TrustedKeyAnchor, ...] = ()
    identities: tuple[TrustedIdentityAnchor, ...] = ()
    certificate_chains: tuple[str, ...] = ()
    trusted_root: str | None = None  # for Sigstore identities: a path, or the shipped instance
    threshold: int = 1
    ignore: tuple[str, ...] = ()
    deployment: str | None = None  # the pinned deployment name
    allow_expired: bool = False
    min_serial: int | None = None
    state: str | None = None  # rollback state directory
    policy: str | None = None  # the format policy applied, described (scan; not in JSON v2)


@dataclass(frozen=True, slots=True)
class Report:
    """The result of one verify run: everything a reporter needs and nothing else.

    ``error`` set means verification could not be done at all (exit 3): never ok.
    """

    command: str  # e.g. "verify model"
    target: str  # what was verified (a path, or a deployment name)
    findings: tuple[Finding, ...]
    stats: Stats = field(default_factory=Stats)
    sbom: str | None = None
    signature: str | None = None
    signers: tuple[str, ...] = ()  # human-readable verified signer descriptions
    deployment: str | None = None  # "name@version" from the signed SBOM
    components: tuple[str, ...] = ()  # components that were compared
    trust: TrustSummary | None = None
    sbom_digest: str | None = None  # sha256 of the signed SBOM
    serial: int | None = None  # the signed SBOM's release serial
    time: str | None = None  # RFC 3339 UTC, when the report was made
    host: str | None = None
    error: str | None = None
    # (component bom-ref, absolute local directory): where a component's relative finding paths
    # resolve (SARIF originalUriBaseIds). Not part of the JSON report (schema v2 is fixed).
    roots: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        if self.error is not None:
            return False
        return not any(f.effective_severity is Severity.ERROR for f in self.findings)
