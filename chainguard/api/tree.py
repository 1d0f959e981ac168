"""verify model / verify dataset: one directory against its signed component."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.api._assurance import NO_ASSURANCE, Assurance, assurance_findings
from chainguard.api._common import own_files
from chainguard.api._report import trusted_report, untrusted_report
from chainguard.errors import InputError, UsageError
from chainguard.findings import Finding, Report, Stats
from chainguard.models import (
    DEFAULT_SHARD_SIZE,
    ComponentKind,
    ExpectedComponent,
    ExpectedState,
    FileDigest,
    FileList,
    Measured,
    ObservedTree,
    Progress,
    default_signature,
)
from chainguard.observe import EarlyStart, TreeObservation
from chainguard.paths import component_name
from chainguard.trust.gate import TrustInputs, establish_trust

if TYPE_CHECKING:
    from chainguard.attest.cache import TreeHashCache
    from chainguard.collectors.dask_tree import DaskCluster
    from chainguard.formats.policy import FormatPolicy
    from chainguard.hashing_throttle import ReadThrottle

# Below this many bytes of signature bundles, verify_tree checks trust first and hashes after:
# reading a small signed SBOM takes milliseconds, and hashing alongside it only makes the two
# contend for the GIL and the cores. From some 3,000 files on (about 1 MiB of bundle), the
# signed file list costs more to read than the overlap costs (benchmarks/README.md, "Datasets").
OVERLAP_FROM_BYTES = 1024 * 1024


def select_component(
    state: ExpectedState, kind: ComponentKind, directory: Path, name: str | None
) -> ExpectedComponent:
    candidates = [c for c in state.components if c.kind == kind]
    names = ", ".join(c.name for c in candidates) or "none"
    if name is not None:
        for c in candidates:
            if c.name == name:
                return c
        raise UsageError(f"no {kind} component named {name!r} in the SBOM (it has: {names})")
    by_dir = [c for c in candidates if c.name == component_name(directory)]
    if len(by_dir) == 1:
        return by_dir[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UsageError(f"the signed SBOM describes no {kind}")
    raise UsageError(f"the SBOM has several {kind}s ({names}); choose one with --component")


def _sharded_files(component: ExpectedComponent) -> Sequence[FileDigest]:
    """The signed files that may have shards (a FileList keeps them apart from plain ones)."""
    files = component.files
    return files.extra if isinstance(files, FileList) else files


def _verify_shard_size(component: ExpectedComponent) -> tuple[int, dict[str, int]]:
    sizes = {f.path: f.shard_size for f in _sharded_files(component) if f.shards}
    common = Counter(sizes.values()).most_common(1)
    return (common[0][0] if common else DEFAULT_SHARD_SIZE), sizes


def check_component(
    chosen: ExpectedComponent,
    directory: Path,
    *,
    own_files: Sequence[Path] = (),
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
    observed: ObservedTree | None = None,
    link_root: Path | None = None,
    hash_cache: TreeHashCache | None = None,
    throttle: ReadThrottle | None = None,
    formats: FormatPolicy | None = None,
) -> tuple[list[Finding], Stats, ObservedTree]:
    """Hash one model/dataset directory and compare it with its signed component.

    ``observed``: the directory as already hashed before the SBOM was read (see
    TreeObservation); only files whose signed shard size differs are hashed again.
    ``link_root``: where links may also lead (collectors/tree.walk; a hub cache's blobs/).
    ``hash_cache``, ``throttle``: see collectors/tree.collect_tree.
    ``formats``: the format policy (None: the default one), checked on every file even when
    it matches the signed one (api/_formats.py).
    """
    from chainguard.collectors.tree import collect_tree, ignore_rules, rehash
    from chainguard.compare import compare_tree
    from chainguard.hashing import HashSettings

    started = time.perf_counter()
    if observed is None:
        shard_size, shard_sizes = _verify_shard_size(chosen)
        tree = collect_tree(
            directory,
            HashSettings(shard_size=shard_size),
            ignore=ignore_rules(directory, ignore, own_files),
            mode="verify",
            shard_sizes=shard_sizes,
            progress=progress.advance if progress else None,
            on_listed=progress.start if progress else None,
            link_root=link_root,
            hash_cache=hash_cache,
            throttle=throttle,
        )
    else:
        tree = rehash(observed, directory, _shards_to_settle(chosen, observed), link_root)
    stats = Stats(len(tree.files), tree.bytes_hashed, time.perf_counter() - started)
    from chainguard.api._formats import format_findings

    findings = compare_tree(chosen, tree)
    findings += format_findings(directory, tree.files, formats, chosen.bom_ref)
    return findings, stats, tree


def signed_sbom_size(trust: TrustInputs) -> int:
    """Bytes of the signature bundles verify will read (a missing one counts nothing)."""
    bundles = trust.signatures or ((default_signature(trust.sbom),) if trust.sbom else ())
    total = 0
    for path in bundles:
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


def _shards_to_settle(chosen: ExpectedComponent, observed: ObservedTree) -> dict[str, int | None]:
    """Files hashed by shards of the default size whose signed record has no such shards: how
    to hash them again (the signed shard size, or None: whole)."""
    signed = {f.path: f for f in _sharded_files(chosen) if f.shards}
    extra = observed.files.extra if isinstance(observed.files, FileList) else observed.files
    plans: dict[str, int | None] = {}
    for f in extra:
        if f.sha256 is None:
            e = signed.get(f.path)
            if e is None or e.shard_size != f.shard_size:
                plans[f.path] = e.shard_size if e is not None else None
    return plans


def verify_tree(
    directory: Path | str,
    *,
    kind: ComponentKind,
    trust: TrustInputs,
    component: str | None = None,
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
    command: str | None = None,
    early: EarlyStart | None = None,
    overlap_from_bytes: int = OVERLAP_FROM_BYTES,
    assurance: Assurance = NO_ASSURANCE,
    revision: str | None = None,
    dask: DaskCluster | None = None,
) -> Report:
    """Verify a model or dataset directory against the signed SBOM (and, through
    ``assurance``, the patches it declares, the host's claim, VEX and advisories).

    ``early``: work chainguard/_launch.py started before the CLI was imported (adopted only if
    it is exactly what this call would start). ``overlap_from_bytes``: from this many bytes of
    signature bundles on, the directory is hashed while the signature is checked.
    ``revision``: for a hub cache repository folder, the snapshot to verify (a commit or a ref
    name under refs/; default refs/main), collectors/hfcache.py.
    ``dask``: hash on this dask.distributed cluster instead (collectors/dask_tree.py);
    ``directory`` may then also be an fsspec URL (``s3://…``) the workers read.
    """
    started = time.perf_counter()
    command = command or f"verify {kind}"
    if dask is not None:
        if early is not None:
            early.cancel()  # a local observation is not what this run hashes
        return _verify_on_cluster(
            str(directory), kind, trust, component, ignore, progress, command, assurance, dask
        )
    directory = Path(directory)
    if not directory.exists():
        raise InputError(f"{directory}: no such file or directory")
    from chainguard.collectors.hfcache import local_root

    # a hub cache folder: its snapshot is what is verified (and reported)
    directory, link_root = local_root(directory, revision)
    own = own_files(trust)
    observation = None
    if signed_sbom_size(trust) >= overlap_from_bytes:
        observation = _observation(
            directory, kind, component, own, ignore, progress, early, link_root
        )
    if early is not None:
        early.cancel()  # whatever was not adopted
    try:
        expect = observation.expect() if observation is not None else None
        outcome = establish_trust(trust, expect=expect, early=early)
        if outcome.state is None:
            return untrusted_report(command, str(directory), trust, outcome, started, ignore)
        state = outcome.state
        chosen = select_component(state, kind, directory, component)
        observed = observation.result() if observation is not None else None
    finally:
        if observation is not None:
            observation.cancel()
    findings, stats, tree = check_component(
        chosen,
        directory,
        own_files=own,
        ignore=ignore,
        progress=progress,
        observed=observed,
        link_root=link_root,
        formats=trust.formats,
    )
    if component is None and not _named_like(chosen, directory):
        findings.insert(0, _inferred_component(chosen, directory))
    measured = Measured(command, state, trees=((chosen.bom_ref, tree),))
    findings += assurance_findings(assurance, measured)
    return trusted_report(
        command,
        str(directory),
        trust=trust,
        outcome=outcome,
        state=state,
        findings=findings,
        stats=Stats(stats.files, stats.bytes, time.perf_counter() - started),
        components=(chosen.bom_ref,),
        ignore=ignore,
        roots=((chosen.bom_ref, directory),),
    )


def _verify_on_cluster(
    source: str,
    kind: ComponentKind,
    trust: TrustInputs,
    component: str | None,
    ignore: Sequence[str],
    progress: Progress | None,
    command: str,
    assurance: Assurance,
    dask: DaskCluster,
) -> Report:
    """verify_tree with the hashing on a Dask cluster: trust first, then the component's files
    hashed by the workers, then the same comparison and format checks as the local path."""
    from chainguard.api._dask import remote_format_findings
    from chainguard.api._formats import format_findings
    from chainguard.collectors import dask_tree
    from chainguard.collectors.tree import IgnoreRules, ignore_rules
    from chainguard.compare import compare_tree
    from chainguard.hashing import HashSettings

    started = time.perf_counter()
    remote = dask_tree.is_url(source)
    local = dask_tree.local_path(source)
    if not remote and not local.exists():
        raise InputError(f"{local}: no such file or directory")
    named_as = Path(dask_tree.url_name(source)) if remote else local
    shown = source if remote else str(local)
    client = dask_tree.connect(dask)  # unreachable: exit 3 before the SBOM is read
    try:
        outcome = establish_trust(trust)
        if outcome.state is None:
            return untrusted_report(command, shown, trust, outcome, started, ignore)
        state = outcome.state
        chosen = select_component(state, kind, named_as, component)
        shard_size, shard_sizes = _verify_shard_size(chosen)
        rules = (
            IgnoreRules(tuple(ignore)) if remote else ignore_rules(local, ignore, own_files(trust))
        )
        tree = dask_tree.collect_dask_tree(
            source,
            dask,
            HashSettings(shard_size=shard_size),
            ignore=rules,
            mode="verify",
            shard_sizes=shard_sizes,
            progress=progress.advance if progress else None,
            on_listed=progress.start if progress else None,
            client=client,
        )
        findings = compare_tree(chosen, tree)
        if remote:
            findings += remote_format_findings(
                client, tree, source, dask, trust.formats, chosen.bom_ref
            )
        else:
            findings += format_findings(local, tree.files, trust.formats, chosen.bom_ref)
    finally:
        client.close()
    if component is None and not _named_like(chosen, named_as):
        findings.insert(0, _inferred_component(chosen, named_as))
    measured = Measured(command, state, trees=((chosen.bom_ref, tree),))
    findings += assurance_findings(assurance, measured)
    return trusted_report(
        command,
        shown,
        trust=trust,
        outcome=outcome,
        state=state,
        findings=findings,
        stats=Stats(len(tree.files), tree.bytes_hashed, time.perf_counter() - started),
        components=(chosen.bom_ref,),
        ignore=ignore,
        roots=() if remote else ((chosen.bom_ref, local),),
    )


def _observation(
    directory: Path,
    kind: ComponentKind,
    component: str | None,
    own: Sequence[Path],
    ignore: Sequence[str],
    progress: Progress | None,
    early: EarlyStart | None,
    link_root: Path | None,
) -> TreeObservation:
    """Hash while the signature is checked and the SBOM read (compare strictly after): the
    early observation if it serves, else a new one."""
    from chainguard.collectors.tree import ignore_rules

    # The component sbom build names after the directory, unless one is named.
    guess = f"{kind}:{component or component_name(directory)}"
    prestarted = early.take_observation() if early is not None else None
    if prestarted is not None:
        if prestarted.serves(directory, ignore_rules(directory, ignore, own), guess, link_root):
            prestarted.progress.attach(progress)
            return prestarted
        prestarted.cancel()
    return TreeObservation(
        directory,
        own_files=own,
        ignore=ignore,
        progress=progress,
        render=guess,
        link_root=link_root,
    )


def _named_like(chosen: ExpectedComponent, directory: Path) -> bool:
    return chosen.name == component_name(directory)


def _inferred_component(chosen: ExpectedComponent, directory: Path) -> Finding:
    return Finding(
        "component-inferred",
        str(directory),
        f"no --component was given and the directory is not named like a component: "
        f"{chosen.bom_ref} was chosen because it is the only {chosen.kind} in the signed SBOM",
        expected="--component NAME",
        actual=chosen.bom_ref,
        component=chosen.name,
    )
