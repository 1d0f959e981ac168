"""verify process: what a running process loaded, against the deployment verified on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from chainguard.cli._app import ReportFormat, verify_app
from chainguard.cli._options import (
    ADVISORIES_OPT,
    ALLOW_EXPIRED_OPT,
    CLAIM_ENV_PROXY_OPT,
    CLAIM_MAX_BYTES_OPT,
    CLAIM_OPT,
    CLAIM_TIMEOUT_OPT,
    CONFIG_OPT,
    DEPLOYMENT_OPT,
    FORMAT_OPT,
    IDENTITY_OPT,
    IDENTITY_REGEXP_OPT,
    IGNORE_OPT,
    ISSUER_OPT,
    KEY_OPT,
    MIN_SERIAL_OPT,
    OUTPUT_OPT,
    REF_OPT,
    REPOSITORY_OPT,
    REQUIRE_PATCH_OPT,
    SBOM_OPT,
    SIG_OPT,
    STAGING_OPT,
    STATE_OPT,
    TRUSTED_ROOT_OPT,
    VEX_OPT,
    assurance_of,
    resolve,
)
from chainguard.cli._output import emit, reports_failure
from chainguard.cli._progress import ProgressBar


@verify_app.command("process")
@reports_failure("verify process")
def verify_process(
    pid: Annotated[int, typer.Argument(metavar="PID", help="The running process to check.")],
    config: Annotated[Optional[Path], CONFIG_OPT] = None,  # noqa: UP045
    sbom: Annotated[Optional[Path], SBOM_OPT] = None,  # noqa: UP045
    signature: Annotated[Optional[list[Path]], SIG_OPT] = None,  # noqa: UP045
    key: Annotated[Optional[list[Path]], KEY_OPT] = None,  # noqa: UP045
    format_: Annotated[ReportFormat, FORMAT_OPT] = ReportFormat.text,
    output: Annotated[Optional[Path], OUTPUT_OPT] = None,  # noqa: UP045
    ignore: Annotated[Optional[list[str]], IGNORE_OPT] = None,  # noqa: UP045
    allow_expired: Annotated[bool, ALLOW_EXPIRED_OPT] = False,
    state: Annotated[Optional[Path], STATE_OPT] = None,  # noqa: UP045
    deployment: Annotated[Optional[str], DEPLOYMENT_OPT] = None,  # noqa: UP045
    min_serial: Annotated[Optional[int], MIN_SERIAL_OPT] = None,  # noqa: UP045
    identity: Annotated[Optional[list[str]], IDENTITY_OPT] = None,  # noqa: UP045
    issuer: Annotated[Optional[str], ISSUER_OPT] = None,  # noqa: UP045
    identity_regexp: Annotated[Optional[list[str]], IDENTITY_REGEXP_OPT] = None,  # noqa: UP045
    repository: Annotated[Optional[str], REPOSITORY_OPT] = None,  # noqa: UP045
    ref: Annotated[Optional[str], REF_OPT] = None,  # noqa: UP045
    trusted_root: Annotated[Optional[Path], TRUSTED_ROOT_OPT] = None,  # noqa: UP045
    staging: Annotated[bool, STAGING_OPT] = False,
    require_patch: Annotated[Optional[list[str]], REQUIRE_PATCH_OPT] = None,  # noqa: UP045
    claim: Annotated[Optional[str], CLAIM_OPT] = None,  # noqa: UP045
    claim_timeout: Annotated[Optional[float], CLAIM_TIMEOUT_OPT] = None,  # noqa: UP045
    claim_max_bytes: Annotated[Optional[int], CLAIM_MAX_BYTES_OPT] = None,  # noqa: UP045
    claim_env_proxy: Annotated[bool, CLAIM_ENV_PROXY_OPT] = False,
    vex: Annotated[Optional[list[Path]], VEX_OPT] = None,  # noqa: UP045
    advisories: Annotated[Optional[Path], ADVISORIES_OPT] = None,  # noqa: UP045
) -> None:
    """Verify the deployment of chainguard.toml on disk, then what running process PID has
    loaded of it (Linux /proc): one report, one exit code."""
    from chainguard import api

    run = resolve(
        config=config,
        no_config=False,
        sbom=sbom,
        signature=signature,
        key=key,
        identity=identity,
        issuer=issuer,
        identity_regexp=identity_regexp,
        repository=repository,
        ref=ref,
        trusted_root=trusted_root,
        staging=staging,
        ignore=ignore,
        state=state,
        allow_expired=allow_expired,
        deployment=deployment,
        min_serial=min_serial,
    )
    cfg = run.config
    cfg.require_deployment_config()
    bar = ProgressBar(f"verifying deployment and process {pid}")
    try:
        report = api.verify_process(
            pid,
            trust=run.trust,
            models=cfg.models,
            datasets=cfg.datasets,
            locks=cfg.locks,
            environments=cfg.environments,
            ignore=run.ignore,
            progress=bar,
            assurance=assurance_of(
                run,
                require_patch=require_patch,
                claim=claim,
                claim_timeout=claim_timeout,
                claim_max_bytes=claim_max_bytes,
                claim_env_proxy=claim_env_proxy,
                vex=vex,
                advisories=advisories,
            ),
        )
    finally:
        bar.close()
    emit(report, format_, output)
