"""Fleet status, the pure part: an artifact's manifest and signed attestation checked under
the host's enrolled key, and each host judged fresh, silent, failed or untrusted.

Nothing the registry says is believed on its own: the tag and the annotations only say which
artifacts to look at. The host's state comes from the VSA that verifies under its enrolled
public key (never a key the bundle carries), its time from the signed ``timeVerified``, its
result and drift from the signed predicate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from chainguard.findings import Finding, Severity
from chainguard.fleet.oci import DIGEST, OCI_MANIFEST
from chainguard.fleet.publish import BUNDLE_MEDIA_TYPE, VSA_ARTIFACT_TYPE
from chainguard.trust.keys import TrustedKey

SCHEMA = "chainguard.fleet/v1"
MAX_BUNDLE = 16 * 1024 * 1024  # a FAILED run with thousands of findings is a few MiB
MAX_CANDIDATES = 8  # newest tags looked at per enrolled host
MAX_SHOWN_FINDINGS = 100  # of one host's FAILED attestation
MAX_UNENROLLED_ROWS = 100
CLOCK_SKEW = timedelta(minutes=5)  # a signed time further ahead than this is not believed
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT = "https://in-toto.io/Statement/v1"


class Untrusted(Exception):
    """Why an artifact is not counted as its host's state (one line)."""


@dataclass(frozen=True, slots=True)
class HostFinding:
    """A finding as the host's signed VSA records it."""

    rule: str
    severity: str
    path: str
    component: str | None
    message: str

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "component": self.component,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Attestation:
    """One attestation that verified under its host's enrolled key: only signed content."""

    tag: str
    time: datetime
    result: str  # PASSED or FAILED
    deployment: str | None
    findings: tuple[HostFinding, ...]  # at most MAX_SHOWN_FINDINGS
    findings_total: int
    drift: tuple[int, int, int]  # new, resolved, unchanged
    log_entry: int | None


# ------------------------------------------------------------------------- one artifact


