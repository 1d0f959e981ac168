"""attest: verify the deployment as ``verify deployment`` does, then sign what was seen (a
SLSA Verification Summary Attestation under the host key), append it to the attestation log,
and tell whoever listens (--attestation file, Prometheus metrics, a webhook)."""

from __future__ import annotations

import hashlib
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.api._assurance import NO_ASSURANCE, Assurance
from chainguard.api._common import password, write_atomic
from chainguard.api.deployment import DeploymentCheck, check_deployment
from chainguard.attest.cache import DEFAULT_FULL_REHASH_EVERY, HashCache
from chainguard.attest.drift import Drift, compute_drift, drift_findings, finding_keys
from chainguard.attest.log import (
    LOG_ENTRY_TYPE,
    AttestationLog,
    StoredEntry,
    run_lock,
    sha256_hex,
)
from chainguard.attest.vsa import Input
from chainguard.attest.webhook import DeliveryPolicy
from chainguard.collectors.pidspec import NotRunning
from chainguard.errors import ChainguardError, ConfigError, InputError, KeyFileError
from chainguard.findings import Finding, Report
from chainguard.models import Progress, default_signature
from chainguard.trust.gate import TrustInputs

if TYPE_CHECKING:
    from chainguard.api.live_process import WatchedProcess
    from chainguard.fleet.publish import PublishTarget
from chainguard.trust.keys import SigningKey

HOST_KEY_PREFIX = "host"  # <state>/host.key and host.pub, made on the first run
DEFAULT_LOCK_TIMEOUT = 60.0  # seconds a second run waits for the first


@dataclass(frozen=True, slots=True)
class AttestOptions:
    """What one attest run does beyond verifying. ``host_key`` None: ``<state>/host.key``,
    created (0600, ECDSA P-256) on the first run; a named key must exist. With
    ``incremental``, the hash cache re-reads everything every ``full_rehash_every`` seconds
    and a ``dataset_sample`` fraction of each dataset on every run. ``max_read_rate``: bytes
    per second the hashing may read. ``low_priority``: lower this process's CPU and I/O
    priority first (hashing_throttle.lower_priority; the process keeps it afterwards)."""

    state_dir: Path
    host_key: Path | None = None
    attestation: Path | None = None
    metrics_file: Path | None = None
    webhook: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    incremental: bool = False
    full_rehash_every: float = DEFAULT_FULL_REHASH_EVERY
    dataset_sample: float = 0.0
    max_read_rate: int | None = None
    low_priority: bool = False
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    # the name the attestation is signed and published under (None: the machine's hostname)
    host: str | None = None
    publish: PublishTarget | None = None  # push each attestation to this OCI repository


@dataclass(frozen=True, slots=True)
class AttestResult:
    # the verify report, plus attestation-undelivered when the webhook failed, then the notes:
    # drift, finding-resolved and (incremental) coverage
    report: Report
    seq: int  # this run's log entry
    entry_digest: str  # the new chain head
    attestation: bytes  # the signed VSA: a Sigstore bundle v0.3 (DSSE, in-toto)
    drift: Drift
    undelivered: tuple[int, ...]  # log entries whose attestation the webhook has not taken
    created_host_key: Path | None  # the public key, when this run created the host key


