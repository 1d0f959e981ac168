"""sbom build: hash models, datasets and dependencies into a CycloneDX 1.6 SBOM."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard._extras import require_extra
from chainguard.api._common import write_atomic
from chainguard.api.deps import collect_manifests
from chainguard.errors import InputError, PatchNotAppliedError, UnsafeArtifactError, UsageError
from chainguard.models import (
    DEFAULT_SHARD_SIZE,
    ComponentKind,
    DeclaredPatch,
    DeploymentInfo,
    ExpectedState,
    FileDigest,
    Measured,
    ObservedDependencies,
    ObservedTree,
    Progress,
    signature_paths,
)
from chainguard.paths import component_name

if TYPE_CHECKING:
    from chainguard.collectors.dask_tree import DaskCluster
    from chainguard.findings import Finding
    from chainguard.formats.policy import FormatPolicy
    from chainguard.hashing import HashSettings
    from chainguard.sbom.build import ComponentInput


@dataclass(frozen=True, slots=True)
class BuildResult:
    output: Path
    components: tuple[str, ...]
    files: int
    bytes: int
    seconds: float
    dependencies: int = 0  # library components (requirements, locks, environments)
    notes: tuple[str, ...] = ()  # what was read but cannot be verified (see collectors)


def build_sbom(
    *,
    name: str,
    version: str,
    models: Sequence[Path | str] = (),
    datasets: Sequence[Path | str] = (),
    output: Path,
    blake3: bool = False,
    serial: int | None = None,
    expires: str | None = None,
    ignore: Sequence[str] = (),
    shard_size: int = DEFAULT_SHARD_SIZE,
    progress: Progress | None = None,
    requirements: Sequence[Path] = (),
    locks: Sequence[Path] = (),
    envs: Sequence[Path] = (),
    patches: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    revision: str | None = None,
    formats: FormatPolicy | None = None,
    dask: DaskCluster | None = None,
) -> BuildResult:
    """Hash every model/dataset directory and write a schema-valid CycloneDX 1.6 SBOM.

    ``requirements`` (requirements.txt files), ``locks`` (any lock format, recognised by
    content) and ``envs`` (installed environments) add their dependencies as library
    components; see collect_manifests.

    ``patches``: id → requirement (``{"CVE-2025-32434": "torch>=2.6.0"}``), declared in the
    SBOM (chainguard/patches.py). A malformed one is a UsageError before anything is read; one
    that what is recorded does not satisfy raises PatchNotAppliedError (exit 1) and nothing is
    written: dependency patches as soon as the manifests are read, the others after hashing.

    A model or dataset may be a Hugging Face cache folder (``models--ORG--NAME`` or one of its
    snapshots; ``revision`` picks the snapshot, default refs/main) or ``hf://ORG/NAME@REV``
    (``hf://datasets/…``): the Hub's own metadata for that commit, weights not downloaded
    (collectors/hfhub.py).

    ``formats``: the format policy (None: the default one; api/_formats.py). A file it finds
    unsafe (error severity) raises UnsafeArtifactError (exit 1) naming it, and nothing is
    written; its warnings (a pickle of tensors only) become notes.

    ``dask``: hash the datasets on this dask.distributed cluster (collectors/dask_tree.py); a
    dataset may then also be an fsspec URL (``s3://…``, ``gs://…``, ``hf://…``) the workers
    read. The components are those the local path writes for the same files.
    """
    from chainguard.hashing import HashSettings

    if not (models or datasets or requirements or locks or envs):
        raise UsageError(
            "nothing to describe: pass at least one --model, --dataset, --requirements, "
            "--lock or --env"
        )
    require_extra("build")  # before hours of hashing, not after
    from chainguard.patches import declared_patches
    from chainguard.sbom.build import build_sbom_chunks as render
    from chainguard.sbom.vocabulary import MAX_DECIMAL

    if serial is not None and not 0 <= serial <= MAX_DECIMAL:
        raise UsageError(f"serial {serial} is outside 0..{MAX_DECIMAL} (a signed 64-bit integer)")
    declared = declared_patches(patches)
    started = time.perf_counter()
    # Dependencies first: a malformed lockfile (or an unpatched dependency) should stop the
    # build before hours of hashing.
    manifests = collect_manifests(requirements=requirements, locks=locks, envs=envs)
    _refuse_unapplied(declared, manifests, None)
    settings = HashSettings(shard_size=shard_size, blake3=blake3)
    kinds: list[tuple[ComponentKind, Path | str]] = [("model", m) for m in models]
    kinds += [("dataset", d) for d in datasets]
    inputs, warnings = _components(
        kinds, settings, ignore, output, revision, formats, progress, dask
    )
    _refuse_unapplied(declared, manifests, inputs)
    deployment = DeploymentInfo(
        name=name, version=version, serial=serial if serial is not None else 0, expires=expires
    )
    dependencies = [d for m in manifests for d in m.dependencies]
    data = render(deployment, inputs, dependencies, patches=declared)
    write_atomic(output, data, overwrite=True)
    return BuildResult(
        output=output,
        components=(
            *(f"{c.kind}:{c.name}" for c in inputs),
            *(f"{m.ref} ({len(m.dependencies)} dependencies)" for m in manifests),
        ),
        files=sum(len(c.files) for c in inputs)
        + sum(m.files_checked for m in manifests if m.kind == "environment"),
        bytes=sum(f.size for c in inputs for f in c.files) + sum(m.bytes_hashed for m in manifests),
        seconds=time.perf_counter() - started,
        dependencies=len(dependencies),
        notes=(*(n for m in manifests for n in m.notes), *warnings),
    )


def _components(
    kinds: Sequence[tuple[ComponentKind, Path | str]],
    settings: HashSettings,
    ignore: Sequence[str],
    output: Path,
    revision: str | None,
    formats: FormatPolicy | None,
    progress: Progress | None,
    dask: DaskCluster | None,
) -> tuple[list[ComponentInput], list[str]]:
    """Every model and dataset hashed into its component, in order, and the notes on them;
    datasets on the Dask cluster when one is given."""
    inputs: list[ComponentInput] = []
    warnings: list[str] = []
    client = None
    if dask is not None and any(kind == "dataset" for kind, _ in kinds):
        from chainguard.collectors.dask_tree import connect

        client = connect(dask)  # an unreachable scheduler: exit 3 before anything is hashed
    try:
        for kind, source in kinds:
            if client is not None and dask is not None and kind == "dataset":
                component, notes = _dask_component(
                    source, settings, ignore, output, formats, progress, dask, client
                )
            else:
                component, notes = _component(
                    kind, source, settings, ignore, output, revision, formats, progress
                )
            _add_component(inputs, component)
            warnings += notes
    finally:
        if client is not None:
            client.close()
    return inputs, warnings


def _add_component(inputs: list[ComponentInput], component: ComponentInput) -> None:
    if any((c.kind, c.name) == (component.kind, component.name) for c in inputs):
        raise UsageError(f"two {component.kind}s are both named {component.name!r}; rename one")
    inputs.append(component)


def _dask_component(
    source: Path | str,
    settings: HashSettings,
    ignore: Sequence[str],
    output: Path,
    formats: FormatPolicy | None,
    progress: Progress | None,
    cluster: DaskCluster,
    client: object,
) -> tuple[ComponentInput, list[str]]:
    """A dataset hashed on the cluster: the component _component makes of the same files. A
    shared local path's anomalies, format checks and facts are handled as _component handles
    them (a hub cache folder is walked as a plain directory); an object store's format checks
    and facts are read by the workers."""
    from chainguard.api._dask import remote_format_findings
    from chainguard.collectors import dask_tree
    from chainguard.collectors.tree import IgnoreRules, ignore_rules
    from chainguard.sbom.build import ComponentInput

    remote = dask_tree.is_url(source)
    root = dask_tree.local_path(source)
    rules = (
        IgnoreRules(tuple(ignore))
        if remote
        else ignore_rules(root, ignore, (output, *signature_paths(output)))
    )
    tree = dask_tree.collect_dask_tree(
        source,
        cluster,
        settings,
        ignore=rules,
        mode="build",
        progress=progress.advance if progress else None,
        on_listed=progress.start if progress else None,
        client=client,
    )
    where = str(source).rstrip("/") if remote else str(root)
    if tree.anomalies:
        a = tree.anomalies[0]
        more = f" (and {len(tree.anomalies) - 1} more)" if len(tree.anomalies) > 1 else ""
        raise InputError(f"{where}/{a.path}: {a.kind}: {a.detail}{more}; refusing to sign it")
    if not remote:
        notes = _refuse_unsafe(root, tree.files, formats)
        digests = [_with_facts(root, f) for f in tree.files]
        name = component_name(root)
    else:
        url = str(source)
        found = remote_format_findings(client, tree, url, cluster, formats)
        notes = _refuse_found(where, found)
        digests = dask_tree.remote_facts(client, tree, url, cluster)
        name = dask_tree.url_name(url)
    return ComponentInput(kind="dataset", name=name, files=tuple(digests)), notes


def _component(
    kind: ComponentKind,
    source: Path | str,
    settings: HashSettings,
    ignore: Sequence[str],
    output: Path,
    revision: str | None,
    formats: FormatPolicy | None,
    progress: Progress | None,
) -> tuple[ComponentInput, list[str]]:
    """One model or dataset as the SBOM will record it, and the notes its build made: from the
    Hub's metadata (hf://), or hashed from a directory, a single file or a cache snapshot."""
    from chainguard.collectors.hfcache import local_root
    from chainguard.collectors.hfhub import is_hub_url
    from chainguard.collectors.modelconfig import read_model_config
    from chainguard.collectors.tree import collect_tree, ignore_rules
    from chainguard.sbom.build import ComponentInput

    if isinstance(source, str) and is_hub_url(source):
        return _hub_component(kind, source, ignore, revision), []
    root, link_root = local_root(Path(source), revision)
    rules = ignore_rules(root, ignore, (output, *signature_paths(output)))
    tree = collect_tree(
        root,
        settings,
        ignore=rules,
        mode="build",
        progress=progress.advance if progress else None,
        on_listed=progress.start if progress else None,
        link_root=link_root,
    )
    if tree.anomalies:
        a = tree.anomalies[0]
        more = f" (and {len(tree.anomalies) - 1} more)" if len(tree.anomalies) > 1 else ""
        raise InputError(f"{root}/{a.path}: {a.kind}: {a.detail}{more}; refusing to sign it")
    notes = _refuse_unsafe(root, tree.files, formats)
    digests = [_with_facts(root, f) for f in tree.files]
    model_config = None
    if kind == "model":  # its modelCard; config.json read as hashed, else a note
        model_config, config_notes = read_model_config(root, digests)
        notes += config_notes
    component = ComponentInput(
        kind=kind, name=component_name(root), files=tuple(digests), model_config=model_config
    )
    return component, notes


def _with_facts(root: Path, f: FileDigest) -> FileDigest:
    """A file with the facts its format records (safetensors header, Parquet footer)."""
    target = root if root.is_file() else root / f.path
    if f.path.endswith(".safetensors"):
        from chainguard.collectors.safetensors import read_header

        return replace(f, safetensors=read_header(target))
    if f.path.endswith(".parquet"):  # footer facts (datasets section, issue 3)
        from chainguard.collectors.parquet import read_footer

        return replace(f, parquet=read_footer(target))
    return f


def _refuse_unsafe(
    root: Path, files: Sequence[FileDigest], policy: FormatPolicy | None
) -> list[str]:
    """Raise UnsafeArtifactError for the files the format policy refuses; its warnings."""
    from chainguard.api._formats import format_findings

    return _refuse_found(str(root), format_findings(root, files, policy))


def _refuse_found(root: str, found: Sequence[Finding]) -> list[str]:
    """Raise UnsafeArtifactError for the error-severity findings; the others as notes."""
    from chainguard.findings import Severity

    errors = [f for f in found if f.effective_severity is Severity.ERROR]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UnsafeArtifactError(
            f"{root}/{first.path}: {first.rule}: {first.message}{more}; refusing to sign it"
        )
    return [f"{root}/{f.path}: {f.rule}: {f.message}" for f in found]


def _hub_component(
    kind: ComponentKind, url: str, ignore: Sequence[str], revision: str | None
) -> ComponentInput:
    from chainguard.collectors.hfhub import collect_hub, parse_hub_url
    from chainguard.collectors.tree import IgnoreRules
    from chainguard.sbom.build import ComponentInput

    if revision is not None:
        raise UsageError(f"{url}: give the revision in the URL (hf://ORG/NAME@REVISION)")
    rules = IgnoreRules(tuple(ignore))
    hub = collect_hub(parse_hub_url(url, kind), skip=rules.matches)
    return ComponentInput(kind=kind, name=hub.reference.name, files=hub.files, purl=hub.purl)


def _refuse_unapplied(
    declared: Sequence[DeclaredPatch],
    manifests: Sequence[ObservedDependencies],
    trees: Sequence[ComponentInput] | None,
) -> None:
    """Refuse to record a patch declaration the inventory does not satisfy: the release's own
    measurement, evaluated exactly as verify evaluates a host's. ``trees`` None: the trees are
    not hashed yet, so only the dependency patches are checked."""
    from chainguard.patches import DependencyRequirement, parse_requirement, patch_statuses

    declared = [
        p
        for p in declared
        if isinstance(parse_requirement(p.requirement), DependencyRequirement) == (trees is None)
    ]
    if not declared:
        return
    inventory = ExpectedState(
        DeploymentInfo("sbom build", "0"),
        (),
        tuple(d for m in manifests for d in m.dependencies),
        patches=tuple(declared),
    )
    measured = Measured(
        "sbom build",
        inventory,
        trees=tuple((f"{c.kind}:{c.name}", ObservedTree(c.name, c.files)) for c in trees or ()),
        dependencies=tuple(manifests),
    )
    for status in patch_statuses(measured):
        if status.applied is None:
            parsed = parse_requirement(status.requirement)
            subject = parsed.name if isinstance(parsed, DependencyRequirement) else parsed.subject
            raise PatchNotAppliedError(
                f"patch {status.id} ({status.requirement}) concerns {subject}, which this SBOM "
                "does not record; refusing to write the SBOM"
            )
        if not status.applied:
            raise PatchNotAppliedError(
                f"patch {status.id} is not applied in what this SBOM would record: "
                f"{status.requirement} is required, measured {status.actual}; "
                "refusing to write the SBOM"
            )


def parse_expires(value: str, now: datetime | None = None) -> str:
    """``30d``/``12h``/``2w``/``90m`` from now, or an RFC 3339 time → RFC 3339 UTC string."""
    from chainguard.sbom.vocabulary import parse_rfc3339

    now = now or datetime.now(timezone.utc)
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    text = value.strip()
    if text[:-1].isdigit() and text[-1:] in units:
        when = now + timedelta(seconds=int(text[:-1]) * units[text[-1]])
    else:
        parsed = parse_rfc3339(text)
        if parsed is None:
            raise UsageError(f"--expires {value!r}: use a duration like 30d, 12h, 2w or RFC 3339")
        when = parsed
    if when <= now:
        raise UsageError(f"--expires {value!r} is not in the future")
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