def bundle_of_manifest(data: bytes) -> tuple[str, int]:
    """The signed attestation's (digest, size) named by an artifact manifest, or Untrusted."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:  # RecursionError: nested too deep
        raise Untrusted(f"manifest is not JSON ({_short(str(e))})") from None
    if not isinstance(doc, dict):
        raise Untrusted("manifest is not a JSON object")
    if doc.get("mediaType", OCI_MANIFEST) != OCI_MANIFEST:
        raise Untrusted("manifest is not an OCI image manifest")
    if doc.get("artifactType") != VSA_ARTIFACT_TYPE:
        raise Untrusted(f"artifactType is not {VSA_ARTIFACT_TYPE}")
    layers = doc.get("layers")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        raise Untrusted("manifest does not have exactly one layer")
    layer = layers[0]
    digest, size = layer.get("digest"), layer.get("size")
    if layer.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise Untrusted(f"the layer is not a {BUNDLE_MEDIA_TYPE}")
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise Untrusted("the layer has no sha256 digest")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_BUNDLE:
        raise Untrusted(f"the layer size is not 1..{MAX_BUNDLE} bytes")
    return digest, size


def verify_attestation(host: str, key: TrustedKey, tag: str, bundle: bytes) -> Attestation:
    """The attestation in ``bundle`` if ``key`` signed it for ``host``; else Untrusted."""
    from chainguard.attest.vsa import VERIFIER_ID, VSA_PREDICATE_TYPE
    from chainguard.errors import InputError
    from chainguard.trust import dsse
    from chainguard.trust.bundle import read_bundle

    try:
        envelope = read_bundle(bundle, tag).envelope
    except InputError as e:
        raise Untrusted(f"not a Sigstore bundle ({_short(str(e))})") from None
    if envelope is None or envelope.payload_type != IN_TOTO_PAYLOAD:
        raise Untrusted("not a DSSE-signed in-toto statement")
    # The enrolled key only: the bundle's own verificationMaterial is never looked at.
    if not dsse.verify(envelope, [key]):
        raise Untrusted(f"not signed by {host}'s enrolled key {key.fingerprint[:16]}")
    statement = _object(_loads(envelope.payload), "statement")
    if statement.get("_type") != IN_TOTO_STATEMENT:
        raise Untrusted("not an in-toto v1 statement")
    if statement.get("predicateType") != VSA_PREDICATE_TYPE:
        raise Untrusted("not a SLSA verification summary")
    predicate = _object(statement.get("predicate"), "predicate")
    verifier = _object(predicate.get("verifier"), "verifier")
    if verifier.get("id") != VERIFIER_ID:
        raise Untrusted("not a chainguard attest verification summary")
    own = _object(predicate.get("chainguard"), "predicate.chainguard")
    signed_host = _object(own.get("host"), "host").get("hostname")
    if signed_host != host:
        raise Untrusted(f"signed for host {_short(str(signed_host), 64)!r}, not {host}")
    result = predicate.get("verificationResult")
    if result not in ("PASSED", "FAILED"):
        raise Untrusted("verificationResult is neither PASSED nor FAILED")
    when = _signed_time(predicate.get("timeVerified"))
    findings = own.get("findings")
    if not isinstance(findings, list):
        raise Untrusted("predicate.chainguard.findings is not a list")
    deployment = own.get("deployment")
    log = own.get("log")
    entry = log.get("entry") if isinstance(log, dict) else None
    return Attestation(
        tag,
        when,
        str(result),
        deployment if isinstance(deployment, str) else None,
        tuple(_host_finding(f) for f in findings[:MAX_SHOWN_FINDINGS]),
        len(findings),
        _drift(own.get("drift")),
        entry if isinstance(entry, int) and not isinstance(entry, bool) else None,
    )


def _loads(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as e:  # RecursionError: nested too deep
        raise Untrusted(f"the signed statement is not JSON ({_short(str(e))})") from None


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Untrusted(f"{what} is not a JSON object")
    return value


def _signed_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise Untrusted("timeVerified is missing")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Untrusted(f"timeVerified {_short(value, 40)!r} is not RFC 3339") from None
    if when.tzinfo is None:
        raise Untrusted("timeVerified has no time zone")
    try:
        return when.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 has no UTC datetime
        raise Untrusted(f"timeVerified {_short(value, 40)!r} is out of range") from None


def _host_finding(value: object) -> HostFinding:
    doc = value if isinstance(value, dict) else {}
    component = doc.get("component")
    return HostFinding(
        _short(str(doc.get("rule", "?")), 80),
        _short(str(doc.get("severity", "?")), 16),
        _short(str(doc.get("path", "")), 300),
        _short(component, 200) if isinstance(component, str) else None,
        _short(str(doc.get("message", "")), 500),
    )


def _drift(value: object) -> tuple[int, int, int]:
    doc = value if isinstance(value, dict) else {}
    new, resolved, unchanged = doc.get("new"), doc.get("resolved"), doc.get("unchanged")
    return (
        len(new) if isinstance(new, list) else 0,
        len(resolved) if isinstance(resolved, list) else 0,
        unchanged if isinstance(unchanged, int) and not isinstance(unchanged, bool) else 0,
    )


def _short(text: str, limit: int = 200) -> str:
    """One printable line: what a host or registry wrote reaches terminals and Markdown."""
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


# ---------------------------------------------------------------------------- the fleet


@dataclass(frozen=True, slots=True)
class Evidence:
    """What was found for one enrolled host: the attestations that verified and the
    artifacts that did not (tag, why)."""

    trusted: tuple[Attestation, ...] = ()
    untrusted: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class HostRow:
    host: str
    enrolled: bool
    state: str  # passing, failed, silent, unenrolled
    latest: Attestation | None  # the newest trusted attestation (since --since)
    untrusted: int  # artifacts looked at that did not verify
    tags: int = 0  # for an unenrolled host: how many tags name it


@dataclass(frozen=True, slots=True)
class FleetStatus:
    registry: str
    time: datetime
    stale: timedelta
    since: datetime | None
    rows: tuple[HostRow, ...]
    findings: tuple[Finding, ...]
    tags_listed: int
    tags_truncated: bool

    @property
    def ok(self) -> bool:
        return not any(f.effective_severity is Severity.ERROR for f in self.findings)


def judge(
    registry: str,
    evidence: Mapping[str, Evidence],
    unenrolled: Mapping[str, int],
    *,
    now: datetime,
    stale: timedelta,
    since: datetime | None,
    tags_listed: int,
    tags_truncated: bool,
) -> FleetStatus:
    """One row per enrolled host (``evidence``'s keys), then one per unenrolled name."""
    rows: list[HostRow] = []
    findings: list[Finding] = []
    for host in sorted(evidence):
        found = evidence[host]
        trusted: list[Attestation] = []
        untrusted = list(found.untrusted)
        for a in found.trusted:
            if a.time > now + CLOCK_SKEW:
                untrusted.append((a.tag, f"signed time {_stamp(a.time)} is in the future"))
            elif since is None or a.time >= since:
                trusted.append(a)
        for tag, why in untrusted:
            findings.append(
                Finding(
                    "attestation-untrusted",
                    tag,
                    f"{host}: attestation {tag} is not counted: {why}",
                    expected=f"signed by {host}'s enrolled key",
                    actual=why,
                    component=host,
                )
            )
        latest = max(trusted, key=lambda a: (a.time, a.log_entry or 0), default=None)
        if latest is None or now - latest.time > stale:
            state = "silent"
            findings.append(_silent(host, latest, now, stale, since))
        elif latest.result == "FAILED":
            state = "failed"
            findings.append(
                Finding(
                    "host-failed",
                    latest.tag,
                    f"{host}: attestation of {_stamp(latest.time)} is FAILED with "
                    f"{latest.findings_total} finding(s)"
                    + (f": {_rules_of(latest)}" if latest.findings else ""),
                    expected="PASSED",
                    actual="FAILED",
                    component=host,
                )
            )
        else:
            state = "passing"
        rows.append(HostRow(host, True, state, latest, len(untrusted)))
    for host in sorted(unenrolled)[:MAX_UNENROLLED_ROWS]:
        rows.append(HostRow(host, False, "unenrolled", None, 0, unenrolled[host]))
        findings.append(
            Finding(
                "host-unenrolled",
                host,
                f"{host}: {unenrolled[host]} attestation(s) in the registry, no enrolled key "
                "(not verified, not counted)",
                component=host,
            )
        )
    if tags_truncated:
        findings.append(
            Finding(
                "registry-listing-truncated",
                registry,
                f"the tag listing was cut at {tags_listed} tags (an enrolled host's own tags "
                "included): newer attestations may be beyond the cut, so no host's state is "
                "certain",
            )
        )
    return FleetStatus(
        registry, now, stale, since, tuple(rows), tuple(findings), tags_listed, tags_truncated
    )


def _silent(
    host: str, latest: Attestation | None, now: datetime, stale: timedelta, since: datetime | None
) -> Finding:
    if latest is None:
        window = f"since {_stamp(since)}" if since is not None else "in the registry"
        return Finding(
            "host-silent",
            host,
            f"{host}: no trusted attestation {window}",
            expected=f"an attestation within {_age(stale)}",
            actual="none",
            component=host,
        )
    return Finding(
        "host-silent",
        latest.tag,
        f"{host}: newest trusted attestation is {_age(now - latest.time)} old "
        f"({_stamp(latest.time)}), older than {_age(stale)}",
        expected=f"an attestation within {_age(stale)}",
        actual=_stamp(latest.time),
        component=host,
    )


def _rules_of(a: Attestation) -> str:
    rules = sorted({f.rule for f in a.findings if f.severity == Severity.ERROR.value})
    shown = rules or sorted({f.rule for f in a.findings})
    return ", ".join(shown[:10])


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if (seconds >= size and seconds % size == 0) or seconds >= 10 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def candidates(tags: Sequence[tuple[str, datetime, int]]) -> list[str]:
    """The newest MAX_CANDIDATES of one host's (tag, tag time, seq), newest first."""
    ordered = sorted(tags, key=lambda t: (t[1], t[2]), reverse=True)
    return [t[0] for t in ordered[:MAX_CANDIDATES]]


__all__ = [
    "SCHEMA",
    "Attestation",
    "Evidence",
    "FleetStatus",
    "HostRow",
    "Untrusted",
    "bundle_of_manifest",
    "candidates",
    "judge",
    "verify_attestation",
]