def attest(
    *,
    trust: TrustInputs,
    config: Path,
    options: AttestOptions,
    models: Sequence[tuple[str, Path]] = (),
    datasets: Sequence[tuple[str, Path]] = (),
    locks: Sequence[Path] = (),
    environments: Sequence[Path] = (),
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
    assurance: Assurance = NO_ASSURANCE,
    processes: Sequence[str] = (),
) -> AttestResult:
    """One attest run, holding the state directory's run lock throughout. Verification
    problems are findings (the attestation says FAILED); an exception means nothing was
    attested, and the metrics file (if any) then says ``error``.

    ``processes``: the live servers to check after the disk verify, as verify process does
    (collectors/pidspec.py: a PID file, ``systemd:UNIT`` or a PID); one that is not running
    is a ``process-exited`` finding."""

    started = time.perf_counter()
    if options.low_priority:
        from chainguard.hashing_throttle import lower_priority

        lower_priority()
    state = prepare_state_dir(options.state_dir)
    key, key_path, created = load_host_key(state, options.host_key)
    with run_lock(state, options.lock_timeout), AttestationLog(state) as log:
        try:
            report, coverage = _verify(
                trust,
                models,
                datasets,
                locks,
                environments,
                ignore,
                progress,
                assurance,
                processes,
                hash_cache_key=key_path if options.incremental else None,
                state=state,
                options=options,
            )
        except ChainguardError:
            if options.metrics_file is not None:
                _metrics(options.metrics_file, None, (), 0, started, log.length(), 0)
            raise
        report, drift, attestation, stored = _sign_and_append(
            log, report, trust=trust, config=config, key=key, options=options
        )
        if options.attestation is not None:
            write_atomic(options.attestation, attestation, overwrite=True)
        undelivered, report = _deliver(log, options, report)
        report = _publish(log, options, report)
        if options.metrics_file is not None:
            _metrics(
                options.metrics_file,
                report.ok,
                report.findings,
                report.stats.bytes,
                started,
                log.length(),
                len(undelivered),
            )
        # after the keys, the attestation and the metrics: notes about this run, not findings
        # a later run compares with
        notes = (*drift_findings(drift, str(log.path)), *coverage)
        report = replace(report, findings=(*report.findings, *notes))
    return AttestResult(
        report, stored.seq, stored.digest, attestation, drift, tuple(undelivered), created
    )


def _sign_and_append(
    log: AttestationLog,
    report: Report,
    *,
    trust: TrustInputs,
    config: Path,
    key: SigningKey,
    options: AttestOptions,
) -> tuple[Report, Drift, bytes, StoredEntry]:
    """The verification summary attestation of ``report`` (with the drift since the log's
    head), signed with the host key, and its entry appended to the log in one transaction."""
    from chainguard import __version__
    from chainguard.attest.vsa import build_vsa, host_identity, severity_counts

    head = log.head()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    host = host_identity(key.fingerprint)
    if options.host is not None:
        host = replace(host, hostname=options.host)
    report = replace(report, time=when, host=host.hostname)
    keys = finding_keys(report.findings)
    drift = compute_drift(head.findings if head else None, head.seq if head else None, keys)
    inputs = _inputs(trust)
    if not inputs:
        raise InputError(f"{trust.sbom}: no signed SBOM to attest")
    statement = build_vsa(
        report,
        time_verified=when,
        policy=Input(config, _sha256_file(config)),
        inputs=inputs,
        subject_sha256=inputs[0].sha256,  # the SBOM file: the bytes that were signed
        host=host,
        drift=drift,
        log_seq=(head.seq if head else 0) + 1,
        log_previous=head.digest if head else None,
        version=__version__,
    )
    attestation = sign_bundle(statement, "application/vnd.in-toto+json", key)
    entry: dict[str, object] = {
        "time": when,
        "attestation": sha256_hex(attestation),
        "result": "PASSED" if report.ok else "FAILED",
        "counts": severity_counts(report),
        "drift": drift.counts(),
        "findings": [list(k) for k in keys],
        "deployment": report.deployment or report.target,
        "sbom": report.sbom_digest,
        "host": host.hostname,
        "key": key.fingerprint,
    }
    stored = log.append(
        entry,
        attestation,
        lambda data: sign_bundle(data, LOG_ENTRY_TYPE, key),
        previous=head,
        deliver=options.webhook is not None,
        publish=options.publish is not None,
    )
    return report, drift, attestation, stored


