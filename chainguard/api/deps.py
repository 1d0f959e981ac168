"""verify deps: a lockfile or an installed environment against the signed dependencies.

Manifests (requirements files, lockfiles, installed environments) are read by
chainguard/collectors/{requirements,pylock,uvlock,poetrylock,environment}.py and compared by
chainguard/compare_deps.py. In the SBOM every dependency records the manifest it came from
("uv-lock:uv.lock", "environment:.venv"): verify compares a lock with the signed lock of that
name, and an environment with the signed environment, never one with the other.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.api._assurance import NO_ASSURANCE, Assurance, assurance_findings
from chainguard.api._report import trusted_report, untrusted_report
from chainguard.errors import InputError, UsageError
from chainguard.findings import Finding, Report, Stats
from chainguard.models import ExpectedState, Measured
from chainguard.trust.gate import TrustInputs, establish_trust

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from chainguard.collectors.bytecode_cache import BytecodeCache
    from chainguard.models import Dependency, ObservedDependencies


def collect_manifests(
    *, requirements: Sequence[Path] = (), locks: Sequence[Path] = (), envs: Sequence[Path] = ()
) -> list[ObservedDependencies]:
    """Read every manifest for an SBOM; refuse an environment whose files fail their RECORD."""
    from chainguard.collectors.deps import collect_lock
    from chainguard.collectors.environment import collect_environment

    manifests = [collect_lock(p, "requirements") for p in requirements]
    manifests += [collect_lock(p) for p in locks]
    for env in envs:
        observed = collect_environment(env)
        if observed.record_problems:
            p = observed.record_problems[0]
            more = len(observed.record_problems) - 1
            extra = f" (and {more} more)" if more else ""
            raise InputError(
                f"{env}: {p.path}: {p.detail}{extra}; refusing to sign an environment whose "
                "installed files do not match their RECORD"
            )
        manifests.append(observed)
    seen: set[str] = set()
    for m in manifests:
        if m.ref in seen:
            raise UsageError(
                f"two manifests are both named {m.ref!r}; each lockfile or environment in one "
                "SBOM needs its own name (rename a file or directory)"
            )
        seen.add(m.ref)
    return manifests


def collect_dependencies(
    lockfile: Path | None = None,
    *,
    env: Path | None = None,
    bytecode_cache: BytecodeCache | None = None,
) -> ObservedDependencies:
    """Read one lockfile (any supported format) or one installed environment (its bytecode
    checks spared for the passes in ``bytecode_cache``)."""
    from chainguard.collectors.deps import collect_lock
    from chainguard.collectors.environment import collect_environment

    if (lockfile is None) == (env is None):
        raise UsageError("give exactly one of a LOCKFILE or --env PYTHON")
    if env is not None:
        return collect_environment(env, bytecode_cache=bytecode_cache)
    assert lockfile is not None
    return collect_lock(lockfile)


def bytecode_cache(
    trust: TrustInputs, environments: Sequence[Path]
) -> AbstractContextManager[BytecodeCache | None]:
    """Verifying environments: the bytecode verdict cache in the state directory (none when the
    run keeps no state). ``sbom build`` uses none: it writes no local state."""
    from chainguard.collectors.bytecode_cache import bytecode_cache
    from chainguard.trust.state import default_state_dir

    use = environments and trust.use_state
    return bytecode_cache((trust.state_dir or default_state_dir()) if use else None)


def select_manifest(
    state: ExpectedState, observed: ObservedDependencies, name: str | None
) -> tuple[str, tuple[Dependency, ...]]:
    """The signed dependencies to compare ``observed`` with: (manifest ref, dependencies).

    By ``name`` ("uv.lock" or "uv-lock:uv.lock") if given, else the signed manifest with the
    observed one's name, else the only one of its category (lock or environment). SBOMs that
    predate manifest names (no chainguard:manifest) count as one unnamed manifest.
    """
    groups: dict[str, list[Dependency]] = {}
    for d in state.dependencies:
        groups.setdefault(d.manifest, []).append(d)
    want_env = observed.kind == "environment"

    def category_fits(ref: str) -> bool:
        return ref == "" or ref.startswith("environment:") == want_env

    candidates = [ref for ref in groups if category_fits(ref)]
    listed = ", ".join(sorted(ref or "(unnamed)" for ref in candidates)) or "none"
    what = "environment" if want_env else "lockfile"
    if name is not None:
        for ref in groups:
            if name in (ref, ref.partition(":")[2]):
                if not category_fits(ref):
                    raise UsageError(f"{ref} is not a {what} in the SBOM; choose a {what}")
                return ref, tuple(groups[ref])
        raise UsageError(f"no {what} named {name!r} in the signed SBOM (it has: {listed})")
    if observed.ref in groups:
        return observed.ref, tuple(groups[observed.ref])
    same_name = [ref for ref in candidates if ref.partition(":")[2] == observed.name]
    if len(same_name) == 1:
        return same_name[0], tuple(groups[same_name[0]])
    if len(candidates) == 1:
        return candidates[0], tuple(groups[candidates[0]])
    if not candidates:
        article = "an" if want_env else "a"
        raise UsageError(f"the signed SBOM lists no dependencies from {article} {what}")
    raise UsageError(
        f"the SBOM has dependencies from several {what}s ({listed}); choose one with --component"
    )


def check_dependencies(
    state: ExpectedState,
    observed: ObservedDependencies,
    *,
    component: str | None = None,
    require_hashes: bool | None = None,
) -> tuple[str, list[Finding], Stats]:
    """Compare one observed manifest with its signed counterpart: (manifest ref, findings,
    stats). ``require_hashes`` None: required when every signed dependency carries hashes."""
    from chainguard.compare_deps import compare_dependencies, hashes_required_by

    ref, expected = select_manifest(state, observed, component)
    if require_hashes is None:
        require_hashes = hashes_required_by(expected)
    findings = compare_dependencies(
        expected,
        observed.dependencies,
        require_hashes=require_hashes and observed.kind != "environment",
        record_problems=observed.record_problems,
    )
    files = observed.files_checked if observed.kind == "environment" else 1
    return ref or "(unnamed)", findings, Stats(files, observed.bytes_hashed, 0.0)


def verify_deps(
    lockfile: Path | None = None,
    *,
    env: Path | None = None,
    trust: TrustInputs,
    component: str | None = None,
    require_hashes: bool | None = None,
    command: str = "verify deps",
    assurance: Assurance = NO_ASSURANCE,
) -> Report:
    """Verify a lockfile, or an installed environment, against the signed SBOM (and, through
    ``assurance``, the patches it declares, the host's claim, VEX and advisories)."""
    started = time.perf_counter()
    target = str(lockfile if lockfile is not None else env)
    # Read (and parse) the input first: a malformed lockfile is "could not verify" (exit 3)
    # whatever the signature says.
    with bytecode_cache(trust, [env] if env is not None else []) as cache:
        observed = collect_dependencies(lockfile, env=env, bytecode_cache=cache)
    outcome = establish_trust(trust)
    if outcome.state is None:
        return untrusted_report(command, target, trust, outcome, started)
    state = outcome.state
    ref, findings, stats = check_dependencies(
        state, observed, component=component, require_hashes=require_hashes
    )
    findings += assurance_findings(assurance, Measured(command, state, dependencies=(observed,)))
    return trusted_report(
        command,
        target,
        trust=trust,
        outcome=outcome,
        state=state,
        findings=findings,
        stats=Stats(stats.files, stats.bytes, time.perf_counter() - started),
        components=(ref,),
    )
