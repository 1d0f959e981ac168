"""VEX statements and known vulnerabilities, offline, on what a verify really measured.

``advisory_findings`` reads the VEX documents (vex.py) and the OSV records (osv.py) the
operator gave, and checks them against every dependency version the run measured, installed or
locked (check.py, pure; range evaluation in ranges.py). Like pip-audit, but with no network:
the advisories are a local mirror, and the versions are the ones verify measured, not the ones
a manifest asks for.

A run that measured no dependencies (``verify model``, ``verify dataset``) has no version to
check: it reads neither input and adds no finding. VEX and advisories apply to ``verify deps``
and ``verify deployment``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chainguard.findings import Finding
from chainguard.models import Measured

__all__ = ["advisory_findings"]


def advisory_findings(
    measured: Measured, *, vex: Sequence[Path], advisories: Path | None
) -> list[Finding]:
    """vex-contradicted, vex-not-affected and known-vulnerability findings for the dependencies
    ``measured`` holds. A VEX document or an advisory record that cannot be read is an
    AdvisoryError (exit 3): a check that skipped it would say less than it seems to."""
    if not any(manifest.dependencies for manifest in measured.dependencies):
        return []
    from chainguard.advisories.check import check, vulnerabilities_by_package
    from chainguard.advisories.osv import read_advisories
    from chainguard.advisories.vex import read_vex

    statements = [statement for path in vex for statement in read_vex(path)]
    measured_names = {d.name for manifest in measured.dependencies for d in manifest.dependencies}
    records = read_advisories(advisories, packages=measured_names) if advisories is not None else []
    return check(measured.dependencies, vulnerabilities_by_package(records), statements)