def _verify(
    trust: TrustInputs,
    models: Sequence[tuple[str, Path]],
    datasets: Sequence[tuple[str, Path]],
    locks: Sequence[Path],
    environments: Sequence[Path],
    ignore: Sequence[str],
    progress: Progress | None,
    assurance: Assurance,
    processes: Sequence[str],
    *,
    hash_cache_key: Path | None,
    state: Path,
    options: AttestOptions,
) -> tuple[Report, list[Finding]]:
    """The verify report (the disk, then each process) and, with the hash cache, its
    ``coverage`` notes."""
    # opened before the disk verify: a file that changes during it is then not trusted
    watched = [(spec, _watch(spec)) for spec in processes]

    def run(cache: HashCache | None = None) -> DeploymentCheck:
        return check_deployment(
            trust=trust,
            models=models,
            datasets=datasets,
            locks=locks,
            environments=environments,
            ignore=ignore,
            progress=progress,
            assurance=assurance,
            hash_cache=cache,
            max_read_rate=options.max_read_rate,
        )

    coverage: list[Finding] = []
    if hash_cache_key is None:
        check = run()
    else:
        from chainguard.attest.cache import open_hash_cache

        with open_hash_cache(
            state,
            hash_cache_key,
            options.full_rehash_every,
            dataset_sample=options.dataset_sample,
        ) as cache:
            check = run(cache)
        coverage = cache.coverage_findings()  # after the run is recorded and the cache closed
    return _with_processes(check, watched, trust, environments, ignore), coverage


def _watch(spec: str) -> WatchedProcess | NotRunning:
    """The process a configured server is now, opened; or why it is not running. What cannot
    be looked at (no permission, not Linux, no systemctl) raises: exit 3."""
    from chainguard.api.live_process import watch_process
    from chainguard.collectors import procfs
    from chainguard.collectors.pidspec import resolve_spec
    from chainguard.errors import ProcessError

    pid = resolve_spec(spec)
    if isinstance(pid, NotRunning):
        return pid
    try:
        return watch_process(pid)
    except ProcessError:
        if (procfs.PROC / "self").is_dir() and not (procfs.PROC / str(pid)).exists():
            return NotRunning(f"process {pid} does not exist")
        raise


def _with_processes(
    check: DeploymentCheck,
    watched: Sequence[tuple[str, WatchedProcess | NotRunning]],
    trust: TrustInputs,
    environments: Sequence[Path],
    ignore: Sequence[str],
) -> Report:
    """The deployment report with each configured process's findings added."""
    from chainguard.api.live_process import check_process

    report = check.report
    if not watched or check.state is None:  # not trusted: nothing to hold a process against
        return report
    started = time.perf_counter()
    found: list[Finding] = []
    hashed = 0
    for spec, process in watched:
        if isinstance(process, NotRunning):
            found.append(
                Finding(
                    "process-exited",
                    spec,
                    f"configured server {spec} is not running ({process.reason}): no verdict "
                    "on what it serves",
                    expected="a running process",
                    actual="not running",
                )
            )
            continue
        more, n = check_process(
            process, check, trust=trust, environments=environments, ignore=ignore
        )
        found += more
        hashed += n
    stats = report.stats
    seconds = stats.seconds + time.perf_counter() - started
    return replace(
        report,
        findings=(*report.findings, *found),
        stats=replace(stats, bytes=stats.bytes + hashed, seconds=seconds),
    )


# ------------------------------------------------------------------ the state directory, the key


def prepare_state_dir(directory: Path) -> Path:
    """Create the state directory (0700) and refuse one others could write to."""
    from chainguard.config import check_permissions
    from chainguard.errors import StateError

    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise StateError(
            f"{directory}: cannot create the state directory: {e.strerror or e}"
        ) from e
    check_permissions(directory, "state directory")
    return directory


def load_host_key(state: Path, explicit: Path | None) -> tuple[SigningKey, Path, Path | None]:
    """The host's signing key, its path, and the public key's path when it was just created.

    Only the default ``<state>/host.key`` is ever created: a named key that is missing is an
    error (a typo must not mint a new host identity)."""
    from chainguard.config import check_permissions
    from chainguard.trust.keys import generate_keypair, load_private_key

    created = None
    path = explicit or state / f"{HOST_KEY_PREFIX}.key"
    if explicit is None and not path.exists() and not path.is_symlink():
        _, created = generate_keypair(state / HOST_KEY_PREFIX, "ecdsa-p256", password())
    elif not path.exists():
        raise KeyFileError(
            f"{path}: no such host key; create one with `chainguard keygen PREFIX` (or leave "
            "host_key unset: the first run creates <state>/host.key)"
        )
    check_permissions(path, "host key")
    mode = path.stat().st_mode
    if mode & (stat.S_IROTH | stat.S_IRGRP):
        raise ConfigError(
            f"{path}: refusing host key: readable by others (mode {stat.S_IMODE(mode):04o}), "
            f"so they could sign as this host; fix: chmod 600 {path}"
        )
    return load_private_key(path, password()), path, created


