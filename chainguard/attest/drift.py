"""Drift: which findings are new, resolved or unchanged since the previous run (pure).

A finding is the same finding across runs when its rule, path and component are: messages and
the measured values may change wording or digits without the problem being a different one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chainguard.findings import Finding

FindingKey = tuple[str, str, str]  # (rule, path, component or "")


def finding_key(finding: Finding) -> FindingKey:
    return (finding.rule, finding.path, finding.component or "")


def finding_keys(findings: Iterable[Finding]) -> tuple[FindingKey, ...]:
    """The distinct keys of ``findings``, sorted (what a log entry records)."""
    return tuple(sorted({finding_key(f) for f in findings}))


@dataclass(frozen=True, slots=True)
class Drift:
    """``previous_seq`` is None on a first run: then everything is new."""

    previous_seq: int | None
    new: tuple[FindingKey, ...]
    resolved: tuple[FindingKey, ...]
    unchanged: tuple[FindingKey, ...]

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "resolved": len(self.resolved),
            "unchanged": len(self.unchanged),
        }

    def as_json(self) -> dict[str, object]:
        return {
            "previousEntry": self.previous_seq,
            "new": [list(k) for k in self.new],
            "resolved": [list(k) for k in self.resolved],
            "unchanged": len(self.unchanged),
        }

    def summary(self) -> str:
        since = "first run" if self.previous_seq is None else f"since entry {self.previous_seq}"
        c = self.counts()
        return (
            f"drift ({since}): {c['new']} new, {c['resolved']} resolved, {c['unchanged']} unchanged"
        )


def compute_drift(
    previous: Sequence[FindingKey] | None, previous_seq: int | None, current: Sequence[FindingKey]
) -> Drift:
    """``previous``: the keys the last log entry recorded (None: no previous run)."""
    before = set(previous or ())
    now = set(current)
    return Drift(
        previous_seq,
        tuple(sorted(now - before)),
        tuple(sorted(before - now)),
        tuple(sorted(now & before)),
    )


def drift_findings(drift: Drift, log: str) -> list[Finding]:
    """The drift as report notes: one ``drift`` summary (``log``: where the previous run is
    recorded) and one ``finding-resolved`` per finding that is gone, since a resolved finding
    is otherwise invisible in the report. Notes: they never fail a run, and they are left out
    of the keys the next run compares with."""
    c = drift.counts()
    since = "first run" if drift.previous_seq is None else f"since run {drift.previous_seq}"
    notes = [
        Finding(
            "drift",
            log,
            f"{since}: {c['new']} new, {c['resolved']} resolved, {c['unchanged']} unchanged",
        )
    ]
    for rule, path, component in drift.resolved:
        notes.append(
            Finding(
                "finding-resolved",
                path,
                f"{rule} reported by run {drift.previous_seq} is resolved",
                component=component or None,
            )
        )
    return notes
