"""Prometheus text for node_exporter's textfile collector, rendered by prometheus-client."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from chainguard.errors import OutputError
from chainguard.findings import Finding


@dataclass(frozen=True, slots=True)
class RunMetrics:
    finished_at: float  # unix time
    passed: bool | None  # None: could not verify
    findings: tuple[Finding, ...]
    bytes_hashed: int
    duration_seconds: float
    log_length: int
    undelivered: int


def render(run: RunMetrics) -> bytes:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()

    def gauge(name: str, doc: str, value: float) -> None:
        Gauge(name, doc, registry=registry).set(value)

    gauge(
        "chainguard_attest_last_run_timestamp_seconds",
        "When the last chainguard attest run finished (unix time)",
        run.finished_at,
    )
    result = Gauge(
        "chainguard_attest_result",
        "Result of the last run: 1 for the result it had (passed, failed, error)",
        ["result"],
        registry=registry,
    )
    outcome = "error" if run.passed is None else "passed" if run.passed else "failed"
    for name in ("passed", "failed", "error"):
        result.labels(name).set(1 if name == outcome else 0)
    by_rule = Gauge(
        "chainguard_attest_findings",
        "Findings of the last run by rule and severity",
        ["rule", "severity"],
        registry=registry,
    )
    counts = Counter((f.rule, f.effective_severity.value) for f in run.findings)
    for (rule, severity), n in sorted(counts.items()):
        by_rule.labels(rule, severity).set(n)
    gauge("chainguard_attest_bytes_hashed", "Bytes hashed by the last run", run.bytes_hashed)
    gauge("chainguard_attest_duration_seconds", "Duration of the last run", run.duration_seconds)
    gauge("chainguard_attest_log_entries", "Entries in the attestation log", run.log_length)
    gauge(
        "chainguard_attest_undelivered",
        "Signed attestations the webhook has not acknowledged yet",
        run.undelivered,
    )
    return generate_latest(registry)


def write_metrics(path: Path, run: RunMetrics) -> None:
    """Replace ``path`` in one step: the collector never reads half a file (the temporary
    file's name does not end in .prom, so node_exporter never reads it either)."""
    write_replacing(path, render(run), "metrics file")


def write_replacing(path: Path, data: bytes, what: str) -> None:
    """``path`` is whole or untouched, whatever fails (full disk included)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write {what}: {e.strerror or e}") from e