def sign_bundle(payload: bytes, payload_type: str, key: SigningKey) -> bytes:
    """DSSE in a Sigstore bundle v0.3: the same signing code as ``chainguard sign``."""
    from chainguard.trust.bundle import key_bundle_json
    from chainguard.trust.dsse import sign

    return key_bundle_json(sign(payload, payload_type, key), key.trusted_key)


# ---------------------------------------------------------------------------------- the rest


def _sha256_file(path: Path) -> str:
    from chainguard.errors import read_input

    return hashlib.sha256(read_input(path, "config file")).hexdigest()


def _inputs(trust: TrustInputs) -> list[Input]:
    """The signed SBOM and its bundle(s), by digest (those that exist: a missing bundle is a
    finding of the verify, not a reason to attest nothing)."""
    paths = [trust.sbom] if trust.sbom else []
    paths += list(trust.signatures) or ([default_signature(trust.sbom)] if trust.sbom else [])
    found: list[Input] = []
    for p in paths:
        try:
            found.append(Input(p, hashlib.sha256(p.read_bytes()).hexdigest()))
        except OSError:
            continue
    return found


def _deliver(
    log: AttestationLog, options: AttestOptions, report: Report
) -> tuple[list[int], Report]:
    """Send every attestation the webhook has not taken, this run's last; what is left is
    kept and reported (a warning: verification itself is not in question)."""
    from chainguard.attest.webhook import deliver_pending

    if options.webhook is None:
        return [], report
    left, reason = deliver_pending(
        options.webhook, log.undelivered(), log.delivered, options.delivery
    )
    if not left:
        return [], report
    finding = Finding(
        "attestation-undelivered",
        _shown_url(options.webhook),
        f"{len(left)} signed attestation(s) not delivered ({reason}); kept in the state "
        "store and sent with the next run",
        expected="a 2xx answer",
        actual=reason,
    )
    return left, replace(report, findings=(*report.findings, finding))


def _publish(log: AttestationLog, options: AttestOptions, report: Report) -> Report:
    """Push every attestation the registry does not have yet, this run's last; what is left
    is kept and reported, as the webhook's (fleet/publish.py)."""
    from chainguard.fleet.publish import default_host_name, publish_pending

    target = options.publish
    if target is None:
        return report
    left, reason = publish_pending(
        target.connect, options.host or default_host_name(), log.unpublished(), log.published
    )
    if not left:
        return report
    finding = Finding(
        "attestation-unpublished",
        str(target.ref),
        f"{len(left)} signed attestation(s) not pushed ({reason}); kept in the state store "
        "and pushed with the next run",
        expected="pushed to the registry",
        actual=reason,
    )
    return replace(report, findings=(*report.findings, finding))


def _shown_url(url: str) -> str:
    """scheme://host[:port]/path: never a password or token from the URL in a report."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _metrics(
    path: Path,
    passed: bool | None,
    findings: Sequence[Finding],
    nbytes: int,
    started: float,
    length: int,
    undelivered: int,
) -> None:
    from chainguard.attest.metrics import RunMetrics, write_metrics

    write_metrics(
        path,
        RunMetrics(
            time.time(),
            passed,
            tuple(findings),
            nbytes,
            time.perf_counter() - started,
            length,
            undelivered,
        ),
    )


def check_webhook(url: str | None) -> str | None:
    from chainguard.attest.webhook import check_url

    return None if url is None else check_url(url)


__all__ = ["AttestOptions", "AttestResult", "attest", "check_webhook"]
