"""The verify commands: parse options, resolve trust, call the api workflow, emit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from chainguard.cli._app import ReportFormat, verify_app
from chainguard.cli._options import (
    ASSURANCE_OPTIONS,
    CERT_CHAIN_OPT,
    COMPONENT_OPT,
    CONFIG_OPT,
    DASK_OPT,
    DASK_TIMEOUT_OPT,
    FORMAT_OPT,
    IDENTITY_REGEXP_OPT,
    IGNORE_OPT,
    KEY_OPT,
    NO_CONFIG_OPT,
    OMS_SIG_OPT,
    OUTPUT_OPT,
    PIN_OPTIONS,
    SBOM_OPT,
    SIG_OPT,
    SIGSTORE_OPTIONS,
    STORAGE_OPTION_OPT,
    Options,
    Run,
    assurance_of,
    dask_cluster,
    identity_policies,
    resolve,
    with_options,
)
from chainguard.cli._output import emit, reports_failure
from chainguard.cli._progress import ProgressBar
from chainguard.errors import UsageError

if TYPE_CHECKING:
    from chainguard.api._assurance import Assurance
    from chainguard.collectors.dask_tree import DaskCluster
    from chainguard.findings import Report


# ------------------------------------------------------------------------- verify: commands

REVISION_OPT = typer.Option(
    "--revision",
    metavar="REV",
    help="With a Hugging Face cache folder: the snapshot to verify (commit or ref; default main).",
)


def _verify_tree(
    kind: str,
    directory: Path,
    run: Run,
    component: str | None,
    ctx: typer.Context,
    assurance: Assurance,
    revision: str | None = None,
    dask: DaskCluster | None = None,
    source: str | None = None,
) -> Report:
    """``source``: with ``dask``, what the workers read (a path, or an fsspec URL)."""
    from chainguard import api
    from chainguard.observe import EarlyStart

    # Work chainguard/_launch.py started before this module was imported, handed over by main().
    early = ctx.obj if isinstance(ctx.obj, EarlyStart) else None
    bar = ProgressBar(f"verifying {directory}")
    try:
        return api.verify_tree(
            source if dask is not None and source is not None else directory,
            kind="model" if kind == "model" else "dataset",
            trust=run.trust,
            component=component,
            ignore=run.ignore,
            progress=bar,
            early=early,
            assurance=assurance,
            revision=revision,
            dask=dask,
        )
    finally:
        bar.close()


def _verify_oms(directory: Path, oms_signature: Path, run: Run) -> Report:
    from dataclasses import replace

    from chainguard import api
    from chainguard.trust.gate import summarize

    bar = ProgressBar(f"verifying {directory}")
    try:
        report = api.verify_model_oms(
            directory,
            oms_signature,
            keys=list(run.trust.keys),
            certificate_chains=list(run.certificate_chains),
            identities=list(run.trust.identities),
            trusted_root=run.trust.trusted_root,
            staging=run.trust.staging,
            ignore=list(run.ignore),
            progress=bar,
        )
    finally:
        bar.close()
    summary = summarize(run.trust, run.ignore)
    chains = tuple(str(c) for c in run.certificate_chains)
    return replace(report, trust=replace(summary, certificate_chains=chains))


def _refuse_dependency_checks(
    command: str, vex: list[Path] | None, advisories: Path | None
) -> None:
    """VEX and advisories concern dependency versions, which a tree verify does not measure:
    accepting them silently would read as a check that was never made."""
    if vex or advisories is not None:
        raise UsageError(
            f"--vex and --advisories check measured dependency versions; {command} measures "
            "none: use verify deps or verify deployment"
        )


@verify_app.command("model")
@reports_failure("verify model")
@with_options(pins=PIN_OPTIONS, sigstore=SIGSTORE_OPTIONS, assurance=ASSURANCE_OPTIONS)
def verify_model(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Model directory (or single file).")
    ],
    sbom: Annotated[Optional[Path], SBOM_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], KEY_OPT] = None,  # noqa: UP045
    component: Annotated[Optional[str], COMPONENT_OPT] = None,  # noqa: UP045
    format_: Annotated[ReportFormat, FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
    config: Annotated[Optional[Path], CONFIG_OPT] = None,  # noqa: UP045
    no_config: Annotated[bool, NO_CONFIG_OPT] = False,
    ignore: Annotated[Optional[list[str]], IGNORE_OPT] = None,  # noqa: UP045
    *,
    pins: Options,
    oms_signature: Annotated[Optional[Path], OMS_SIG_OPT] = None,  # noqa: UP045
    revision: Annotated[Optional[str], REVISION_OPT] = None,  # noqa: UP045
    certificate_chain: Annotated[Optional[list[Path]], CERT_CHAIN_OPT] = None,  # noqa: UP045
    sigstore: Options,
    assurance: Options,
) -> None:
    """Verify a model directory against the signed SBOM (or an OpenSSF model signature with
    --oms-signature); exit 1 on any difference."""
    if oms_signature is not None:
        if sbom is not None or signature or component is not None:
            raise UsageError("--oms-signature replaces --sbom, --signature and --component")
        if pins["deployment"] is not None or pins["min_serial"] is not None:
            raise UsageError("--deployment and --min-serial apply to SBOMs, not --oms-signature")
        if revision is not None:
            raise UsageError("--revision applies to SBOMs, not --oms-signature")
    elif certificate_chain:
        raise UsageError("--certificate-chain applies to --oms-signature")
    run = resolve(
        config=config,
        no_config=no_config,
        trees=(directory,),
        sbom=sbom,
        signature=signature,
        key=key,
        certificate_chain=certificate_chain,
        ignore=ignore,
        **sigstore,
        **pins,
    )
    if oms_signature is not None:
        emit(_verify_oms(directory, oms_signature, run), format_, output)
    checks = assurance_of(run, **assurance)
    _refuse_dependency_checks("verify model", assurance["vex"], assurance["advisories"])
    emit(_verify_tree("model", directory, run, component, ctx, checks, revision), format_, output)


@verify_app.command("dataset")
@reports_failure("verify dataset")
@with_options(pins=PIN_OPTIONS, sigstore=SIGSTORE_OPTIONS, assurance=ASSURANCE_OPTIONS)
def verify_dataset(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="DIR",
            help="Dataset directory (with --dask also s3://, gs://, hf:// URLs).",
        ),
    ],
    sbom: Annotated[Optional[Path], SBOM_OPT] = None,  # noqa: UP045
    revision: Annotated[Optional[str], REVISION_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], KEY_OPT] = None,  # noqa: UP045
    component: Annotated[Optional[str], COMPONENT_OPT] = None,  # noqa: UP045
    format_: Annotated[ReportFormat, FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
    config: Annotated[Optional[Path], CONFIG_OPT] = None,  # noqa: UP045
    no_config: Annotated[bool, NO_CONFIG_OPT] = False,
    ignore: Annotated[Optional[list[str]], IGNORE_OPT] = None,  # noqa: UP045
    *,
    pins: Options,
    sigstore: Options,
    assurance: Options,
    dask: Annotated[Optional[str], DASK_OPT] = None,  # noqa: UP045
    storage_option: Annotated[Optional[list[str]], STORAGE_OPTION_OPT] = None,  # noqa: UP045
    dask_timeout: Annotated[Optional[float], DASK_TIMEOUT_OPT] = None,  # noqa: UP045
) -> None:
    """Verify a dataset directory against the signed SBOM; exit 1 on any difference."""
    cluster = dask_cluster(dask, storage_option, dask_timeout)
    if cluster is None and "://" in source:
        raise UsageError(f"{source}: a URL is verified with --dask ADDRESS (workers read it)")
    if cluster is not None and revision is not None:
        raise UsageError("--revision (a hub cache snapshot) is not read with --dask")
    directory = Path(source)
    run = resolve(
        config=config,
        no_config=no_config,
        trees=(directory,),
        sbom=sbom,
        signature=signature,
        key=key,
        ignore=ignore,
        **sigstore,
        **pins,
    )
    checks = assurance_of(run, **assurance)
    _refuse_dependency_checks("verify dataset", assurance["vex"], assurance["advisories"])
    emit(
        _verify_tree("dataset", directory, run, component, ctx, checks, revision, cluster, source),
        format_,
        output,
    )


@verify_app.command("deployment")
@reports_failure("verify deployment")
@with_options(pins=PIN_OPTIONS, sigstore=SIGSTORE_OPTIONS, assurance=ASSURANCE_OPTIONS)
def verify_deployment(
    config: Annotated[Optional[Path], CONFIG_OPT] = None,  # noqa: UP045
    sbom: Annotated[Optional[Path], SBOM_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], KEY_OPT] = None,  # noqa: UP045
    format_: Annotated[ReportFormat, FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
    ignore: Annotated[Optional[list[str]], IGNORE_OPT] = None,  # noqa: UP045
    *,
    pins: Options,
    sigstore: Options,
    assurance: Options,
) -> None:
    """Verify a whole deployment described by chainguard.toml: one report, one exit code."""
    from chainguard import api

    run = resolve(
        config=config,
        no_config=False,
        sbom=sbom,
        signature=signature,
        key=key,
        ignore=ignore,
        **sigstore,
        **pins,
    )
    cfg = run.config
    cfg.require_deployment_config()
    bar = ProgressBar("verifying deployment")
    try:
        report = api.verify_deployment(
            trust=run.trust,
            models=cfg.models,
            datasets=cfg.datasets,
            locks=cfg.locks,
            environments=cfg.environments,
            ignore=run.ignore,
            progress=bar,
            assurance=assurance_of(run, **assurance),
        )
    finally:
        bar.close()
    emit(report, format_, output)


# ------------------------------------------------------------------------------ verify deps


@verify_app.command("deps")
@reports_failure("verify deps")
@with_options(pins=PIN_OPTIONS, sigstore=SIGSTORE_OPTIONS, assurance=ASSURANCE_OPTIONS)
def verify_deps(
    lockfile: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(
            metavar="[LOCKFILE]", help="requirements.txt, pylock.toml, uv.lock or poetry.lock."
        ),
    ] = None,
    env: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--env", metavar="PYTHON", help="Installed environment instead: venv or interpreter."
        ),
    ] = None,
    sbom: Annotated[Optional[Path], SBOM_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], KEY_OPT] = None,  # noqa: UP045
    component: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--component", help="Manifest name in the SBOM (uv.lock, .venv, …)."),
    ] = None,
    require_hashes: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--require-hashes/--no-require-hashes",
            help="Every requirement pinned by hash (default: when the signed ones all are).",
        ),
    ] = None,
    format_: Annotated[ReportFormat, FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
    config: Annotated[Optional[Path], CONFIG_OPT] = None,  # noqa: UP045
    no_config: Annotated[bool, NO_CONFIG_OPT] = False,
    *,
    pins: Options,
    sigstore: Options,
    assurance: Options,
) -> None:
    """Verify a lockfile or an installed environment against the signed SBOM's dependencies;
    exit 1 on any difference."""
    from chainguard import api

    if (lockfile is None) == (env is None):
        raise UsageError("give exactly one of LOCKFILE or --env PYTHON")
    trees = [env] if env is not None and env.is_dir() else []
    run = resolve(
        config=config,
        no_config=no_config,
        trees=trees,
        sbom=sbom,
        signature=signature,
        key=key,
        **sigstore,
        **pins,
    )
    report = api.verify_deps(
        lockfile,
        env=env,
        trust=run.trust,
        component=component,
        require_hashes=require_hashes,
        assurance=assurance_of(run, **assurance),
    )
    emit(report, format_, output)


# ------------------------------------------------------------------------------ verify blob


@verify_app.command("blob")
@reports_failure("verify blob")
def verify_blob(
    file: Annotated[Path, typer.Argument(help="The file the bundle signs.")],
    bundle: Annotated[Path, typer.Option("--bundle", help="Sigstore bundle (.sigstore.json).")],
    key: Annotated[Optional[list[Path]], KEY_OPT] = None,  # noqa: UP045
    identity: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--identity",
            "--certificate-identity",
            help="Trusted certificate identity (SAN); repeatable, OR-ed.",
        ),
    ] = None,
    issuer: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--issuer",
            "--certificate-oidc-issuer",
            help="OIDC issuer of the trusted identity (required with it).",
        ),
    ] = None,
    identity_regexp: Annotated[Optional[list[str]], IDENTITY_REGEXP_OPT] = None,  # noqa: UP045
    trusted_root: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--trusted-root",
            help="Sigstore trusted_root.json (private instance; with --key, it verifies the "
            "bundle's log entries and timestamps).",
        ),
    ] = None,
    staging: Annotated[
        bool, typer.Option("--staging", help="Use Sigstore's staging trusted root.")
    ] = False,
    repository: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--repository", help="GitHub OWNER/REPO the signing workflow ran in."),
    ] = None,
    ref: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--ref", help="GitHub ref the workflow ran on (refs/tags/v1.2.3)."),
    ] = None,
    format_: Annotated[ReportFormat, FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
) -> None:
    """Verify one file against a signature bundle (offline); exit 1 if it does not verify.

    Trust comes from the command line only: verify blob reads no config file."""
    from dataclasses import replace

    from chainguard import api
    from chainguard.trust.gate import TrustInputs, summarize

    policies = identity_policies(identity, issuer, repository, ref, identity_regexp)
    report = api.verify_blob(
        file,
        bundle,
        keys=key or [],
        identities=policies,
        trusted_root=trusted_root,
        staging=staging,
    )
    anchors = TrustInputs(
        sbom=None,
        signatures=(bundle,),
        keys=tuple(key or ()),
        identities=tuple(policies),
        trusted_root=trusted_root,
        staging=staging,
    )
    emit(replace(report, trust=summarize(anchors)), format_, output)
