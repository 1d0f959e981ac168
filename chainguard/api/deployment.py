"""verify deployment: every component of the signed SBOM against its configured local path."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.api._assurance import NO_ASSURANCE, Assurance, assurance_findings
from chainguard.api._common import own_files
from chainguard.api._report import trusted_report, untrusted_report
from chainguard.api.deps import bytecode_cache, check_dependencies, collect_dependencies
from chainguard.api.tree import OVERLAP_FROM_BYTES, check_component, signed_sbom_size
from chainguard.collectors.hfcache import local_root
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

if TYPE_CHECKING:
    from chainguard.attest.cache import HashCache
    from chainguard.formats.policy import FormatPolicy
    from chainguard.hashing_throttle import ReadThrottle

ComponentPaths = Mapping[tuple[str, str], Path]  # (kind, name) -> local path


@dataclass(frozen=True, slots=True)
class DeploymentCheck:
    """A verify deployment run: its report, and what it verified (for checks built on it,
    such as verify process). ``state`` None: trust was not established, nothing verified."""

    report: Report
    state: ExpectedState | None = None
    paths: ComponentPaths | None = None
    trees: tuple[tuple[str, ObservedTree], ...] = ()  # (bom-ref, the tree as hashed)
    manifests: tuple[ObservedDependencies, ...] = ()


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
    hash_cache: HashCache | None = None,
    max_read_rate: int | None = None,
) -> Report:
    """Verify every component of the signed SBOM against its local path: one report.

    Every model and dataset the SBOM lists must be mapped to a local path (chainguard.toml
    ``[models]``/``[datasets]``); an unmapped one is a ``component-missing`` finding, and a
    mapped name the SBOM does not list is a usage error (a typo would otherwise verify nothing).

    ``hash_cache`` (attest.cache.open_hash_cache): files unchanged since they were hashed are
    not read again (datasets: but for the cache's rolling sample); entries that did not
    authenticate are ``cache-tampered`` findings. ``max_read_rate``: bytes per second the
    hashing may read (hashing_throttle.parse_rate).
    """
    return check_deployment(
        trust=trust,
        models=models,
        datasets=datasets,
        locks=locks,
        environments=environments,
        ignore=ignore,
        progress=progress,
        overlap_from_bytes=overlap_from_bytes,
        assurance=assurance,
        hash_cache=hash_cache,
        max_read_rate=max_read_rate,
    ).report


def check_deployment(
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
    hash_cache: HashCache | None = None,
    max_read_rate: int | None = None,
) -> DeploymentCheck:
    """verify_deployment, keeping what it verified beside the report."""
    started = time.perf_counter()
    # Parse dependency manifests before trust: a malformed lockfile is exit 3 whatever the
    # signature says (as in verify deps).
    manifests = [collect_dependencies(p) for p in locks]
    with bytecode_cache(trust, environments) as cache:
        manifests += [collect_dependencies(env=p, bytecode_cache=cache) for p in environments]
    own = own_files(trust)
    throttle = _throttle(max_read_rate)
    # (with a cache or a rate limit, datasets are hashed after trust, through them)
    big = signed_sbom_size(trust) >= overlap_from_bytes and not (hash_cache or throttle)
    # A hub cache folder is verified as its snapshot (refs/main), whose links may lead into
    # its own blobs/: as verify model and sbom build read it (hfcache.local_root).
    located = {("model", n): local_root(p) for n, p in models}
    located.update({("dataset", n): local_root(p) for n, p in datasets})
    early = [(n, *located["dataset", n]) for n, _ in datasets] if big else []
    outcome, observed = _trust_and_observe(trust, early, own, ignore)
    if outcome.state is None:
        target = trust.deployment or "deployment"
        return DeploymentCheck(
            untrusted_report("verify deployment", target, trust, outcome, started, ignore)
        )
    state = outcome.state
    paths = {key: directory for key, (directory, _) in located.items()}
    link_roots = {key: link_root for key, (_, link_root) in located.items()}
    _refuse_unknown(state, paths)
    findings, trees, files, nbytes = _check_trees(
        state,
        paths,
        link_roots,
        observed,
        own,
        ignore,
        progress,
        hash_cache,
        throttle,
        trust.formats,
    )
    covered, found, stats = _check_manifests(state, manifests)
    measured = Measured("verify deployment", state, tuple(trees), tuple(manifests))
    compared = {ref for ref, _ in trees}
    roots = [(c.bom_ref, paths[c.kind, c.name]) for c in state.components if c.bom_ref in compared]
    found += assurance_findings(assurance, measured)
    if hash_cache is not None:
        found += hash_cache.findings()
    report = trusted_report(
        "verify deployment",
        state.deployment.name,
        trust=trust,
        outcome=outcome,
        state=state,
        findings=[*findings, *found],
        stats=Stats(files + stats.files, nbytes + stats.bytes, time.perf_counter() - started),
        components=(*(c.bom_ref for c in state.components), *sorted(covered)),
        ignore=ignore,
        roots=roots,
    )
    return DeploymentCheck(report, state, paths, tuple(trees), tuple(manifests))


def _throttle(max_read_rate: int | None) -> ReadThrottle | None:
    if max_read_rate is None:
        return None
    from chainguard.hashing_throttle import ReadThrottle

    return ReadThrottle(max_read_rate)


def _trust_and_observe(
    trust: TrustInputs,
    datasets: Sequence[tuple[str, Path, Path | None]],
    own: Sequence[Path],
    ignore: Sequence[str],
) -> tuple[TrustOutcome, dict[str, ObservedTree]]:
    """Establish trust while ``datasets`` are hashed (as in verify_tree: with a large signed
    SBOM); the trees are handed over only once trust is established, else thrown away unseen."""
    observations: dict[str, TreeObservation] = {}
    for name, root, link_root in datasets:
        if root.is_dir():
            ref = f"dataset:{name}"
            observations[ref] = TreeObservation(
                root, own_files=own, ignore=ignore, render=ref, link_root=link_root
            )
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
    link_roots: Mapping[tuple[str, str], Path | None],
    observed: Mapping[str, ObservedTree],
    own: Sequence[Path],
    ignore: Sequence[str],
    progress: Progress | None,
    hash_cache: HashCache | None = None,
    throttle: ReadThrottle | None = None,
    formats: FormatPolicy | None = None,
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
            link_root=link_roots.get((c.kind, c.name)),
            hash_cache=None
            if hash_cache is None
            else hash_cache.tree(directory, dataset=c.kind == "dataset"),
            throttle=throttle,
            formats=formats,
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
