"""verify deployment: every component of the signed SBOM against its configured local path."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from chainguard.api._assurance import NO_ASSURANCE, Assurance, assurance_findings
from chainguard.api._common import own_files
from chainguard.api._report import trusted_report, untrusted_report
from chainguard.api.verify_deps import bytecode_cache, check_dependencies, collect_dependencies
from chainguard.api.verify_tree import OVERLAP_FROM_BYTES, check_component, signed_sbom_size
from chainguard.errors import UsageError
from chainguard.findings import Finding, Report, Stats
from chainguard.models import (
    ExpectedState,
    Measured,
    ObservedDependencies,
    ObservedTree,
    Progress,
)
from chainguard.observe import TreeObservation, expect_any
from chainguard.trust.gate import TrustInputs, TrustOutcome, establish_trust

ComponentPaths = Mapping[tuple[str, str], Path]  # (kind, name) -> local path


def verify_deployment(
    *,
    trust: TrustInputs,
    models: Sequence[tuple[str, Path]] = (),
    datasets: Sequence[tuple[str, Path]] = (),
    locks: Sequence[Path] = (),
    environments: Sequence[Path] = (),
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
    overlap_from_bytes: int = OVERLAP_FROM_BYTES,
    assurance: Assurance = NO_ASSURANCE,
) -> Report:
    """Verify every component of the signed SBOM against its local path: one report.

    Every model and dataset the SBOM lists must be mapped to a local path (chainguard.toml
    ``[models]``/``[datasets]``); an unmapped one is a ``component-missing`` finding, and a
    mapped name the SBOM does not list is a usage error (a typo would otherwise verify nothing).
    """
    started = time.perf_counter()
    # Parse dependency manifests before trust: a malformed lockfile is exit 3 whatever the
    # signature says (as in verify deps).
    manifests = [collect_dependencies(p) for p in locks]
    with bytecode_cache(trust, environments) as cache:
        manifests += [collect_dependencies(env=p, bytecode_cache=cache) for p in environments]
    own = own_files(trust)
    big = signed_sbom_size(trust) >= overlap_from_bytes
    outcome, observed = _trust_and_observe(trust, datasets if big else (), own, ignore)
    if outcome.state is None:
        target = trust.deployment or "deployment"
        return untrusted_report("verify deployment", target, trust, outcome, started, ignore)
    state = outcome.state
    paths: dict[tuple[str, str], Path] = {("model", n): p for n, p in models}
    paths.update({("dataset", n): p for n, p in datasets})
    _refuse_unknown(state, paths)
    findings, trees, files, nbytes = _check_trees(state, paths, observed, own, ignore, progress)
    covered, found, stats = _check_manifests(state, manifests)
    measured = Measured("verify deployment", state, tuple(trees), tuple(manifests))
    found += assurance_findings(assurance, measured)
    return trusted_report(
        "verify deployment",
        state.deployment.name,
        trust=trust,
        outcome=outcome,
        state=state,
        findings=[*findings, *found],
        stats=Stats(files + stats.files, nbytes + stats.bytes, time.perf_counter() - started),
        components=(*(c.bom_ref for c in state.components), *sorted(covered)),
        ignore=ignore,
    )


def _trust_and_observe(
    trust: TrustInputs,
    datasets: Sequence[tuple[str, Path]],
    own: Sequence[Path],
    ignore: Sequence[str],
) -> tuple[TrustOutcome, dict[str, ObservedTree]]:
    """Establish trust while ``datasets`` are hashed (as in verify_tree: with a large signed
    SBOM); the trees are handed over only once trust is established, else thrown away unseen."""
    observations: dict[str, TreeObservation] = {}
    for name, root in datasets:
        if root.is_dir():
            ref = f"dataset:{name}"
            observations[ref] = TreeObservation(root, own_files=own, ignore=ignore, render=ref)
    try:
        outcome = establish_trust(trust, expect=expect_any(observations))
        trusted = outcome.state is not None
        return outcome, {ref: o.result() for ref, o in observations.items() if trusted}
    finally:
        for o in observations.values():
            o.cancel()


def _refuse_unknown(state: ExpectedState, paths: ComponentPaths) -> None:
    known = {(c.kind, c.name) for c in state.components}
    unknown = sorted(f"{k}:{n}" for k, n in paths.keys() - known)
    if unknown:
        listed = ", ".join(sorted(c.bom_ref for c in state.components)) or "none"
        raise UsageError(
            f"configured component(s) {', '.join(unknown)} not in the signed SBOM "
            f"(it has: {listed})"
        )


def _check_trees(
    state: ExpectedState,
    paths: ComponentPaths,
    observed: Mapping[str, ObservedTree],
    own: Sequence[Path],
    ignore: Sequence[str],
    progress: Progress | None,
) -> tuple[list[Finding], list[tuple[str, ObservedTree]], int, int]:
    """Each signed model and dataset against its local path: findings, the trees as hashed,
    files and bytes."""
    findings: list[Finding] = []
    trees: list[tuple[str, ObservedTree]] = []
    files = nbytes = 0
    for c in state.components:
        directory = paths.get((c.kind, c.name))
        if directory is None or not directory.exists():
            findings.append(
                Finding(
                    "component-missing",
                    str(directory) if directory else c.bom_ref,
                    f"signed {c.kind} {c.name!r} "
                    + ("has no local path in the config" if directory is None else "is missing"),
                    expected=f"a directory holding {c.bom_ref}",
                    actual=None if directory else "not configured",
                    component=c.name,
                )
            )
            continue
        found, stats, tree = check_component(
            c,
            directory,
            own_files=own,
            ignore=ignore,
            progress=progress,
            observed=observed.get(c.bom_ref),
        )
        findings.extend(found)
        trees.append((c.bom_ref, tree))
        files += stats.files
        nbytes += stats.bytes
    return findings, trees, files, nbytes


def _check_manifests(
    state: ExpectedState, manifests: Sequence[ObservedDependencies]
) -> tuple[set[str], list[Finding], Stats]:
    """Each configured manifest against its signed counterpart; every signed manifest must be
    covered by one (an unverified environment would pass silently otherwise)."""
    covered: set[str] = set()
    findings: list[Finding] = []
    files = nbytes = 0
    for observed in manifests:
        ref, found, stats = check_dependencies(state, observed)
        covered.add(ref)
        findings.extend(found)
        files += stats.files
        nbytes += stats.bytes
    signed_manifests = sorted({d.manifest or "(unnamed)" for d in state.dependencies})
    findings.extend(
        Finding(
            "component-missing",
            ref,
            f"signed dependency manifest {ref!r} has no local lockfile or environment "
            "in the config",
            expected=f"[dependencies] entry for {ref}",
            actual="not configured",
            component=ref,
        )
        for ref in signed_manifests
        if ref not in covered
    )
    return covered, findings, Stats(files, nbytes)
